"""The decisions of a fill: who is offered, who wins a claim, who gets a call.

Each function takes the current state and returns the next one; none of them
touches storage, so a repository can run them under its lock as one atomic step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    Fanout,
    Notification,
    NotificationStatus,
    Organization,
    Shift,
    ShiftStatus,
)


class Outcome(enum.StrEnum):
    """What an inbound message came to; the webhook reports it to its caller."""

    ASSIGNED = "assigned"
    ALREADY_ASSIGNED = "already_assigned"
    FILLED = "filled"
    UNAVAILABLE = "unavailable"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    HELP = "help"
    UNRECOGNIZED = "unrecognized"
    UNKNOWN_SENDER = "unknown_sender"
    NO_OPEN_OFFER = "no_open_offer"
    AMBIGUOUS = "ambiguous"
    CONFLICT = "conflict"
    OVER_HOURS = "over_hours"


class ShiftConflict(Exception):
    """The shift is in a state that does not allow the requested change."""

    def __init__(self, shift: Shift, message: str) -> None:
        super().__init__(message)
        self.shift = shift


@dataclass(frozen=True, slots=True)
class Decision:
    """The shift after a decision, whether it changed, and what a reply came to."""

    shift: Shift
    changed: bool
    outcome: Outcome | None = None

    def if_changed(self, *events: Event) -> tuple[Event, ...]:
        """Return ``events`` if this decision changed the shift, else nothing to record."""
        return events if self.changed else ()


def is_qualified(caregiver: Caregiver, role_required: str) -> bool:
    """Tell whether a caregiver may be offered a shift needing ``role_required``."""
    return caregiver.role == role_required and not caregiver.opted_out and caregiver.active


# Further back than the Monday that starts a shift's week, in any time zone.
ELIGIBILITY_LOOKBACK = timedelta(days=8)

# What the agency may change on a caregiver; ``opted_out`` only back to false.
EDITABLE_FIELDS = frozenset(
    {"name", "phone", "role", "active", "opted_out", "language", "quiet_hours"}
)


class CaregiverEditRefused(ValueError):
    """The agency asked for a change of a caregiver that is not allowed."""


def edit_caregiver(caregiver: Caregiver, changes: Mapping[str, Any]) -> Caregiver | None:
    """Apply the agency's ``changes``; ``None`` when they change nothing.

    Only the caregiver opts out (by STOP, or at the provider): the agency can
    opt a caregiver back in, never out.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise CaregiverEditRefused(f"Cannot change {', '.join(sorted(unknown))}.")
    if changes.get("opted_out") is True and not caregiver.opted_out:
        raise CaregiverEditRefused("Only the caregiver can opt out (by texting STOP).")
    edited = replace(caregiver, **changes)
    return None if edited == caregiver else edited


def overlaps(a: Shift, b: Shift) -> bool:
    """Tell whether two shifts share any instant; back-to-back shifts do not."""
    return a.start_time < b.end_time and b.start_time < a.end_time


def week_start(at: datetime, time_zone: str) -> datetime:
    """Monday 00:00 of the week holding ``at``, in ``time_zone``, as an aware time."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=zone)


def _next_week(start: datetime) -> datetime:
    # Wall-clock arithmetic: a week across a daylight-saving change is 167 or 169 hours.
    return datetime.combine(start.date() + timedelta(days=7), time(0), tzinfo=start.tzinfo)


def _hours_between(shift: Shift, start: datetime, end: datetime) -> float:
    first, last = max(shift.start_time, start), min(shift.end_time, end)
    return max(0.0, (last - first).total_seconds() / 3600)


def weeks_of(shift: Shift, time_zone: str) -> list[tuple[datetime, datetime]]:
    """The local weeks (Monday 00:00 to the next) that a shift has hours in."""
    weeks = []
    start = week_start(shift.start_time, time_zone)
    while start < shift.end_time:
        end = _next_week(start)
        weeks.append((start, end))
        start = end
    return weeks


def why_ineligible(
    shift: Shift, assigned: Iterable[Shift], organization: Organization
) -> Outcome | None:
    """Say why a caregiver holding ``assigned`` may not take ``shift``, or ``None`` if they may.

    ``conflict``: another of their shifts overlaps this one. ``over_hours``: in a
    week (Monday 00:00 in the organization's zone) this shift has hours in, their
    hours there plus this shift's would pass the organization's cap. A shift across
    two weeks counts in each week for the hours it has in it.
    """
    others = [s for s in assigned if s.id != shift.id]
    if any(overlaps(shift, other) for other in others):
        return Outcome.CONFLICT
    cap = organization.max_weekly_hours
    if cap is None:
        return None
    for start, end in weeks_of(shift, organization.time_zone):
        hours = sum(_hours_between(s, start, end) for s in (shift, *others))
        if hours > cap + 1e-9:
            return Outcome.OVER_HOURS
    return None


def eligibility_since(shift: Shift) -> datetime:
    """An end before which no assignment can matter to ``why_ineligible`` for ``shift``.

    Eight days before the shift starts: earlier than the start of its week in any
    time zone, so it needs no organization, and ``why_ineligible`` counts only the
    hours inside each week. Those that end earlier neither overlap nor count.
    """
    return shift.start_time - ELIGIBILITY_LOOKBACK


def start_fanout(
    shift: Shift,
    *,
    now: datetime,
    offer_code: str,
    qualified_ids: Iterable[str],
    escalation_delay: timedelta,
) -> Decision:
    """Open the fanout of an open shift; a shift already fanned out stays as it is.

    ``changed`` tells whether this call started the fanout. A shift that has
    ended cannot start one; a repeat of a fanout that started in time is
    still answered as a repeat.
    """
    if shift.status is ShiftStatus.CANCELLED:
        raise ShiftConflict(shift, "The shift is cancelled.")
    if shift.fanout is not None:
        return Decision(shift, changed=False)
    if shift.status is not ShiftStatus.OPEN:
        raise ShiftConflict(shift, f"The shift is {shift.status}.")
    if shift.has_ended(now):
        raise ShiftConflict(shift, "The shift has already ended.")
    fanout = Fanout(
        started_at=now,
        offer_code=offer_code,
        escalation_due_at=now + escalation_delay,
        offered_caregiver_ids=tuple(qualified_ids),
    )
    return Decision(replace(shift, fanout=fanout), changed=True)


def claim(
    shift: Shift,
    caregiver_id: str,
    *,
    now: datetime,
    assigned: Iterable[Shift] = (),
    organization: Organization | None = None,
) -> Decision:
    """Decide an accepting reply: the first eligible claim on an open shift wins.

    ``assigned`` are the caregiver's shifts, read in the same atomic step; with
    the shift's ``organization`` they decide ``conflict`` and ``over_hours``.
    """
    if shift.status is ShiftStatus.CANCELLED:
        return Decision(shift, changed=False, outcome=Outcome.UNAVAILABLE)
    if shift.status is ShiftStatus.FILLED:
        if shift.assigned_caregiver_id == caregiver_id:
            return Decision(shift, changed=False, outcome=Outcome.ALREADY_ASSIGNED)
        return Decision(shift, changed=False, outcome=Outcome.FILLED)
    if shift.fanout is None or not shift.fanout.was_offered_to(caregiver_id):
        return Decision(shift, changed=False, outcome=Outcome.NO_OPEN_OFFER)
    if organization is not None:
        refused = why_ineligible(shift, assigned, organization)
        if refused is not None:
            return Decision(shift, changed=False, outcome=refused)
    filled = replace(
        shift,
        status=ShiftStatus.FILLED,
        assigned_caregiver_id=caregiver_id,
        filled_at=now,
    )
    return Decision(filled, changed=True, outcome=Outcome.ASSIGNED)


def decline(shift: Shift, caregiver_id: str) -> Decision:
    """Record that a caregiver will not take the shift, so the phone round skips them."""
    if shift.fanout is None or not shift.fanout.was_offered_to(caregiver_id):
        return Decision(shift, changed=False, outcome=Outcome.NO_OPEN_OFFER)
    if shift.status is ShiftStatus.CANCELLED:
        return Decision(shift, changed=False, outcome=Outcome.UNAVAILABLE)
    if shift.assigned_caregiver_id == caregiver_id:
        # Dropping a confirmed shift by text is not supported: ops must hear of it.
        return Decision(shift, changed=False, outcome=Outcome.ALREADY_ASSIGNED)
    if shift.status is ShiftStatus.FILLED or shift.fanout.has_declined(caregiver_id):
        return Decision(shift, changed=False, outcome=Outcome.DECLINED)
    fanout = replace(
        shift.fanout,
        declined_caregiver_ids=(*shift.fanout.declined_caregiver_ids, caregiver_id),
    )
    return Decision(replace(shift, fanout=fanout), changed=True, outcome=Outcome.DECLINED)


def begin_phone_round(shift: Shift, *, now: datetime) -> Decision:
    """Move an open, unescalated shift whose delay has passed into the phone round.

    ``changed`` tells whether the phone round starts now. A shift that is filled,
    cancelled, already escalated or not yet due is returned unchanged.
    """
    fanout = shift.fanout
    if (
        not shift.is_open
        or fanout is None
        or fanout.escalated_at is not None
        or now < fanout.escalation_due_at
    ):
        return Decision(shift, changed=False)
    return Decision(replace(shift, fanout=replace(fanout, escalated_at=now)), changed=True)


def phone_round_callees(
    shift: Shift, unreachable_ids: Iterable[str], skipped_ids: Iterable[str] = ()
) -> list[str]:
    """List who gets a call: every offered caregiver who has not declined or become unreachable.

    ``unreachable_ids`` are offered caregivers who opted out or were deactivated since;
    ``skipped_ids`` are left out too (quiet hours, or no longer eligible).
    """
    if shift.fanout is None:
        return []
    skip = set(shift.fanout.declined_caregiver_ids) | set(unreachable_ids) | set(skipped_ids)
    return [cid for cid in shift.fanout.offered_caregiver_ids if cid not in skip]


def cancel(shift: Shift, *, now: datetime) -> Decision:
    """Cancel an open shift; cancelling twice is harmless, cancelling a filled shift is not."""
    if shift.status is ShiftStatus.CANCELLED:
        return Decision(shift, changed=False)
    if shift.status is ShiftStatus.FILLED:
        raise ShiftConflict(shift, "The shift is already filled.")
    return Decision(replace(shift, status=ShiftStatus.CANCELLED, cancelled_at=now), changed=True)


def in_quiet_hours(caregiver: Caregiver, at: datetime, organization: Organization) -> bool:
    """Tell whether ``at`` falls in the caregiver's quiet hours, in the organization's zone."""
    if caregiver.quiet_hours is None:
        return False
    local = at.astimezone(ZoneInfo(organization.time_zone)).time()
    return caregiver.quiet_hours.contains(local)


def why_not_contact(shift: Shift, caregiver: Caregiver, channel: Channel) -> str | None:
    """Say why a queued message may no longer go out, or ``None`` if it may.

    The check runs again just before each send, because a claim, a cancel, a STOP
    or a decline can land between queueing a message and sending it.
    """
    if not shift.is_open:
        return f"the shift is {shift.status}"
    if not is_qualified(caregiver, shift.role_required):
        if caregiver.opted_out:
            return "the caregiver opted out"
        if not caregiver.active:
            return "the caregiver is inactive"
        return "the caregiver's role differs"
    if (
        channel is Channel.CALL
        and shift.fanout is not None
        and shift.fanout.has_declined(caregiver.id)
    ):
        return "the caregiver declined"
    return None


def report_delivery(
    notification: Notification, status: NotificationStatus, *, error: str | None = None
) -> Notification | None:
    """Apply a provider's delivery report; ``None`` when it would move the status backwards.

    Providers send reports out of order and more than once; a final status
    (delivered, undelivered, failed) is never replaced.
    """
    if notification.status.is_final or status is notification.status:
        return None
    if status is NotificationStatus.QUEUED:
        return None
    return notification._replace(status=status, error=error or notification.error)
