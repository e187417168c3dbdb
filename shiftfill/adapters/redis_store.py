"""The Redis store: every record in Redis, shared by every shiftfill process and host.

Each change of state is one optimistic step: read the records the decision
needs, run the same pure domain decision as the memory store, then write the
record and everything that follows from it (events, notifications, the send
queue, indexes) only if what was read is still so, else run again on the new
state. Shifts and notifications, the records on the hot paths, use one script
for that (``CHECKED_WRITE``: the reads are checked and the writes applied in one
round trip). Caregivers and organizations, which the agency edits, use
WATCH/MULTI/EXEC (``transact``). A crash between two steps leaves Redis at one of
them, never between.

Every key is ``<prefix>{<tag>}:...``: under ``SHIFTFILL_REDIS_PREFIX``, and in
one hash slot, so that a step may touch any of its keys on Redis Cluster too.

The send queue is a stream with one consumer group. A process takes an entry,
sends it and acknowledges it; an entry left unacknowledged by a process that
died is taken over after the visibility timeout (see ``reclaim``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.driver_info import DriverInfo
from redis.retry import Retry

from shiftfill.adapters import redis_codec as codec
from shiftfill.adapters.redis_steps import Command, Recent, Step, Steps, run_scripts, transact
from shiftfill.domain import indexes
from shiftfill.domain.contact import reachable
from shiftfill.domain.indexes import (
    RECENTLY_CLOSED,
    IndexDelta,
    code_digits,
    random_offer_code,
)
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    Notification,
    Organization,
    Shift,
    ShiftStatus,
    split_notification_id,
)
from shiftfill.domain.rules import CaregiverChange, ShiftChange
from shiftfill.services.ports import (
    ChangeCaregiver,
    Decide,
    DuplicateKey,
    Outgoing,
    RecordCounts,
    StoreUnavailable,
)

T = TypeVar("T")
R = TypeVar("R")

GROUP = "senders"
# A duplicate delivery of a message waits this long for the first one's outcome.
INBOUND_LEASE_SECONDS = 30
PENDING = b"\x00pending"
# Shifts each process keeps parsed, by their stored value; and offered-id lists of
# fanouts it keeps, which never change.
PARSED_SHIFTS = 256
KNOWN_FANOUTS = 64

# What makes Redis unable to serve a step right now, not a fault of the step: down,
# slow, loading its data, a replica during a failover, or out of memory.
_UNAVAILABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ReadOnlyError,
    redis.OutOfMemoryError,
)

# The read scripts below name the record keys they read from an index at run time;
# every key shares the hash tag, so on Redis Cluster they stay in the slot of the key
# they declare.
#
# A caregiver by phone, in one round trip.
BY_PHONE = """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('GET', ARGV[2] .. id)
"""
# The shifts each of many caregivers holds from a time on, in one round trip: for a
# fanout to ten thousand, one command instead of ten thousand. ARGV: the index key
# prefix, the earliest score (exclusive), caregiver ids as one JSON array. Returns,
# for each caregiver who holds any, the id, how many shift ids follow, then those.
ASSIGNED_SINCE = """
local out = {}
for _, cid in ipairs(cjson.decode(ARGV[3])) do
  local held = redis.call('ZRANGEBYSCORE', ARGV[1] .. cid, ARGV[2], '+inf')
  if #held > 0 then
    out[#out + 1] = cid
    out[#out + 1] = #held
    for _, id in ipairs(held) do out[#out + 1] = id end
  end
end
return out
"""
# The shifts offered to a caregiver, found as the memory store finds them: among
# the open fanouts of the caregiver's role and its most recently closed ones, those
# whose offered set holds the caregiver. A fanout to ten thousand then adds one
# entry to an index, not one to each of ten thousand. ARGV, after the script's
# own: the open-fanouts prefix, the closed-fanouts prefix, the offered-set prefix,
# the shift key prefix.
_OFFERS_OF = """
local function offers_of(id, role, open, closed, offered, shift)
  local out = {}
  local function consider(sid)
    if redis.call('SISMEMBER', offered .. sid, id) == 1 then
      out[#out + 1] = redis.call('GET', shift .. sid) or ''
    end
  end
  for _, sid in ipairs(redis.call('SMEMBERS', open .. role)) do consider(sid) end
  for _, sid in ipairs(redis.call('LRANGE', closed .. role, 0, -1)) do consider(sid) end
  return out
end
"""
# ARGV: the caregiver id and role, then the prefixes of ``_OFFERS_OF``.
OFFERS = (
    _OFFERS_OF
    + """
return offers_of(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)
# A reply's reads, in one round trip: the caregiver with this phone and their
# offers. KEYS: the phone index. ARGV: the phone, the caregiver key prefix, then the
# prefixes of ``_OFFERS_OF``. Returns nothing for an unknown phone, else the
# caregiver and then the shifts.
REPLY_READ = (
    _OFFERS_OF
    + """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
local caregiver = redis.call('GET', ARGV[2] .. id)
if not caregiver then return false end
local offers = offers_of(id, cjson.decode(caregiver)['role'], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
table.insert(offers, 1, caregiver)
return offers
"""
)
# What a send reads, in one round trip: the notification (its record, else its
# queued time), its shift, its caregiver, and the shift's organization. KEYS: the
# notification, its queued hash, the shift, the caregiver. ARGV: the caregiver id,
# the organization key prefix.
OUTGOING = """
local shift = redis.call('GET', KEYS[3])
local organization = false
if shift then
  organization = redis.call('GET', ARGV[2] .. cjson.decode(shift)['organization_id'])
end
return {
  redis.call('GET', KEYS[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or '',
  shift or '', redis.call('GET', KEYS[4]) or '', organization or ''
}
"""


def _translating(method: Callable[..., T]) -> Callable[..., T]:
    """Report an unreachable Redis as ``StoreUnavailable``, the port's word for it."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc

    return call


def translating_errors(cls: type[T]) -> type[T]:
    """Wrap every public method of a repository class with ``_translating``."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_"):
            setattr(cls, name, _translating(value))
    return cls


def _timestamp(at: datetime) -> float:
    return at.timestamp()


class Keys:
    """Names every key shiftfill writes: ``<prefix>{<tag>}:<part>:<part>...``."""

    def __init__(self, prefix: str) -> None:
        tag = prefix.strip(":") or "shiftfill"
        self._base = f"{prefix}{{{tag}}}:"

    def __call__(self, *parts: str) -> str:
        return self._base + ":".join(parts)


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Rec = TypeVar("Rec", bound=Identified)


def add_absent(
    client: redis.Redis,
    order: str,
    key_of: Callable[[str], str],
    dump: Callable[[Rec], str],
    records: Sequence[Rec],
) -> list[Rec]:
    """Store the records whose id is not stored yet, in one step; return those stored.

    ``order`` lists the ids as they were added; a repeated id counts once.
    """

    def step(pipe: Pipeline) -> list[Rec]:
        stored = pipe.mget([key_of(r.id) for r in records]) if records else []
        added = [r for r, raw in zip(records, stored, strict=True) if raw is None]
        added = list({r.id: r for r in reversed(added)}.values())[::-1]
        pipe.multi()
        if added:
            pipe.mset({key_of(r.id): dump(r) for r in added})
            pipe.rpush(order, *(r.id for r in added))
        return added

    return transact(client, [order], step)


@translating_errors
class RedisCaregivers:
    """Caregivers as JSON by id; a phone index, joining order, and the contactable ids per role."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._k = keys
        self._order = keys("caregivers")
        self.phones = keys("caregiver-phones")
        # The role index orders caregivers as they joined or last became contactable.
        self._seq = keys("contactable-seq")
        self._by_phone = client.register_script(BY_PHONE)

    def key(self, caregiver_id: str) -> str:
        return self._k("caregiver", caregiver_id)

    def _role(self, role: str) -> str:
        return self._k("contactable", role)

    def add_many(self, caregivers: Sequence[Caregiver]) -> None:
        def step(pipe: Pipeline) -> None:
            taken = self._taken(pipe, caregivers)
            seen_ids: set[str] = set()
            seen_phones: set[str] = set()
            for caregiver, (id_taken, phone_taken) in zip(caregivers, taken, strict=True):
                if id_taken or caregiver.id in seen_ids:
                    raise DuplicateKey("id", caregiver.id)
                if phone_taken or caregiver.phone in seen_phones:
                    raise DuplicateKey("phone", caregiver.phone)
                seen_ids.add(caregiver.id)
                seen_phones.add(caregiver.phone)
            self._put(pipe, caregivers)

        transact(self._r, [self._order, self.phones, self._seq], step)

    def add_absent(self, caregivers: Sequence[Caregiver]) -> list[Caregiver]:
        def step(pipe: Pipeline) -> list[Caregiver]:
            taken = self._taken(pipe, caregivers)
            added: list[Caregiver] = []
            ids: set[str] = set()
            phones: set[str] = set()
            for caregiver, (id_taken, phone_taken) in zip(caregivers, taken, strict=True):
                if id_taken or phone_taken or caregiver.id in ids or caregiver.phone in phones:
                    continue
                ids.add(caregiver.id)
                phones.add(caregiver.phone)
                added.append(caregiver)
            self._put(pipe, added)
            return added

        return transact(self._r, [self._order, self.phones, self._seq], step)

    def _taken(self, pipe: Pipeline, caregivers: Sequence[Caregiver]) -> list[tuple[bool, bool]]:
        if not caregivers:
            return []
        stored = pipe.mget([self.key(c.id) for c in caregivers])
        phones = pipe.hmget(self.phones, [c.phone for c in caregivers])
        return [(s is not None, p is not None) for s, p in zip(stored, phones, strict=True)]

    def _put(self, pipe: Pipeline, caregivers: Sequence[Caregiver]) -> None:
        seq = int(pipe.get(self._seq) or 0)
        pipe.multi()
        if not caregivers:
            return
        pipe.mset({self.key(c.id): codec.dump_caregiver(c) for c in caregivers})
        pipe.rpush(self._order, *(c.id for c in caregivers))
        pipe.hset(self.phones, mapping={c.phone: c.id for c in caregivers})
        for n, caregiver in enumerate(caregivers, start=seq + 1):
            if reachable(caregiver):
                pipe.zadd(self._role(caregiver.role), {caregiver.id: n})
        pipe.set(self._seq, seq + len(caregivers))

    def get(self, caregiver_id: str) -> Caregiver | None:
        raw = self._r.get(self.key(caregiver_id))
        return codec.load_caregiver(raw) if raw is not None else None

    def get_many(self, caregiver_ids: Iterable[str]) -> list[Caregiver]:
        ids = list(caregiver_ids)
        if not ids:
            return []
        return [codec.load_caregiver(raw) for raw in self._r.mget(map(self.key, ids)) if raw]

    def by_phone(self, phone: str) -> Caregiver | None:
        raw = self._by_phone(keys=[self.phones], args=[phone, self.key("")])
        return codec.load_caregiver(raw) if raw else None

    def all(self, role: str | None = None) -> list[Caregiver]:
        ids = [i.decode() for i in self._r.lrange(self._order, 0, -1)]
        caregivers = self.get_many(ids)
        return indexes.of_role(caregivers, role)

    def qualified_ids(self, role: str) -> list[str]:
        return [i.decode() for i in self._r.zrange(self._role(role), 0, -1)]

    def opt_out(self, caregiver_id: str) -> tuple[Caregiver, bool]:
        key = self.key(caregiver_id)

        def step(pipe: Pipeline) -> tuple[Caregiver, bool]:
            raw = pipe.get(key)
            if raw is None:
                raise KeyError(caregiver_id)
            caregiver = codec.load_caregiver(raw)
            pipe.multi()
            if caregiver.opted_out:
                return caregiver, False
            caregiver = replace(caregiver, opted_out=True)
            pipe.set(key, codec.dump_caregiver(caregiver))
            pipe.zrem(self._role(caregiver.role), caregiver_id)
            return caregiver, True

        return transact(self._r, [key], step)

    def update(self, caregiver_id: str, change: ChangeCaregiver) -> CaregiverChange:
        key = self.key(caregiver_id)

        def step(pipe: Pipeline) -> CaregiverChange:
            raw = pipe.get(key)
            if raw is None:
                raise KeyError(caregiver_id)
            current = codec.load_caregiver(raw)
            decided = change(current)
            if not decided.changed:
                pipe.multi()
                return decided
            updated = decided.caregiver
            if updated.id != caregiver_id:
                raise ValueError("a caregiver's id cannot change")
            if updated.phone != current.phone:
                holder = pipe.hget(self.phones, updated.phone)
                if holder is not None and holder.decode() != caregiver_id:
                    raise DuplicateKey("phone", updated.phone)
            seq = int(pipe.get(self._seq) or 0)
            pipe.multi()
            pipe.set(key, codec.dump_caregiver(updated))
            if updated.phone != current.phone:
                pipe.hdel(self.phones, current.phone)
                pipe.hset(self.phones, updated.phone, caregiver_id)
            was, now = reachable(current), reachable(updated)
            if was and (not now or updated.role != current.role):
                pipe.zrem(self._role(current.role), caregiver_id)
            if now and (not was or updated.role != current.role):
                pipe.zadd(self._role(updated.role), {caregiver_id: seq + 1})
                pipe.set(self._seq, seq + 1)
            if decided.events:
                pipe.rpush(self._events(caregiver_id), *map(codec.dump_event, decided.events))
            return decided

        return transact(self._r, [key, self.phones, self._seq], step)

    def _events(self, caregiver_id: str) -> str:
        return self._k("caregiver-events", caregiver_id)

    def events(self, caregiver_id: str) -> list[Event]:
        return [codec.load_event(raw) for raw in self._r.lrange(self._events(caregiver_id), 0, -1)]


@translating_errors
class RedisOrganizations:
    """Organizations as JSON by id, and the order they were added in."""

    def __init__(self, client: redis.Redis, keys: Keys, steps: Steps) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._order = keys("organizations")

    def key(self, organization_id: str) -> str:
        return self._k("organization", organization_id)

    def add(self, organization: Organization) -> None:
        if not self.add_absent([organization]):
            raise DuplicateKey("id", organization.id)

    def add_absent(self, organizations: Sequence[Organization]) -> list[Organization]:
        return add_absent(self._r, self._order, self.key, codec.dump_organization, organizations)

    def get(self, organization_id: str) -> Organization | None:
        key = self.key(organization_id)
        raw = self._r.get(key)
        # A claim reads the organization of its shift in its step: this is its guess.
        self._steps.remember(("GET", key), raw)
        return codec.load_organization(raw) if raw is not None else None

    def all(self) -> list[Organization]:
        ids = self._r.lrange(self._order, 0, -1)
        if not ids:
            return []
        raws = self._r.mget([self.key(i.decode()) for i in ids])
        return [codec.load_organization(raw) for raw in raws if raw]

    def update(
        self,
        organization_id: str,
        change: Callable[[Organization], Organization],
        *,
        absent: Organization | None = None,
    ) -> Organization:
        key = self.key(organization_id)

        def step(pipe: Pipeline) -> Organization:
            raw = pipe.get(key)
            current = codec.load_organization(raw) if raw is not None else absent
            if current is None:
                raise KeyError(organization_id)
            changed = change(current)
            pipe.multi()
            pipe.set(key, codec.dump_organization(changed))
            if raw is None:
                pipe.rpush(self._order, organization_id)
            return changed

        return transact(self._r, [key], step)


@translating_errors
class RedisEvents:
    """Each shift's audit trail as a list of JSON events."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._k = keys

    def key(self, shift_id: str) -> str:
        return self._k("events", shift_id)

    def append(self, shift_id: str, *events: Event) -> None:
        if events:
            self._r.rpush(self.key(shift_id), *map(codec.dump_event, events))

    def for_shift(self, shift_id: str) -> list[Event]:
        return [codec.load_event(raw) for raw in self._r.lrange(self.key(shift_id), 0, -1)]


@translating_errors
class RedisOutbox:
    """The send queue: a stream of notification ids read by one consumer group.

    Each process reads as its own consumer. ``take`` hands out new entries;
    ``done`` acknowledges and deletes them, so the stream's length is what is
    waiting or being sent. The acknowledgements go with this process's next read
    of the stream, in its round trip: a send costs one trip less. One lost with a
    crash is harmless: the entry is taken over after the visibility timeout and
    found settled.
    """

    def __init__(self, client: redis.Redis, keys: Keys, consumer: str) -> None:
        self._r = client
        self.key = keys("outbox")
        self._consumer = consumer
        self._entries: dict[str, bytes] = {}
        self._handled: list[bytes] = []
        self._lock = threading.Lock()
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._r.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def queue(self, pipe: Pipeline, notification_ids: Iterable[str]) -> None:
        """Queue ids inside a caller's transaction."""
        for notification_id in notification_ids:
            pipe.xadd(self.key, {"id": notification_id})

    def take(self, timeout: float, limit: int = 1) -> list[str]:
        self._ensure_group()
        # No BLOCK at all for a zero timeout: Redis checks blocked clients' timeouts
        # only on its 100 ms clock, so a 1 ms block would wait up to 100 ms.
        block = int(timeout * 1000) or None
        with self._acknowledging() as pipe:
            pipe.xreadgroup(GROUP, self._consumer, {self.key: ">"}, count=limit, block=block)
            answer = pipe.execute()[-1]
        return self._remember(entry for _, entries in answer or () for entry in entries)

    @contextlib.contextmanager
    def _acknowledging(self) -> Iterator[Pipeline]:
        """A pipeline that first acknowledges and deletes the entries handled since the last.

        When it fails, they are kept for the next one.
        """
        with self._lock:
            handled, self._handled = self._handled, []
        try:
            with self._r.pipeline(transaction=False) as pipe:
                if handled:
                    pipe.xack(self.key, GROUP, *handled)
                    pipe.xdel(self.key, *handled)
                yield pipe
        except BaseException:
            with self._lock:
                self._handled += handled
            raise

    def _remember(self, entries: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> list[str]:
        ids = []
        with self._lock:
            for entry_id, fields in entries:
                notification_id = fields[b"id"].decode()
                self._entries[notification_id] = entry_id
                ids.append(notification_id)
        return ids

    def _forget(self, notification_ids: Sequence[str]) -> list[bytes]:
        with self._lock:
            entries = [self._entries.pop(i, None) for i in notification_ids]
        return [e for e in entries if e is not None]

    def done(self, notification_ids: Sequence[str]) -> None:
        entries = self._forget(notification_ids)
        with self._lock:
            self._handled += entries

    def drain(self) -> list[str]:
        """Nothing to drain: what waits stays in Redis for the next process."""
        return []

    def reclaim(self, idle_seconds: float) -> list[str]:
        self._ensure_group()
        taken: list[str] = []
        start = "0-0"
        while True:
            answer = self._r.xautoclaim(
                self.key, GROUP, self._consumer, int(idle_seconds * 1000), start, count=100
            )
            start, entries = answer[0], answer[1]
            taken += self._remember((e_id, f) for e_id, f in entries if f)
            if start in (b"0-0", "0-0") or not entries:
                return taken

    def requeue(self, notification_ids: Sequence[str]) -> None:
        entries = self._forget(notification_ids)
        with self._r.pipeline(transaction=True) as pipe:
            if entries:
                pipe.xack(self.key, GROUP, *entries)
                pipe.xdel(self.key, *entries)
            self.queue(pipe, notification_ids)
            pipe.execute()

    def flush(self) -> None:
        """Send the acknowledgements still waiting for a read of the stream."""
        with self._acknowledging() as pipe:
            pipe.execute()

    def depth(self) -> int:
        with self._acknowledging() as pipe:
            pipe.xlen(self.key)
            return int(pipe.execute()[-1])


@translating_errors
class RedisNotifications:
    """Notifications, each shift's list of them, and the provider-id index.

    A notification that is only queued is one field of ``queued:<shift>:<channel>``
    (caregiver id to queued time), written by the step that queues it: a fanout to
    ten thousand writes ten thousand hash fields, not ten thousand JSON records.
    Its first change writes it whole, as JSON under ``notification:<id>``.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        steps: Steps,
        events: RedisEvents,
        outbox: RedisOutbox,
    ) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._events = events
        self._outbox = outbox
        self._providers = keys("provider-ids")
        self.count_key = keys("notification-count")

    def key(self, notification_id: str) -> str:
        return self._k("notification", notification_id)

    def _of_shift(self, shift_id: str) -> str:
        return self._k("notifications", shift_id)

    def _queued(self, shift_id: str, channel: str) -> str:
        return self._k("queued", shift_id, channel)

    def reads(self, notification_id: str) -> tuple[Command, Command] | None:
        """The two reads that find a notification: its record, else its queued time."""
        try:
            shift_id, caregiver_id, channel = split_notification_id(notification_id)
        except ValueError:
            return None
        return (
            ("GET", self.key(notification_id)),
            ("HGET", self._queued(shift_id, channel), caregiver_id),
        )

    def queue(
        self, step: Step, shift_id: str, channel: str, caregiver_ids: Sequence[str], at: datetime
    ) -> None:
        """Queue a notification to each caregiver without one on ``channel``, inside a step."""
        step.write(
            "queue",
            self._queued(shift_id, channel),
            self._of_shift(shift_id),
            self._outbox.key,
            self.count_key,
            shift_id,
            channel,
            codec.dump_time(at),
            json.dumps(list(caregiver_ids)),
        )

    def get(self, notification_id: str) -> Notification | None:
        reads = self.reads(notification_id)
        if reads is None:
            return None
        with self._r.pipeline(transaction=False) as pipe:
            for command in reads:
                pipe.execute_command(*command)
            replies = pipe.execute()
        return self.remembered(notification_id, reads, replies)

    def remembered(
        self, notification_id: str, reads: tuple[Command, Command], replies: Sequence[Any]
    ) -> Notification | None:
        """The notification ``reads`` found; their answers are the guess of a step on it."""
        for command, reply in zip(reads, replies, strict=True):
            self._steps.remember(command, reply or None)
        return _notification(notification_id, *(reply or None for reply in replies))

    def by_provider_id(self, provider_id: str) -> Notification | None:
        notification_id = self._r.hget(self._providers, provider_id)
        return self.get(notification_id.decode()) if notification_id else None

    def for_shift(self, shift_id: str) -> list[Notification]:
        ids = [i.decode() for i in self._r.lrange(self._of_shift(shift_id), 0, -1)]
        if not ids:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            pipe.mget([self.key(i) for i in ids])
            for each in Channel:
                pipe.hgetall(self._queued(shift_id, each))
            raws, *queued = pipe.execute()
        queued_at = {
            (str(each), cid): at
            for each, times in zip(Channel, queued, strict=True)
            for cid, at in times.items()
        }
        found = []
        for notification_id, raw in zip(ids, raws, strict=True):
            _, caregiver_id, channel = split_notification_id(notification_id)
            at = queued_at.get((channel, caregiver_id.encode()))
            notification = _notification(notification_id, raw, at)
            if notification is not None:
                found.append(notification)
        return found

    def update(
        self,
        notification_id: str,
        change: Callable[[Notification], Notification | None],
        record: Callable[[Notification], Iterable[Event]] | None = None,
    ) -> tuple[Notification, bool]:
        route, attempt = self._step(notification_id, change, record)
        return cast(tuple[Notification, bool], self._steps.run(route, attempt))

    def update_many(
        self,
        notification_ids: Sequence[str],
        change: Callable[[Notification], Notification | None],
        record: Callable[[Notification], Iterable[Event]] | None = None,
    ) -> dict[str, tuple[Notification, bool]]:
        known = [i for i in notification_ids if self.reads(i) is not None]
        jobs = [self._step(i, change, record, missing_ok=True) for i in known]
        updated = self._steps.run_many(jobs)
        return {i: result for i, result in zip(known, updated, strict=True) if result is not None}

    def _step(
        self,
        notification_id: str,
        change: Callable[[Notification], Notification | None],
        record: Callable[[Notification], Iterable[Event]] | None,
        *,
        missing_ok: bool = False,
    ) -> tuple[str, Callable[[Step], Any]]:
        """The route and the attempt of one notification's step.

        ``missing_ok``: an unknown notification is ``None``, not a ``KeyError``.
        """
        reads = self.reads(notification_id)
        if reads is None:
            raise KeyError(notification_id)
        key = self.key(notification_id)

        def attempt(step: Step) -> tuple[Notification, bool] | None:
            current = _notification(notification_id, *step.recall(*reads))
            if current is None:
                if missing_ok:
                    return None
                raise KeyError(notification_id)
            notification = change(current)
            if notification is None:
                return current, False
            step.write("SET", key, codec.dump_notification(notification))
            if notification.provider_id and notification.provider_id != current.provider_id:
                step.write("HSET", self._providers, notification.provider_id, notification_id)
            events = [codec.dump_event(e) for e in record(notification)] if record else []
            step.write_many("RPUSH", self._events.key(current.shift_id), events)
            return notification, True

        return key, attempt


def _notification(
    notification_id: str, raw: bytes | None, queued_at: bytes | None
) -> Notification | None:
    """A notification from its record, else from its queued time; ``None`` when neither."""
    if raw:
        return codec.load_notification(raw)
    if not queued_at:
        return None
    shift_id, caregiver_id, channel = split_notification_id(notification_id)
    at = datetime.fromisoformat(queued_at.decode())
    return Notification.queued(shift_id, caregiver_id, Channel(channel), at)


@translating_errors
class RedisShifts:
    """Shifts as JSON by id, with the indexes that follow their state.

    A fanout's offered ids are kept apart, under ``offered:<shift>``: written once
    when the fanout starts and never changed, so each process reads them once and
    keeps them (``Recent``), while the rest of the shift is read fresh every time.
    ``offered-set:<shift>`` holds them too, for the membership tests of replies.
    ``offer-codes`` holds the codes of open fanouts, ``phone-rounds`` the due time
    of each pending phone round, ``open-fanouts:<role>`` and
    ``closed-fanouts:<role>`` the fanned-out shifts of a role (open, and the
    latest closed), where a reply looks for its offers, and
    ``assigned:<caregiver>`` the shifts assigned to a caregiver by end time.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        steps: Steps,
        related: Related,
        code_source: Callable[[int], str],
    ) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._related = related
        self._code_source = code_source
        self._order = keys("shifts")
        self._codes = keys("offer-codes")
        self._rounds = keys("phone-rounds")
        self._offers_of = client.register_script(OFFERS)
        self._reply_read = client.register_script(REPLY_READ)
        self._assigned_since = client.register_script(ASSIGNED_SINCE)
        self._parsed: Recent[bytes | str, Shift] = Recent(PARSED_SHIFTS)
        self._fanouts: Recent[str, tuple[str, ...]] = Recent(KNOWN_FANOUTS)

    def key(self, shift_id: str) -> str:
        return self._k("shift", shift_id)

    def _offered(self, shift_id: str) -> str:
        return self._k("offered", shift_id)

    def _offered_set(self, shift_id: str) -> str:
        return self._k("offered-set", shift_id)

    def _open_fanouts(self, role: str) -> str:
        return self._k("open-fanouts", role)

    def _closed_fanouts(self, role: str) -> str:
        return self._k("closed-fanouts", role)

    def _offer_prefixes(self) -> list[str]:
        """The key prefixes the offer scripts read: fanouts by role, offered sets, shifts."""
        return [
            self._open_fanouts(""),
            self._closed_fanouts(""),
            self._offered_set(""),
            self.key(""),
        ]

    def _assigned(self, caregiver_id: str) -> str:
        return self._k("assigned", caregiver_id)

    def loaded(self, raws: Iterable[bytes | str | None]) -> list[Shift]:
        """The shifts stored as ``raws`` (absent ones left out), each with its offered ids.

        Each is remembered as the guess of a later step on it.
        """
        present = [raw for raw in raws if raw]
        shifts = [self._parsed.get(raw) for raw in present]
        pending = {i: codec.parse_shift(raw) for i, raw in enumerate(present) if not shifts[i]}
        if pending:
            offered = self._offered_ids(list(pending.values()))
            for i, data in pending.items():
                name = codec.fanout_identity(data)
                shift = codec.load_shift(data, offered[name] if name else ())
                self._parsed.put(present[i], shift)
                shifts[i] = shift
        found = [shift for shift in shifts if shift is not None]
        for shift, raw in zip(found, present, strict=True):
            self._steps.remember(("GET", self.key(shift.id)), raw)
        return found

    def _offered_ids(self, parsed: Sequence[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
        """Each parsed fanout's offered ids, read from Redis the first time only."""
        shift_of = {name: d["id"] for d in parsed if (name := codec.fanout_identity(d))}
        known = {name: self._fanouts.get(name) for name in shift_of}
        found = {name: ids for name, ids in known.items() if ids is not None}
        missing = [name for name, ids in known.items() if ids is None]
        if missing:
            raws = self._r.mget([self._offered(shift_of[name]) for name in missing])
            for name, raw in zip(missing, raws, strict=True):
                found[name] = codec.load_offered(raw) if raw else ()
                if raw:
                    self._fanouts.put(name, found[name])
        return found

    def add(self, shift: Shift) -> None:
        if not self.add_absent([shift]):
            raise DuplicateKey("id", shift.id)

    def add_absent(self, shifts: Sequence[Shift]) -> list[Shift]:
        return add_absent(self._r, self._order, self.key, codec.dump_shift, shifts)

    def get(self, shift_id: str) -> Shift | None:
        shifts = self.loaded([self._r.get(self.key(shift_id))])
        return shifts[0] if shifts else None

    def all(self, status: ShiftStatus | None = None, role: str | None = None) -> list[Shift]:
        ids = self._r.lrange(self._order, 0, -1)
        if not ids:
            return []
        shifts = self.loaded(self._r.mget([self.key(i.decode()) for i in ids]))
        return [s for s in shifts if indexes.matches(s, status, role)]

    def apply(self, shift_id: str, decide: Decide) -> ShiftChange:
        def attempt(step: Step) -> ShiftChange:
            before = self._read(step, shift_id)
            change = decide(before, _Reads(self, step))
            self._write(step, before, change)
            return change

        return self._steps.run(self.key(shift_id), attempt)

    def _assigned_in(self, step: Step, caregiver_id: str, since: datetime) -> list[Shift]:
        """A caregiver's assignments ending after ``since``, read in ``step``.

        Checking the index is enough: an assigned shift's times never change, and
        every new assignment writes the index in the step that makes it. Most
        caregivers hold none: that is the first guess.
        """
        held = ("ZRANGEBYSCORE", self._assigned(caregiver_id), f"({_timestamp(since)}", "+inf")
        (ids,) = step.recall(held, unseen=b"")
        return self._load_many(self._r, [i.decode() for i in ids])

    def _organization_in(self, step: Step, organization_id: str) -> Organization | None:
        """The organization as stored, read in ``step`` (this process's last read as the guess)."""
        (raw,) = step.recall(("GET", self._related.organizations.key(organization_id)))
        return codec.load_organization(raw) if raw else None

    def assignments(self, caregiver_ids: Iterable[str], since: datetime) -> dict[str, list[Shift]]:
        ids = list(caregiver_ids)
        if not ids:
            return {}
        prefix, start = self._assigned(""), f"({_timestamp(since)}"
        answer = iter(self._assigned_since(args=[prefix, start, json.dumps(ids)]))
        held: dict[str, list[str]] = {}
        for cid in answer:
            held[cid.decode()] = [next(answer).decode() for _ in range(int(next(answer)))]
        shifts = {
            s.id: s for s in self._load_many(self._r, sorted({s for v in held.values() for s in v}))
        }
        return {cid: [shifts[s] for s in sids if s in shifts] for cid, sids in held.items()}

    def _load_many(self, reader: Any, shift_ids: Sequence[str]) -> list[Shift]:
        if not shift_ids:
            return []
        return self.loaded(reader.mget([self.key(i) for i in shift_ids]))

    def _read(self, step: Step, shift_id: str) -> Shift:
        shifts = self.loaded(step.recall(("GET", self.key(shift_id))))
        if not shifts:
            raise KeyError(shift_id)
        return shifts[0]

    def _free_code(self, step: Step) -> str:
        (in_use,) = step.read(("SCARD", self._codes))
        digits = code_digits(int(in_use))
        while True:
            code = self._code_source(digits)
            (taken,) = step.read(("SISMEMBER", self._codes, code))
            if not taken:
                return code

    def _write(self, step: Step, before: Shift, change: ShiftChange) -> None:
        """Queue the writes of one change on the step."""
        if change.indexes is not None:
            step.write("SET", self.key(before.id), codec.dump_shift(change.shift))
            self._reindex(step, change.indexes)
        events = [codec.dump_event(e) for e in change.events]
        step.write_many("RPUSH", self._related.events.key(before.id), events)
        outreach = change.outreach
        if change.changed and outreach is not None:
            self._related.notifications.queue(
                step, before.id, outreach.channel, outreach.caregiver_ids, outreach.at
            )

    def _reindex(self, step: Step, delta: IndexDelta) -> None:
        """Queue on the step the index writes ``delta`` says."""
        shift_id = delta.shift_id
        if delta.assigned_to is not None:
            assigned = self._assigned(delta.assigned_to)
            step.write("ZADD", assigned, _timestamp(delta.ends_at), shift_id)
        if delta.started is not None:
            offered = codec.dump_offered(delta.started)
            step.write("SET", self._offered(shift_id), offered)
            if delta.started.offered_caregiver_ids:
                step.write("add-all", self._offered_set(shift_id), offered)
        if delta.opened is not None:
            step.write("SADD", self._codes, delta.opened)
            step.write("SADD", self._open_fanouts(delta.role), shift_id)
        if delta.phone_round is not None:
            step.write("ZADD", self._rounds, _timestamp(delta.phone_round), shift_id)
        else:
            step.write("ZREM", self._rounds, shift_id)
        if delta.closed is not None:
            step.write("SREM", self._codes, delta.closed)
            step.write("SREM", self._open_fanouts(delta.role), shift_id)
            closed = self._closed_fanouts(delta.role)
            step.write("LPUSH", closed, shift_id)
            step.write("LTRIM", closed, 0, RECENTLY_CLOSED - 1)

    def offers_for(self, caregiver: Caregiver) -> list[Shift]:
        raws = self._offers_of(args=[caregiver.id, caregiver.role, *self._offer_prefixes()])
        return indexes.offered_to(caregiver.id, self.loaded(raws))

    def offers_by_phone(self, phone: str) -> tuple[Caregiver, list[Shift]] | None:
        caregivers = self._related.caregivers
        answer = self._reply_read(
            keys=[caregivers.phones], args=[phone, caregivers.key(""), *self._offer_prefixes()]
        )
        if not answer:
            return None
        caregiver = codec.load_caregiver(answer[0])
        return caregiver, indexes.offered_to(caregiver.id, self.loaded(answer[1:]))

    def due_phone_rounds(self, now: datetime) -> list[str]:
        at = _timestamp(now)
        due = self._r.zrangebyscore(self._rounds, "-inf", at, withscores=True)
        return indexes.due_first(((score, sid.decode()) for sid, score in due), at)


class _Reads:
    """What a decision reads beside its shift, through the step that checks it."""

    def __init__(self, shifts: RedisShifts, step: Step) -> None:
        self._shifts = shifts
        self._step = step

    def free_code(self) -> str:
        return self._shifts._free_code(self._step)

    def assignments(self, caregiver_id: str, since: datetime) -> list[Shift]:
        return self._shifts._assigned_in(self._step, caregiver_id, since)

    def organization(self, organization_id: str) -> Organization | None:
        return self._shifts._organization_in(self._step, organization_id)


@dataclass(frozen=True)
class Related:
    """The repositories a shift step writes to or reads beside the shift."""

    caregivers: RedisCaregivers
    organizations: RedisOrganizations
    notifications: RedisNotifications
    events: RedisEvents


@translating_errors
class RedisInbound:
    """Each provider message id's outcome, kept for the dedupe window by Redis's own expiry."""

    def __init__(self, client: redis.Redis, keys: Keys, window: timedelta) -> None:
        self._r = client
        self._k = keys
        self._window_ms = max(1, int(window.total_seconds() * 1000))

    def once(
        self,
        message_id: str,
        compute: Callable[[], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool]:
        key = self._k("inbound", message_id)
        deadline = time.monotonic() + INBOUND_LEASE_SECONDS
        while True:
            # The lease and, for a duplicate, the first delivery's outcome: one round trip.
            held = self._r.set(key, PENDING, nx=True, ex=INBOUND_LEASE_SECONDS, get=True)
            if held is None:
                try:
                    result = compute()
                except BaseException:
                    # Nothing is remembered: the provider may retry the message.
                    self._r.delete(key)
                    raise
                self._r.set(key, encode(result), px=self._window_ms)
                return result, True
            if held != PENDING:
                return decode(held.decode()), False
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"message {message_id} is still being handled elsewhere")
            time.sleep(0.01)


class RedisStore:
    """Everything in Redis under one key prefix; survives any shiftfill process."""

    kind = "redis"
    durable = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "shiftfill:",
        dedupe_window: timedelta = timedelta(hours=72),
        code_source: Callable[[int], str] = random_offer_code,
        max_connections: int = 2048,
    ) -> None:
        self.client = redis.Redis.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=15,
            # No replays: a step's checked write that timed out may have been applied,
            # and replayed it would fail its own check and look like another's claim.
            # A failed command is StoreUnavailable; the pool reconnects on the next.
            retry=Retry(NoBackoff(), 0),
            # Named once here: left out, every new connection looks the version up in
            # the installed packages' metadata, under the pool's lock.
            driver_info=DriverInfo(name="redis-py", lib_version=redis.__version__),
        )
        self.keys = Keys(prefix)
        consumer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        steps = Steps(self.client)
        self.events = RedisEvents(self.client, self.keys)
        self.outbox = RedisOutbox(self.client, self.keys, consumer)
        self.notifications = RedisNotifications(
            self.client, self.keys, steps, self.events, self.outbox
        )
        self.caregivers = RedisCaregivers(self.client, self.keys)
        self.organizations = RedisOrganizations(self.client, self.keys, steps)
        related = Related(self.caregivers, self.organizations, self.notifications, self.events)
        self.shifts = RedisShifts(self.client, self.keys, steps, related, code_source)
        self._outgoing = self.client.register_script(OUTGOING)
        self.inbound = RedisInbound(self.client, self.keys, dedupe_window)

    @_translating
    def outgoing(self, notification_ids: Sequence[str]) -> list[Outgoing]:
        """One ``OUTGOING`` script a notification, all in one pipeline."""
        wanted, calls = [], []
        for notification_id in notification_ids:
            reads = self.notifications.reads(notification_id)
            if reads is None:
                continue
            wanted.append((notification_id, reads))
            shift_id, caregiver_id, _ = split_notification_id(notification_id)
            keys = [
                reads[0][1],
                reads[1][1],
                self.shifts.key(shift_id),
                self.caregivers.key(caregiver_id),
            ]
            calls.append((keys, [caregiver_id, self.organizations.key("")]))
        answers = run_scripts(self.client, self._outgoing, calls)
        found = []
        for (notification_id, reads), answer in zip(wanted, answers, strict=True):
            raw, queued_at, shift, caregiver, org = answer
            notification = self.notifications.remembered(notification_id, reads, [raw, queued_at])
            if notification is None:
                continue
            shifts = self.shifts.loaded([shift])
            found.append(
                Outgoing(
                    notification,
                    shifts[0] if shifts else None,
                    codec.load_caregiver(caregiver) if caregiver else None,
                    codec.load_organization(org) if org else None,
                )
            )
        return found

    def ping(self) -> None:
        try:
            self.client.ping()
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc

    @_translating
    def counts(self) -> RecordCounts:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(self.keys("caregivers"))
            pipe.llen(self.keys("shifts"))
            pipe.get(self.notifications.count_key)
            caregivers, shifts, notifications = pipe.execute()
        return RecordCounts(int(caregivers), int(shifts), int(notifications or 0))

    @_translating
    def mark_seeded(self, at: datetime) -> datetime:
        key = self.keys("seeded-at")
        self.client.set(key, at.isoformat(), nx=True)
        return datetime.fromisoformat(self.client.get(key).decode())

    @_translating
    def seeded_at(self) -> datetime | None:
        raw = self.client.get(self.keys("seeded-at"))
        return datetime.fromisoformat(raw.decode()) if raw else None

    def close(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            self.outbox.flush()
        self.client.close()
