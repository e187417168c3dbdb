"""Shifts in Redis, with the indexes that follow their state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import first_of_each_id, score_of, translating_errors
from shiftfill.adapters.redis_store.caregivers import RedisCaregivers
from shiftfill.adapters.redis_store.clients import RedisClients
from shiftfill.adapters.redis_store.events import RedisEvents
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.notifications import RedisNotifications
from shiftfill.adapters.redis_store.organizations import RedisOrganizations
from shiftfill.adapters.redis_store.scripts import ASSIGNED_SINCE, OFFERS, REPLY_READ
from shiftfill.adapters.redis_store.steps import Command, Recent, Step, Steps, transact
from shiftfill.adapters.redis_store.webhooks import message_writes
from shiftfill.domain import indexes, rules
from shiftfill.domain.indexes import RECENTLY_CLOSED, IndexDelta, code_digits
from shiftfill.domain.model import Caregiver, Client, Organization, Shift, ShiftStatus
from shiftfill.domain.rules import ShiftChange
from shiftfill.services.ports import ClientElsewhere, Decide, DuplicateKey, Sender

# Shifts each process keeps parsed, by their stored value; and offered-id lists of
# fanouts it keeps, which never change.
PARSED_SHIFTS = 256
KNOWN_FANOUTS = 64


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
        self._order = keys.shifts
        self._codes = keys.offer_codes
        self._rounds = keys.phone_rounds
        self._waves = keys.waves
        self._offers_of = client.register_script(OFFERS)
        self._reply_read = client.register_script(REPLY_READ)
        self._assigned_since = client.register_script(ASSIGNED_SINCE)
        self._parsed: Recent[bytes | str, Shift] = Recent(PARSED_SHIFTS)
        self._fanouts: Recent[str, tuple[str, ...]] = Recent(KNOWN_FANOUTS)

    def key(self, shift_id: str) -> str:
        return self._k.shift(shift_id)

    def _offered(self, shift_id: str) -> str:
        return self._k.offered(shift_id)

    def _offered_set(self, shift_id: str) -> str:
        return self._k.offered_set(shift_id)

    def _open_fanouts(self, role: str) -> str:
        return self._k.open_fanouts(role)

    def _closed_fanouts(self, role: str) -> str:
        return self._k.closed_fanouts(role)

    def _offer_prefixes(self) -> list[str]:
        """The key prefixes the offer scripts read: fanouts by role, offered sets, shifts."""
        return [
            self._open_fanouts(""),
            self._closed_fanouts(""),
            self._offered_set(""),
            self.key(""),
        ]

    def _assigned(self, caregiver_id: str) -> str:
        return self._k.assigned(caregiver_id)

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
        """Each parsed fanout's offered ids (every wave's), read from Redis the first time only.

        The first wave's ids are under ``offered:<shift>``, each later wave's under
        ``wave:<n>:<shift>``; every one is written once.
        """
        fanouts = {name: d for d in parsed if (name := codec.fanout_identity(d))}
        known = {name: self._fanouts.get(name) for name in fanouts}
        found = {name: ids for name, ids in known.items() if ids is not None}
        missing = [name for name, ids in known.items() if ids is None]
        if missing:
            wanted = {
                name: [
                    self._offered(fanouts[name]["id"]),
                    *(
                        self._k.wave(n, fanouts[name]["id"])
                        for n in range(2, codec.waves_of(fanouts[name]) + 1)
                    ),
                ]
                for name in missing
            }
            raws = iter(self._r.mget([key for keys in wanted.values() for key in keys]))
            for name, keys in wanted.items():
                parts = [next(raws) for _ in keys]
                found[name] = tuple(i for raw in parts if raw for i in codec.load_offered(raw))
                if all(parts[1:]) and parts[0]:
                    self._fanouts.put(name, found[name])
        return found

    def add(self, shift: Shift) -> None:
        added, elsewhere = self._add([shift])
        if elsewhere:
            raise ClientElsewhere(shift)
        if not added:
            raise DuplicateKey("id", shift.id)

    def add_absent(self, shifts: Sequence[Shift]) -> list[Shift]:
        return self._add(shifts)[0]

    def _add(self, shifts: Sequence[Shift]) -> tuple[list[Shift], list[Shift]]:
        """Store the shifts whose id is not stored yet (a repeated id once), but those naming
        a client that is not one of their organization's as stored now: (stored, refused).

        The clients named are watched, so a move stored before the write makes the step
        run again; each shift stored counts in its client's ``client-shifts``, which a
        move watches in turn (``RedisClients.update``).
        """
        client_ids = sorted({s.client_id for s in shifts if s.client_id is not None})
        client_keys = [self._related.clients.key(c) for c in client_ids]

        def step(pipe: Pipeline) -> tuple[list[Shift], list[Shift]]:
            stored = pipe.mget([self.key(s.id) for s in shifts]) if shifts else []
            raws = pipe.mget(client_keys) if client_keys else []
            loaded = zip(client_ids, raws, strict=True)
            clients = {c: codec.load_client(raw) for c, raw in loaded if raw}
            fresh = first_of_each_id(
                s for s, raw in zip(shifts, stored, strict=True) if raw is None
            )
            elsewhere = {
                s.id
                for s in fresh
                if rules.client_elsewhere(s, clients.get(s.client_id) if s.client_id else None)
            }
            added = [s for s in fresh if s.id not in elsewhere]
            pipe.multi()
            if added:
                pipe.mset({self.key(s.id): codec.dump_shift(s) for s in added})
                pipe.rpush(self._order, *(s.id for s in added))
                for client_id in (s.client_id for s in added if s.client_id is not None):
                    pipe.incr(self._k.client_shifts(client_id))
            return added, [s for s in fresh if s.id in elsewhere]

        return transact(self._r, [self._order, *client_keys], step)

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

    def _held_and_organization(
        self, step: Step, held_since: tuple[str, datetime] | None, organization_id: str | None
    ) -> tuple[list[Shift], Organization | None]:
        """A caregiver's assignments ending after a time, and an organization, read in ``step``.

        ``held_since`` names the caregiver and the time; either read may be left
        out. One recall, so a fresh read of both is one round trip. Checking the
        assignment index is enough: an assigned shift's times never change, and
        every new assignment writes the index in the step that makes it. The first
        guesses: the caregiver holds nothing (most hold none), and the organization
        is as this process last read it, else not stored.
        """
        commands: list[Command] = []
        if held_since is not None:
            key, since = self._assigned(held_since[0]), held_since[1]
            commands.append(("ZRANGEBYSCORE", key, f"({score_of(since)}", "+inf"))
        if organization_id is not None:
            commands.append(("GET", self._related.organizations.key(organization_id)))
        answers = iter(step.recall(*commands, unseen=b""))
        ids = next(answers) if held_since is not None else []
        held = self._load_many(self._r, [i.decode() for i in ids])
        raw = next(answers) if organization_id is not None else None
        return held, codec.load_organization(raw) if raw else None

    def _caregiver_in(self, step: Step, caregiver_id: str) -> Caregiver | None:
        """The caregiver as stored, read in ``step`` (this process's last read as the guess:
        a reply's own read of its sender): a change before the write fails its check."""
        (raw,) = step.recall(("GET", self._related.caregivers.key(caregiver_id)))
        return codec.load_caregiver(raw) if raw else None

    def _client_in(self, step: Step, client_id: str) -> Client | None:
        """The client as stored, read in ``step`` (this process's last read as the guess)."""
        (raw,) = step.recall(("GET", self._related.clients.key(client_id)))
        return codec.load_client(raw) if raw else None

    def assignments(self, caregiver_ids: Iterable[str], since: datetime) -> dict[str, list[Shift]]:
        ids = list(caregiver_ids)
        if not ids:
            return {}
        prefix, start = self._assigned(""), f"({score_of(since)}"
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
        if change.messages:
            step.write_many("RPUSH", self._k.webhook_outbox, message_writes(change.messages))

    def _reindex(self, step: Step, delta: IndexDelta) -> None:
        """Queue on the step the index writes ``delta`` says."""
        shift_id = delta.shift_id
        if delta.assigned_to is not None:
            assigned = self._assigned(delta.assigned_to)
            step.write("ZADD", assigned, score_of(delta.ends_at), shift_id)
        if delta.started is not None:
            offered = codec.dump_offered(delta.started)
            step.write("SET", self._offered(shift_id), offered)
            if delta.started.offered_caregiver_ids:
                step.write("add-all", self._offered_set(shift_id), offered)
        if delta.opened is not None:
            step.write("SADD", self._codes, delta.opened)
            step.write("SADD", self._open_fanouts(delta.role), shift_id)
        if delta.wave is not None:
            number, ids = delta.wave
            step.write("SET", self._k.wave(number, shift_id), codec.dump_ids(ids))
            if ids:
                step.write("add-all", self._offered_set(shift_id), codec.dump_ids(ids))
        if delta.phone_round is not None:
            step.write("ZADD", self._rounds, score_of(delta.phone_round), shift_id)
        else:
            step.write("ZREM", self._rounds, shift_id)
        if delta.next_wave is not None:
            step.write("ZADD", self._waves, score_of(delta.next_wave), shift_id)
        else:
            step.write("ZREM", self._waves, shift_id)
        if delta.unfilled is not None:
            step.write("ZADD", self._k.unfilled_checks, score_of(delta.unfilled), shift_id)
        else:
            step.write("ZREM", self._k.unfilled_checks, shift_id)
        if delta.closed is not None:
            step.write("SREM", self._codes, delta.closed)
            step.write("SREM", self._open_fanouts(delta.role), shift_id)
            closed = self._closed_fanouts(delta.role)
            step.write("LPUSH", closed, shift_id)
            step.write("LTRIM", closed, 0, RECENTLY_CLOSED - 1)

    def offers_for(self, caregiver: Caregiver) -> list[Shift]:
        raws = self._offers_of(args=[caregiver.id, caregiver.role, *self._offer_prefixes()])
        return indexes.offered_to(caregiver.id, self.loaded(raws))

    def offers_by_phone(self, phone: str) -> Sender | None:
        answer = self.reply_read(phone)
        return self.sender_in(answer) if answer else None

    def reply_read(self, phone: str, lease: tuple[str, int, bytes] | None = None) -> list[Any]:
        """``REPLY_READ``'s answer for ``phone``; with ``lease`` (a key, its seconds, its mark),
        the lease on that key is taken in the same round trip. Empty for a phone no
        caregiver has; ``[0, what the key held]`` when it was taken already; else
        what ``sender_in`` reads the caregiver and their offers from."""
        caregivers = self._related.caregivers
        keys, args = [caregivers.phones], [phone, caregivers.key(""), *self._offer_prefixes()]
        if lease is not None:
            keys.append(lease[0])
            args += lease[1:]
        answer: list[Any] = self._reply_read(keys=keys, args=args)
        return answer

    def sender_in(self, answer: list[Any]) -> Sender:
        """The caregiver and their offers in a ``reply_read`` answer that found them."""
        caregiver = codec.load_caregiver(answer[1])
        # The guess of the claim step that may follow, which reads the caregiver again.
        self._steps.remember(("GET", self._related.caregivers.key(caregiver.id)), answer[1])
        return caregiver, indexes.offered_to(caregiver.id, self.loaded(answer[2:]))

    def due_phone_rounds(self, now: datetime) -> list[str]:
        at = score_of(now)
        due = self._r.zrangebyscore(self._rounds, "-inf", at, withscores=True)
        return indexes.due_first(((float(score), sid.decode()) for sid, score in due), at)

    def due_waves(self, now: datetime) -> list[str]:
        at = score_of(now)
        due = self._r.zrangebyscore(self._waves, "-inf", at, withscores=True)
        return indexes.due_first(((float(score), sid.decode()) for sid, score in due), at)

    def due_unfilled(self, now: datetime) -> list[str]:
        at = score_of(now)
        due = self._r.zrangebyscore(self._k.unfilled_checks, "-inf", at, withscores=True)
        return indexes.due_first(((float(score), sid.decode()) for sid, score in due), at)


class _Reads:
    """What a decision reads beside its shift, through the step that checks it."""

    def __init__(self, shifts: RedisShifts, step: Step) -> None:
        self._shifts = shifts
        self._step = step

    def free_code(self) -> str:
        return self._shifts._free_code(self._step)

    def assignments(self, caregiver_id: str, since: datetime) -> list[Shift]:
        return self._shifts._held_and_organization(self._step, (caregiver_id, since), None)[0]

    def organization(self, organization_id: str) -> Organization | None:
        return self._shifts._held_and_organization(self._step, None, organization_id)[1]

    def assignments_and_organization(
        self, caregiver_id: str, since: datetime, organization_id: str
    ) -> tuple[list[Shift], Organization | None]:
        held_since = (caregiver_id, since)
        return self._shifts._held_and_organization(self._step, held_since, organization_id)

    def caregiver(self, caregiver_id: str) -> Caregiver | None:
        return self._shifts._caregiver_in(self._step, caregiver_id)

    def client(self, client_id: str) -> Client | None:
        return self._shifts._client_in(self._step, client_id)


@dataclass(frozen=True)
class Related:
    """The repositories a shift step writes to or reads beside the shift."""

    caregivers: RedisCaregivers
    organizations: RedisOrganizations
    clients: RedisClients
    notifications: RedisNotifications
    events: RedisEvents
