"""Shared fixtures: an app wired to fakes, its client, and helpers to build a fill."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from bench.harness import RedisServer
from config import TestingConfig
from shiftfill.adapters import send_workers
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.services.dependencies import Dependencies
from tests.fakes import FakeNotifier

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)

RN_PHONES = ["+15555550101", "+15555550103", "+15555550105"]


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (``make test`` runs ``-n 2``), tests/server/ goes to one worker.

    Those tests (marked ``server``) start real servers, and some time races or
    crashes: they run one after another, from the start of the run, so that no two
    of them share the machine, while the other worker runs the tests that stay in
    the test process, a module at a time. An explicit ``--dist`` other than the
    default ``load`` (or ``loadscope``) is left alone.
    """
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ServersOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/server/"):
                return "servers"
            return super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if "servers" in self.workqueue:
                self.workqueue.move_to_end("servers", last=False)
            super()._assign_work_unit(node)

    return ServersOnOneWorker(config, log)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real Redis for the session; each test keeps to a key prefix of its own."""
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def quick_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The send reader of the runtimes built here waits on the outbox 0.05 s at a time.

    It waits 0.5 s in production, and a runtime's shutdown waits for that wait to
    end: half a second of teardown for every test that builds one. Servers that
    tests start keep the production figure.
    """
    monkeypatch.setattr(send_workers, "POLL_SECONDS", 0.05)


# Runtimes that ``build_app`` made, stopped after each test.
_BUILT: list[Runtime] = []


def build_app(env: dict[str, str], **parts: Any) -> Flask:
    """An app on its own runtime (fake notifier, no poller), stopped after the test."""
    config = TestingConfig(env)
    runtime = bootstrap(config, notifier=FakeNotifier(), escalation=False, **parts)
    _BUILT.append(runtime)
    return create_app(config, runtime)


@pytest.fixture(autouse=True)
def shut_down_what_build_app_built() -> Iterator[None]:
    """Stop the send workers of every app ``build_app`` made, so that none outlives its test."""
    yield
    while _BUILT:
        _BUILT.pop().shutdown()


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(START, tick=False) as frozen:
        yield frozen


@pytest.fixture
def settings_env() -> dict[str, str]:
    """Environment for the app's config; a test module overrides it to switch features on."""
    return {}


@pytest.fixture
def runtime(notifier: FakeNotifier, settings_env: dict[str, str]) -> Iterator[Runtime]:
    """A runtime on the memory store and the fake notifier; tests run phone rounds themselves."""
    runtime = bootstrap(TestingConfig(settings_env), notifier=notifier, escalation=False)
    yield runtime
    runtime.shutdown()


@pytest.fixture
def app(runtime: Runtime, settings_env: dict[str, str]) -> Flask:
    return create_app(TestingConfig(settings_env), runtime)


@pytest.fixture
def deps(runtime: Runtime) -> Dependencies:
    return runtime.deps


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def add_caregiver(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/caregivers", json=fields)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def tomorrow_at(hour: int) -> datetime:
    """``hour`` o'clock UTC on the day after today (the frozen day, under ``frozen``)."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1, hours=hour)


def shift_body(**fields: Any) -> dict[str, Any]:
    """A valid shift for ``POST /shifts``: an RN day shift tomorrow, with ``fields`` changed.

    Under ``frozen`` (2026-11-28) that is Sun Nov 29, 07:00-19:00 UTC.
    """
    return {
        "role_required": "RN",
        "start_time": tomorrow_at(7).isoformat(),
        "end_time": tomorrow_at(19).isoformat(),
        **fields,
    }


def add_shift(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/shifts", json=shift_body(**fields))
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


@pytest.fixture
def roster(client: FlaskClient) -> list[dict[str, Any]]:
    return add_roster(client)


def add_roster(client: FlaskClient) -> list[dict[str, Any]]:
    """Three RNs, an LPN, and an RN who opted out."""
    return [
        add_caregiver(client, id="cg_1", name="Ana Lima", role="RN", phone=RN_PHONES[0]),
        add_caregiver(client, id="cg_3", name="Chen Wei", role="rn", phone=RN_PHONES[1]),
        add_caregiver(client, id="cg_5", name="Eli Haddad", role="RN", phone=RN_PHONES[2]),
        add_caregiver(client, id="cg_2", name="Ben Okafor", role="LPN", phone="+15555550102"),
        add_caregiver(
            client, id="cg_8", name="Hana Sato", role="RN", phone="+15555550108", opted_out=True
        ),
    ]


@pytest.fixture
def fanned_out(
    client: FlaskClient, runtime: Runtime, roster: list[dict[str, Any]]
) -> dict[str, Any]:
    return fan_out(client, runtime)


def fan_out(client: FlaskClient, runtime: Runtime) -> dict[str, Any]:
    """Shift sh_1 (RN) with its fanout started and every text sent."""
    add_shift(client, id="sh_1")
    response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 202
    assert runtime.sender.wait_idle(5)
    return response.json  # type: ignore[no-any-return]


def pending_phone_rounds(runtime: Runtime) -> list[str]:
    """The shifts whose phone round is still to come, however far ahead."""
    return runtime.deps.store.shifts.due_phone_rounds(datetime.max.replace(tzinfo=UTC))


def reply(client: FlaskClient, phone: str, body: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/messages/inbound", json={"from": phone, "body": body, **extra})
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]
