"""The claim decision, declines, the phone round and cancelling, without an app."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shiftfill.domain import rules, webhooks
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Organization,
    Shift,
    ShiftStatus,
)
from shiftfill.domain.rules import Outcome, Outreach, ShiftConflict

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
DELAY = timedelta(minutes=10)


def open_shift() -> Shift:
    return Shift(
        id="sh_1",
        organization_id="org_1",
        role_required="RN",
        start_time=NOW + timedelta(days=1),
        end_time=NOW + timedelta(days=1, hours=12),
    )


def fanned_out(offered: tuple[str, ...] = ("cg_1", "cg_3", "cg_5")) -> Shift:
    decision = rules.start_fanout(
        open_shift(), now=NOW, offer_code="4821", qualified_ids=offered, escalation_delay=DELAY
    )
    return decision.shift


def test_fanout_offers_the_shift_and_sets_the_escalation_time() -> None:
    shift = fanned_out()
    assert shift.fanout is not None
    assert shift.fanout.offered_caregiver_ids == ("cg_1", "cg_3", "cg_5")
    assert shift.fanout.escalation_due_at == NOW + DELAY
    assert shift.fanout.round == "sms"


def test_a_second_fanout_changes_nothing() -> None:
    shift = fanned_out()
    again = rules.start_fanout(
        shift, now=NOW + DELAY, offer_code="9999", qualified_ids=["cg_9"], escalation_delay=DELAY
    )
    assert not again.changed
    assert again.shift == shift


def test_a_cancelled_shift_cannot_be_fanned_out() -> None:
    cancelled = rules.cancel(open_shift(), now=NOW).shift
    with pytest.raises(ShiftConflict):
        rules.start_fanout(
            cancelled, now=NOW, offer_code="1", qualified_ids=[], escalation_delay=DELAY
        )


def test_first_claim_wins_and_later_claims_hear_it_is_filled() -> None:
    first = rules.claim(fanned_out(), "cg_3", now=NOW)
    assert first.outcome is Outcome.ASSIGNED
    assert first.shift.status is ShiftStatus.FILLED
    assert first.shift.assigned_caregiver_id == "cg_3"
    assert first.shift.filled_at == NOW

    second = rules.claim(first.shift, "cg_1", now=NOW)
    assert second.outcome is Outcome.FILLED
    assert not second.changed
    assert second.shift.assigned_caregiver_id == "cg_3"


def test_the_winner_saying_yes_again_is_already_assigned() -> None:
    won = rules.claim(fanned_out(), "cg_3", now=NOW).shift
    assert rules.claim(won, "cg_3", now=NOW).outcome is Outcome.ALREADY_ASSIGNED


def test_a_caregiver_never_offered_the_shift_cannot_claim_it() -> None:
    decision = rules.claim(fanned_out(), "cg_2", now=NOW)
    assert decision.outcome is Outcome.NO_OPEN_OFFER
    assert decision.shift.status is ShiftStatus.OPEN


def test_a_caregiver_who_opted_out_or_was_deactivated_since_cannot_claim() -> None:
    """Read in the claim's step: a STOP or a deactivation that landed first is honoured."""
    for gone in ({"opted_out": True}, {"active": False}):
        caregiver = Caregiver("cg_1", "Ana", "RN", "+15555550101", **gone)  # type: ignore[arg-type]
        decision = rules.claim(fanned_out(), "cg_1", now=NOW, caregiver=caregiver)
        assert decision.outcome is Outcome.NO_OPEN_OFFER
        assert not decision.changed


def test_a_claim_on_a_cancelled_shift_is_unavailable() -> None:
    cancelled = rules.cancel(fanned_out(), now=NOW).shift
    assert rules.claim(cancelled, "cg_1", now=NOW).outcome is Outcome.UNAVAILABLE


def test_a_caregiver_who_declined_can_still_change_their_mind() -> None:
    declined = rules.decline(fanned_out(), "cg_1").shift
    assert rules.claim(declined, "cg_1", now=NOW).outcome is Outcome.ASSIGNED


def test_decline_is_recorded_once() -> None:
    once = rules.decline(fanned_out(), "cg_1")
    twice = rules.decline(once.shift, "cg_1")
    assert once.changed and not twice.changed
    assert twice.shift.fanout is not None
    assert twice.shift.fanout.declined_caregiver_ids == ("cg_1",)


def test_the_holder_cannot_drop_the_shift_by_text() -> None:
    won = rules.claim(fanned_out(), "cg_1", now=NOW).shift
    decision = rules.decline(won, "cg_1")
    assert decision.outcome is Outcome.ALREADY_ASSIGNED
    assert decision.shift.assigned_caregiver_id == "cg_1"


def test_phone_round_waits_for_the_delay() -> None:
    shift = fanned_out()
    assert not rules.begin_phone_round(shift, now=NOW + DELAY - timedelta(seconds=1)).changed
    started = rules.begin_phone_round(shift, now=NOW + DELAY)
    assert started.changed
    assert started.shift.fanout is not None
    assert started.shift.fanout.round == "phone"


def test_phone_round_happens_once() -> None:
    started = rules.begin_phone_round(fanned_out(), now=NOW + DELAY).shift
    assert not rules.begin_phone_round(started, now=NOW + 2 * DELAY).changed


def test_no_phone_round_for_a_filled_or_cancelled_shift() -> None:
    filled = rules.claim(fanned_out(), "cg_1", now=NOW).shift
    cancelled = rules.cancel(fanned_out(), now=NOW).shift
    assert not rules.begin_phone_round(filled, now=NOW + DELAY).changed
    assert not rules.begin_phone_round(cancelled, now=NOW + DELAY).changed


def test_cancelling_a_filled_shift_is_a_conflict() -> None:
    filled = rules.claim(fanned_out(), "cg_1", now=NOW).shift
    with pytest.raises(ShiftConflict):
        rules.cancel(filled, now=NOW)


def test_cancelling_twice_changes_nothing_the_second_time() -> None:
    cancelled = rules.cancel(open_shift(), now=NOW)
    assert cancelled.changed
    assert not rules.cancel(cancelled.shift, now=NOW + DELAY).changed


def test_a_shift_that_has_ended_cannot_start_a_fanout_but_one_that_has_started_can() -> None:
    shift = open_shift()
    with pytest.raises(ShiftConflict, match="ended"):
        rules.start_fanout(
            shift, now=shift.end_time, offer_code="1", qualified_ids=[], escalation_delay=DELAY
        )
    started = rules.start_fanout(
        shift,
        now=shift.start_time + timedelta(minutes=5),
        offer_code="1",
        qualified_ids=["cg_1"],
        escalation_delay=DELAY,
    )
    assert started.changed
    # A repeat after the end is still a harmless repeat, not a new fanout.
    repeat = rules.start_fanout(
        started.shift, now=shift.end_time, offer_code="2", qualified_ids=[], escalation_delay=DELAY
    )
    assert not repeat.changed


def test_a_fanout_to_nobody_says_so() -> None:
    assert fanned_out(offered=()).fanout.no_one_qualified  # type: ignore[union-attr]
    assert not fanned_out().fanout.no_one_qualified  # type: ignore[union-attr]


def test_the_agency_edits_a_caregiver_and_may_opt_them_back_in_but_not_out() -> None:
    ana = Caregiver("cg_1", "Ana", "RN", "+15555550101", opted_out=True)
    edited = rules.edit_caregiver(ana, {"name": "Ana Lima", "role": "LPN", "opted_out": False})
    assert edited == replace(ana, name="Ana Lima", role="LPN", opted_out=False)
    assert rules.edit_caregiver(ana, {"name": "Ana"}) is None
    with pytest.raises(rules.CaregiverEditRefused):
        rules.edit_caregiver(replace(ana, opted_out=False), {"opted_out": True})
    with pytest.raises(rules.CaregiverEditRefused):
        rules.edit_caregiver(ana, {"id": "cg_2"})


def test_an_opt_out_changes_the_caregiver_once_and_announces_each_open_offer() -> None:
    ana = Caregiver("cg_1", "Ana", "RN", "+15555550101")
    offered = fanned_out(("cg_1",))
    cancelled = replace(rules.cancel(offered, now=NOW).shift, id="sh_2")
    change = rules.opt_out(ana, now=NOW, offers=[offered, cancelled])
    assert change.changed and change.caregiver == replace(ana, opted_out=True)
    assert [(m.type, m.shift.id, m.fields) for m in change.messages] == [
        ("caregiver.opted_out", "sh_1", {"caregiver_id": "cg_1"})
    ]
    again = rules.opt_out(change.caregiver, now=NOW, offers=[offered])
    assert (again.changed, again.messages) == (False, ())


def test_a_change_keeps_its_messages_whatever_is_added_after_them() -> None:
    cancelled = rules.cancel(open_shift(), now=NOW)
    message = webhooks.about(cancelled.shift, webhooks.SHIFT_CANCELLED, NOW)
    later = cancelled.announcing(message).noting().reaching(Outreach(Channel.SMS, [], NOW))
    assert later.reading(Organization("org_1", "Sunrise", "UTC", None)).messages == (message,)


# --- eligibility: overlapping shifts and the weekly hours cap ---

CHICAGO = Organization("org_1", "Sunrise Home Health", "America/Chicago", 40)


def at(day: int, hour: int, hours: float, shift_id: str = "other") -> Shift:
    """A shift starting on 2026-11-``day`` at ``hour`` (UTC), lasting ``hours``."""
    start = datetime(2026, 11, day, hour, tzinfo=UTC)
    return Shift(shift_id, "org_1", "RN", start, start + timedelta(hours=hours))


def test_an_ineligible_claim_changes_nothing_and_says_why() -> None:
    shift = fanned_out()
    clash = replace(shift, id="sh_2")
    decision = rules.claim(shift, "cg_1", now=NOW, assigned=[clash], organization=CHICAGO)
    assert (decision.changed, decision.outcome) == (False, Outcome.CONFLICT)
    assert decision.shift == shift
    won = rules.claim(shift, "cg_1", now=NOW, assigned=[], organization=CHICAGO)
    assert won.outcome is Outcome.ASSIGNED


def test_an_agency_edit_notes_the_fields_it_changed_and_an_opt_in() -> None:
    ana = Caregiver("cg_1", "Ana", "RN", "+15555550101", opted_out=True)
    change = rules.edit(ana, {"name": "Ana Lima", "role": "RN", "opted_out": False}, now=NOW)
    assert change.changed and change.caregiver.name == "Ana Lima"
    assert [(e.type, e.detail) for e in change.events] == [
        ("caregiver_changed", {"fields": ["name", "opted_out"]}),
        ("opted_in", {"via": "agency"}),
    ]
    unchanged = rules.edit(ana, {"name": "Ana"}, now=NOW)
    assert (unchanged.caregiver, unchanged.changed, unchanged.events) == (ana, False, ())


def test_a_changed_shift_always_carries_its_index_changes() -> None:
    shift = fanned_out()
    claimed = rules.claim(shift, "cg_1", now=NOW)
    assert claimed.indexes is not None and claimed.indexes.assigned_to == "cg_1"
    assert claimed.indexes.closed == "4821" and claimed.indexes.phone_round is None
    with pytest.raises(ValueError):
        rules.ShiftChange(shift, changed=True)
