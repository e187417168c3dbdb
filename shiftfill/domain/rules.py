"""The decisions of a fill: who is offered, who wins a claim, who gets a call.

Each function takes the current state and returns the next one; none of them
touches storage, so a repository can run them under its lock as one atomic step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shiftfill.domain import contact
from shiftfill.domain.model import (
    Caregiver,
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
    refused = contact.why_not_ask(shift, caregiver_id, assigned=assigned, organization=organization)
    if refused is not None:
        return Decision(shift, changed=False, outcome=Outcome(refused.value))
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


def cancel(shift: Shift, *, now: datetime) -> Decision:
    """Cancel an open shift; cancelling twice is harmless, cancelling a filled shift is not."""
    if shift.status is ShiftStatus.CANCELLED:
        return Decision(shift, changed=False)
    if shift.status is ShiftStatus.FILLED:
        raise ShiftConflict(shift, "The shift is already filled.")
    return Decision(replace(shift, status=ShiftStatus.CANCELLED, cancelled_at=now), changed=True)


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
