"""Organizations in Redis: JSON by id, in the order they were added."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import add_absent, translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.steps import Steps, transact
from shiftfill.domain.model import Organization
from shiftfill.services.ports import DuplicateKey


@translating_errors
class RedisOrganizations:
    """Organizations as JSON by id, and the order they were added in."""

    def __init__(self, client: redis.Redis, keys: Keys, steps: Steps) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._order = keys.organizations

    def key(self, organization_id: str) -> str:
        return self._k.organization(organization_id)

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
