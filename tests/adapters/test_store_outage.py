"""Waiting out an unreachable store: one log line an outage, start-up work done once it answers."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from shiftfill.adapters import store_outage
from shiftfill.adapters.store_outage import OutageLog, StartupWork
from shiftfill.services.ports import StoreUnavailable

DOWN = StoreUnavailable("Redis is unreachable: Error 111 connecting to 127.0.0.1:6390.")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_outage_is_logged_once_whoever_retries_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shiftfill")
    outage = OutageLog()
    for _ in range(30):  # half a minute of the sender and the poller retrying each second
        outage.unreachable("sending", DOWN)
        outage.unreachable("polling for phone rounds", DOWN)
    assert warnings(caplog) == [
        "Redis is unreachable: Error 111 connecting to 127.0.0.1:6390; sending waits and "
        "tries again every second, requests get 503 until it answers"
    ]
    outage.reachable()
    outage.reachable()
    assert caplog.text.count("the store answers again") == 1
    outage.unreachable("sending", DOWN)  # a second outage is news again
    assert len(warnings(caplog)) == 2


def test_start_up_work_waits_for_the_store_and_a_request_runs_it_first() -> None:
    store_up = False
    done: list[str] = []

    def seed() -> None:
        if not store_up:
            raise DOWN
        done.append("seeded")

    startup = StartupWork()
    startup.add("loading the seed file sample.json", seed, DOWN)
    with pytest.raises(StoreUnavailable):
        startup.run()  # a request while the store is down: 503, as any other
    assert startup.pending == ["loading the seed file sample.json"]
    store_up = True
    startup.run()
    startup.run()
    assert done == ["seeded"]
    assert startup.pending == []


def test_start_up_work_is_retried_on_a_thread_from_start_until_the_store_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store_outage, "RETRY_SECONDS", 0.01)
    tries: list[int] = []
    done = threading.Event()

    def seed() -> None:
        tries.append(1)
        if len(tries) < 5:
            raise DOWN
        done.set()

    startup = StartupWork()
    startup.add("loading the seed file sample.json", seed, DOWN)
    before = set(threading.enumerate())
    try:
        startup.start()
        assert done.wait(5)
    finally:
        startup.shutdown()
    assert len(tries) == 5
    assert startup.pending == []
    assert len(warnings(caplog)) == 1
    # Only the threads started here: other tests' threads may end meanwhile.
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()


def test_start_up_work_that_fails_for_another_reason_is_logged_and_no_longer_holds_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise ValueError("a bug")

    startup = StartupWork()
    startup.add("loading the seed file sample.json", broken, DOWN)
    startup.run()
    assert startup.pending == []
    assert "loading the seed file sample.json failed" in caplog.text


def test_nothing_pending_starts_no_thread() -> None:
    before = threading.active_count()
    startup = StartupWork()
    startup.start()
    assert threading.active_count() == before
    startup.run()
    startup.shutdown()
