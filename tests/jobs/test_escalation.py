"""The phone round: due at exactly ten minutes, once, and only while the shift is open."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from config import TestingConfig
from shiftfill.adapters.escalation_poller import JOB_ID
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.services.caregivers import register_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import run_due_phone_rounds, run_phone_round, start_fanout
from shiftfill.services.inbound import InboundMessage, handle_inbound
from shiftfill.services.shifts import create_shift
from tests.conftest import RN_PHONES, START, add_caregiver, add_shift, reply
from tests.fakes import FakeNotifier, send_queued

DUE = START + timedelta(minutes=10)
LATER = START + timedelta(days=365)


def calls(notifier: FakeNotifier) -> list[str]:
    return sorted(s.to for s in notifier.by_channel("call"))


def run_jobs_at(frozen: FrozenDateTimeFactory, runtime: Runtime, when: datetime) -> None:
    frozen.move_to(when)
    run_due_phone_rounds(runtime.deps)
    assert runtime.sender.wait_idle(5)


def test_no_call_at_nine_minutes_fifty_nine(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    runtime: Runtime,
    notifier: FakeNotifier,
) -> None:
    run_jobs_at(frozen, runtime, DUE - timedelta(seconds=1))
    assert calls(notifier) == []
    assert runtime.deps.store.shifts.get("sh_1").fanout.round == "sms"  # type: ignore[union-attr]


def test_at_ten_minutes_everyone_offered_who_did_not_decline_or_opt_out_is_called(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    runtime: Runtime,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    reply(client, RN_PHONES[1], "no thanks")
    reply(client, RN_PHONES[2], "STOP")
    run_jobs_at(frozen, runtime, DUE)
    assert calls(notifier) == [RN_PHONES[0]]
    shift = client.get("/shifts/sh_1").json
    assert shift["fanout"]["round"] == "phone"
    assert shift["fanout"]["escalated_at"] == DUE.isoformat()


def test_no_call_when_claimed_at_nine_fifty_nine(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    runtime: Runtime,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    frozen.move_to(DUE - timedelta(seconds=1))
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"
    assert runtime.deps.store.shifts.due_phone_rounds(LATER) == []
    assert (
        run_phone_round(runtime.deps, "sh_1") == 0
    )  # a late run that slipped through does nothing
    run_jobs_at(frozen, runtime, DUE)
    assert calls(notifier) == []


def test_no_call_when_cancelled(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    runtime: Runtime,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    assert client.post("/shifts/sh_1/cancel").status_code == 200
    assert runtime.deps.store.shifts.due_phone_rounds(LATER) == []
    frozen.move_to(DUE)
    assert run_phone_round(runtime.deps, "sh_1") == 0
    assert runtime.sender.wait_idle(5)
    assert calls(notifier) == []


def test_job_running_twice_calls_each_caregiver_once(
    frozen: FrozenDateTimeFactory,
    fanned_out: dict[str, Any],
    runtime: Runtime,
    client: FlaskClient,
    notifier: FakeNotifier,
) -> None:
    frozen.move_to(DUE)
    assert run_phone_round(runtime.deps, "sh_1") == 3
    assert run_phone_round(runtime.deps, "sh_1") == 0
    frozen.move_to(DUE + timedelta(hours=1))
    assert run_phone_round(runtime.deps, "sh_1") == 0
    assert runtime.sender.wait_idle(5)
    assert calls(notifier) == sorted(RN_PHONES)
    escalations = [e for e in client.get("/shifts/sh_1/events").json if e["type"] == "escalated"]
    assert len(escalations) == 1


def test_calls_queued_before_a_claim_are_not_placed_after_it(
    frozen: FrozenDateTimeFactory, notifier: FakeNotifier
) -> None:
    deps = Dependencies(store=MemoryStore(), notifier=notifier)
    for cid, phone in (("cg_1", RN_PHONES[0]), ("cg_3", RN_PHONES[1])):
        register_caregiver(deps, id=cid, name=cid, role="RN", phone=phone)
    create_shift(
        deps,
        id="sh_1",
        organization_id="default",
        role_required="RN",
        start_time=DUE,
        end_time=LATER,
    )
    start_fanout(deps, "sh_1")
    send_queued(deps)
    frozen.move_to(DUE)
    assert run_phone_round(deps, "sh_1") == 2
    accepted = handle_inbound(deps, InboundMessage(sender=RN_PHONES[0], body="yes"))
    assert accepted.outcome == "assigned"
    send_queued(deps)
    assert calls(notifier) == []
    skipped = [n for n in deps.store.notifications.for_shift("sh_1") if n.channel == "call"]
    assert {n.status for n in skipped} == {"failed"}
    assert all("shift is filled" in (n.error or "") for n in skipped)


# --- the real APScheduler poller, driven under frozen time ---


@pytest.fixture
def real_app(frozen: FrozenDateTimeFactory, notifier: FakeNotifier) -> Iterator[Flask]:
    runtime = bootstrap(TestingConfig({}), notifier=notifier)
    app = create_app(TestingConfig({}), runtime)
    runtime.start()
    yield app
    runtime.shutdown()


def wait_until(condition: Callable[[], bool], attempts: int = 500) -> bool:
    """Poll in real time (freezegun does not fake sleep) for at most five seconds."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def wake(app: Flask) -> None:
    """Make the poller look at the (frozen) clock now instead of after its real-time sleep."""
    poller = app.extensions["shiftfill"].escalation
    job = poller.scheduler.get_job(JOB_ID)
    job.modify(next_run_time=datetime.now(job.next_run_time.tzinfo))
    poller.scheduler.wakeup()


# The witness of the negative checks: an LPN, offered an LPN shift whose phone round falls
# due at the instant checked. Its call shows that the poller ran a poll at that instant (and
# that poll's calls went out); only then does "no other call" say anything.
LPN_PHONE = "+15555550102"


def add_witness(client: FlaskClient) -> None:
    """The LPN and her shift, fanned out now: its phone round is due ten minutes from now."""
    add_caregiver(client, name="Ben Okafor", role="LPN", phone=LPN_PHONE)
    add_shift(client, id="sh_witness", role_required="LPN")
    assert client.post("/shifts/sh_witness/fanout").status_code == 202


def wake_and_see_the_poll_through(app: Flask, notifier: FakeNotifier) -> None:
    """Wake the poller and wait until it has run a poll at the frozen time and every
    call that poll queued is placed: the witness's call says the poll ran."""
    wake(app)
    assert wait_until(lambda: LPN_PHONE in calls(notifier)), "the poller ran no poll"
    assert app.extensions["shiftfill"].sender.wait_idle(5)


def test_real_scheduler_places_the_calls_when_ten_minutes_pass(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    for i, phone in enumerate(RN_PHONES):
        add_caregiver(client, name=f"RN {i}", role="RN", phone=phone)
    add_witness(client)  # due a second before sh_1
    frozen.tick(timedelta(seconds=1))
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    due = DUE + timedelta(seconds=1)

    frozen.move_to(due - timedelta(seconds=1))
    wake_and_see_the_poll_through(real_app, notifier)
    assert calls(notifier) == [LPN_PHONE]

    frozen.move_to(due)
    wake(real_app)
    assert wait_until(lambda: len(calls(notifier)) == 4)
    assert calls(notifier) == sorted([*RN_PHONES, LPN_PHONE])


def test_real_scheduler_runs_a_phone_round_found_late(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    add_caregiver(client, name="Ana", role="RN", phone=RN_PHONES[0])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    frozen.move_to(DUE + timedelta(minutes=5))  # the process was paused past the due time
    wake(real_app)
    assert wait_until(lambda: calls(notifier) == [RN_PHONES[0]])


def test_real_scheduler_places_no_call_once_the_shift_is_claimed(
    frozen: FrozenDateTimeFactory, real_app: Flask, notifier: FakeNotifier
) -> None:
    client = real_app.test_client()
    add_caregiver(client, name="Ana", role="RN", phone=RN_PHONES[0])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    add_witness(client)  # due at the same instant as sh_1
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "assigned"
    frozen.move_to(DUE)
    wake_and_see_the_poll_through(real_app, notifier)
    assert calls(notifier) == [LPN_PHONE]
