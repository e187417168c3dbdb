"""A reply's round trips to Redis, each about 0.15 ms of a worker's time under load.

The lease on the provider's message id is taken in the reply's first read, with
the sender and their offers (``REPLY_READ``; docs/performance.md, section 3).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bench.harness import RedisServer, RoundTrips
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.services.ports import StoreUnavailable
from tests.store.conftest import redis_store
from tests.store.test_contract import caregiver, fanned_out


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    built = redis_store(redis_server.url)
    yield built  # type: ignore[misc]
    built.close()


def test_a_reply_takes_its_lease_in_the_read_of_its_sender(store: RedisStore) -> None:
    store.caregivers.add_many([caregiver(1)])
    fanned_out(store, "sh_1", ["cg_1"])
    answers: list[Any] = []

    def reply(message_id: str, sender: str = caregiver(1).phone) -> Callable[[], None]:
        def offers_held(who: Any, offers: list[Any]) -> int:
            return len(offers)

        return lambda: answers.append(
            store.inbound.once(message_id, sender, offers_held, encode=str, decode=int)
        )

    reply("SM0")()  # the connection open and the script loaded, as in a running server
    with RoundTrips() as trips:
        # The lease with the sender and their offers, then the outcome kept.
        assert trips.of(reply("SM1")) == 2
        # A replay: the first outcome, read where the lease would have been taken.
        assert trips.of(reply("SM1")) == 1
        # A number no caregiver has: nothing more is read, and no lease is taken.
        assert trips.of(reply("SM2", sender="+15550000000")) == 1
    assert answers == [(1, True), (1, True), (1, False), None]


def test_a_reply_that_fails_after_its_lease_lets_it_go(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider retries at once: it must not wait out the lease of the try that failed."""
    store.caregivers.add_many([caregiver(1)])
    fanned_out(store, "sh_1", ["cg_1"])
    loaded = store.shifts.loaded
    fails = iter([True])

    def flaky(raws: Any) -> Any:
        if next(fails, False):
            raise StoreUnavailable("connection reset")
        return loaded(raws)

    monkeypatch.setattr(store.shifts, "loaded", flaky)
    handle = store.inbound.once
    with pytest.raises(StoreUnavailable):
        handle("SM1", caregiver(1).phone, lambda *_: 1, encode=str, decode=int)
    started = time.monotonic()
    assert handle("SM1", caregiver(1).phone, lambda *_: 2, encode=str, decode=int) == (2, True)
    assert time.monotonic() - started < 1


def test_a_sender_that_cannot_be_read_takes_no_lease(store: RedisStore) -> None:
    store.caregivers.add_many([caregiver(1)])
    store.client.set(store.keys.caregiver("cg_1"), "{not json")
    with pytest.raises((StoreUnavailable, redis.ResponseError)):
        store.inbound.once("SM1", caregiver(1).phone, lambda *_: 1, encode=str, decode=int)
    assert store.client.get(store.keys.inbound("SM1")) is None
