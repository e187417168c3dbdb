"""Clients in Redis: JSON by id, in the order they were added."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import add_absent, translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.steps import Steps, transact
from shiftfill.domain.model import Client
from shiftfill.services.ports import DuplicateKey


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
        key = self.key(client_id)

        def step(pipe: Pipeline) -> Client:
            raw = pipe.get(key)
            if raw is None:
                raise KeyError(client_id)
            changed = change(codec.load_client(raw))
            pipe.multi()
            pipe.set(key, codec.dump_client(changed))
            return changed

        return transact(self._r, [key], step)
