"""The phone round: due at exactly ten minutes, once, and only while the shift is open."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from config import TestingConfig
from shiftfill import create_app
from shiftfill.adapters.scheduler import APSchedulerEscalation, job_id
from shiftfill.services.context import Context
from shiftfill.services.delivery import deliver
from shiftfill.services.fanout import run_phone_round
from tests.conftest import RN_PHONES, START, add_caregiver, add_shift, reply
from tests.fakes import FakeNotifier, FakeScheduler, HeldSendPool

DUE = START + timedelta(minutes=10)


def calls(notifier: FakeNotifier) -> list[str]:
    return sorted(s.to for s in notifier.by_channel("call"))


def run_jobs_at(
    frozen: FrozenDateTimeFactory, scheduler: FakeScheduler, ctx: Context, when: Any
) -> None:
    frozen.move_to(when)
    scheduler.run_due(ctx.clock())
    assert ctx.send_pool.wait_idle(5)


def test_no_call_at_nine_minutes_fifty_nine(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    scheduler: FakeScheduler,
    ctx: Context,
    notifier: FakeNotifier,
) -> None:
    run_jobs_at(frozen, scheduler, ctx, DUE - timedelta(seconds=1))
    assert calls(notifier) == []
    assert ctx.shifts.get("sh_1").fanout.round == "sms"  # type: ignore[union-attr]


def test_at_ten_minutes_everyone_offered_who_did_not_decline_or_opt_out_is_called(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    scheduler: FakeScheduler,
    ctx: Context,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    reply(client, RN_PHONES[1], "no thanks")
    reply(client, RN_PHONES[2], "STOP")
    run_jobs_at(frozen, scheduler, ctx, DUE)
    assert calls(notifier) == [RN_PHONES[0]]
    shift = client.get("/shifts/sh_1").json
    assert shift["fanout"]["round"] == "phone"
    assert shift["fanout"]["escalated_at"] == DUE.isoformat()


def test_no_call_when_claimed_at_nine_fifty_nine(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    scheduler: FakeScheduler,
    ctx: Context,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    frozen.move_to(DUE - timedelta(seconds=1))
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"
    assert "sh_1" in scheduler.cancelled
    assert run_phone_round(ctx, "sh_1") == 0  # a late run that slipped through does nothing
    run_jobs_at(frozen, scheduler, ctx, DUE)
    assert calls(notifier) == []


def test_no_call_when_cancelled(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    scheduler: FakeScheduler,
    ctx: Context,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    assert client.post("/shifts/sh_1/cancel").status_code == 200
    assert "sh_1" in scheduler.cancelled
    frozen.move_to(DUE)
    assert run_phone_round(ctx, "sh_1") == 0
    assert ctx.send_pool.wait_idle(5)
    assert calls(notifier) == []


def test_job_running_twice_calls_each_caregiver_once(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    ctx: Context,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    frozen.move_to(DUE)
    assert run_phone_round(ctx, "sh_1") == 3
    assert run_phone_round(ctx, "sh_1") == 0
    frozen.move_to(DUE + timedelta(hours=1))
    assert run_phone_round(ctx, "sh_1") == 0
    assert ctx.send_pool.wait_idle(5)
    assert calls(notifier) == sorted(RN_PHONES)
    escalations = [e for e in client.get("/shifts/sh_1/events").json if e["type"] == "escalated"]
    assert len(escalations) == 1


def test_calls_queued_before_a_claim_are_not_placed_after_it(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    ctx: Context,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    held = HeldSendPool(partial(deliver, ctx))
    ctx.send_pool = held  # type: ignore[assignment]
    frozen.move_to(DUE)
    assert run_phone_round(ctx, "sh_1") == 3
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"
    held.run_all()
    assert calls(notifier) == []
    notifications = client.get("/shifts/sh_1/notifications").json
    skipped = [n for n in notifications if n["channel"] == "call"]
    assert {n["status"] for n in skipped} == {"failed"}
    assert all("shift is filled" in n["error"] for n in skipped)


# --- the real APScheduler scheduler, driven under frozen time ---


@pytest.fixture
def real_app(frozen: FrozenDateTimeFactory, notifier: FakeNotifier) -> Iterator[Flask]:
    app = create_app(TestingConfig({}), notifier=notifier)
    yield app
    app.extensions["shiftfill"].shutdown()


def wait_until(condition: Callable[[], bool], attempts: int = 500) -> bool:
    """Poll in real time (freezegun does not fake sleep) for at most five seconds."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_real_scheduler_places_the_calls_when_ten_minutes_pass(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    ctx: Context = real_app.extensions["shiftfill"]
    for i, phone in enumerate(RN_PHONES):
        add_caregiver(client, name=f"RN {i}", role="RN", phone=phone)
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    scheduler = ctx.scheduler
    assert isinstance(scheduler, APSchedulerEscalation)
    job = scheduler.scheduler.get_job(job_id("sh_1"))
    assert job is not None and job.next_run_time == DUE

    frozen.move_to(DUE - timedelta(seconds=1))
    scheduler.scheduler.wakeup()
    time.sleep(0.2)
    assert calls(notifier) == []

    frozen.move_to(DUE)
    scheduler.scheduler.wakeup()
    assert wait_until(lambda: len(calls(notifier)) == 3)
    assert calls(notifier) == sorted(RN_PHONES)
    assert scheduler.scheduler.get_job(job_id("sh_1")) is None


def test_real_scheduler_runs_a_phone_round_found_late(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    ctx: Context = real_app.extensions["shiftfill"]
    add_caregiver(client, name="Ana", role="RN", phone=RN_PHONES[0])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    frozen.move_to(DUE + timedelta(minutes=5))  # the process was paused past the due time
    ctx.scheduler.scheduler.wakeup()  # type: ignore[attr-defined]
    assert wait_until(lambda: calls(notifier) == [RN_PHONES[0]])


def test_real_scheduler_drops_the_job_when_the_shift_is_claimed(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    ctx: Context = real_app.extensions["shiftfill"]
    add_caregiver(client, name="Ana", role="RN", phone=RN_PHONES[0])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    scheduler = ctx.scheduler
    assert isinstance(scheduler, APSchedulerEscalation)
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"
    assert scheduler.scheduler.get_job(job_id("sh_1")) is None
    frozen.move_to(DUE)
    scheduler.scheduler.wakeup()
    time.sleep(0.2)
    assert calls(notifier) == []
