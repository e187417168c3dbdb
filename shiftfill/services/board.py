"""What the ops board shows: open shifts and how far each fanout got, recent fills, one shift.

Read-only use cases. Everything comes from the store on every call, never from
this process's memory, so a board served by any process of any host shows a
change made by any other within one poll.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    EventType,
    Fanout,
    Notification,
    NotificationStatus,
    Organization,
    Round,
    Shift,
    ShiftStatus,
)
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.organizations import list_organizations, organizations_of
from shiftfill.services.shifts import get_shift

# Filled shifts stay on the board this long after the fill.
FILLED_WINDOW = timedelta(hours=24)
# A notification that reached the provider: it went out, whatever came of it.
_WENT_OUT = frozenset(
    {NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.UNDELIVERED}
)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one fanout got: texts, replies, the phone round and, once they exist, waves."""

    started_at: datetime
    offer_code: str
    offered: int
    texts_sent: int
    texts_delivered: int
    texts_failed: int
    declined: int
    phone_round_due_at: datetime
    phone_round_at: datetime | None
    calls_placed: int
    calls_answered: int
    # Waves (a fanout that texts the best few first) fill these in; None until then.
    waves_sent: int | None = None
    next_wave_at: datetime | None = None

    @property
    def round(self) -> Round:
        return Round.SMS if self.phone_round_at is None else Round.PHONE


@dataclass(frozen=True, slots=True)
class OpenShift:
    shift: Shift
    organization: Organization
    progress: Progress | None


@dataclass(frozen=True, slots=True)
class FilledShift:
    shift: Shift
    organization: Organization
    winner: Caregiver | None
    round: Round | None
    time_to_fill: timedelta | None


@dataclass(frozen=True, slots=True)
class Overview:
    """The board: open shifts soonest first, shifts filled in the last day newest first."""

    now: datetime
    open: list[OpenShift]
    filled: list[FilledShift]
    organizations: list[Organization]


@dataclass(frozen=True, slots=True)
class Offer:
    """One caregiver the shift was offered to, and what came of it."""

    caregiver_id: str
    caregiver: Caregiver | None
    text: Notification | None
    call: Notification | None
    declined: bool
    assigned: bool


@dataclass(frozen=True, slots=True)
class ShiftDetail:
    """One shift as ops reads it: its fanout, who was asked and left out, what happened."""

    now: datetime
    shift: Shift
    organization: Organization
    progress: Progress | None
    offers: list[Offer]
    # Why caregivers of the role were not offered the shift, counted by reason, as
    # recorded when the fanout started.
    left_out: dict[str, int]
    notifications: list[Notification]
    events: list[Event]
    caregivers: dict[str, Caregiver]


def overview(deps: Dependencies, organization_id: str | None = None) -> Overview:
    """Read the board: every open shift and every shift filled in the last 24 hours."""
    now = deps.clock()
    shifts = [
        s
        for s in deps.store.shifts.all()
        if organization_id is None or s.organization_id == organization_id
    ]
    opened = sorted((s for s in shifts if s.is_open), key=lambda s: (s.start_time, s.id))
    filled = sorted(
        (
            s
            for s in shifts
            if s.status is ShiftStatus.FILLED
            and s.filled_at is not None
            and now - s.filled_at <= FILLED_WINDOW
        ),
        key=lambda s: (s.filled_at, s.id),
        reverse=True,
    )
    orgs = organizations_of(deps, [*opened, *filled])
    winners = _caregivers(deps, [s.assigned_caregiver_id for s in filled])
    return Overview(
        now=now,
        open=[
            OpenShift(
                s,
                orgs[s.organization_id],
                progress(s.fanout, deps.store.notifications.for_shift(s.id)) if s.fanout else None,
            )
            for s in opened
        ],
        filled=[
            FilledShift(
                s,
                orgs[s.organization_id],
                winners.get(s.assigned_caregiver_id or ""),
                s.fanout.round if s.fanout else None,
                s.filled_at - s.fanout.started_at if s.fanout and s.filled_at else None,
            )
            for s in filled
        ],
        organizations=list_organizations(deps),
    )


def shift_detail(deps: Dependencies, shift_id: str) -> ShiftDetail:
    """Read one shift with its offers, notifications and event trail; ``NotFound`` if unknown."""
    shift = get_shift(deps, shift_id)
    org = organizations_of(deps, [shift])[shift.organization_id]
    notifications = deps.store.notifications.for_shift(shift_id)
    events = deps.store.events.for_shift(shift_id)
    fanout = shift.fanout
    offered = list(fanout.offered_caregiver_ids) if fanout else []
    caregivers = _caregivers(
        deps,
        [*offered, shift.assigned_caregiver_id, *(e.caregiver_id for e in events)],
    )
    by_channel = {(n.caregiver_id, n.channel): n for n in notifications}
    offers = [
        Offer(
            caregiver_id=cid,
            caregiver=caregivers.get(cid),
            text=by_channel.get((cid, Channel.SMS)),
            call=by_channel.get((cid, Channel.CALL)),
            declined=fanout is not None and fanout.has_declined(cid),
            assigned=cid == shift.assigned_caregiver_id,
        )
        for cid in offered
    ]
    return ShiftDetail(
        now=deps.clock(),
        shift=shift,
        organization=org,
        progress=progress(fanout, notifications) if fanout else None,
        offers=offers,
        left_out=_left_out(events),
        notifications=notifications,
        events=events,
        caregivers=caregivers,
    )


def progress(fanout: Fanout, notifications: Sequence[Notification]) -> Progress:
    """Count what a fanout's notifications came to."""
    counts = Counter((n.channel, n.status) for n in notifications)

    def count(channel: Channel, statuses: Iterable[NotificationStatus]) -> int:
        return sum(counts[(channel, status)] for status in statuses)

    return Progress(
        started_at=fanout.started_at,
        offer_code=fanout.offer_code,
        offered=len(fanout.offered_caregiver_ids),
        texts_sent=count(Channel.SMS, _WENT_OUT),
        texts_delivered=count(Channel.SMS, [NotificationStatus.DELIVERED]),
        texts_failed=count(Channel.SMS, [NotificationStatus.FAILED]),
        declined=len(fanout.declined_caregiver_ids),
        phone_round_due_at=fanout.escalation_due_at,
        phone_round_at=fanout.escalated_at,
        calls_placed=count(Channel.CALL, _WENT_OUT),
        calls_answered=count(Channel.CALL, [NotificationStatus.DELIVERED]),
        # A fanout gains these with waves; read them when they are there.
        waves_sent=getattr(fanout, "waves_sent", None),
        next_wave_at=getattr(fanout, "next_wave_at", None),
    )


def _left_out(events: Sequence[Event]) -> dict[str, int]:
    for event in events:
        if event.type is EventType.FANOUT_STARTED:
            counts: Mapping[str, int] = event.detail.get("not_offered") or {}
            return dict(sorted(counts.items()))
    return {}


def _caregivers(deps: Dependencies, ids: Iterable[str | None]) -> dict[str, Caregiver]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    return {c.id: c for c in deps.store.caregivers.get_many(wanted)} if wanted else {}
