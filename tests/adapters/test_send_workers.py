"""The send workers: every queued notification handled once, by a bounded number of threads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from shiftfill.adapters.memory_store import MemoryOutbox
from shiftfill.adapters.request_gate import RequestGate
from shiftfill.adapters.send_workers import TAKE_BATCH, RateLimiter, SendWorkers


def outbox_with(ids: list[str]) -> MemoryOutbox:
    outbox = MemoryOutbox(threading.Lock())
    with outbox._ready:
        outbox._put(ids)
    return outbox


@dataclass(frozen=True)
class Item:
    id: str


def claim_all(ids: list[str]) -> list[Item]:
    return [Item(i) for i in ids]


def started(
    outbox: MemoryOutbox,
    handler: Callable[[str], object],
    workers: int,
    *,
    prepare: Callable[[list[str]], list[Item]] = claim_all,
    settle: Callable[[list[Item]], object] = lambda outcomes: None,
    inline: bool = False,
) -> SendWorkers[Item, Item]:
    """Send workers whose ``send`` calls ``handler`` with the id, and reports it as the outcome."""

    def send(item: Item) -> Item:
        handler(item.id)
        return item

    sender = SendWorkers(outbox, prepare, send, settle, workers=workers, inline=inline)
    sender.start()
    return sender


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

    outbox = outbox_with([f"n{i}" for i in range(30)])
    sender = started(outbox, handler, workers=3)
    assert outbox.depth() == 30
    deadline = time.monotonic() + 5
    while peak < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    assert sender.wait_idle(5)
    assert sorted(handled) == sorted(f"n{i}" for i in range(30))
    assert peak == 3
    sender.shutdown(timeout=5)


@pytest.mark.parametrize("inline", [False, True], ids=["senders", "inline"])
def test_a_failing_item_does_not_stop_the_worker(inline: bool) -> None:
    handled: list[str] = []

    def handler(item: str) -> None:
        if item == "bad":
            raise RuntimeError("boom")
        handled.append(item)

    sender = started(outbox_with(["a", "bad", "b"]), handler, workers=1, inline=inline)
    assert sender.wait_idle(5)
    assert handled == ["a", "b"]
    sender.shutdown(timeout=5)


@pytest.mark.parametrize(
    ("inline", "said"),
    [(False, "1 sends were still under way"), (True, "a step of sends was still under way")],
    ids=["senders", "inline"],
)
def test_a_send_still_under_way_when_shutdown_gives_up_is_logged(
    inline: bool, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    release, began = threading.Event(), threading.Event()

    def handler(item: str) -> None:
        began.set()
        release.wait(5)

    sender = started(outbox_with(["a"]), handler, workers=1, inline=inline)
    try:
        assert began.wait(5)
        with caplog.at_level(logging.WARNING, logger="shiftfill.adapters.send_workers"):
            sender.shutdown(timeout=0.05, wait_for_queue=False)
    finally:
        release.set()
    assert said in caplog.text


@pytest.mark.parametrize("inline", [False, True], ids=["senders", "inline"])
def test_shutdown_leaves_what_the_workers_did_not_reach_in_the_outbox(inline: bool) -> None:
    gate, began = threading.Event(), threading.Event()

    def handler(item: str) -> None:
        began.set()
        gate.wait(5)

    outbox = outbox_with(["a", "b", "c"])
    sender = started(outbox, handler, workers=1, inline=inline)
    assert began.wait(5)
    threading.Timer(0.3, gate.set).start()
    sender.shutdown(timeout=0.2)
    assert not sender.running
    assert outbox.drain() == ["b", "c"]


def test_many_workers_send_slow_messages_side_by_side() -> None:
    release = threading.Event()
    in_flight = threading.Semaphore(0)

    def handler(item: str) -> None:
        in_flight.release()
        release.wait(5)

    outbox = outbox_with([f"n{i}" for i in range(200)])
    sender = started(outbox, handler, workers=200)
    try:
        assert all(in_flight.acquire(timeout=5) for _ in range(200))
    finally:
        release.set()
        sender.shutdown(timeout=5)


def test_outcomes_that_come_in_together_are_recorded_together() -> None:
    release = threading.Event()
    in_flight = threading.Semaphore(0)
    recorded: list[list[str]] = []

    def handler(item: str) -> None:
        in_flight.release()
        release.wait(5)

    def settle(outcomes: list[Item]) -> None:
        recorded.append([o.id for o in outcomes])
        time.sleep(0.05)  # a round trip to a slow store: outcomes pile up meanwhile

    outbox = outbox_with([f"n{i}" for i in range(200)])
    sender = started(outbox, handler, workers=200, settle=settle)
    try:
        assert all(in_flight.acquire(timeout=5) for _ in range(200))
        release.set()
        assert sender.wait_idle(5)
    finally:
        release.set()
        sender.shutdown(timeout=5)
    assert sorted(i for batch in recorded for i in batch) == sorted(f"n{i}" for i in range(200))
    assert len(recorded) <= 10


def test_ids_that_prepare_drops_are_acknowledged_and_never_sent() -> None:
    sent: list[str] = []

    def prepare(ids: list[str]) -> list[Item]:
        return [Item(i) for i in ids if not i.startswith("moot")]

    outbox = outbox_with(["a", "moot-1", "b", "moot-2"])
    sender = started(outbox, sent.append, workers=2, prepare=prepare)
    try:
        assert sender.wait_idle(5)
    finally:
        sender.shutdown(timeout=5)
    assert sorted(sent) == ["a", "b"]
    assert outbox.depth() == 0


def test_shutdown_records_the_sends_that_finished_before_it_returns() -> None:
    recorded: list[str] = []
    began = threading.Event()

    def handler(item: str) -> None:
        began.set()
        time.sleep(0.1)

    def settle(outcomes: list[Item]) -> None:
        recorded.extend(o.id for o in outcomes)

    sender = started(outbox_with(["a"]), handler, workers=1, settle=settle)
    assert began.wait(5)
    sender.shutdown(timeout=5, wait_for_queue=False)
    assert recorded == ["a"]


@pytest.mark.parametrize("inline", [False, True], ids=["senders", "inline"])
def test_under_a_rate_cap_each_send_is_claimed_when_its_turn_comes(inline: bool) -> None:
    batches: list[list[str]] = []
    started_at: list[float] = []

    def prepare(ids: list[str]) -> list[Item]:
        batches.append(ids)
        return claim_all(ids)

    outbox = outbox_with([f"n{i}" for i in range(10)])
    sender = SendWorkers(
        outbox,
        prepare,
        lambda item: started_at.append(time.monotonic()),
        lambda outcomes: None,
        workers=10,
        rate_per_second=20,
        inline=inline,
    )
    sender.start()
    try:
        assert sender.wait_idle(5)
    finally:
        sender.shutdown(timeout=5)
    assert len(started_at) == 10
    assert max(started_at) - min(started_at) >= 9 / 20 - 0.01
    assert all(len(batch) == 1 for batch in batches)


def test_one_bad_record_costs_only_its_own_send() -> None:
    """A batch whose preparing or recording fails is done again one by one."""
    sent: list[str] = []
    recorded: list[str] = []
    release = threading.Event()
    waiting = threading.Semaphore(0)

    def handler(item: str) -> None:
        waiting.release()
        release.wait(5)
        sent.append(item)

    def prepare(ids: list[str]) -> list[Item]:
        if "unreadable" in ids:
            raise ValueError("a corrupt record")
        return claim_all(ids)

    def settle(outcomes: list[Item]) -> None:
        if any(o.id == "unrecordable" for o in outcomes):
            raise ValueError("a corrupt record")
        recorded.extend(o.id for o in outcomes)

    ids = ["a", "unreadable", "b", "unrecordable", "c"]
    sender = started(outbox_with(ids), handler, workers=8, prepare=prepare, settle=settle)
    try:
        assert all(waiting.acquire(timeout=5) for _ in range(4))  # one batch, all taken
        release.set()
        assert sender.wait_idle(5)
    finally:
        release.set()
        sender.shutdown(timeout=5)
    assert sorted(sent) == ["a", "b", "c", "unrecordable"]
    assert sorted(recorded) == ["a", "b", "c"]


def test_under_a_rate_cap_nothing_is_claimed_after_shutdown_and_the_rest_stays_queued() -> None:
    prepared: list[str] = []
    sent: list[str] = []

    def prepare(ids: list[str]) -> list[Item]:
        prepared.extend(ids)
        return claim_all(ids)

    ids = [f"n{i}" for i in range(20)]
    outbox = outbox_with(ids)
    sender = SendWorkers(
        outbox, prepare, lambda item: sent.append(item.id), lambda outcomes: None,
        workers=16, rate_per_second=10,
    )  # fmt: skip
    sender.start()
    time.sleep(0.35)
    sender.shutdown(timeout=1, wait_for_queue=False)
    claimed_at_shutdown = list(prepared)
    time.sleep(0.3)  # three more turns of the rate cap
    assert prepared == claimed_at_shutdown
    assert 1 <= len(sent) < 20
    assert sorted(sent + outbox.drain()) == sorted(ids)


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


@pytest.mark.parametrize("inline", [False, True], ids=["senders", "inline"])
def test_nothing_is_sent_while_a_request_is_served_and_all_is_sent_after(inline: bool) -> None:
    gate = RequestGate(max_wait=10)
    sent: list[str] = []
    outbox = outbox_with(["a", "b", "c"])
    sender = SendWorkers(
        outbox, claim_all, lambda item: sent.append(item.id), lambda outcomes: None,
        workers=4, turns=gate, inline=inline,
    )  # fmt: skip
    gate.enter()
    sender.start()
    try:
        time.sleep(0.3)
        assert sent == []
        assert outbox.depth() == 3
        gate.leave()
        assert sender.wait_idle(5)
    finally:
        sender.shutdown(timeout=5)
    assert sorted(sent) == ["a", "b", "c"]


@contextmanager
def always_serving(gate: RequestGate, sender: SendWorkers[Item, Item]) -> Iterator[None]:
    """``sender`` running in a process that serves a request all along."""
    gate.enter()
    sender.start()
    try:
        yield
    finally:
        gate.leave()
        sender.shutdown(timeout=5)


@pytest.mark.parametrize("inline", [False, True], ids=["senders", "inline"])
def test_a_process_that_always_serves_a_request_still_sends_in_small_steps(inline: bool) -> None:
    gate = RequestGate(max_wait=0.05)
    batches: list[int] = []

    def prepare(ids: list[str]) -> list[Item]:
        batches.append(len(ids))
        return claim_all(ids)

    outbox = outbox_with([f"n{i}" for i in range(300)])
    sender = SendWorkers(
        outbox, prepare, lambda item: None, lambda outcomes: None,
        workers=500, turns=gate, inline=inline,
    )  # fmt: skip
    with always_serving(gate, sender):
        assert sender.wait_idle(10)
    assert sum(batches) == 300
    assert max(batches) <= TAKE_BATCH


def test_under_a_rate_cap_a_process_that_always_serves_a_request_sends_at_its_rate() -> None:
    gate = RequestGate(max_wait=10)
    outbox = outbox_with([f"n{i}" for i in range(10)])
    sender = SendWorkers(
        outbox, claim_all, lambda item: None, lambda outcomes: None,
        workers=4, rate_per_second=20, turns=gate,
    )  # fmt: skip
    with always_serving(gate, sender):
        # 10 texts at 20 a second take about half a second; a step per longest wait, 100 s.
        assert sender.wait_idle(5)


def test_inline_sends_are_made_by_the_reader_in_steps_without_a_thread_per_send() -> None:
    """For a provider whose sends never wait: one thread sends, and every send is settled."""
    senders: set[str] = set()
    recorded: list[str] = []
    outbox = outbox_with([f"n{i}" for i in range(300)])
    before = {t.name for t in threading.enumerate()}
    sender = started(
        outbox,
        lambda item: senders.add(threading.current_thread().name),
        workers=500,
        settle=lambda outcomes: recorded.extend(o.id for o in outcomes),
        inline=True,
    )
    try:
        assert sender.running
        started_threads = {t.name for t in threading.enumerate()} - before
        assert not any(name.startswith("send-") and name[5:].isdigit() for name in started_threads)
        assert sender.wait_idle(5)
    finally:
        sender.shutdown(timeout=5)
    assert senders == {"send-reader"}
    assert sorted(recorded) == sorted(f"n{i}" for i in range(300))
    assert not sender.running
