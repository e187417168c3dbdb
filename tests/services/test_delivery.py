"""Sending: of the processes holding one queued notification, only one sends it.

I2 in docs/invariants.md: at most one text and one call per caregiver per shift.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from bench.harness import RedisServer
from config import TestingConfig
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.services.caregivers import register_caregivers
from shiftfill.services.delivery import Ready, prepare_sends
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import start_fanout
from shiftfill.services.ports import Outgoing
from shiftfill.services.shifts import create_shift
from tests.conftest import tomorrow_at, unique_prefix
from tests.fakes import FakeNotifier

HOLDERS = 8
CAREGIVERS = 30


@pytest.fixture(params=["memory", "redis"])
def processes(request: pytest.FixtureRequest) -> Iterator[list[Dependencies]]:
    """Two processes' dependencies on one store (memory: one process, two callers)."""
    env = {}
    if request.param == "redis":
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        env = {"SHIFTFILL_STORE_URL": redis_server.url, "SHIFTFILL_REDIS_PREFIX": unique_prefix()}
    runtimes: list[Runtime] = []
    for _ in range(2 if request.param == "redis" else 1):
        runtimes.append(bootstrap(TestingConfig(env), notifier=FakeNotifier(), escalation=False))
    yield [runtimes[i % len(runtimes)].deps for i in range(2)]
    for runtime in runtimes:
        runtime.shutdown()


def queued_texts(deps: Dependencies) -> list[str]:
    people = [
        {"name": f"RN {n}", "role": "RN", "phone": f"+1555556{n:04d}"} for n in range(CAREGIVERS)
    ]
    register_caregivers(deps, people)
    create_shift(
        deps,
        id="sh_1",
        organization_id="default",
        role_required="RN",
        start_time=tomorrow_at(7),
        end_time=tomorrow_at(19),
    )
    start_fanout(deps, "sh_1")
    return [n.id for n in deps.store.notifications.for_shift("sh_1")]


def test_a_notification_held_by_several_senders_is_claimed_by_one(
    processes: list[Dependencies], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when a process is presumed dead and another takes its sends over: every holder
    reads the notifications before any claims them, and only one may send each."""
    ids = queued_texts(processes[0])
    assert len(ids) == CAREGIVERS
    read_together = threading.Barrier(HOLDERS)
    for store in {id(deps.store): deps.store for deps in processes}.values():
        read = store.outgoing

        def outgoing(notification_ids: Sequence[str], read: Any = read) -> list[Outgoing]:
            found = read(notification_ids)
            read_together.wait(10)
            return found  # type: ignore[no-any-return]

        monkeypatch.setattr(store, "outgoing", outgoing)
    claimed: list[list[Ready]] = [[] for _ in range(HOLDERS)]

    def hold(i: int) -> None:
        claimed[i] = prepare_sends(processes[i % 2], ids)

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(HOLDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    won = [ready.id for mine in claimed for ready in mine]
    assert sorted(won) == sorted(ids)
    notes = processes[0].store.notifications.for_shift("sh_1")
    assert {n.attempts for n in notes} == {1}
