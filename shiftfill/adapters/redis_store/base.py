"""What every Redis repository shares: unreachable Redis as ``StoreUnavailable``,
and adding records absent by id."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store.steps import transact
from shiftfill.services.ports import StoreUnavailable

T = TypeVar("T")
R = TypeVar("R")


# What makes Redis unable to serve a step right now, not a fault of the step: down,
# slow, loading its data, a replica during a failover, or out of memory.
_UNAVAILABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ReadOnlyError,
    redis.OutOfMemoryError,
)


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


def score_of(at: datetime) -> float:
    """A time as the score of a sorted set (phone rounds by due time, assignments by end)."""
    return at.timestamp()


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Rec = TypeVar("Rec", bound=Identified)


def first_of_each_id(records: Iterable[Rec]) -> list[Rec]:
    """``records`` with each id once: its first record, at the place of its last."""
    return list({r.id: r for r in reversed(list(records))}.values())[::-1]


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
        added = first_of_each_id(r for r, raw in zip(records, stored, strict=True) if raw is None)
        pipe.multi()
        if added:
            pipe.mset({key_of(r.id): dump(r) for r in added})
            pipe.rpush(order, *(r.id for r in added))
        return added

    return transact(client, [order], step)
