"""The in-memory store: dicts behind locks, for one process (the default).

Locking rule. Every write, and every read that must see several records at one
instant (lists, indexes), holds the lock of its repository. Shifts,
notifications, events and the outbox share one lock, because one shift
operation writes all four in one step. Reads of a single record by key
(``get``, ``by_phone``, ``by_provider_id``) take no lock: a dict lookup is atomic
in CPython, stored values are immutable, and a writer replaces a value whole,
so a reader sees the record either before or after a step, never half of one.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from shiftfill.adapters.memory_clients import MemoryClients, MemoryOrganizations
from shiftfill.adapters.memory_inbound import MemoryInbound
from shiftfill.adapters.memory_webhooks import MemoryWebhooks
from shiftfill.domain import indexes, rules
from shiftfill.domain.contact import Reach, reach_of, reachable
from shiftfill.domain.indexes import (
    RECENTLY_CLOSED,
    IndexDelta,
    code_digits,
    random_offer_code,
)
from shiftfill.domain.model import (
    Caregiver,
    Client,
    Event,
    Notification,
    Organization,
    Shift,
    ShiftStatus,
    split_notification_id,
)
from shiftfill.domain.rules import CaregiverChange, Outreach, ShiftChange
from shiftfill.domain.sending import NotificationChange
from shiftfill.services.dependencies import Clock, system_clock
from shiftfill.services.ports import (
    ChangeCaregiver,
    ChangeNotification,
    ClientElsewhere,
    Decide,
    DuplicateKey,
    Outgoing,
    RecordCounts,
    Sender,
)

R = TypeVar("R")


class MemoryCaregivers:
    """Caregivers by id, with indexes by phone and by role.

    The role index holds only caregivers who may be contacted, so finding the
    qualified caregivers of a shift costs the size of the answer, not of the store.
    """

    def __init__(self, webhooks: MemoryWebhooks, lock: threading.Lock | None = None) -> None:
        # The store passes the shifts' lock: a claim reads a caregiver's credentials
        # in its step, so an edit of them is never interleaved with one.
        self._lock = lock or threading.Lock()
        self._webhooks = webhooks
        self._by_id: dict[str, Caregiver] = {}
        self._by_phone: dict[str, str] = {}
        # The reachable caregivers of each role, with what matching asks of them.
        self._contactable_by_role: dict[str, dict[str, Reach]] = defaultdict(dict)
        self._events: dict[str, list[Event]] = defaultdict(list)

    def add_many(self, caregivers: Sequence[Caregiver]) -> None:
        with self._lock:
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
                self._put(caregiver)

    def add_absent(self, caregivers: Sequence[Caregiver]) -> list[Caregiver]:
        with self._lock:
            added = []
            for caregiver in caregivers:
                if caregiver.id not in self._by_id and caregiver.phone not in self._by_phone:
                    self._put(caregiver)
                    added.append(caregiver)
            return added

    def _put(self, caregiver: Caregiver) -> None:
        self._by_id[caregiver.id] = caregiver
        self._by_phone[caregiver.phone] = caregiver.id
        if reachable(caregiver):
            self._contactable_by_role[caregiver.role][caregiver.id] = reach_of(caregiver)

    def get(self, caregiver_id: str) -> Caregiver | None:
        return self._by_id.get(caregiver_id)

    def get_many(self, caregiver_ids: Iterable[str]) -> list[Caregiver]:
        by_id = self._by_id
        return [by_id[cid] for cid in caregiver_ids if cid in by_id]

    def by_phone(self, phone: str) -> Caregiver | None:
        caregiver_id = self._by_phone.get(phone)
        return self._by_id.get(caregiver_id) if caregiver_id else None

    def all(self, role: str | None = None) -> list[Caregiver]:
        with self._lock:
            values = list(self._by_id.values())
        return indexes.of_role(values, role)

    def qualified_ids(self, role: str) -> list[str]:
        with self._lock:
            return list(self._contactable_by_role.get(role, ()))

    def reach_of_role(self, role: str) -> dict[str, Reach]:
        with self._lock:
            return dict(self._contactable_by_role.get(role, {}))

    def update(self, caregiver_id: str, change: ChangeCaregiver) -> CaregiverChange:
        with self._lock:
            current = self._by_id[caregiver_id]
            decided = change(current)
            if not decided.changed:
                return decided
            updated = decided.caregiver
            if updated.id != caregiver_id:
                raise ValueError("a caregiver's id cannot change")
            if updated.phone != current.phone:
                if self._by_phone.get(updated.phone, caregiver_id) != caregiver_id:
                    raise DuplicateKey("phone", updated.phone)
                del self._by_phone[current.phone]
                self._by_phone[updated.phone] = caregiver_id
            self._by_id[caregiver_id] = updated
            was, now = reachable(current), reachable(updated)
            if was and (not now or updated.role != current.role):
                self._contactable_by_role[current.role].pop(caregiver_id, None)
            if now:
                # One who stays keeps their place in the index (its order), with new facts.
                self._contactable_by_role[updated.role][caregiver_id] = reach_of(updated)
            self._events[caregiver_id].extend(decided.events)
            self._webhooks.put(decided.messages)
            return decided

    def events(self, caregiver_id: str) -> list[Event]:
        with self._lock:
            return list(self._events.get(caregiver_id, ()))

    def __len__(self) -> int:
        return len(self._by_id)


class MemoryEvents:
    """The append-only audit trail of each shift; written under the shifts' lock."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._by_shift: dict[str, list[Event]] = defaultdict(list)

    def append(self, shift_id: str, *events: Event) -> None:
        with self._lock:
            self._append(shift_id, events)

    def _append(self, shift_id: str, events: Iterable[Event]) -> None:
        self._by_shift[shift_id].extend(events)

    def for_shift(self, shift_id: str) -> list[Event]:
        with self._lock:
            return list(self._by_shift.get(shift_id, ()))


class MemoryOutbox:
    """Queued notification ids, in the order they were queued, and how many are being sent."""

    def __init__(self, lock: threading.Lock) -> None:
        self._ready = threading.Condition(lock)
        self._ids: deque[str] = deque()
        self._taken = 0

    def _put(self, notification_ids: Iterable[str]) -> None:
        """Queue ids; the caller holds the lock."""
        before = len(self._ids)
        self._ids.extend(notification_ids)
        if len(self._ids) > before:
            self._ready.notify(len(self._ids) - before)

    def take(self, timeout: float, limit: int = 1) -> list[str]:
        with self._ready:
            if not self._ids and timeout > 0:
                self._ready.wait(timeout)
            taken = [self._ids.popleft() for _ in range(min(limit, len(self._ids)))]
            self._taken += len(taken)
            return taken

    def done(self, notification_ids: Sequence[str]) -> None:
        with self._ready:
            self._taken -= len(notification_ids)

    def drain(self) -> list[str]:
        with self._ready:
            ids = list(self._ids)
            self._ids.clear()
            return ids

    def reclaim(self, idle_seconds: float) -> list[str]:
        """No other process shares this outbox: nothing to take over."""
        return []

    def requeue(self, notification_ids: Sequence[str]) -> None:
        with self._ready:
            self._taken -= len(notification_ids)
            self._put(notification_ids)

    def depth(self) -> int:
        return len(self._ids) + self._taken


class MemoryNotifications:
    """Notifications, at most one per shift, caregiver and channel.

    Kept in one small dict per shift and channel, keyed by caregiver, rather than
    one dict for all: a fanout never pays for resizing a dict that holds every
    notification ever sent.
    """

    def __init__(
        self,
        lock: threading.Lock,
        events: MemoryEvents,
        outbox: MemoryOutbox,
        webhooks: MemoryWebhooks,
    ) -> None:
        self._lock = lock
        self._events = events
        self._outbox = outbox
        self._webhooks = webhooks
        self._buckets: dict[tuple[str, str], dict[str, Notification]] = {}
        self._shift_channels: dict[str, list[str]] = defaultdict(list)
        self._by_provider_id: dict[str, str] = {}
        self._count = 0

    def _queue(self, shift_id: str, outreach: Outreach) -> None:
        """Queue the notifications ``outreach`` asks for; the caller holds the lock."""
        channel = outreach.channel
        bucket = self._buckets.get((shift_id, channel))
        if bucket is None:
            bucket = self._buckets[(shift_id, channel)] = {}
            self._shift_channels[shift_id].append(channel)
        missing = [cid for cid in dict.fromkeys(outreach.caregiver_ids) if cid not in bucket]
        created = Notification.queued_many(shift_id, channel, missing, outreach.at)
        bucket.update((n.caregiver_id, n) for n in created)
        self._count += len(created)
        self._outbox._put(n.id for n in created)

    def get(self, notification_id: str) -> Notification | None:
        try:
            shift_id, caregiver_id, channel = split_notification_id(notification_id)
        except ValueError:
            return None
        return self._buckets.get((shift_id, channel), {}).get(caregiver_id)

    def by_provider_id(self, provider_id: str) -> Notification | None:
        notification_id = self._by_provider_id.get(provider_id)
        return self.get(notification_id) if notification_id else None

    def for_shift(self, shift_id: str) -> list[Notification]:
        with self._lock:
            return [
                notification
                for channel in self._shift_channels.get(shift_id, ())
                for notification in self._buckets[(shift_id, channel)].values()
            ]

    def update(self, notification_id: str, change: ChangeNotification) -> NotificationChange:
        shift_id, caregiver_id, channel = split_notification_id(notification_id)
        with self._lock:
            bucket = self._buckets[(shift_id, channel)]
            current = bucket[caregiver_id]
            decided = change(current)
            if not decided.changed:
                return decided
            notification = decided.notification
            bucket[caregiver_id] = notification
            if notification.provider_id and notification.provider_id != current.provider_id:
                self._by_provider_id[notification.provider_id] = notification_id
            self._events._append(shift_id, decided.events)
            self._webhooks.put(decided.messages)
        return decided

    def update_many(
        self, notification_ids: Sequence[str], change: ChangeNotification
    ) -> dict[str, NotificationChange]:
        # Notifications are never removed: one found here is still there in ``update``.
        return {
            notification_id: self.update(notification_id, change)
            for notification_id in notification_ids
            if self.get(notification_id) is not None
        }

    def __len__(self) -> int:
        return self._count


class MemoryShifts:
    """Shifts by id, the offer codes of open shifts, the fanouts of each role, due phone rounds.

    Every index is derived from the shifts' state in the step that changes it:
    a code is in use while its shift is open, a phone round is pending while its
    shift is open and not yet escalated.
    """

    def __init__(
        self,
        lock: threading.Lock,
        events: MemoryEvents,
        notifications: MemoryNotifications,
        caregivers: MemoryCaregivers,
        organizations: MemoryOrganizations,
        webhooks: MemoryWebhooks,
        code_source: Callable[[int], str] = random_offer_code,
        clients: MemoryClients | None = None,
    ) -> None:
        self._lock = lock
        self._webhooks = webhooks
        self._events = events
        self._notifications = notifications
        # Read beside the shifts (their own locks are taken inside this one, never
        # the other way round).
        self._caregivers = caregivers
        self._organizations = organizations
        self._clients = clients if clients is not None else MemoryClients(lock)
        self._code_source = code_source
        self._by_id: dict[str, Shift] = {}
        # The ids of the shifts naming each client: a move of the client reads them.
        self._by_client: dict[str, list[str]] = defaultdict(list)
        self._clients.held_by(self._naming)
        self._codes_in_use: set[str] = set()
        self._due_rounds: dict[str, datetime] = {}
        self._due_waves: dict[str, datetime] = {}
        self._due_unfilled: dict[str, datetime] = {}
        # The shifts assigned to each caregiver, for the overlap and hours checks.
        self._assigned: dict[str, dict[str, None]] = defaultdict(dict)
        # Fanned-out shifts by role: open ones, and the most recently closed ones.
        self._open_fanouts: dict[str, dict[str, None]] = defaultdict(dict)
        self._closed_fanouts: dict[str, deque[str]] = defaultdict(
            lambda: deque(maxlen=RECENTLY_CLOSED)
        )

    def add(self, shift: Shift) -> None:
        with self._lock:
            if shift.id in self._by_id:
                raise DuplicateKey("id", shift.id)
            if self._client_elsewhere(shift):
                raise ClientElsewhere(shift)
            self._put(shift)

    def add_absent(self, shifts: Sequence[Shift]) -> list[Shift]:
        with self._lock:
            added = []
            for shift in shifts:
                if shift.id not in self._by_id and not self._client_elsewhere(shift):
                    self._put(shift)
                    added.append(shift)
            return added

    def _client_elsewhere(self, shift: Shift) -> bool:
        client = self._clients.get(shift.client_id) if shift.client_id else None
        return rules.client_elsewhere(shift, client)

    def _put(self, shift: Shift) -> None:
        self._by_id[shift.id] = shift
        if shift.client_id is not None:
            self._by_client[shift.client_id].append(shift.id)

    def _naming(self, client_id: str) -> list[Shift]:
        """The shifts naming ``client_id`` (called under the lock, by a move of the client)."""
        return [self._by_id[i] for i in self._by_client.get(client_id, ())]

    def get(self, shift_id: str) -> Shift | None:
        return self._by_id.get(shift_id)

    def all(self, status: ShiftStatus | None = None, role: str | None = None) -> list[Shift]:
        with self._lock:
            values = list(self._by_id.values())
        return [s for s in values if indexes.matches(s, status, role)]

    def apply(self, shift_id: str, decide: Decide) -> ShiftChange:
        with self._lock:
            before = self._by_id[shift_id]
            change = decide(before, _Reads(self))
            self._persist(shift_id, change)
            return change

    def assignments(self, caregiver_ids: Iterable[str], since: datetime) -> dict[str, list[Shift]]:
        with self._lock:
            # Most of ten thousand offered caregivers hold nothing: look only at those who do.
            holders = self._assigned.keys() & set(caregiver_ids)
            found = {cid: self._assigned_to(cid, since) for cid in holders}
        return {cid: shifts for cid, shifts in found.items() if shifts}

    def _assigned_to(self, caregiver_id: str, since: datetime) -> list[Shift]:
        """The caregiver's assigned shifts that end after ``since``; the caller holds the lock."""
        held = self._assigned.get(caregiver_id)
        if not held:
            return []
        return [s for s in map(self._by_id.__getitem__, held) if s.end_time > since]

    def _free_code(self) -> str:
        digits = code_digits(len(self._codes_in_use))
        code = self._code_source(digits)
        while code in self._codes_in_use:
            code = self._code_source(digits)
        return code

    def _persist(self, shift_id: str, change: ShiftChange) -> None:
        """Store a change with its events, notifications and indexes; the caller holds the lock."""
        if change.indexes is not None:
            self._by_id[shift_id] = change.shift
            self._reindex(change.indexes)
        self._events._append(shift_id, change.events)
        if change.changed and change.outreach is not None:
            self._notifications._queue(shift_id, change.outreach)
        if change.messages:
            self._webhooks.put(change.messages)

    def offers_for(self, caregiver: Caregiver) -> list[Shift]:
        """Look through the fanouts of the caregiver's role, not a list per caregiver.

        A fanout to ten thousand caregivers then adds one entry, not ten thousand.
        """
        with self._lock:
            shift_ids = [*self._open_fanouts.get(caregiver.role, ())]
            shift_ids += self._closed_fanouts.get(caregiver.role, ())
            shifts = list(map(self._by_id.__getitem__, shift_ids))
        return indexes.offered_to(caregiver.id, shifts)

    def offers_by_phone(self, phone: str) -> Sender | None:
        caregiver = self._caregivers.by_phone(phone)
        return (caregiver, self.offers_for(caregiver)) if caregiver is not None else None

    def due_phone_rounds(self, now: datetime) -> list[str]:
        with self._lock:
            due = [(at, sid) for sid, at in self._due_rounds.items()]
        return indexes.due_first(due, now)

    def due_waves(self, now: datetime) -> list[str]:
        with self._lock:
            due = [(at, sid) for sid, at in self._due_waves.items()]
        return indexes.due_first(due, now)

    def due_unfilled(self, now: datetime) -> list[str]:
        with self._lock:
            due = [(at, sid) for sid, at in self._due_unfilled.items()]
        return indexes.due_first(due, now)

    def __len__(self) -> int:
        return len(self._by_id)

    def _reindex(self, delta: IndexDelta) -> None:
        """Move the indexes as ``delta`` says; the caller holds the lock."""
        if delta.assigned_to is not None:
            self._assigned[delta.assigned_to][delta.shift_id] = None
        if delta.opened is not None:
            self._open_fanouts[delta.role][delta.shift_id] = None
            self._codes_in_use.add(delta.opened)
        if delta.phone_round is not None:
            self._due_rounds[delta.shift_id] = delta.phone_round
        else:
            self._due_rounds.pop(delta.shift_id, None)
        if delta.next_wave is not None:
            self._due_waves[delta.shift_id] = delta.next_wave
        else:
            self._due_waves.pop(delta.shift_id, None)
        if delta.unfilled is not None:
            self._due_unfilled[delta.shift_id] = delta.unfilled
        else:
            self._due_unfilled.pop(delta.shift_id, None)
        if delta.closed is not None:
            self._open_fanouts[delta.role].pop(delta.shift_id, None)
            self._closed_fanouts[delta.role].append(delta.shift_id)
            self._codes_in_use.discard(delta.closed)


class _Reads:
    """What a decision reads beside its shift, inside the shifts' lock."""

    def __init__(self, shifts: MemoryShifts) -> None:
        self._shifts = shifts

    def free_code(self) -> str:
        return self._shifts._free_code()

    def assignments(self, caregiver_id: str, since: datetime) -> list[Shift]:
        return self._shifts._assigned_to(caregiver_id, since)

    def organization(self, organization_id: str) -> Organization | None:
        return self._shifts._organizations.get(organization_id)

    def assignments_and_organization(
        self, caregiver_id: str, since: datetime, organization_id: str
    ) -> tuple[list[Shift], Organization | None]:
        return self.assignments(caregiver_id, since), self.organization(organization_id)

    def caregiver(self, caregiver_id: str) -> Caregiver | None:
        return self._shifts._caregivers.get(caregiver_id)

    def client(self, client_id: str) -> Client | None:
        return self._shifts._clients.get(client_id)


class MemoryStore:
    """Everything in this process's memory; lost when the process ends."""

    kind = "memory"
    durable = False

    def __init__(
        self,
        *,
        dedupe_window: timedelta = timedelta(hours=72),
        clock: Clock = system_clock,
        code_source: Callable[[int], str] = random_offer_code,
    ) -> None:
        lock = threading.Lock()
        self.webhooks = MemoryWebhooks()
        self.caregivers = MemoryCaregivers(self.webhooks, lock)
        self.organizations = MemoryOrganizations()
        self.clients = MemoryClients(lock)
        self.events = MemoryEvents(lock)
        self.outbox = MemoryOutbox(lock)
        self.notifications = MemoryNotifications(lock, self.events, self.outbox, self.webhooks)
        self.shifts = MemoryShifts(
            lock,
            self.events,
            self.notifications,
            self.caregivers,
            self.organizations,
            self.webhooks,
            code_source,
            self.clients,
        )
        self.inbound = MemoryInbound(dedupe_window, self.shifts.offers_by_phone, clock)
        self._seeded_lock = threading.Lock()
        self._seeded_at: datetime | None = None

    def outgoing(self, notification_ids: Sequence[str]) -> list[Outgoing]:
        found = []
        for notification_id in notification_ids:
            notification = self.notifications.get(notification_id)
            if notification is None:
                continue
            shift = self.shifts.get(notification.shift_id)
            caregiver = self.caregivers.get(notification.caregiver_id)
            organization = self.organizations.get(shift.organization_id) if shift else None
            client = self.clients.get(shift.client_id) if shift and shift.client_id else None
            found.append(Outgoing(notification, shift, caregiver, organization, client))
        return found

    def ping(self) -> None:
        """Memory is always there."""

    def counts(self) -> RecordCounts:
        return RecordCounts(
            caregivers=len(self.caregivers),
            shifts=len(self.shifts),
            notifications=len(self.notifications),
        )

    def mark_seeded(self, at: datetime) -> datetime:
        with self._seeded_lock:
            if self._seeded_at is None:
                self._seeded_at = at
            return self._seeded_at

    def seeded_at(self) -> datetime | None:
        return self._seeded_at

    def close(self) -> None:
        """Nothing to release."""
