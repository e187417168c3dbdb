"""What the ops board shows: open shifts and how far each fanout got, recent fills, one shift.

Read-only use cases. Everything comes from the store on every call, never from
this process's memory, so a board served by any process of any host shows a
change made by any other within one poll.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from shiftfill.domain import contact
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Client,
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
from shiftfill.domain.webhooks import DELIVERED, FAILED, Delivery, Webhook
from shiftfill.services import matching
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.organizations import list_organizations, organizations_of
from shiftfill.services.shifts import get_shift

# Filled shifts stay on the board this long after the fill.
FILLED_WINDOW = timedelta(hours=24)
# Webhook deliveries that failed this recently are shown on the board.
WEBHOOK_WINDOW = timedelta(hours=24)
# A shift's page lists this many candidates and left-out caregivers, and counts the rest.
LISTED = 50
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
    # Only for an organization whose fanouts go out in waves; None otherwise.
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
    client: Client | None


@dataclass(frozen=True, slots=True)
class FilledShift:
    shift: Shift
    organization: Organization
    winner: Caregiver | None
    round: Round | None
    time_to_fill: timedelta | None
    client: Client | None


@dataclass(frozen=True, slots=True)
class Overview:
    """The board: open shifts soonest first, shifts filled in the last day newest first."""

    now: datetime
    open: list[OpenShift]
    filled: list[FilledShift]
    organizations: list[Organization]
    webhooks: list[WebhookTrouble]


@dataclass(frozen=True, slots=True)
class WebhookTrouble:
    """An endpoint ops should look at: disabled, or with deliveries failing in the last day."""

    webhook: Webhook
    organization: Organization
    host: str
    # Deliveries of the last day given up on or waiting for a retry, and the newest of them.
    failing: int
    last: Delivery | None


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """A qualified caregiver in the order a fanout asks them, and their text if any."""

    rank: int
    caregiver_id: str
    caregiver: Caregiver | None
    preferred: bool
    shifts_with_client: int
    distance_miles: float | None
    week_hours: float
    text: Notification | None


@dataclass(frozen=True, slots=True)
class LeftOutRow:
    """A caregiver of the role who is not asked, and why in plain words."""

    caregiver_id: str
    caregiver: Caregiver | None
    reason: str
    words: str


@dataclass(frozen=True, slots=True)
class Candidates:
    """The first ``LISTED`` of each list, how many more there are, and those of other roles."""

    qualified: list[CandidateRow]
    more_qualified: int
    left_out: list[LeftOutRow]
    more_left_out: int
    other_roles: int


@dataclass(frozen=True, slots=True)
class Offer:
    """One caregiver the shift was offered to, and what came of it."""

    caregiver_id: str
    caregiver: Caregiver | None
    text: Notification | None
    call: Notification | None
    declined: bool
    assigned: bool
    # A yes that came after the fill (``claim_lost``), or one refused and why (``claim_refused``).
    late: bool = False
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class ShiftDetail:
    """One shift as ops reads it: its fanout, who was asked and left out, what happened."""

    now: datetime
    shift: Shift
    organization: Organization
    progress: Progress | None
    offers: list[Offer]
    client: Client | None
    # Why caregivers of the role were not offered the shift, counted by reason, as
    # recorded when the fanout started; shown for a shift no longer open.
    left_out: dict[str, int]
    # Who would be asked now and who not, for an open shift; None once it is not open.
    candidates: Candidates | None
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
    everyone = list_organizations(deps)
    winners = _caregivers(deps, [s.assigned_caregiver_id for s in filled])
    named = {s.client_id for s in (*opened, *filled) if s.client_id}
    clients = {c.id: c for c in deps.store.clients.all(organization_id) if c.id in named}
    return Overview(
        now=now,
        open=[
            OpenShift(
                s,
                orgs[s.organization_id],
                progress(
                    s.fanout,
                    deps.store.notifications.for_shift(s.id),
                    waves=orgs[s.organization_id].waves is not None,
                )
                if s.fanout
                else None,
                clients.get(s.client_id or ""),
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
                clients.get(s.client_id or ""),
            )
            for s in filled
        ],
        organizations=everyone,
        webhooks=webhook_trouble(
            deps, [o for o in everyone if organization_id in (None, o.id)], now
        ),
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
    late = {e.caregiver_id for e in events if e.type == EventType.CLAIM_LOST}
    refused = {
        e.caregiver_id: str(e.detail.get("reason", ""))
        for e in events
        if e.type == EventType.CLAIM_REFUSED
    }
    offers = [
        Offer(
            caregiver_id=cid,
            caregiver=caregivers.get(cid),
            text=by_channel.get((cid, Channel.SMS)),
            call=by_channel.get((cid, Channel.CALL)),
            declined=fanout is not None and fanout.has_declined(cid),
            assigned=cid == shift.assigned_caregiver_id,
            late=cid in late,
            refused=refused.get(cid),
        )
        for cid in offered
    ]
    return ShiftDetail(
        now=deps.clock(),
        shift=shift,
        organization=org,
        progress=progress(fanout, notifications, waves=org.waves is not None) if fanout else None,
        offers=offers,
        client=deps.store.clients.get(shift.client_id) if shift.client_id else None,
        left_out=_left_out(events),
        candidates=_candidates(deps, shift, org, by_channel) if shift.is_open else None,
        notifications=notifications,
        events=events,
        caregivers=caregivers,
    )


def progress(
    fanout: Fanout, notifications: Sequence[Notification], *, waves: bool = False
) -> Progress:
    """Count what a fanout's notifications came to; ``waves``: its organization has waves."""
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
        # Every fanout counts one wave; only an organization with waves has more.
        waves_sent=fanout.waves_sent if waves else None,
        next_wave_at=fanout.next_wave_at if waves else None,
    )


def webhook_trouble(
    deps: Dependencies, organizations: Sequence[Organization], now: datetime
) -> list[WebhookTrouble]:
    """The endpoints of ``organizations`` that are disabled or failed a delivery in the last day."""
    found = []
    for org in organizations:
        for webhook in deps.store.webhooks.for_organization(org.id):
            failing = []
            # Newest first: stop at the first delivery older than the window.
            for delivery in deps.store.webhooks.deliveries(webhook.id):
                if now - delivery.created_at > WEBHOOK_WINDOW:
                    break
                if delivery.status == FAILED or (
                    delivery.status != DELIVERED and delivery.attempts > 0
                ):
                    failing.append(delivery)
            if failing or not webhook.enabled:
                host = urlsplit(webhook.url).hostname or webhook.url
                last = failing[0] if failing else None
                found.append(WebhookTrouble(webhook, org, host, len(failing), last))
    return found


# Why a caregiver is left out, as ops says it; the credential reasons name the code.
LEFT_OUT_WORDS = {
    "opted_out": "opted out of texts",
    "inactive": "inactive",
    "conflict": "booked on an overlapping shift",
    "over_hours": "over the weekly hours cap",
    "excluded": "excluded by the client",
    "out_of_range": "beyond their travel range",
    "credential_missing": "no licence {codes}",
    "credential_expired": "licence {codes} expired",
}


def _candidates(
    deps: Dependencies,
    shift: Shift,
    org: Organization,
    sent: Mapping[tuple[str, Channel], Notification],
) -> Candidates:
    """Rank the whole roster for ``shift`` as the candidates endpoint does; name the first few."""
    found = matching.candidates(deps, shift.id)
    qualified = cast(list[dict[str, Any]], found["qualified"])
    everyone_left_out = cast(list[dict[str, Any]], found["left_out"])
    # Caregivers of other roles are not candidates at all: counted, not listed.
    left_out = [row for row in everyone_left_out if row["reason"] != "role"]
    others = len(everyone_left_out) - len(left_out)
    shown_q, shown_l = qualified[:LISTED], left_out[:LISTED]
    named = _caregivers(deps, [r["caregiver_id"] for r in [*shown_q, *shown_l]])
    through = contact.last_day(shift, org.time_zone)
    return Candidates(
        qualified=[
            CandidateRow(
                rank=r["rank"],
                caregiver_id=r["caregiver_id"],
                caregiver=named.get(r["caregiver_id"]),
                preferred=r["preferred"],
                shifts_with_client=r["shifts_with_client"],
                distance_miles=r["distance_miles"],
                week_hours=r["week_hours"],
                text=sent.get((r["caregiver_id"], Channel.SMS)),
            )
            for r in shown_q
        ],
        more_qualified=len(qualified) - len(shown_q),
        left_out=[
            LeftOutRow(
                r["caregiver_id"],
                named.get(r["caregiver_id"]),
                r["reason"],
                _why(r["reason"], named.get(r["caregiver_id"]), shift, through),
            )
            for r in shown_l
        ],
        more_left_out=len(left_out) - len(shown_l),
        other_roles=others,
    )


def _why(reason: str, caregiver: Caregiver | None, shift: Shift, through: date) -> str:
    """A left-out reason in words; for a credential, which of the shift's codes."""
    words = LEFT_OUT_WORDS.get(reason, reason.replace("_", " "))
    if "{codes}" not in words:
        return words
    expiries = contact.reach(None, None, caregiver.credentials).expiries if caregiver else {}
    if reason == "credential_missing":
        codes = [c for c in shift.required_credentials if c not in expiries]
    else:
        codes = [c for c in shift.required_credentials if c in expiries and expiries[c] < through]
    return words.format(codes=", ".join(codes) or "required")


def _left_out(events: Sequence[Event]) -> dict[str, int]:
    for event in events:
        if event.type is EventType.FANOUT_STARTED:
            counts: Mapping[str, int] = event.detail.get("not_offered") or {}
            return dict(sorted(counts.items()))
    return {}


def _caregivers(deps: Dependencies, ids: Iterable[str | None]) -> dict[str, Caregiver]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    return {c.id: c for c in deps.store.caregivers.get_many(wanted)} if wanted else {}
