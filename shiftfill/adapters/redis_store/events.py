"""Each shift's audit trail in Redis, a list of JSON events."""

from __future__ import annotations

import redis

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.domain.model import Event


@translating_errors
class RedisEvents:
    """Each shift's audit trail as a list of JSON events."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._k = keys

    def key(self, shift_id: str) -> str:
        return self._k.events(shift_id)

    def append(self, shift_id: str, *events: Event) -> None:
        if events:
            self._r.rpush(self.key(shift_id), *map(codec.dump_event, events))

    def for_shift(self, shift_id: str) -> list[Event]:
        return [codec.load_event(raw) for raw in self._r.lrange(self.key(shift_id), 0, -1)]
