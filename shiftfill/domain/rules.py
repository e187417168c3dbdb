"""The decisions of a fill: who is offered, who wins a claim, who gets a call.

Each function takes the current state and returns a ``ShiftChange``: the next
state and everything that follows from it. None of them touches storage, so a
repository runs them inside one atomic step and persists what they return.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from shiftfill.domain import contact
from shiftfill.domain.indexes import IndexDelta, index_delta
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Client,
    Event,
    EventType,
    Fanout,
    Organization,
    Shift,
    ShiftStatus,
)
from shiftfill.domain.webhooks import CAREGIVER_OPTED_OUT, WebhookMessage, about


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
    NOT_ELIGIBLE = "not_eligible"


class ShiftConflict(Exception):
    """The shift is in a state that does not allow the requested change."""

    def __init__(self, shift: Shift, message: str) -> None:
        super().__init__(message)
        self.shift = shift


@dataclass(frozen=True, slots=True)
class Outreach:
    """Messages a change asks for: one notification on ``channel`` per caregiver.

    A store queues them in the step that stores the change, except to caregivers
    who already have one on that channel for the shift (I2 in docs/invariants.md).
    """

    channel: Channel
    caregiver_ids: Sequence[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class ShiftChange:
    """A decision as a store persists it: everything one step changes, and nothing else.

    ``shift`` is the shift after the decision and ``changed`` whether it differs
    from the one the step read. ``events`` go on the shift's trail whether or not
    it changed (a lost claim is noted too); ``outreach`` is queued and
    ``indexes`` applied only when it changed. ``outcome`` is what a reply came to,
    and ``organization`` the shift's organization as the step read it, for the
    caller's answer. ``messages`` are the webhook messages that report the change,
    written to the webhook outbox in the same step.
    """

    shift: Shift
    changed: bool
    outcome: Outcome | None = None
    events: tuple[Event, ...] = ()
    outreach: Outreach | None = None
    indexes: IndexDelta | None = None
    organization: Organization | None = None
    messages: tuple[WebhookMessage, ...] = ()

    def __post_init__(self) -> None:
        # A store writes the shift and moves its indexes together, or neither.
        if self.changed != (self.indexes is not None):
            raise ValueError("a changed shift comes with its index changes, a kept one without")

    @classmethod
    def kept(cls, shift: Shift, outcome: Outcome | None = None) -> ShiftChange:
        """The shift left as it is."""
        return cls(shift, changed=False, outcome=outcome)

    @classmethod
    def moved(cls, before: Shift, after: Shift, outcome: Outcome | None = None) -> ShiftChange:
        """The shift moved from ``before`` to ``after``, with the index changes that follow."""
        return cls(after, changed=True, outcome=outcome, indexes=index_delta(before, after))

    # Built field by field rather than by ``dataclasses.replace``: a reply makes three
    # of these, and ``replace`` costs several times a constructor call.
    def noting(self, *events: Event) -> ShiftChange:
        """This change with ``events`` added to the trail."""
        return ShiftChange(
            self.shift,
            self.changed,
            self.outcome,
            (*self.events, *events),
            self.outreach,
            self.indexes,
            self.organization,
            self.messages,
        )

    def reaching(self, outreach: Outreach) -> ShiftChange:
        """This change asking for ``outreach``."""
        return ShiftChange(
            self.shift,
            self.changed,
            self.outcome,
            self.events,
            outreach,
            self.indexes,
            self.organization,
            self.messages,
        )

    def announcing(self, *messages: WebhookMessage) -> ShiftChange:
        """This change with ``messages`` for the agency's webhooks."""
        return ShiftChange(
            self.shift,
            self.changed,
            self.outcome,
            self.events,
            self.outreach,
            self.indexes,
            self.organization,
            (*self.messages, *messages),
        )

    def reading(self, organization: Organization) -> ShiftChange:
        """This change, with the organization its step read."""
        return ShiftChange(
            self.shift,
            self.changed,
            self.outcome,
            self.events,
            self.outreach,
            self.indexes,
            organization,
            self.messages,
        )


class StepReads(Protocol):
    """What a decision may read inside its step, beside the shift.

    A store reads each of these in the same atomic step as the shift, so the
    decision and its writes see one state: the Redis store checks the answers
    again when it writes.
    """

    def free_code(self) -> str:
        """An offer code no open shift holds; it is in use only if the change opens a fanout."""

    def assignments(self, caregiver_id: str, since: datetime) -> list[Shift]:
        """The shifts assigned to ``caregiver_id`` that end after ``since``."""

    def organization(self, organization_id: str) -> Organization | None:
        """The organization as stored, or ``None`` when it is not."""

    def assignments_and_organization(
        self, caregiver_id: str, since: datetime, organization_id: str
    ) -> tuple[list[Shift], Organization | None]:
        """``assignments`` and ``organization`` together: what a claim reads, in one go."""

    def caregiver(self, caregiver_id: str) -> Caregiver | None:
        """The caregiver as stored, or ``None`` when it is not."""

    def client(self, client_id: str) -> Client | None:
        """The client as stored, or ``None`` when it is not."""


# What the agency may change on a caregiver; ``opted_out`` only back to false.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "phone",
        "role",
        "active",
        "opted_out",
        "language",
        "quiet_hours",
        "location",
        "max_travel_miles",
        "credentials",
    }
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


@dataclass(frozen=True, slots=True)
class CaregiverChange:
    """A caregiver after a decision, whether it changed, and the events for their own trail.

    A store writes the caregiver, moves the phone and role indexes, appends the
    events and puts ``messages`` in the webhook outbox only when it changed, all
    in one step.
    """

    caregiver: Caregiver
    changed: bool
    events: tuple[Event, ...] = ()
    messages: tuple[WebhookMessage, ...] = ()

    @classmethod
    def of(cls, before: Caregiver, after: Caregiver | None, *events: Event) -> CaregiverChange:
        """``after`` with ``events`` when it differs from ``before``; else ``before``, kept."""
        if after is None or after == before:
            return cls(before, changed=False)
        return cls(after, changed=True, events=events)


def edit(caregiver: Caregiver, changes: Mapping[str, Any], *, now: datetime) -> CaregiverChange:
    """The agency's edit as a change: the fields it changed, and an opt-in when it is one."""
    edited = edit_caregiver(caregiver, changes)
    if edited is None:
        return CaregiverChange.of(caregiver, None)
    fields = sorted(f for f in changes if getattr(caregiver, f) != getattr(edited, f))
    events = [
        Event(
            at=now,
            type=EventType.CAREGIVER_CHANGED,
            caregiver_id=edited.id,
            detail={"fields": fields},
        )
    ]
    if caregiver.opted_out and not edited.opted_out:
        events.append(
            Event(at=now, type=EventType.OPTED_IN, caregiver_id=edited.id, detail={"via": "agency"})
        )
    return CaregiverChange.of(caregiver, edited, *events)


def opt_out(
    caregiver: Caregiver, *, now: datetime, offers: Sequence[Shift] = ()
) -> CaregiverChange:
    """The caregiver opting out (STOP, or the provider's opt-out), once.

    ``offers`` are the shifts offered to them, read before the step: each open
    one is announced as ``caregiver.opted_out``. Already opted out: nothing changes.
    """
    if caregiver.opted_out:
        return CaregiverChange.of(caregiver, None)
    change = CaregiverChange.of(caregiver, replace(caregiver, opted_out=True))
    messages = tuple(
        about(shift, CAREGIVER_OPTED_OUT, now, caregiver_id=caregiver.id)
        for shift in offers
        if shift.is_open
    )
    return replace(change, messages=messages)


def client_elsewhere(shift: Shift, client: Client | None) -> bool:
    """Whether ``shift`` names a client that is not one of its organization's (or none that
    is stored): such a shift is not added (docs/behaviour.md, "Clients")."""
    return shift.client_id is not None and (
        client is None or client.organization_id != shift.organization_id
    )


def shifts_holding(client: Client, shifts: Iterable[Shift]) -> list[str]:
    """The open shifts naming ``client`` in another organization than the one it names now.

    A client named by an open shift stays in that shift's organization: moved, their
    lists would be another agency's to edit while this one's fanouts, claims and sends
    still follow them (docs/behaviour.md, "Clients").
    """
    return sorted(
        s.id
        for s in shifts
        if s.client_id == client.id
        and s.status is ShiftStatus.OPEN
        and s.organization_id != client.organization_id
    )


def start_fanout(
    shift: Shift,
    *,
    now: datetime,
    offer_code: str,
    qualified_ids: Iterable[str],
    escalation_delay: timedelta,
    next_wave_at: datetime | None = None,
) -> ShiftChange:
    """Open the fanout of an open shift; a shift already fanned out stays as it is.

    ``qualified_ids`` are the first wave (everyone, without waves); ``next_wave_at``
    when the next wave is due, ``None`` when none will be.
    ``changed`` tells whether this call started the fanout. A shift that has
    ended cannot start one; a repeat of a fanout that started in time is
    still answered as a repeat.
    """
    if shift.status is ShiftStatus.CANCELLED:
        raise ShiftConflict(shift, "The shift is cancelled.")
    if shift.fanout is not None:
        return ShiftChange.kept(shift)
    if shift.status is not ShiftStatus.OPEN:
        raise ShiftConflict(shift, f"The shift is {shift.status}.")
    if shift.has_ended(now):
        raise ShiftConflict(shift, "The shift has already ended.")
    fanout = Fanout(
        started_at=now,
        offer_code=offer_code,
        escalation_due_at=now + escalation_delay,
        offered_caregiver_ids=tuple(qualified_ids),
        next_wave_at=next_wave_at,
        # A shift that reaches its start time open has gone unfilled; one fanned out
        # after its start waits for the phone round's own alarm.
        unfilled_due_at=shift.start_time if shift.start_time > now else None,
    )
    return ShiftChange.moved(shift, replace(shift, fanout=fanout))


def wave_due(shift: Shift, now: datetime) -> bool:
    """Whether the next wave of the shift's fanout may go out at ``now``.

    Only on an open shift still in its text round: a fill, a cancel or the phone
    round ends the waves (I2, I4 in docs/invariants.md), and none goes out once the
    shift has ended.
    """
    fanout = shift.fanout
    return (
        shift.is_open
        and not shift.has_ended(now)
        and fanout is not None
        and fanout.escalated_at is None
        and fanout.next_wave_at is not None
        and fanout.next_wave_at <= now
    )


def send_wave(
    shift: Shift,
    *,
    now: datetime,
    wave: int,
    caregiver_ids: Sequence[str],
    next_wave_at: datetime | None,
) -> ShiftChange:
    """Offer the shift to the next wave, ``caregiver_ids``; ``wave`` is its number (from 2).

    Unchanged unless the wave is due and is the one the fanout expects next, so
    of any number of processes that decided the same wave only the first sends it.
    Caregivers offered already are left out; ``next_wave_at`` is when the wave
    after this one is due, ``None`` when there is none.
    """
    fanout = shift.fanout
    if not wave_due(shift, now) or fanout is None or fanout.waves_sent + 1 != wave:
        return ShiftChange.kept(shift)
    new = [cid for cid in dict.fromkeys(caregiver_ids) if not fanout.was_offered_to(cid)]
    waved = replace(
        fanout,
        offered_caregiver_ids=(*fanout.offered_caregiver_ids, *new),
        waves_sent=wave if new else fanout.waves_sent,
        next_wave_at=next_wave_at if new else None,
    )
    return ShiftChange.moved(shift, replace(shift, fanout=waved))


def claim(
    shift: Shift,
    caregiver_id: str,
    *,
    now: datetime,
    assigned: Iterable[Shift] = (),
    organization: Organization | None = None,
    caregiver: Caregiver | None = None,
    wants: contact.Needs | None = None,
) -> ShiftChange:
    """Decide an accepting reply: the first eligible claim on an open shift wins.

    ``assigned`` are the caregiver's shifts, read in the same atomic step; with
    the shift's ``organization`` they decide ``conflict`` and ``over_hours``.
    ``caregiver`` and what the shift ``wants`` (its client, its credentials), read
    in the step too, decide ``not_eligible``.
    """
    if shift.status is ShiftStatus.CANCELLED:
        return ShiftChange.kept(shift, Outcome.UNAVAILABLE)
    if shift.status is ShiftStatus.FILLED:
        if shift.assigned_caregiver_id == caregiver_id:
            return ShiftChange.kept(shift, Outcome.ALREADY_ASSIGNED)
        return ShiftChange.kept(shift, Outcome.FILLED)
    if shift.fanout is None or not shift.fanout.was_offered_to(caregiver_id):
        return ShiftChange.kept(shift, Outcome.NO_OPEN_OFFER)
    if caregiver is not None and not contact.reachable(caregiver):
        return ShiftChange.kept(shift, Outcome.NO_OPEN_OFFER)  # opted out or deactivated since
    if caregiver is not None and wants is not None:
        unmatched = wants.why_not(caregiver)
        if unmatched is not None:
            return ShiftChange.kept(shift, Outcome.NOT_ELIGIBLE)
    refused = contact.why_not_ask(shift, caregiver_id, assigned=assigned, organization=organization)
    if refused is not None:
        return ShiftChange.kept(shift, Outcome(refused.value))
    filled = replace(
        shift,
        status=ShiftStatus.FILLED,
        assigned_caregiver_id=caregiver_id,
        filled_at=now,
        fanout=_no_more_waves(shift.fanout),
    )
    return ShiftChange.moved(shift, filled, Outcome.ASSIGNED)


def decline(shift: Shift, caregiver_id: str) -> ShiftChange:
    """Record that a caregiver will not take the shift, so the phone round skips them."""
    if shift.fanout is None or not shift.fanout.was_offered_to(caregiver_id):
        return ShiftChange.kept(shift, Outcome.NO_OPEN_OFFER)
    if shift.status is ShiftStatus.CANCELLED:
        return ShiftChange.kept(shift, Outcome.UNAVAILABLE)
    if shift.assigned_caregiver_id == caregiver_id:
        # Dropping a confirmed shift by text is not supported: ops must hear of it.
        return ShiftChange.kept(shift, Outcome.ALREADY_ASSIGNED)
    if shift.status is ShiftStatus.FILLED or shift.fanout.has_declined(caregiver_id):
        return ShiftChange.kept(shift, Outcome.DECLINED)
    fanout = replace(
        shift.fanout,
        declined_caregiver_ids=(*shift.fanout.declined_caregiver_ids, caregiver_id),
    )
    return ShiftChange.moved(shift, replace(shift, fanout=fanout), Outcome.DECLINED)


def begin_phone_round(
    shift: Shift, *, now: datetime, unfilled_after: timedelta | None = None
) -> ShiftChange:
    """Move an open, unescalated shift whose delay has passed into the phone round.

    ``changed`` tells whether the phone round starts now. A shift that is filled,
    cancelled, already escalated or not yet due is returned unchanged. With
    ``unfilled_after``, the unfilled alarm is due that long after the round, or
    at the shift's start when that comes first.
    """
    fanout = shift.fanout
    if (
        not shift.is_open
        or fanout is None
        or fanout.escalated_at is not None
        or now < fanout.escalation_due_at
    ):
        return ShiftChange.kept(shift)
    due = fanout.unfilled_due_at
    if unfilled_after is not None:
        after_round = now + unfilled_after
        due = after_round if due is None else min(due, after_round)
    # The phone round is the last step: waves still due stop here.
    escalated = replace(fanout, escalated_at=now, next_wave_at=None, unfilled_due_at=due)
    return ShiftChange.moved(shift, replace(shift, fanout=escalated))


def mark_unfilled(shift: Shift, *, now: datetime) -> ShiftChange:
    """Note that the shift went unfilled, once: open, fanned out, and its alarm due.

    A shift filled, cancelled, already reported or not yet due is left as it is.
    """
    fanout = shift.fanout
    if (
        not shift.is_open
        or fanout is None
        or fanout.unfilled_at is not None
        or fanout.unfilled_due_at is None
        or now < fanout.unfilled_due_at
    ):
        return ShiftChange.kept(shift)
    return ShiftChange.moved(shift, replace(shift, fanout=replace(fanout, unfilled_at=now)))


def cancel(shift: Shift, *, now: datetime) -> ShiftChange:
    """Cancel an open shift; cancelling twice is harmless, cancelling a filled shift is not."""
    if shift.status is ShiftStatus.CANCELLED:
        return ShiftChange.kept(shift)
    if shift.status is ShiftStatus.FILLED:
        raise ShiftConflict(shift, "The shift is already filled.")
    cancelled = replace(
        shift, status=ShiftStatus.CANCELLED, cancelled_at=now, fanout=_no_more_waves(shift.fanout)
    )
    return ShiftChange.moved(shift, cancelled)


def _no_more_waves(fanout: Fanout | None) -> Fanout | None:
    """A closed shift's fanout: no wave is due any more."""
    if fanout is None or fanout.next_wave_at is None:
        return fanout
    return replace(fanout, next_wave_at=None)
