"""Clients in Redis: JSON by id, in the order they were added."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import add_absent, translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.steps import Steps, transact
from shiftfill.domain import rules
from shiftfill.domain.model import Client, Shift
from shiftfill.services.ports import ClientHeld, DuplicateKey


@translating_errors
class RedisClients:
    """Clients as JSON by id, and the order they were added in.

    A claim reads its shift's client inside its checked step: a change stored here
    between that read and the claim's write makes the claim decide again.
    """

    def __init__(self, client: redis.Redis, keys: Keys, steps: Steps) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._order = keys.clients

    def key(self, client_id: str) -> str:
        return self._k.client(client_id)

    def add(self, client: Client) -> None:
        if not self.add_absent([client]):
            raise DuplicateKey("id", client.id)

    def add_absent(self, clients: Sequence[Client]) -> list[Client]:
        return add_absent(self._r, self._order, self.key, codec.dump_client, clients)

    def get(self, client_id: str) -> Client | None:
        key = self.key(client_id)
        raw = self._r.get(key)
        self._steps.remember(("GET", key), raw)
        return codec.load_client(raw) if raw is not None else None

    def all(self, organization_id: str | None = None) -> list[Client]:
        ids = self._r.lrange(self._order, 0, -1)
        if not ids:
            return []
        raws = self._r.mget([self.key(i.decode()) for i in ids])
        found = [codec.load_client(raw) for raw in raws if raw]
        if organization_id is None:
            return found
        return [c for c in found if c.organization_id == organization_id]

    def update(self, client_id: str, change: Callable[[Client], Client]) -> Client:
        """A move to another organization reads every shift in the step, watching the
        count of shifts added naming the client (``client-shifts``): one added meanwhile
        makes the step run again and see it (``RedisShifts.add`` watches the client in
        turn). Shifts naming other clients do not disturb it. Moves are rare; edits of
        the lists, the common change, read no shift."""
        key = self.key(client_id)

        def step(pipe: Pipeline) -> Client:
            raw = pipe.get(key)
            if raw is None:
                raise KeyError(client_id)
            current = codec.load_client(raw)
            changed = change(current)
            if changed.organization_id != current.organization_id:
                held = rules.shifts_holding(changed, self._shifts_in(pipe))
                if held:
                    raise ClientHeld(client_id, current.organization_id, held)
            pipe.multi()
            pipe.set(key, codec.dump_client(changed))
            return changed

        return transact(self._r, [key, self._k.client_shifts(client_id)], step)

    def _shifts_in(self, pipe: Pipeline) -> list[Shift]:
        """Every shift, read through ``pipe`` (without their offered ids). All of them, not
        only those counted in ``client-shifts``: shifts stored before the count was kept
        hold a client too."""
        ids = pipe.lrange(self._k.shifts, 0, -1)
        raws = pipe.mget([self._k.shift(i.decode()) for i in ids]) if ids else []
        return [codec.load_shift(codec.parse_shift(raw)) for raw in raws if raw]
