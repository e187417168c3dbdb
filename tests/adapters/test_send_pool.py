"""The send pool: bounded workers, never blocking the caller, and the rate cap."""

from __future__ import annotations

import threading

import pytest

from shiftfill.adapters.send_pool import RateLimiter, SendPool


def test_every_item_is_handled_once_by_at_most_the_configured_workers() -> None:
    handled: list[str] = []
    running = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def handler(item: str) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1
            handled.append(item)

    pool = SendPool(workers=3)
    pool.bind(handler)
    pool.submit_many([f"n{i}" for i in range(30)])  # returns at once
    assert pool.pending == 30
    release.set()
    assert pool.wait_idle(5)
    assert sorted(handled) == sorted(f"n{i}" for i in range(30))
    assert peak <= 3
    pool.shutdown(timeout=5)


def test_a_failing_item_does_not_stop_the_worker() -> None:
    handled: list[str] = []

    def handler(item: str) -> None:
        if item == "bad":
            raise RuntimeError("boom")
        handled.append(item)

    pool = SendPool(workers=1)
    pool.bind(handler)
    pool.submit_many(["a", "bad", "b"])
    assert pool.wait_idle(5)
    assert handled == ["a", "b"]
    pool.shutdown(timeout=5)


def test_shutdown_returns_what_the_workers_did_not_reach() -> None:
    gate, started = threading.Event(), threading.Event()

    def handler(item: str) -> None:
        started.set()
        gate.wait(5)

    pool = SendPool(workers=1)
    pool.bind(handler)
    pool.submit_many(["a", "b", "c"])
    assert started.wait(5)
    left = pool.shutdown(timeout=0.2)
    gate.set()
    assert left == ["b", "c"]
    with pytest.raises(RuntimeError):
        pool.submit_many(["d"])


def test_rate_limiter_spaces_sends_at_the_configured_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    limiter = RateLimiter(per_second=4, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == [0.25, 0.5, 0.75]
    now[0] += 10  # idle for a while: no burst credit piles up beyond the next slot
    slept.clear()
    limiter.acquire()
    limiter.acquire()
    assert slept == [0.25]
