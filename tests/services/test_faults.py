"""Faults: a flaky provider, a failing escalation job, a saturated send pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from config import TestingConfig
from shiftfill.adapters.escalation_poller import EscalationPoller
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.domain.model import ShiftStatus
from shiftfill.services import fanout
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import run_due_phone_rounds, run_phone_round
from shiftfill.services.ports import NotifierError
from shiftfill.services.shifts import cancel_shift
from tests.conftest import RN_PHONES, START, add_caregiver, add_shift, fan_out, reply
from tests.fakes import FakeNotifier


class FlakyNotifier(FakeNotifier):
    """Times out on the first ``failures`` attempts to each number, then delivers."""

    def __init__(self, failures: int, transient: bool = True) -> None:
        super().__init__()
        self.failures = failures
        self.transient = transient
        self.tries: dict[str, int] = {}

    def _record(self, channel: str, to: str, text: str, language: str = "") -> str:
        with self._lock:
            self.tries[to] = self.tries.get(to, 0) + 1
            tries = self.tries[to]
        if tries <= self.failures:
            raise NotifierError("provider timed out", transient=self.transient)
        return super()._record(channel, to, text, language)


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def runtime(
    notifier: FakeNotifier, settings_env: dict[str, str], slept: list[float]
) -> Iterator[Runtime]:
    """The shared runtime, with the retry backoff recorded instead of slept."""
    runtime = bootstrap(
        TestingConfig(settings_env), notifier=notifier, sleep=slept.append, escalation=False
    )
    yield runtime
    runtime.shutdown()


def statuses(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return {
        f"{n['caregiver_id']}/{n['channel']}": n
        for n in client.get("/shifts/sh_1/notifications").json
    }


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=2)])
def test_transient_errors_are_retried_with_backoff_until_sent(
    client: FlaskClient, slept: list[float], fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"sent"}
    assert {n["attempts"] for n in notes.values()} == {3}
    assert sorted(slept) == sorted([0.5, 1.0] * 3)


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=5)])
def test_a_send_still_failing_after_the_retries_is_failed_and_the_phone_round_still_calls(
    frozen: FrozenDateTimeFactory,
    client: FlaskClient,
    runtime: Runtime,
    slept: list[float],
    fanned_out: dict[str, Any],
    notifier: FlakyNotifier,
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"failed"}
    assert {n["attempts"] for n in notes.values()} == {3}
    assert {n["error"] for n in notes.values()} == {"provider timed out"}
    frozen.move_to(START + timedelta(minutes=10))
    assert run_phone_round(runtime.deps, "sh_1") == 3
    assert runtime.sender.wait_idle(5)
    assert sorted(s.to for s in notifier.by_channel("call")) == sorted(RN_PHONES)


class CancelDuringBackoff(list[float]):
    """The backoff's sleep, during which ops cancel shift sh_1."""

    deps: Dependencies | None = None

    def append(self, seconds: float) -> None:
        super().append(seconds)
        assert self.deps is not None
        if self.deps.store.shifts.get("sh_1").status is not ShiftStatus.CANCELLED:  # type: ignore[union-attr]
            cancel_shift(self.deps, "sh_1")


@pytest.mark.parametrize("slept", [CancelDuringBackoff()])
@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=1)])
def test_a_retry_is_checked_again_and_not_sent_for_a_shift_cancelled_meanwhile(
    client: FlaskClient,
    runtime: Runtime,
    roster: list[dict[str, Any]],
    slept: CancelDuringBackoff,
    notifier: FlakyNotifier,
) -> None:
    slept.deps = runtime.deps
    fan_out(client, runtime)
    notes = statuses(client)
    assert len(notes) == 3 and notifier.sent == []
    assert {(n["status"], n["attempts"]) for n in notes.values()} == {("failed", 1)}
    assert all(n["error"].startswith("not sent:") for n in notes.values())


@pytest.mark.parametrize("notifier", [FlakyNotifier(failures=1, transient=False)])
def test_a_permanent_error_is_not_retried(
    client: FlaskClient, slept: list[float], fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {(n["status"], n["attempts"]) for n in notes.values()} == {("failed", 1)}
    assert slept == []


class BrokenNotifier:
    waits = True

    def send_sms(self, to: str, body: str) -> str:
        raise KeyError("bug in an adapter")

    def place_call(self, to: str, script: str, goodbye: str, *, language: str) -> str:
        raise KeyError("bug in an adapter")


@pytest.mark.parametrize("notifier", [BrokenNotifier()])
def test_a_crashing_notifier_is_recorded_and_the_service_goes_on(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    notes = statuses(client)
    assert {n["status"] for n in notes.values()} == {"failed"}
    assert all("KeyError" in n["error"] for n in notes.values())
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"


def test_an_exception_in_one_phone_round_leaves_the_others_running(
    frozen: FrozenDateTimeFactory,
    runtime: Runtime,
    client: FlaskClient,
    roster: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for shift_id in ("sh_a", "sh_bad", "sh_c"):
        add_shift(client, id=shift_id)
        client.post(f"/shifts/{shift_id}/fanout")
    real_round = fanout.run_phone_round

    def failing_round(deps: Any, shift_id: str, **kwargs: Any) -> int:
        if shift_id == "sh_bad":
            raise RuntimeError("store unavailable")
        return real_round(deps, shift_id, **kwargs)

    monkeypatch.setattr(fanout, "run_phone_round", failing_round)
    frozen.move_to(START + timedelta(minutes=10))
    assert run_due_phone_rounds(runtime.deps) == {"sh_a": 3, "sh_c": 3}
    assert "phone round of shift sh_bad failed" in caplog.text


def test_a_failing_poll_does_not_stop_the_next_polls(caplog: pytest.LogCaptureFixture) -> None:
    polls: list[int] = []

    def poll() -> None:
        polls.append(1)
        if len(polls) == 1:
            raise RuntimeError("store unavailable")

    poller = EscalationPoller(poll, interval=0.05)
    poller.start()
    try:
        for _ in range(300):
            if len(polls) >= 3:
                break
            time.sleep(0.01)
    finally:
        poller.shutdown()
    assert len(polls) >= 3
    assert "the phone-round poll failed" in caplog.text


class GatedNotifier(FakeNotifier):
    """Holds every send until the gate opens, like a provider that hangs."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.holding = threading.Event()

    def _record(self, channel: str, to: str, text: str, language: str = "") -> str:
        self.holding.set()
        self.gate.wait(10)
        return super()._record(channel, to, text, language)


@pytest.fixture
def gated() -> Iterator[GatedNotifier]:
    notifier = GatedNotifier()
    yield notifier
    notifier.gate.set()


def gated_app(gated: GatedNotifier, **env: str) -> tuple[FlaskClient, Runtime]:
    config = TestingConfig(env)
    runtime = bootstrap(config, notifier=gated, escalation=False)
    client = create_app(config, runtime).test_client()
    for i, phone in enumerate(RN_PHONES):
        add_caregiver(client, id=f"cg_{i}", name=f"RN {i}", role="RN", phone=phone)
    add_shift(client, id="sh_1")
    return client, runtime


def test_a_saturated_send_pool_never_blocks_an_inbound_reply(gated: GatedNotifier) -> None:
    # One sender, hung on the provider: the pool is saturated and two texts wait behind it.
    client, runtime = gated_app(gated, SHIFTFILL_SEND_CONCURRENCY="1")
    try:
        started = time.perf_counter()
        assert client.post("/shifts/sh_1/fanout").status_code == 202
        # A send is hanging before the reply comes (else the claim could come first and
        # leave the workers nothing to send).
        assert gated.holding.wait(5)
        answer = reply(client, RN_PHONES[0], "yes")
        # Well under the 10 s the hung send holds its sender.
        assert time.perf_counter() - started < 5.0
        assert answer["outcome"] == "assigned"
        assert not gated.gate.is_set()
        assert runtime.deps.store.outbox.depth() >= 1
        gated.gate.set()
        assert runtime.sender.wait_idle(5)
    finally:
        runtime.shutdown()


def test_shutdown_records_every_queued_notification_it_could_not_send(
    gated: GatedNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    client, runtime = gated_app(
        gated, SHIFTFILL_SEND_CONCURRENCY="1", SHIFTFILL_SHUTDOWN_DRAIN_SECONDS="1"
    )
    client.post("/shifts/sh_1/fanout")
    # One text is under way when shutdown starts; it finishes during the drain.
    threading.Timer(1.3, gated.gate.set).start()
    with caplog.at_level(logging.WARNING):
        runtime.shutdown()
    notes = statuses(client)
    assert sorted(n["status"] for n in notes.values()) == ["failed", "failed", "sent"]
    unsent = [n for n in notes.values() if n["status"] == "failed"]
    assert all(n["error"] == "not sent: shiftfill was shutting down" for n in unsent)
    assert f"{len(unsent)} notifications not sent (not sent: shiftfill was shutting down)" in (
        caplog.text
    )
