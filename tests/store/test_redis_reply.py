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
from tests.store.test_contract import caregiver, fanned_out, opting_out
from tests.store.test_contract_clients import ORG, accept


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


def test_a_claim_reads_its_caregiver_from_the_replys_own_read_and_still_sees_a_stop(
    store: RedisStore,
) -> None:
    """The claim's step reads the caregiver again (a STOP since counts), on the reply's own
    read as its guess: no round trip of its own, unless the caregiver changed meanwhile."""
    store.organizations.add(ORG)
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    fanned_out(store, "sh_1", ["cg_1", "cg_2"])
    with RoundTrips() as trips:
        assert store.shifts.offers_by_phone(caregiver(2).phone) is not None
        store.caregivers.update("cg_2", opting_out)
        assert store.shifts.offers_by_phone(caregiver(1).phone) is not None
        guessed = trips.of(lambda: accept(store, "sh_1", "cg_2"))
        assert store.shifts.get("sh_1").assigned_caregiver_id is None  # type: ignore[union-attr]
        claimed = trips.of(lambda: accept(store, "sh_1", "cg_1"))
    assert store.shifts.get("sh_1").assigned_caregiver_id == "cg_1"  # type: ignore[union-attr]
    assert claimed == 1  # the checked write alone: every read was a guess
    assert guessed > claimed  # the stale guess failed the check; read again, refused
