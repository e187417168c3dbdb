"""The stores the contract suite runs against, each built fresh for a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.domain.indexes import random_offer_code
from shiftfill.services.dependencies import Clock
from shiftfill.services.ports import Store
from tests.conftest import unique_prefix

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


class MakeStore(Protocol):
    def __call__(
        self,
        *,
        code_source: Callable[[int], str] = ...,
        clock: Clock = ...,
        dedupe_window: timedelta = ...,
    ) -> Store: ...


def memory_store(
    *,
    code_source: Callable[[int], str] = random_offer_code,
    clock: Clock = lambda: NOW,
    dedupe_window: timedelta = timedelta(hours=72),
) -> Store:
    return MemoryStore(code_source=code_source, clock=clock, dedupe_window=dedupe_window)


def redis_store(
    url: str,
    *,
    code_source: Callable[[int], str] = random_offer_code,
    clock: Clock = lambda: NOW,
    dedupe_window: timedelta = timedelta(hours=72),
) -> Store:
    """A Redis store under a key prefix of its own; Redis keeps its own time for expiry."""
    return RedisStore(
        url, prefix=unique_prefix(), code_source=code_source, dedupe_window=dedupe_window
    )


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[MakeStore]:
    built: list[Store] = []

    def make(**kwargs: object) -> Store:
        if request.param == "redis":
            url = request.getfixturevalue("redis_server").url
            store = redis_store(url, **kwargs)  # type: ignore[arg-type]
        else:
            store = memory_store(**kwargs)  # type: ignore[arg-type]
        built.append(store)
        return store

    yield make  # type: ignore[misc]
    for store in built:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()
