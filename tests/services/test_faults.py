"""Faults: a flaky provider, a failing escalation job, a saturated send pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from shiftfill.adapters.notifier import Notifier, NotifierError
from shiftfill.adapters.scheduler import APSchedulerEscalation
from shiftfill.adapters.send_pool import SendPool
from shiftfill.services.context import Context
from shiftfill.services.delivery import deliver
from shiftfill.services.fanout import run_phone_round
from tests.conftest import RN_PHONES, START, add_shift, reply
from tests.fakes import FakeNotifier


class FlakyNotifier(FakeNotifier):
    """Times out on the first ``failures`` attempts to each number, then delivers."""

    def __init__(self, failures: int, transient: bool = True) -> None:
        super().__init__()
        self.failures = failures
        self.transient = transient
        self.tries: dict[str, int] = {}

    def _record(self, channel: str, to: str, text: str) -> str:
        with self._lock:
            self.tries[to] = self.tries.get(to, 0) + 1
            tries = self.tries[to]
        if tries <= self.failures:
            raise NotifierError("provider timed out", transient=self.transient)
        return super()._record(channel, to, text)


@pytest.fixture
def slept(ctx: Context) -> list[float]:
    pauses: list[float] = []
    ctx.sleep = pauses.append
    return pauses


def statuses(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return {
        f"{n['caregiver_id']}/{n['channel']}": n
        for n in client.get("/shifts/sh_1/notifications").json
    }


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=2)])
def test_transient_errors_are_retried_with_backoff_until_sent(
    client: FlaskClient, ctx: Context, slept: list[float], fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"sent"}
    assert {n["attempts"] for n in notes.values()} == {3}
    assert sorted(slept) == sorted([0.5, 1.0] * 3)


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=5)])
def test_a_send_still_failing_after_the_retries_is_failed_and_the_phone_round_still_calls(
    frozen: FrozenDateTimeFactory,
    client: FlaskClient,
    ctx: Context,
    slept: list[float],
    fanned_out: dict[str, Any],
    notifier: FlakyNotifier,
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"failed"}
    assert {n["attempts"] for n in notes.values()} == {3}
    assert {n["error"] for n in notes.values()} == {"provider timed out"}
    frozen.move_to(START + timedelta(minutes=10))
    assert run_phone_round(ctx, "sh_1") == 3
    assert ctx.send_pool.wait_idle(5)
    assert sorted(s.to for s in notifier.by_channel("call")) == sorted(RN_PHONES)


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=1, transient=False)])
def test_a_permanent_error_is_not_retried(
    client: FlaskClient, slept: list[float], fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {(n["status"], n["attempts"]) for n in notes.values()} == {("failed", 1)}
    assert slept == []


class BrokenNotifier(Notifier):
    def send_sms(self, to: str, body: str) -> str:
        raise KeyError("bug in an adapter")

    def place_call(self, to: str, script: str) -> str:
        raise KeyError("bug in an adapter")


@pytest.mark.parametrize("notifier", [BrokenNotifier()])
def test_a_crashing_notifier_is_recorded_and_the_service_goes_on(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"failed"}
    assert all("KeyError" in n["error"] for n in notes.values())
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"


def test_an_exception_in_one_phone_round_leaves_the_scheduler_serving_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def phone_round(shift_id: str) -> None:
        if shift_id == "sh_bad":
            raise RuntimeError("store unavailable")
        ran.append(shift_id)

    scheduler = APSchedulerEscalation()
    scheduler.bind(phone_round)
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    try:
        scheduler.schedule("sh_bad", soon)
        scheduler.schedule("sh_ok", soon + timedelta(milliseconds=50))
        scheduler.schedule("sh_later", soon + timedelta(milliseconds=300))
        for _ in range(300):
            if len(ran) == 2:
                break
            time.sleep(0.01)
    finally:
        scheduler.shutdown()
    assert ran == ["sh_ok", "sh_later"]
    assert "phone round of shift sh_bad failed" in caplog.text


class GatedNotifier(FakeNotifier):
    """Holds every send until the gate opens, like a provider that hangs."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def _record(self, channel: str, to: str, text: str) -> str:
        self.gate.wait(10)
        return super()._record(channel, to, text)


@pytest.fixture
def gated() -> Iterator[GatedNotifier]:
    notifier = GatedNotifier()
    yield notifier
    notifier.gate.set()


def test_a_saturated_send_pool_never_blocks_an_inbound_reply(
    client: FlaskClient, ctx: Context, roster: Any, gated: GatedNotifier
) -> None:
    ctx.notifier = gated
    add_shift(client, id="sh_1")
    started = time.perf_counter()
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    answer = reply(client, RN_PHONES[0], "yes")
    assert time.perf_counter() - started < 1.0
    assert answer["outcome"] == "assigned"
    assert not gated.gate.is_set()
    assert ctx.send_pool.pending >= 1
    gated.gate.set()
    assert ctx.send_pool.wait_idle(5)


def test_shutdown_records_every_queued_notification_it_could_not_send(
    client: FlaskClient,
    ctx: Context,
    roster: Any,
    gated: GatedNotifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx.notifier = gated
    ctx.send_pool = SendPool(workers=1)
    ctx.send_pool.bind(partial(deliver, ctx))
    ctx.shutdown_drain_seconds = 1.0
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    # One text is under way when shutdown starts; it finishes during the drain.
    threading.Timer(1.3, gated.gate.set).start()
    with caplog.at_level(logging.WARNING):
        ctx.shutdown()
    notes = statuses(client)
    assert sorted(n["status"] for n in notes.values()) == ["failed", "failed", "sent"]
    unsent = [n for n in notes.values() if n["status"] == "failed"]
    assert all(n["error"] == "not sent: shiftfill was shutting down" for n in unsent)
    assert f"shutdown: {len(unsent)} queued notifications not sent" in caplog.text
