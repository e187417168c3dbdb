"""A reply's round trips to Redis, each about 0.15 ms of a worker's time under load.

The lease on the provider's message id is taken in the reply's first read, with
the sender and their offers (``REPLY_READ``; docs/performance.md, section 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.harness import RedisServer, RoundTrips
from shiftfill.adapters.redis_store.store import RedisStore
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
        # A number no caregiver has: the lease is let go in the same step.
        assert trips.of(reply("SM2", sender="+15550000000")) == 1
    assert answers == [(1, True), (1, True), (1, False), None]
