"""The fanout use cases, called directly on the memory store: who is texted, who is called."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from shiftfill.domain.model import Channel, QuietHours, Waves
from shiftfill.services.caregivers import opt_out_caregiver, update_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, NotFound
from shiftfill.services.fanout import run_due_phone_rounds, run_phone_round, start_fanout
from shiftfill.services.inbound import InboundMessage, handle_inbound
from shiftfill.services.organizations import create_organization
from shiftfill.services.shifts import cancel_shift
from shiftfill.services.waves import run_wave
from tests.fakes import Clock, FakeNotifier, RecordingMetrics, send_queued
from tests.services.conftest import DAY, RN, add_shift, phone, trail

DELAY = timedelta(minutes=10)


def texted(deps: Dependencies, notifier: FakeNotifier, channel: str = "sms") -> list[str]:
    """Send what is queued; the phones that got a message on ``channel``, in order."""
    send_queued(deps)
    return [s.to for s in notifier.by_channel(channel)]


class TestStartFanout:
    def test_texts_each_reachable_caregiver_of_the_role_once(
        self, staffed: Dependencies, notifier: FakeNotifier, metrics: RecordingMetrics
    ) -> None:
        add_shift(staffed, "sh_1")
        shift, started = start_fanout(staffed, "sh_1")
        assert started and shift.fanout is not None
        assert shift.fanout.offered_caregiver_ids == tuple(RN)
        assert texted(staffed, notifier) == [phone(cid) for cid in RN]
        assert trail(staffed, "sh_1")[0] == "fanout_started"
        assert (metrics.fanouts, metrics.offered) == ({"RN": 1}, {"RN": 3})
        assert metrics.notified[("sms", "queued")] == 3

    def test_a_repeat_sends_nothing_and_says_it_did_not_start(
        self, staffed: Dependencies, notifier: FakeNotifier
    ) -> None:
        add_shift(staffed, "sh_1")
        first, _ = start_fanout(staffed, "sh_1")
        texted(staffed, notifier)
        again, started = start_fanout(staffed, "sh_1")
        assert not started and again == first
        assert texted(staffed, notifier) == [phone(cid) for cid in RN]

    def test_a_cancelled_or_unknown_shift_is_refused(self, staffed: Dependencies) -> None:
        add_shift(staffed, "sh_1")
        cancel_shift(staffed, "sh_1")
        with pytest.raises(Conflict):
            start_fanout(staffed, "sh_1")
        with pytest.raises(NotFound):
            start_fanout(staffed, "nope")
        assert staffed.store.notifications.for_shift("sh_1") == []

    def test_a_caregiver_holding_an_overlapping_shift_is_left_out_and_counted(
        self, staffed: Dependencies, notifier: FakeNotifier
    ) -> None:
        add_shift(staffed, "sh_early")
        start_fanout(staffed, "sh_early")
        assert handle_inbound(staffed, InboundMessage(phone("cg_1"), "yes")).outcome == "assigned"
        add_shift(staffed, "sh_late", start=DAY + timedelta(hours=6))
        shift, _ = start_fanout(staffed, "sh_late")
        assert shift.fanout is not None and shift.fanout.offered_caregiver_ids == ("cg_2", "cg_3")
        started = staffed.store.events.for_shift("sh_late")[0]
        assert started.detail["not_offered"] == {"conflict": 1}

    def test_nobody_to_offer_it_to_is_noted(self, memory_deps: Dependencies) -> None:
        add_shift(memory_deps, "sh_1")
        shift, started = start_fanout(memory_deps, "sh_1")
        assert started and shift.fanout is not None and shift.fanout.no_one_qualified
        assert trail(memory_deps, "sh_1") == ["fanout_started", "no_one_qualified"]
        assert memory_deps.store.outbox.depth() == 0


class TestPhoneRound:
    def test_is_due_only_after_the_escalation_delay(
        self, staffed: Dependencies, clock: Clock
    ) -> None:
        add_shift(staffed, "sh_1")
        start_fanout(staffed, "sh_1")
        clock.advance(DELAY - timedelta(seconds=1))
        assert run_due_phone_rounds(staffed) == {}
        clock.advance(timedelta(seconds=1))
        assert run_due_phone_rounds(staffed) == {"sh_1": 3}
        assert run_due_phone_rounds(staffed) == {}

    def test_calls_everyone_offered_but_who_declined_or_opted_out_since(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        add_shift(staffed, "sh_1")
        start_fanout(staffed, "sh_1")
        handle_inbound(staffed, InboundMessage(phone("cg_1"), "no"))
        opt_out_caregiver(staffed, "cg_2", via="sms")
        clock.advance(DELAY)
        assert run_phone_round(staffed, "sh_1") == 1
        assert trail(staffed, "sh_1")[-1] == "escalated"
        assert texted(staffed, notifier, "call") == [phone("cg_3")]
        assert run_phone_round(staffed, "sh_1") == 0  # once only

    def test_skips_quiet_hours_and_notes_why(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        # The fanout is at 14:00 UTC: quiet hours 13:00-15:00 cover the phone round.
        update_caregiver(staffed, "cg_2", {"quiet_hours": QuietHours(time(13), time(15))})
        add_shift(staffed, "sh_1")
        start_fanout(staffed, "sh_1")
        clock.advance(DELAY)
        assert run_phone_round(staffed, "sh_1") == 2
        assert texted(staffed, notifier, "call") == [phone("cg_1"), phone("cg_3")]
        skipped = [e for e in staffed.store.events.for_shift("sh_1") if e.type == "call_skipped"]
        assert [(e.caregiver_id, e.detail) for e in skipped] == [
            ("cg_2", {"reason": "quiet_hours"})
        ]

    def test_skips_who_took_another_shift_that_overlaps_or_passes_the_weekly_cap(
        self, staffed: Dependencies, clock: Clock
    ) -> None:
        create_organization(staffed, id="org", name="Org", time_zone="UTC", max_weekly_hours=12)
        add_shift(staffed, "sh_a", organization_id="org", hours=10)
        add_shift(staffed, "sh_b", organization_id="org", start=DAY + timedelta(hours=5))
        # Sunday 20:00 to Monday 08:00: four hours in the week of sh_a, 10 + 4 > 12.
        add_shift(staffed, "sh_c", organization_id="org", start=DAY + timedelta(hours=13))
        for sid in ("sh_a", "sh_b", "sh_c"):
            start_fanout(staffed, sid)
        message = InboundMessage(phone("cg_1"), "yes", shift_id="sh_a")
        assert handle_inbound(staffed, message).outcome == "assigned"
        clock.advance(DELAY)
        assert run_due_phone_rounds(staffed) == {"sh_b": 2, "sh_c": 2}
        reasons = {
            sid: [
                e.detail["reason"]
                for e in staffed.store.events.for_shift(sid)
                if e.type == "call_skipped"
            ]
            for sid in ("sh_b", "sh_c")
        }
        assert reasons == {"sh_b": ["conflict"], "sh_c": ["over_hours"]}

    def test_no_round_for_a_shift_filled_or_cancelled_first(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        add_shift(staffed, "sh_1")
        add_shift(staffed, "sh_2", start=DAY + timedelta(days=1))
        start_fanout(staffed, "sh_1")
        start_fanout(staffed, "sh_2")
        handle_inbound(staffed, InboundMessage(phone("cg_3"), "yes", shift_id="sh_1"))
        cancel_shift(staffed, "sh_2")
        clock.advance(DELAY)
        assert run_due_phone_rounds(staffed) == {}
        assert texted(staffed, notifier, "call") == []

    def test_a_caregiver_deactivated_after_the_fanout_gets_no_call(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        add_shift(staffed, "sh_1")
        start_fanout(staffed, "sh_1")
        update_caregiver(staffed, "cg_1", {"active": False})
        clock.advance(DELAY)
        assert run_phone_round(staffed, "sh_1") == 2
        assert phone("cg_1") not in texted(staffed, notifier, "call")

    def test_calls_a_wave_another_process_texted_while_the_round_read_the_shift(
        self,
        staffed: Dependencies,
        clock: Clock,
        notifier: FakeNotifier,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Waves of one caregiver a minute apart; the round and wave 2 fall due together
        (after a restart, say) in two processes. Wave 2 lands between the round's read and
        its step: cg_2 was texted before the round began and is called too."""
        create_organization(staffed, id="org_w", name="Waves", time_zone="UTC", waves=Waves(1, 60))
        add_shift(staffed, "sh_1", organization_id="org_w")
        start_fanout(staffed, "sh_1")
        clock.advance(DELAY)
        read = staffed.store.caregivers.get_many
        waves: list[int] = []

        def read_while_a_wave_goes_out(ids: Any) -> Any:
            if not waves:
                waves.append(run_wave(staffed, "sh_1"))
            return read(ids)

        monkeypatch.setattr(staffed.store.caregivers, "get_many", read_while_a_wave_goes_out)
        assert run_phone_round(staffed, "sh_1") == 2
        assert waves == [1]
        assert texted(staffed, notifier, "call") == [phone("cg_1"), phone("cg_2")]

    def test_a_call_queued_before_quiet_hours_and_sent_inside_them_is_not_placed(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        """The round starts at 21:59:30; the calls go out a minute later (a backlog, a rate
        cap, a retry): cg_1's quiet hours began at 22:00, so cg_1 is not rung."""
        update_caregiver(staffed, "cg_1", {"quiet_hours": QuietHours(time(22), time(7))})
        add_shift(staffed, "sh_1")
        clock.now = DAY.replace(hour=21, minute=49, second=30) - timedelta(days=1)
        start_fanout(staffed, "sh_1")
        texted(staffed, notifier)
        clock.advance(DELAY)
        assert run_phone_round(staffed, "sh_1") == 3
        clock.advance(timedelta(minutes=1))
        assert texted(staffed, notifier, "call") == [phone("cg_2"), phone("cg_3")]
        (skipped,) = [
            n
            for n in staffed.store.notifications.for_shift("sh_1")
            if n.caregiver_id == "cg_1" and n.channel is Channel.CALL
        ]
        assert skipped.error == "not sent: it is inside the caregiver's quiet hours"

    def test_nobody_is_called_or_texted_about_a_shift_that_has_ended(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        """A one-hour visit fanned out five minutes before its end: the texts still queued
        when it ends are not sent, and its phone round, ten minutes later, calls nobody."""
        add_shift(staffed, "sh_1", hours=1)
        clock.now = DAY + timedelta(minutes=55)
        start_fanout(staffed, "sh_1")
        clock.advance(timedelta(minutes=5))
        assert texted(staffed, notifier) == []
        errors = {n.error for n in staffed.store.notifications.for_shift("sh_1")}
        assert errors == {"not sent: the shift has ended"}
        clock.advance(DELAY)
        assert run_phone_round(staffed, "sh_1") == 0
        assert texted(staffed, notifier, "call") == []
        assert trail(staffed, "sh_1")[-1] == "escalated"  # the round ran, and is not due again
        assert run_due_phone_rounds(staffed) == {}

    def test_no_wave_goes_out_once_the_shift_has_ended(
        self, staffed: Dependencies, clock: Clock, notifier: FakeNotifier
    ) -> None:
        create_organization(staffed, id="org_w", name="Waves", time_zone="UTC", waves=Waves(1, 60))
        add_shift(staffed, "sh_1", organization_id="org_w", hours=1)
        clock.now = DAY + timedelta(minutes=58)
        start_fanout(staffed, "sh_1")
        assert texted(staffed, notifier) == [phone("cg_1")]
        clock.advance(timedelta(minutes=1))
        assert run_wave(staffed, "sh_1") == 1  # 59 minutes in: still open
        assert texted(staffed, notifier) == [phone("cg_1"), phone("cg_2")]
        clock.advance(timedelta(minutes=1))
        assert run_wave(staffed, "sh_1") == 0  # at its end: no third wave
        assert texted(staffed, notifier) == [phone("cg_1"), phone("cg_2")]


def test_a_text_queued_before_an_opt_out_is_not_sent(
    staffed: Dependencies, notifier: FakeNotifier, metrics: RecordingMetrics
) -> None:
    add_shift(staffed, "sh_1")
    start_fanout(staffed, "sh_1")
    opt_out_caregiver(staffed, "cg_2", via="provider")
    assert texted(staffed, notifier) == [phone("cg_1"), phone("cg_3")]
    [moot] = [n for n in staffed.store.notifications.for_shift("sh_1") if n.caregiver_id == "cg_2"]
    assert (moot.status, moot.error) == ("failed", "not sent: the caregiver opted out")
    assert metrics.notified[(str(Channel.SMS), "skipped")] == 1
