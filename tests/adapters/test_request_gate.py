"""Requests first: the send path waits its turn while the process serves a request."""

from __future__ import annotations

import threading
import time

from shiftfill.adapters.request_gate import RequestGate
from shiftfill.bootstrap import Runtime


def waited(gate: RequestGate) -> float:
    began = time.monotonic()
    gate.wait_turn()
    return time.monotonic() - began


def test_with_no_request_being_served_background_work_goes_at_once() -> None:
    assert waited(RequestGate(max_wait=5)) < 0.5


def test_background_work_waits_until_the_request_being_served_ends() -> None:
    gate = RequestGate(max_wait=5, grace=0)
    gate.enter()
    threading.Timer(0.3, gate.leave).start()
    assert 0.25 < waited(gate) < 4


def test_after_a_request_background_work_gives_the_next_one_a_moment_to_arrive() -> None:
    gate = RequestGate(max_wait=5, grace=0.3)
    gate.enter()
    gate.leave()
    assert 0.2 < waited(gate) < 4
    assert waited(gate) < 0.1, "once the moment has passed, nothing waits"


def test_a_process_never_without_a_request_still_gives_background_work_its_turn() -> None:
    gate = RequestGate(max_wait=0.2)
    gate.enter()
    try:
        assert 0.15 < waited(gate) < 2
    finally:
        gate.leave()


def test_the_send_workers_of_a_runtime_wait_on_its_gate(runtime: Runtime) -> None:
    """gunicorn's request hooks count requests on ``runtime.requests``."""
    assert runtime.sender._turns is runtime.requests
