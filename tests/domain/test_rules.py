"""The claim decision, declines, the phone round and cancelling, without an app."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from shiftfill.domain import rules
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Organization,
    QuietHours,
    Shift,
    ShiftStatus,
)
from shiftfill.domain.rules import Outcome, ShiftConflict

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


def test_only_caregivers_of_the_required_role_who_did_not_opt_out_qualify() -> None:
    rn = Caregiver("cg_1", "Ana", "RN", "+15555550101")
    assert rules.is_qualified(rn, "RN")
    assert not rules.is_qualified(rn, "LPN")
    assert not rules.is_qualified(replace(rn, opted_out=True), "RN")


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


def test_phone_round_calls_everyone_offered_except_who_declined_or_opted_out() -> None:
    shift = rules.decline(fanned_out(), "cg_3").shift
    assert rules.phone_round_callees(shift, unreachable_ids=["cg_5"]) == ["cg_1"]


def test_cancelling_a_filled_shift_is_a_conflict() -> None:
    filled = rules.claim(fanned_out(), "cg_1", now=NOW).shift
    with pytest.raises(ShiftConflict):
        rules.cancel(filled, now=NOW)


def test_cancelling_twice_changes_nothing_the_second_time() -> None:
    cancelled = rules.cancel(open_shift(), now=NOW)
    assert cancelled.changed
    assert not rules.cancel(cancelled.shift, now=NOW + DELAY).changed


def test_queued_messages_are_dropped_once_the_shift_closes_or_the_caregiver_leaves() -> None:
    caregiver = Caregiver("cg_1", "Ana", "RN", "+15555550101")
    shift = fanned_out()
    assert rules.why_not_contact(shift, caregiver, Channel.SMS) is None
    claimed = rules.claim(shift, "cg_3", now=NOW).shift
    assert rules.why_not_contact(claimed, caregiver, Channel.CALL) == "the shift is filled"
    opted_out = replace(caregiver, opted_out=True)
    assert rules.why_not_contact(shift, opted_out, Channel.SMS) == "the caregiver opted out"
    declined = rules.decline(shift, "cg_1").shift
    assert rules.why_not_contact(declined, caregiver, Channel.CALL) == "the caregiver declined"
    assert rules.why_not_contact(declined, caregiver, Channel.SMS) is None


def test_a_deactivated_caregiver_does_not_qualify_and_queued_messages_to_them_stop() -> None:
    inactive = Caregiver("cg_1", "Ana", "RN", "+15555550101", active=False)
    assert not rules.is_qualified(inactive, "RN")
    assert rules.why_not_contact(fanned_out(), inactive, Channel.SMS) == "the caregiver is inactive"


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


# --- eligibility: overlapping shifts and the weekly hours cap ---

CHICAGO = Organization("org_1", "Sunrise Home Health", "America/Chicago", 40)


def at(day: int, hour: int, hours: float, shift_id: str = "other") -> Shift:
    """A shift starting on 2026-11-``day`` at ``hour`` (UTC), lasting ``hours``."""
    start = datetime(2026, 11, day, hour, tzinfo=UTC)
    return Shift(shift_id, "org_1", "RN", start, start + timedelta(hours=hours))


def test_a_shift_overlapping_an_assigned_one_is_a_conflict_but_back_to_back_is_fine() -> None:
    shift = at(29, 7, 12, "sh_1")  # 07:00-19:00
    assert rules.why_ineligible(shift, [at(29, 18, 8)], CHICAGO) is Outcome.CONFLICT
    assert rules.why_ineligible(shift, [at(29, 0, 8)], CHICAGO) is Outcome.CONFLICT
    assert rules.why_ineligible(shift, [at(29, 19, 8), at(28, 23, 8)], CHICAGO) is None
    assert rules.why_ineligible(shift, [shift], CHICAGO) is None  # the shift itself


def test_the_cap_counts_assigned_hours_in_the_same_local_week() -> None:
    shift = at(25, 14, 8, "sh_1")  # Wednesday
    # Monday Nov 23 00:00 CST is 06:00 UTC; four 8-hour shifts that week, then one too many.
    week = [at(23, 14, 8, "a"), at(24, 14, 8, "b"), at(26, 14, 8, "c"), at(27, 14, 8, "d")]
    assert rules.why_ineligible(shift, week, CHICAGO) is None  # exactly 40
    assert rules.why_ineligible(shift, [*week, at(28, 14, 1, "e")], CHICAGO) is Outcome.OVER_HOURS
    # Sunday 23:00 UTC on Nov 22 is 5 PM CST Sunday: the week before, so it does not count.
    assert rules.why_ineligible(shift, [*week, at(22, 23, 5, "e")], CHICAGO) is None
    # Monday 03:00 UTC on Nov 30 is Sunday 9 PM CST: still this week.
    assert rules.why_ineligible(shift, [*week, at(30, 3, 1, "e")], CHICAGO) is Outcome.OVER_HOURS
    assert (
        rules.why_ineligible(
            shift, [*week, at(28, 14, 1, "e")], replace(CHICAGO, max_weekly_hours=None)
        )
        is None
    )


def test_a_shift_across_two_weeks_counts_its_hours_in_each() -> None:
    # Sunday Nov 29 8 PM CST to Monday 8 AM CST: 4 hours in one week, 8 in the next.
    shift = at(30, 2, 12, "sh_1")
    before = [at(23, 14, 36, "a")]  # 36 hours earlier that week
    assert rules.why_ineligible(shift, before, CHICAGO) is None  # 36 + 4
    assert rules.why_ineligible(shift, [at(23, 14, 37, "a")], CHICAGO) is Outcome.OVER_HOURS
    after = [at(30, 14, 33, "b")]  # Monday on: 33 + 8 = 41 in the next week
    assert rules.why_ineligible(shift, after, CHICAGO) is Outcome.OVER_HOURS


def test_a_week_across_the_november_change_starts_at_local_midnight() -> None:
    # Monday Oct 26 00:00 CDT is 05:00 UTC; Monday Nov 2 00:00 CST is 06:00 UTC.
    assert rules.week_start(at(1, 12, 1).start_time, "America/Chicago").astimezone(UTC) == datetime(
        2026, 10, 26, 5, tzinfo=UTC
    )
    assert rules.week_start(at(2, 6, 1).start_time, "America/Chicago").astimezone(UTC) == datetime(
        2026, 11, 2, 6, tzinfo=UTC
    )
    assert rules.week_start(at(2, 5, 1).start_time, "America/Chicago").astimezone(UTC) == datetime(
        2026, 10, 26, 5, tzinfo=UTC
    )


def test_an_ineligible_claim_changes_nothing_and_says_why() -> None:
    shift = fanned_out()
    clash = replace(shift, id="sh_2")
    decision = rules.claim(shift, "cg_1", now=NOW, assigned=[clash], organization=CHICAGO)
    assert (decision.changed, decision.outcome) == (False, Outcome.CONFLICT)
    assert decision.shift == shift
    won = rules.claim(shift, "cg_1", now=NOW, assigned=[], organization=CHICAGO)
    assert won.outcome is Outcome.ASSIGNED


def test_quiet_hours_are_read_in_the_organizations_zone() -> None:
    quiet = Caregiver(
        "cg_1", "Ana", "RN", "+15555550101", quiet_hours=QuietHours(time(22), time(7))
    )
    # 04:00 UTC is 10 PM CST: quiet. 13:00 UTC is 7 AM CST: not quiet any more.
    assert rules.in_quiet_hours(quiet, datetime(2026, 11, 30, 4, tzinfo=UTC), CHICAGO)
    assert rules.in_quiet_hours(quiet, datetime(2026, 11, 30, 12, 59, tzinfo=UTC), CHICAGO)
    assert not rules.in_quiet_hours(quiet, datetime(2026, 11, 30, 13, tzinfo=UTC), CHICAGO)
    assert not rules.in_quiet_hours(quiet, datetime(2026, 11, 30, 3, 59, tzinfo=UTC), CHICAGO)
    day = replace(quiet, quiet_hours=QuietHours(time(12), time(13)))
    assert rules.in_quiet_hours(day, datetime(2026, 11, 30, 18, 30, tzinfo=UTC), CHICAGO)
    assert not rules.in_quiet_hours(
        replace(quiet, quiet_hours=None), datetime(2026, 11, 30, 4, tzinfo=UTC), CHICAGO
    )
