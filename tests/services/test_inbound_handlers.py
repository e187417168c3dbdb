"""The inbound use case, called directly: a reply claims, declines, or is answered with help."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shiftfill.domain.model import Channel
from shiftfill.domain.rules import Outcome
from shiftfill.services.caregivers import update_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import run_phone_round, start_fanout
from shiftfill.services.inbound import (
    InboundMessage,
    InboundResult,
    handle_call_reply,
    handle_inbound,
)
from shiftfill.services.organizations import create_organization, update_organization
from shiftfill.services.shifts import get_shift
from tests.fakes import Clock, RecordingMetrics, send_queued
from tests.services.conftest import DAY, add_shift, phone, trail


def test_a_text_from_an_unknown_number_is_answered_and_counted(
    memory_deps: Dependencies, metrics: RecordingMetrics
) -> None:
    result = handle_inbound(memory_deps, InboundMessage(sender="+15550009999", body="yes"))
    assert result.outcome is Outcome.UNKNOWN_SENDER
    assert result.caregiver_id is None
    assert metrics.inbound == {"unknown_sender": 1}


def test_a_call_reply_from_an_unknown_call_and_number_is_counted_as_a_text_is(
    memory_deps: Dependencies, metrics: RecordingMetrics
) -> None:
    result = handle_call_reply(
        memory_deps, call_sid="CA-unknown", said="1", fallback_phone="+15550009999"
    )
    assert result.outcome is Outcome.UNKNOWN_SENDER
    assert metrics.inbound == {"unknown_sender": 1}
    handle_inbound(
        memory_deps, InboundMessage(sender="+15550009999", body="1", channel=Channel.CALL)
    )
    assert metrics.inbound == {"unknown_sender": 2}


def reply(deps: Dependencies, caregiver_id: str, body: str, **fields: Any) -> InboundResult:
    return handle_inbound(deps, InboundMessage(phone(caregiver_id), body, **fields))


@pytest.fixture
def offered(staffed: Dependencies) -> Dependencies:
    """Shift sh_1 (RN, tomorrow 07:00-19:00) offered to cg_1, cg_2 and cg_3."""
    add_shift(staffed, "sh_1")
    start_fanout(staffed, "sh_1")
    return staffed


class TestClaim:
    def test_the_first_yes_wins_and_the_next_hears_it_is_filled(
        self, offered: Dependencies, metrics: RecordingMetrics
    ) -> None:
        won = reply(offered, "cg_2", "yes")
        assert (won.outcome, won.shift_id, won.caregiver_id) == ("assigned", "sh_1", "cg_2")
        assert get_shift(offered, "sh_1").assigned_caregiver_id == "cg_2"
        assert reply(offered, "cg_1", "yes").outcome == "filled"
        assert reply(offered, "cg_2", "yes").outcome == "already_assigned"
        assert trail(offered, "sh_1")[1:] == [
            "reply_received",
            "assigned",
            "reply_received",
            "claim_lost",
            "reply_received",
        ]
        assert [round for round, _ in metrics.fills] == ["sms"]
        assert metrics.inbound == {"assigned": 1, "filled": 1, "already_assigned": 1}

    def test_a_claim_on_an_overlapping_shift_is_refused_and_noted(
        self, offered: Dependencies
    ) -> None:
        add_shift(offered, "sh_2", start=DAY + timedelta(hours=6))
        start_fanout(offered, "sh_2")
        assert reply(offered, "cg_1", "yes", shift_id="sh_1").outcome == "assigned"
        refused = reply(offered, "cg_1", "yes", shift_id="sh_2")
        assert refused.outcome == "conflict"
        assert "overlaps a shift you are already booked for" in refused.reply
        assert get_shift(offered, "sh_2").is_open
        [note] = [e for e in offered.store.events.for_shift("sh_2") if e.type == "claim_refused"]
        assert (note.caregiver_id, note.detail) == ("cg_1", {"reason": "conflict"})

    def test_a_claim_meets_the_hours_cap_its_organization_has_now(
        self, staffed: Dependencies
    ) -> None:
        create_organization(staffed, id="org", name="Org", time_zone="UTC", max_weekly_hours=8)
        add_shift(staffed, "sh_1", organization_id="org")
        start_fanout(staffed, "sh_1")
        assert reply(staffed, "cg_1", "yes").outcome == "over_hours"
        update_organization(staffed, "org", {"max_weekly_hours": 12})
        assert reply(staffed, "cg_1", "yes").outcome == "assigned"

    def test_a_reply_names_its_offer_by_code_when_several_are_open(
        self, offered: Dependencies
    ) -> None:
        add_shift(offered, "sh_2", start=DAY + timedelta(days=1))
        second, _ = start_fanout(offered, "sh_2")
        assert reply(offered, "cg_1", "yes").outcome == "ambiguous"
        code = second.fanout.offer_code  # type: ignore[union-attr]
        named = reply(offered, "cg_1", f"yes {code}")
        assert (named.outcome, named.shift_id) == ("assigned", "sh_2")

    def test_a_caregiver_moved_to_another_role_can_no_longer_take_its_offers(
        self, offered: Dependencies, clock: Clock
    ) -> None:
        """Moved from RN to LPN after the RN shift was offered: they no longer qualify, so a
        reply about it finds no offer, and the phone round does not call them."""
        update_caregiver(offered, "cg_1", {"role": "LPN"})
        assert reply(offered, "cg_1", "yes").outcome == "no_open_offer"
        assert get_shift(offered, "sh_1").is_open
        clock.advance(timedelta(minutes=10))
        assert run_phone_round(offered, "sh_1") == 2


class TestDeclineAndStop:
    def test_a_decline_is_noted_once_and_the_phone_round_skips_them(
        self, offered: Dependencies, clock: Clock
    ) -> None:
        assert reply(offered, "cg_1", "no").outcome == "declined"
        assert reply(offered, "cg_1", "no").outcome == "declined"
        assert trail(offered, "sh_1").count("declined") == 1
        clock.advance(timedelta(minutes=10))
        assert run_phone_round(offered, "sh_1") == 2

    def test_after_stop_a_yes_takes_nothing(self, offered: Dependencies) -> None:
        """Who opted out is asked nothing more, so an offer made before no longer stands."""
        code = get_shift(offered, "sh_1").fanout.offer_code  # type: ignore[union-attr]
        assert reply(offered, "cg_2", "STOP").outcome == "opted_out"
        assert reply(offered, "cg_2", f"YES {code}").outcome == "no_open_offer"
        assert reply(offered, "cg_2", "yes", shift_id="sh_1").outcome == "no_open_offer"
        assert get_shift(offered, "sh_1").is_open

    def test_a_text_s_provider_id_given_as_a_call_s_finds_no_call(
        self, offered: Dependencies
    ) -> None:
        """The gather callback names a call shiftfill placed; a text's id is no such call."""
        send_queued(offered)
        text = next(
            n for n in offered.store.notifications.for_shift("sh_1") if n.caregiver_id == "cg_1"
        )
        assert text.provider_id
        result = handle_call_reply(
            offered, call_sid=text.provider_id, said="1", fallback_phone=None
        )
        assert result.outcome == "unknown_sender"
        assert get_shift(offered, "sh_1").is_open

    def test_stop_opts_out_and_a_later_fanout_leaves_them_out(self, offered: Dependencies) -> None:
        assert reply(offered, "cg_3", "STOP").outcome == "opted_out"
        assert offered.store.caregivers.get("cg_3").opted_out  # type: ignore[union-attr]
        assert "opted_out" in trail(offered, "sh_1")
        add_shift(offered, "sh_2", start=DAY + timedelta(days=1))
        shift, _ = start_fanout(offered, "sh_2")
        assert shift.fanout.offered_caregiver_ids == ("cg_1", "cg_2")  # type: ignore[union-attr]


def test_a_replayed_message_id_gets_the_first_outcome_and_changes_nothing(
    offered: Dependencies, metrics: RecordingMetrics
) -> None:
    first = reply(offered, "cg_1", "yes", message_id="SM1")
    before = trail(offered, "sh_1")
    assert reply(offered, "cg_1", "yes", message_id="SM1") == first
    assert trail(offered, "sh_1") == before
    assert metrics.inbound == {"assigned": 1}
