"""The things shiftfill talks about: caregivers, shifts, fanouts, notifications, events.

Every value here is an immutable dataclass. Repositories hand these out freely: a
caller can read one but can only change the store by handing a new value back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, NamedTuple

# The organization a shift belongs to when none is named; it always exists.
DEFAULT_ORGANIZATION_ID = "default"


class ShiftStatus(enum.StrEnum):
    """Where a shift stands: open, filled (one caregiver holds it) or cancelled."""

    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"


class Round(enum.StrEnum):
    """The round a fanout is in: texts first, then calls."""

    SMS = "sms"
    PHONE = "phone"


class Channel(enum.StrEnum):
    """How a notification reaches a caregiver."""

    SMS = "sms"
    CALL = "call"


class NotificationStatus(enum.StrEnum):
    """``queued → sent → delivered | undelivered``, or ``failed`` at any step.

    ``delivered`` and ``undelivered`` come from the provider's status callbacks;
    for a call they mean answered, and busy or not answered.
    """

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {NotificationStatus.DELIVERED, NotificationStatus.UNDELIVERED, NotificationStatus.FAILED}
)


class EventType(enum.StrEnum):
    """The kinds of entry in a shift's audit trail."""

    FANOUT_STARTED = "fanout_started"
    SMS_SENT = "sms_sent"
    SMS_FAILED = "sms_failed"
    SMS_DELIVERED = "sms_delivered"
    SMS_UNDELIVERED = "sms_undelivered"
    ESCALATED = "escalated"
    CALL_PLACED = "call_placed"
    CALL_FAILED = "call_failed"
    CALL_ANSWERED = "call_answered"
    CALL_UNANSWERED = "call_unanswered"
    REPLY_RECEIVED = "reply_received"
    DECLINED = "declined"
    ASSIGNED = "assigned"
    CLAIM_LOST = "claim_lost"
    CANCELLED = "cancelled"
    OPTED_OUT = "opted_out"
    NO_ONE_QUALIFIED = "no_one_qualified"
    # Entries of a caregiver's own trail (changes made by the agency), on no shift.
    OPTED_IN = "opted_in"
    CAREGIVER_CHANGED = "caregiver_changed"
    CALL_SKIPPED = "call_skipped"
    CLAIM_REFUSED = "claim_refused"
    WAVE_SENT = "wave_sent"
    # Still open when the agency's systems were told (the ``shift.unfilled`` webhook).
    UNFILLED = "unfilled"


@dataclass(frozen=True, slots=True)
class Waves:
    """How a fanout widens: ``size`` caregivers at a time, every ``interval_seconds``."""

    size: int
    interval_seconds: int


@dataclass(frozen=True, slots=True)
class Organization:
    """An agency: its name in texts, its time zone (IANA), an optional weekly hours cap,
    and whether its fanouts go out in waves (``None``: everyone at once)."""

    id: str
    name: str
    time_zone: str = "UTC"
    max_weekly_hours: float | None = None
    waves: Waves | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A place on the globe, in degrees."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Credential:
    """A licence or certificate a caregiver holds; ``expires_on`` ``None`` never expires."""

    code: str
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class Client:
    """An agency's patient: where they live, whom they prefer and whom they refuse."""

    id: str
    organization_id: str
    name: str
    location: Location | None = None
    preferred_caregiver_ids: tuple[str, ...] = ()
    excluded_caregiver_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span, in the organization's local time, when a caregiver gets no calls.

    ``start`` after ``end`` spans midnight (22:00 to 07:00).
    """

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Tell whether a local wall-clock time falls inside the quiet hours."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True)
class Caregiver:
    """A person who can work shifts of one role, reachable at one phone number."""

    id: str
    name: str
    role: str
    phone: str
    opted_out: bool = False
    # A deactivated caregiver stays on the roster but is offered nothing.
    active: bool = True
    language: str = "en"
    quiet_hours: QuietHours | None = None
    location: Location | None = None
    # ``None``: any distance.
    max_travel_miles: float | None = None
    credentials: tuple[Credential, ...] = ()


@dataclass(frozen=True, slots=True)
class Fanout:
    """The outreach for one shift: who was offered it, who declined, and the phone round."""

    started_at: datetime
    offer_code: str
    escalation_due_at: datetime
    offered_caregiver_ids: tuple[str, ...]
    declined_caregiver_ids: tuple[str, ...] = ()
    escalated_at: datetime | None = None
    # Waves texted so far (everyone at once is one wave), and when the next is due.
    waves_sent: int = 1
    next_wave_at: datetime | None = None
    # When the agency's systems hear that the shift is still open (``shift.unfilled``),
    # and when they did: the alarm goes once.
    unfilled_due_at: datetime | None = None
    unfilled_at: datetime | None = None
    # Membership tests on ten thousand offers must not scan the tuple.
    _offered: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_offered", frozenset(self.offered_caregiver_ids))

    @property
    def round(self) -> Round:
        return Round.SMS if self.escalated_at is None else Round.PHONE

    @property
    def no_one_qualified(self) -> bool:
        """True when the fanout found nobody to offer the shift to."""
        return not self.offered_caregiver_ids

    def was_offered_to(self, caregiver_id: str) -> bool:
        return caregiver_id in self._offered

    def has_declined(self, caregiver_id: str) -> bool:
        return caregiver_id in self.declined_caregiver_ids


@dataclass(frozen=True, slots=True)
class Shift:
    """An open slot at an organization that needs one caregiver of ``role_required``."""

    id: str
    organization_id: str
    role_required: str
    start_time: datetime
    end_time: datetime
    status: ShiftStatus = ShiftStatus.OPEN
    assigned_caregiver_id: str | None = None
    filled_at: datetime | None = None
    cancelled_at: datetime | None = None
    fanout: Fanout | None = None
    client_id: str | None = None
    required_credentials: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status is ShiftStatus.OPEN

    def has_ended(self, now: datetime) -> bool:
        """True once the shift's end time has passed."""
        return self.end_time <= now


class Notification(NamedTuple):
    """One text or call to one caregiver about one shift.

    Its id names the shift, the caregiver and the channel, because I2 (docs/invariants.md)
    allows one notification per shift, caregiver and channel and no more.

    A named tuple rather than a frozen dataclass: a fanout makes ten thousand of
    these inside one request, and a tuple is built in a third of the time. It is
    only ever built by keyword (``queued``, ``queued_many``, the store codecs), so
    a field added later cannot shift the others; change one with ``_replace``.
    """

    id: str
    shift_id: str
    caregiver_id: str
    channel: Channel
    queued_at: datetime
    status: NotificationStatus = NotificationStatus.QUEUED
    attempts: int = 0
    sent_at: datetime | None = None
    error: str | None = None
    provider_id: str | None = None

    @classmethod
    def queued(
        cls, shift_id: str, caregiver_id: str, channel: Channel, at: datetime
    ) -> Notification:
        """A new notification, named after what I2 allows one of."""
        return cls.queued_many(shift_id, channel, [caregiver_id], at)[0]

    @classmethod
    def queued_many(
        cls, shift_id: str, channel: Channel, caregiver_ids: Iterable[str], at: datetime
    ) -> list[Notification]:
        """New notifications on one channel for one shift, one per caregiver, in that order."""
        head, tail = f"{shift_id}{_ID_SEPARATOR}", f"{_ID_SEPARATOR}{channel.value}"
        return [
            cls(
                id=head + cid + tail,
                shift_id=shift_id,
                caregiver_id=cid,
                channel=channel,
                queued_at=at,
            )
            for cid in caregiver_ids
        ]


# Not allowed in shift or caregiver ids, so an id splits back into its parts.
_ID_SEPARATOR = "~"


def split_notification_id(notification_id: str) -> tuple[str, str, str]:
    """Split an id made by ``Notification.queued``; ``ValueError`` for anything else."""
    shift_id, caregiver_id, channel = notification_id.split(_ID_SEPARATOR)
    return shift_id, caregiver_id, channel


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's word on one message or call, in shiftfill's terms.

    ``status`` is ``None`` for a step on the way (queued, ringing...);
    ``unsubscribed`` says the recipient has blocked messages at the provider.
    """

    provider_id: str
    status: NotificationStatus | None
    error: str | None = None
    unsubscribed: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a shift's append-only audit trail."""

    at: datetime
    type: EventType
    caregiver_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
