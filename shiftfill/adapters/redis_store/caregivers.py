"""Caregivers in Redis: JSON by id, a phone index, the joining order and the
contactable ids per role."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.scripts import BY_PHONE, REACH_CHANGED, REACH_SINCE
from shiftfill.adapters.redis_store.steps import transact
from shiftfill.adapters.redis_store.webhooks import message_writes
from shiftfill.domain import indexes
from shiftfill.domain.contact import Reach, reach_of, reachable
from shiftfill.domain.model import Caregiver, Event
from shiftfill.domain.rules import CaregiverChange
from shiftfill.services.ports import ChangeCaregiver, DuplicateKey


@translating_errors
class RedisCaregivers:
    """Caregivers as JSON by id; a phone index, joining order, and the contactable ids per role."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._k = keys
        self._order = keys.caregivers
        self.phones = keys.caregiver_phones
        # The role index orders caregivers as they joined or last became contactable.
        self._seq = keys.contactable_seq
        self._by_phone = client.register_script(BY_PHONE)
        self._reach_since = client.register_script(REACH_SINCE)
        # Each role's ``Reach`` as last read, with the role's version then. Every write
        # below bumps the version and notes the ids it changed, in its own step, so a
        # read catches up on those alone.
        self._reach_read: dict[str, tuple[int, dict[str, Reach]]] = {}

    def key(self, caregiver_id: str) -> str:
        return self._k.caregiver(caregiver_id)

    def _role(self, role: str) -> str:
        return self._k.contactable(role)

    def _reach(self, role: str) -> str:
        return self._k.reach(role)

    def _changed(self, pipe: Pipeline, role: str, caregiver_ids: Iterable[str]) -> None:
        """Note in ``pipe`` that these caregivers' entries in the role's index changed."""
        keys = [self._k.reach_version(role), self._k.reach_changes(role)]
        pipe.eval(REACH_CHANGED, 2, *keys, *caregiver_ids)

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
        changed: dict[str, list[str]] = {}
        for n, caregiver in enumerate(caregivers, start=seq + 1):
            if reachable(caregiver):
                pipe.zadd(self._role(caregiver.role), {caregiver.id: n})
                pipe.hset(self._reach(caregiver.role), caregiver.id, codec.dump_reach(caregiver))
                changed.setdefault(caregiver.role, []).append(caregiver.id)
        for role, ids in changed.items():
            self._changed(pipe, role, ids)
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

    def reach_of_role(self, role: str) -> dict[str, Reach]:
        version_key = self._k.reach_version(role)
        known_read = self._reach_read.get(role)
        if known_read is not None:
            caught_up = self._catch_up(role, *known_read)
            if caught_up is not None:
                return caught_up
        pipe = self._r.pipeline(transaction=True)
        pipe.get(version_key)
        pipe.zrange(self._role(role), 0, -1)
        pipe.hvals(self._reach(role))
        version, raw_ids, rows = pipe.execute()
        ids = [i.decode() for i in raw_ids]
        known = codec.load_reach_many(rows)
        # The role index decides who is listed; the hash only what is known of them. One
        # it lacks (written before the hash existed) is read from its record, once.
        missing = [cid for cid in ids if cid not in known]
        if missing:
            found = self.get_many(missing)
            known.update((c.id, reach_of(c)) for c in found)
            if found:
                # HSETNX: a change stored meanwhile wrote newer facts, which stay.
                fill = self._r.pipeline(transaction=False)
                for caregiver in found:
                    fill.hsetnx(self._reach(role), caregiver.id, codec.dump_reach(caregiver))
                fill.execute()
        found_now = {cid: known[cid] for cid in ids if cid in known}
        if version is not None:
            self._reach_read[role] = (int(version), found_now)
        return dict(found_now)

    # Past this many changes since the last read, the whole hash is read again.
    CATCH_UP_LIMIT = 1_000

    def _catch_up(
        self, role: str, version: int, reach: dict[str, Reach]
    ) -> dict[str, Reach] | None:
        """``reach`` as last read, with what changed since ``version`` read again; ``None``
        when the role must be read whole (too many changes, or no version)."""
        keys = [self._k.reach_version(role), self._k.reach_changes(role), self._reach(role)]
        answer = self._reach_since(keys=keys, args=[version, self.CATCH_UP_LIMIT])
        if answer[0] is None or len(answer) < 3 or int(answer[0]) < version:
            # No version, a version behind ours (the data was replaced), or many changes.
            return None
        now = int(answer[0])
        if now != version:
            ids, rows = answer[1], answer[2]
            found = codec.load_reach_many([row for row in rows if row])
            reach = dict(reach)
            for raw_id in ids:
                cid = raw_id.decode()
                if cid in found:
                    reach[cid] = found[cid]
                else:
                    reach.pop(cid, None)
            self._reach_read[role] = (now, reach)
        return dict(reach)

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
                pipe.hdel(self._reach(current.role), caregiver_id)
                self._changed(pipe, current.role, [caregiver_id])
            if now and (not was or updated.role != current.role):
                pipe.zadd(self._role(updated.role), {caregiver_id: seq + 1})
                pipe.set(self._seq, seq + 1)
            if now:
                pipe.hset(self._reach(updated.role), caregiver_id, codec.dump_reach(updated))
                self._changed(pipe, updated.role, [caregiver_id])
            if decided.events:
                pipe.rpush(self._events(caregiver_id), *map(codec.dump_event, decided.events))
            if decided.messages:
                pipe.rpush(self._k.webhook_outbox, *message_writes(decided.messages))
            return decided

        return transact(self._r, [key, self.phones, self._seq], step)

    def _events(self, caregiver_id: str) -> str:
        return self._k.caregiver_events(caregiver_id)

    def events(self, caregiver_id: str) -> list[Event]:
        return [codec.load_event(raw) for raw in self._r.lrange(self._events(caregiver_id), 0, -1)]
