"""Who may be asked about a shift, and why not: the one rule every contact path asks."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from shiftfill.domain import contact, rules
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Caregiver, Channel, Credential, Location, QuietHours, Shift
from tests.domain.test_rules import CHICAGO, NOW, at, fanned_out

ANA = Caregiver("cg_1", "Ana", "RN", "+15555550101")


def why(shift: Shift, caregiver: Caregiver, channel: Channel = Channel.SMS) -> NotAsked | None:
    return contact.why_not_ask(shift, caregiver.id, caregiver=caregiver, channel=channel)


def test_only_caregivers_of_the_required_role_who_did_not_opt_out_may_be_asked() -> None:
    shift = fanned_out()
    assert why(shift, ANA) is None
    assert why(replace(shift, role_required="LPN"), ANA) is NotAsked.OTHER_ROLE
    assert why(shift, replace(ANA, opted_out=True)) is NotAsked.OPTED_OUT
    assert contact.reachable(ANA)
    assert not contact.reachable(replace(ANA, opted_out=True))


def test_a_call_skips_who_declined_a_text_does_not() -> None:
    declined = rules.decline(fanned_out(), "cg_1").shift
    assert why(declined, ANA, Channel.CALL) is NotAsked.DECLINED
    assert why(declined, ANA, Channel.SMS) is None


def test_queued_messages_are_dropped_once_the_shift_closes_or_the_caregiver_leaves() -> None:
    shift = fanned_out()
    claimed = rules.claim(shift, "cg_3", now=NOW).shift
    assert why(claimed, ANA, Channel.CALL) is NotAsked.SHIFT_CLOSED
    assert contact.explain(NotAsked.SHIFT_CLOSED, claimed) == "the shift is filled"
    assert contact.explain(NotAsked.OPTED_OUT, shift) == "the caregiver opted out"
    assert contact.explain(NotAsked.DECLINED, shift) == "the caregiver declined"


def test_a_deactivated_caregiver_may_not_be_asked_and_queued_messages_to_them_stop() -> None:
    inactive = replace(ANA, active=False)
    assert not contact.reachable(inactive)
    assert why(fanned_out(), inactive) is NotAsked.INACTIVE
    assert contact.explain(NotAsked.INACTIVE, fanned_out()) == "the caregiver is inactive"


def test_assignments_and_quiet_hours_count_only_when_the_caller_holds_them() -> None:
    shift = replace(
        fanned_out(), start_time=at(29, 7, 12).start_time, end_time=at(29, 7, 12).end_time
    )
    clash = at(29, 18, 8)
    quiet = replace(ANA, quiet_hours=QuietHours(time(22), time(7)))
    night = datetime(2026, 11, 29, 4, tzinfo=UTC)  # 10 PM in Chicago, before the shift
    assert contact.why_not_ask(shift, "cg_1", assigned=[clash]) is None  # no organization
    refused = contact.why_not_ask(shift, "cg_1", assigned=[clash], organization=CHICAGO)
    assert refused is NotAsked.CONFLICT and refused.noted
    ask = {"caregiver": quiet, "at": night, "organization": CHICAGO}
    assert contact.why_not_ask(shift, "cg_1", channel=Channel.CALL, **ask) is NotAsked.QUIET_HOURS
    assert contact.why_not_ask(shift, "cg_1", channel=Channel.SMS, **ask) is None
    # Conflict before quiet hours: the phone round notes the reason that holds longest.
    both = contact.why_not_ask(shift, "cg_1", channel=Channel.CALL, assigned=[clash], **ask)
    assert both is NotAsked.CONFLICT


def test_nobody_is_asked_about_a_shift_once_it_has_ended() -> None:
    shift = fanned_out()
    ended = shift.end_time
    for channel in Channel:
        assert why(shift, ANA, channel) is None  # no time given: not asked about
        assert contact.why_not_ask(shift, "cg_1", channel=channel, at=ended) is (
            NotAsked.SHIFT_ENDED
        )
    before = ended - timedelta(seconds=1)
    assert contact.why_not_ask(shift, "cg_1", caregiver=ANA, at=before) is None
    assert contact.explain(NotAsked.SHIFT_ENDED, shift) == "the shift has ended"


# --- eligibility: overlapping shifts and the weekly hours cap ---


def test_a_shift_overlapping_an_assigned_one_is_a_conflict_but_back_to_back_is_fine() -> None:
    shift = at(29, 7, 12, "sh_1")  # 07:00-19:00
    assert contact.why_ineligible(shift, [at(29, 18, 8)], CHICAGO) is NotAsked.CONFLICT
    assert contact.why_ineligible(shift, [at(29, 0, 8)], CHICAGO) is NotAsked.CONFLICT
    assert contact.why_ineligible(shift, [at(29, 19, 8), at(28, 23, 8)], CHICAGO) is None
    assert contact.why_ineligible(shift, [shift], CHICAGO) is None  # the shift itself


def test_the_cap_counts_assigned_hours_in_the_same_local_week() -> None:
    shift = at(25, 14, 8, "sh_1")  # Wednesday
    # Monday Nov 23 00:00 CST is 06:00 UTC; four 8-hour shifts that week, then one too many.
    week = [at(23, 14, 8, "a"), at(24, 14, 8, "b"), at(26, 14, 8, "c"), at(27, 14, 8, "d")]
    assert contact.why_ineligible(shift, week, CHICAGO) is None  # exactly 40
    assert (
        contact.why_ineligible(shift, [*week, at(28, 14, 1, "e")], CHICAGO) is NotAsked.OVER_HOURS
    )
    # Sunday 23:00 UTC on Nov 22 is 5 PM CST Sunday: the week before, so it does not count.
    assert contact.why_ineligible(shift, [*week, at(22, 23, 5, "e")], CHICAGO) is None
    # Monday 03:00 UTC on Nov 30 is Sunday 9 PM CST: still this week.
    assert contact.why_ineligible(shift, [*week, at(30, 3, 1, "e")], CHICAGO) is NotAsked.OVER_HOURS
    assert (
        contact.why_ineligible(
            shift, [*week, at(28, 14, 1, "e")], replace(CHICAGO, max_weekly_hours=None)
        )
        is None
    )


def test_a_shift_across_two_weeks_counts_its_hours_in_each() -> None:
    # Sunday Nov 29 8 PM CST to Monday 8 AM CST: 4 hours in one week, 8 in the next.
    shift = at(30, 2, 12, "sh_1")
    before = [at(23, 14, 36, "a")]  # 36 hours earlier that week
    assert contact.why_ineligible(shift, before, CHICAGO) is None  # 36 + 4
    assert contact.why_ineligible(shift, [at(23, 14, 37, "a")], CHICAGO) is NotAsked.OVER_HOURS
    after = [at(30, 14, 33, "b")]  # Monday on: 33 + 8 = 41 in the next week
    assert contact.why_ineligible(shift, after, CHICAGO) is NotAsked.OVER_HOURS


def monday(shift: Shift) -> datetime:
    return contact.week_start(shift.start_time, "America/Chicago").astimezone(UTC)


def test_a_week_across_the_november_change_starts_at_local_midnight() -> None:
    # Monday Oct 26 00:00 CDT is 05:00 UTC; Monday Nov 2 00:00 CST is 06:00 UTC.
    assert contact.week_start(at(1, 12, 1).start_time, "America/Chicago").astimezone(
        UTC
    ) == datetime(2026, 10, 26, 5, tzinfo=UTC)
    assert contact.week_start(at(2, 6, 1).start_time, "America/Chicago").astimezone(
        UTC
    ) == datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert contact.week_start(at(2, 5, 1).start_time, "America/Chicago").astimezone(
        UTC
    ) == datetime(2026, 10, 26, 5, tzinfo=UTC)


def test_quiet_hours_are_read_in_the_organizations_zone() -> None:
    quiet = Caregiver(
        "cg_1", "Ana", "RN", "+15555550101", quiet_hours=QuietHours(time(22), time(7))
    )
    # 04:00 UTC is 10 PM CST: quiet. 13:00 UTC is 7 AM CST: not quiet any more.
    assert contact.in_quiet_hours(quiet, datetime(2026, 11, 30, 4, tzinfo=UTC), CHICAGO)
    assert contact.in_quiet_hours(quiet, datetime(2026, 11, 30, 12, 59, tzinfo=UTC), CHICAGO)
    assert not contact.in_quiet_hours(quiet, datetime(2026, 11, 30, 13, tzinfo=UTC), CHICAGO)
    assert not contact.in_quiet_hours(quiet, datetime(2026, 11, 30, 3, 59, tzinfo=UTC), CHICAGO)
    day = replace(quiet, quiet_hours=QuietHours(time(12), time(13)))
    assert contact.in_quiet_hours(day, datetime(2026, 11, 30, 18, 30, tzinfo=UTC), CHICAGO)
    assert not contact.in_quiet_hours(
        replace(quiet, quiet_hours=None), datetime(2026, 11, 30, 4, tzinfo=UTC), CHICAGO
    )


# --- a shift's client and credentials (Needs) ---

HOME = Location(41.8781, -87.6298)


def needs(**fields: object) -> contact.Needs:
    values: dict[str, object] = {
        "excluded": frozenset(),
        "place": HOME,
        "codes": ("CPR",),
        "through": date(2026, 11, 29),
    }
    values.update(fields)
    return contact.Needs(**values)  # type: ignore[arg-type]


def test_range_is_the_great_circle_distance_and_its_edge_is_in_range() -> None:
    there = Location(42.4600, -87.6298)
    miles = contact.distance_miles(there, HOME)
    assert 40 < miles < 41
    cpr = (Credential("CPR"),)
    at_edge = replace(ANA, location=there, max_travel_miles=miles, credentials=cpr)
    assert needs().why_not(at_edge) is None
    short = replace(at_edge, max_travel_miles=miles - 1e-6)
    assert needs().why_not(short) is NotAsked.OUT_OF_RANGE
    # The haversine value a fanout ranks by turns into the same miles.
    [(_, h)] = needs().sift(["cg_1"], {"cg_1": contact.reach_of(at_edge)}, {})
    assert h is not None and abs(contact.miles_of(h) - miles) < 1e-6
    # No place on either side, or no range: any distance.
    assert needs().why_not(replace(short, max_travel_miles=None)) is None
    assert needs(place=None).why_not(short) is None
    assert needs().why_not(replace(short, location=None)) is None


def test_the_latest_credential_of_a_code_counts_through_the_shifts_last_day() -> None:
    def holding(*expiries: date | None) -> Caregiver:
        return replace(ANA, credentials=tuple(Credential("CPR", e) for e in expiries))

    assert needs().why_not(ANA) is NotAsked.CREDENTIAL_MISSING
    assert needs().why_not(holding(date(2026, 11, 28))) is NotAsked.CREDENTIAL_EXPIRED
    assert needs().why_not(holding(date(2026, 11, 28), date(2026, 11, 29))) is None
    assert needs().why_not(holding(date(2026, 1, 1), None)) is None
    assert needs(excluded=frozenset({"cg_1"})).why_not(holding(None)) is NotAsked.EXCLUDED


def test_sifting_many_says_what_asking_one_by_one_says() -> None:
    places = [None, HOME, Location(41.92, -87.63), Location(43.0, -87.6)]
    expiries = [None, date(2026, 11, 28), date(2027, 1, 1)]
    people = [
        replace(
            ANA,
            id=f"cg_{n}",
            location=places[n % 4],
            max_travel_miles=(None, 5.0, 30.0)[n % 3],
            credentials=() if n % 5 == 0 else (Credential("CPR", expiries[n % 3]),),
        )
        for n in range(60)
    ]
    wants = needs(excluded=frozenset({"cg_7", "cg_8"}))
    left_out: dict[str, NotAsked] = {}
    passed = wants.sift(
        [c.id for c in people], {c.id: contact.reach_of(c) for c in people}, left_out
    )
    for caregiver in people:
        assert left_out.get(caregiver.id) == wants.why_not(caregiver)
    assert [cid for cid, _ in passed] == [c.id for c in people if wants.why_not(c) is None]
    assert passed and len(left_out) + len(passed) == len(people)
