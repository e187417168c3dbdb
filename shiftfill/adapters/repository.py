"""Thread-safe in-memory repositories.

Each repository hides a dict and the lock that guards it. Stored values are
immutable dataclasses, so what a repository hands out is a snapshot a caller
cannot change behind its back. Changes go through operations that run a pure
decision under the lock (``update``) or insert only when absent (``add``,
``add_missing``): these are the compare-and-set steps the invariants rest on.
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from shiftfill.adapters import memory
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    Notification,
    Shift,
    ShiftStatus,
    split_notification_id,
)
from shiftfill.domain.rules import Decision

R = TypeVar("R")


class DuplicateKey(Exception):
    """A record with this identity already exists."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field} {value!r} is already taken.")
        self.field = field
        self.value = value


class CaregiverRepository:
    """Caregivers by id, with indexes by phone and by role.

    The role index holds only caregivers who may be contacted, so finding the
    qualified caregivers of a shift costs the size of the answer, not of the store.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Caregiver] = {}
        self._by_phone: dict[str, str] = {}
        self._contactable_by_role: dict[str, dict[str, None]] = defaultdict(dict)

    def add(self, caregiver: Caregiver) -> None:
        """Store a new caregiver; ids and phone numbers are unique."""
        self.add_many([caregiver])

    def add_many(self, caregivers: list[Caregiver]) -> None:
        """Store all of ``caregivers`` or, if any id or phone is taken, none of them."""
        with memory.bulk_insert(len(caregivers)), self._lock:
            ids: set[str] = set()
            phones: set[str] = set()
            for caregiver in caregivers:
                if caregiver.id in self._by_id or caregiver.id in ids:
                    raise DuplicateKey("id", caregiver.id)
                if caregiver.phone in self._by_phone or caregiver.phone in phones:
                    raise DuplicateKey("phone", caregiver.phone)
                ids.add(caregiver.id)
                phones.add(caregiver.phone)
            for caregiver in caregivers:
                self._by_id[caregiver.id] = caregiver
                self._by_phone[caregiver.phone] = caregiver.id
                if not caregiver.opted_out:
                    self._contactable_by_role[caregiver.role][caregiver.id] = None

    def get(self, caregiver_id: str) -> Caregiver | None:
        """Return the caregiver with this id, or ``None``."""
        return self._by_id.get(caregiver_id)

    def get_many(self, caregiver_ids: Iterable[str]) -> list[Caregiver]:
        """Return the caregivers with these ids, skipping unknown ones."""
        by_id = self._by_id
        return [by_id[cid] for cid in caregiver_ids if cid in by_id]

    def by_phone(self, phone: str) -> Caregiver | None:
        """Return the caregiver with this E.164 number, or ``None``."""
        caregiver_id = self._by_phone.get(phone)
        return self._by_id.get(caregiver_id) if caregiver_id else None

    def all(self, role: str | None = None) -> list[Caregiver]:
        """List caregivers in the order they joined, optionally of one role."""
        with self._lock:
            values = list(self._by_id.values())
        return values if role is None else [c for c in values if c.role == role]

    def qualified_ids(self, role: str) -> list[str]:
        """List the caregivers of ``role`` who have not opted out, in the order they joined."""
        with self._lock:
            return list(self._contactable_by_role.get(role, ()))

    def opt_out(self, caregiver_id: str) -> tuple[Caregiver, bool]:
        """Mark a caregiver opted out; returns the caregiver and whether this call changed it."""
        with self._lock:
            caregiver = self._by_id[caregiver_id]
            if caregiver.opted_out:
                return caregiver, False
            caregiver = replace(caregiver, opted_out=True)
            self._by_id[caregiver_id] = caregiver
            self._contactable_by_role[caregiver.role].pop(caregiver_id, None)
            return caregiver, True


class EventLog:
    """The append-only audit trail of each shift."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_shift: dict[str, list[Event]] = defaultdict(list)

    def append(self, shift_id: str, *events: Event) -> None:
        """Add events to the end of a shift's trail."""
        with self._lock:
            self._by_shift[shift_id].extend(events)

    def for_shift(self, shift_id: str) -> list[Event]:
        """Return a shift's events, oldest first."""
        with self._lock:
            return list(self._by_shift.get(shift_id, ()))


def random_offer_code(digits: int) -> str:
    """Draw an offer code of ``digits`` digits."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


class ShiftRepository:
    """Shifts by id, the offer codes of open shifts, and the fanouts of each role."""

    # Late replies to this many closed shifts per role still hear "filled" or
    # "cancelled"; older ones hear that there is no open offer.
    RECENTLY_CLOSED = 200

    # Codes stay four digits while at most this many are in use, so a random
    # draw almost always finds a free one; past it they grow to six digits.
    SHORT_CODE_CAPACITY = 2_000

    def __init__(
        self,
        events: EventLog | None = None,
        code_source: Callable[[int], str] = random_offer_code,
    ) -> None:
        self._lock = threading.Lock()
        self._events = events if events is not None else EventLog()
        self._by_id: dict[str, Shift] = {}
        self._code_of_shift: dict[str, str] = {}
        self._codes_in_use: set[str] = set()
        # Fanned-out shifts by role: open ones, and the most recently closed ones.
        self._open_fanouts: dict[str, dict[str, None]] = defaultdict(dict)
        self._closed_fanouts: dict[str, deque[str]] = defaultdict(
            lambda: deque(maxlen=self.RECENTLY_CLOSED)
        )
        self._code_source = code_source

    def add(self, shift: Shift) -> None:
        """Store a new shift; ids are unique."""
        with self._lock:
            if shift.id in self._by_id:
                raise DuplicateKey("id", shift.id)
            self._by_id[shift.id] = shift

    def get(self, shift_id: str) -> Shift | None:
        """Return the shift with this id, or ``None``."""
        return self._by_id.get(shift_id)

    def all(self, status: ShiftStatus | None = None, role: str | None = None) -> list[Shift]:
        """List shifts in the order they were created, optionally filtered."""
        with self._lock:
            values = list(self._by_id.values())
        return [
            s
            for s in values
            if (status is None or s.status is status) and (role is None or s.role_required == role)
        ]

    def update(
        self,
        shift_id: str,
        decide: Callable[[Shift], Decision],
        record: Callable[[Decision], Iterable[Event]] | None = None,
    ) -> Decision:
        """Run ``decide`` on the current shift under the lock and store the shift it returns.

        ``decide`` must be a pure function: it is the one atomic step between
        reading a shift and writing it, so two racing claims cannot both win.
        The events ``record`` makes of the decision are appended under the same
        lock, so the audit trail lists racing decisions in the order they took
        effect. Raises ``KeyError`` for an unknown id.
        """
        with self._lock:
            before = self._by_id[shift_id]
            decision = decide(before)
            if decision.changed:
                self._by_id[shift_id] = decision.shift
                self._reindex(before, decision.shift)
            if record is not None:
                self._events.append(shift_id, *record(decision))
            return decision

    def reserve_offer_code(self, shift_id: str) -> str:
        """Return the shift's offer code, drawing one unused by any other open shift."""
        with self._lock:
            shift = self._by_id[shift_id]
            if shift.fanout is not None:
                return shift.fanout.offer_code
            if shift_id in self._code_of_shift:
                return self._code_of_shift[shift_id]
            digits = 4 if len(self._codes_in_use) < self.SHORT_CODE_CAPACITY else 6
            code = self._code_source(digits)
            while code in self._codes_in_use:
                code = self._code_source(digits)
            self._codes_in_use.add(code)
            self._code_of_shift[shift_id] = code
            return code

    def offers_for(self, caregiver: Caregiver) -> list[Shift]:
        """List the shifts offered to a caregiver, most recent fanout first.

        Looks through the fanouts of the caregiver's role (the open ones and the
        recently closed ones) rather than keeping a list per caregiver: a fanout
        to ten thousand caregivers then adds one entry, not ten thousand.
        """
        with self._lock:
            shift_ids = [*self._open_fanouts.get(caregiver.role, ())]
            shift_ids += self._closed_fanouts.get(caregiver.role, ())
            offers = [
                shift
                for shift in map(self._by_id.__getitem__, shift_ids)
                if shift.fanout is not None and shift.fanout.was_offered_to(caregiver.id)
            ]
        offers.sort(key=lambda s: s.fanout.started_at, reverse=True)  # type: ignore[union-attr]
        return offers

    def _reindex(self, before: Shift, after: Shift) -> None:
        role = after.role_required
        if before.fanout is None and after.fanout is not None and after.is_open:
            self._open_fanouts[role][after.id] = None
        if before.is_open and not after.is_open:
            if after.id in self._open_fanouts[role]:
                del self._open_fanouts[role][after.id]
                self._closed_fanouts[role].append(after.id)
            code = self._code_of_shift.pop(after.id, None)
            if code is not None:
                self._codes_in_use.discard(code)


class NotificationRepository:
    """Notifications, at most one per shift, caregiver and channel.

    Kept in one small dict per shift and channel, keyed by caregiver, rather than
    one dict for all: a fanout never pays for resizing a dict that holds every
    notification ever sent, nor for building a key tuple per caregiver.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], dict[str, Notification]] = {}
        self._shift_channels: dict[str, list[str]] = defaultdict(list)
        self._provider_lock = threading.Lock()
        self._by_provider_id: dict[str, str] = {}

    def add_missing(
        self, shift_id: str, channel: Channel, caregiver_ids: Sequence[str], at: datetime
    ) -> list[Notification]:
        """Queue one notification on ``channel`` per caregiver who has none for this shift.

        Returns the ones stored: only these may be sent (invariant 2).
        """
        with memory.bulk_insert(len(caregiver_ids)), self._lock:
            bucket = self._buckets.get((shift_id, channel))
            if bucket is None:
                bucket = self._buckets[(shift_id, channel)] = {}
                self._shift_channels[shift_id].append(channel)
            # Ten thousand caregivers in one fanout request: kept to C-level list and dict work.
            missing = list(dict.fromkeys(cid for cid in caregiver_ids if cid not in bucket))
            created = Notification.queued_many(shift_id, channel, missing, at)
            bucket.update(zip(missing, created, strict=True))
        return created

    def get(self, notification_id: str) -> Notification | None:
        """Return the notification with this id, or ``None``."""
        try:
            shift_id, caregiver_id, channel = split_notification_id(notification_id)
        except ValueError:
            return None
        return self._buckets.get((shift_id, channel), {}).get(caregiver_id)

    def by_provider_id(self, provider_id: str) -> Notification | None:
        """Find a notification by the provider's id for it (``MessageSid``, ``CallSid``)."""
        notification_id = self._by_provider_id.get(provider_id)
        return self.get(notification_id) if notification_id else None

    def for_shift(self, shift_id: str) -> list[Notification]:
        """Return a shift's texts, then its calls, in the order they were queued."""
        with self._lock:
            return [
                notification
                for channel in self._shift_channels.get(shift_id, ())
                for notification in self._buckets[(shift_id, channel)].values()
            ]

    def update(
        self, notification_id: str, change: Callable[[Notification], Notification | None]
    ) -> tuple[Notification, bool]:
        """Apply ``change`` to a stored notification under the lock.

        ``change`` returns ``None`` to leave the notification as it is. Returns the
        stored notification and whether it changed. Raises ``KeyError`` for an unknown id.
        """
        shift_id, caregiver_id, channel = split_notification_id(notification_id)
        with self._lock:
            bucket = self._buckets[(shift_id, channel)]
            current = bucket[caregiver_id]
            notification = change(current)
            if notification is None:
                return current, False
            bucket[caregiver_id] = notification
        if notification.provider_id and notification.provider_id != current.provider_id:
            with self._provider_lock:
                self._by_provider_id[notification.provider_id] = notification_id
        return notification, True


class InboundLog:
    """Remembers the outcome of each provider message id, so a replay gets the same answer.

    The first delivery of an id computes the outcome; a concurrent duplicate waits
    for it instead of computing again (invariant 5).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, object] = {}
        self._in_flight: dict[str, threading.Event] = {}

    def once(self, message_id: str, compute: Callable[[], R]) -> tuple[R, bool]:
        """Return the outcome for ``message_id`` and whether this call computed it."""
        while True:
            with self._lock:
                if message_id in self._results:
                    return self._results[message_id], False  # type: ignore[return-value]
                running = self._in_flight.get(message_id)
                if running is None:
                    done = self._in_flight[message_id] = threading.Event()
                    break
            running.wait()
        try:
            result = compute()
            with self._lock:
                self._results[message_id] = result
        finally:
            # On failure nothing is remembered: the provider may retry the message.
            with self._lock:
                del self._in_flight[message_id]
            done.set()
        return result, True

    def __len__(self) -> int:
        return len(self._results)
