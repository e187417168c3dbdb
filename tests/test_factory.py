"""The app factory, the config classes and the seed file."""

import functools
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time

from bench.harness import RedisServer
from config import SAMPLE_SEED, ConfigError, DevelopmentConfig, TestingConfig, config_from_env
from shiftfill.app import create_app
from shiftfill.bootstrap import bootstrap
from shiftfill.seed import SeedError
from tests.conftest import build_app, unique_prefix
from tests.fakes import FakeNotifier


def make_app(**env: str) -> Flask:
    return build_app(env)


def test_testing_config_switches_testing_on_and_starts_empty() -> None:
    app = make_app()
    assert app.testing
    assert app.test_client().get("/caregivers").json == []
    assert not create_app(DevelopmentConfig({"SHIFTFILL_SEED_FILE": ""})).testing


def test_creating_the_app_starts_no_thread_until_the_server_starts_it() -> None:
    before = threading.active_count()
    config = TestingConfig({})
    runtime = bootstrap(config, notifier=FakeNotifier())
    app = create_app(config, runtime)
    assert threading.active_count() == before
    assert runtime.escalation is not None and not runtime.escalation.running
    assert app.test_client().get("/health").json["scheduler"] == {"running": True}
    assert threading.active_count() > before
    runtime.shutdown()
    assert not runtime.escalation.running
    assert not runtime.sender.running


def test_environment_variables_reach_the_runtime() -> None:
    config = TestingConfig(
        {"SHIFTFILL_ESCALATION_DELAY_SECONDS": "90", "SHIFTFILL_SEND_CONCURRENCY": "3"}
    )
    runtime = bootstrap(config)
    assert runtime.deps.settings.escalation_delay.total_seconds() == 90
    assert runtime.sender.workers == 3


def test_sends_that_never_wait_are_made_by_the_send_path_itself() -> None:
    """The log notifier without a latency sends from the reader; one that waits gets threads."""
    assert bootstrap(TestingConfig({})).sender.inline
    slow = TestingConfig({"SHIFTFILL_NOTIFIER_LATENCY_MS": "50"})
    assert not bootstrap(slow).sender.inline
    assert not bootstrap(TestingConfig({}), notifier=FakeNotifier()).sender.inline
    twilio = bootstrap(config_from_env({**TWILIO, "SHIFTFILL_SEED_FILE": ""}))
    assert not twilio.sender.inline


def test_a_second_bootstrap_shares_nothing_with_the_first() -> None:
    first, second = make_app(), make_app()
    first.test_client().post(
        "/caregivers", json={"name": "A", "role": "RN", "phone": "+15555550101"}
    )
    assert second.test_client().get("/caregivers").json == []


def test_sample_data_loads_through_the_schemas() -> None:
    app = make_app(SHIFTFILL_SEED_FILE=SAMPLE_SEED)
    client = app.test_client()
    caregivers = client.get("/caregivers").json
    assert len(caregivers) >= 8
    assert len({c["role"] for c in caregivers}) >= 3
    assert len(client.get("/shifts").json) >= 3


def test_production_config_loads_the_sample_data_by_default() -> None:
    assert config_from_env({}).SHIFTFILL_SEED_FILE == SAMPLE_SEED
    assert config_from_env({"SHIFTFILL_SEED_FILE": ""}).SHIFTFILL_SEED_FILE == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"caregivers": [{"name": "A", "role": "RN", "phone": "12"}]}', "phone"),
        ('{"people": []}', "'clients' and 'shifts'"),
        (
            '{"caregivers": [{"id": "a", "name": "A", "role": "RN", "phone": "+15555550101"},'
            '{"id": "a", "name": "B", "role": "RN", "phone": "+15555550102"}]}',
            "already exists",
        ),
    ],
)
def test_a_bad_seed_file_stops_start_up_with_a_clear_message(
    tmp_path: Path, content: str, message: str
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(content)
    with pytest.raises(SeedError, match=message):
        make_app(SHIFTFILL_SEED_FILE=str(seed))


def test_a_missing_seed_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot be read"):
        make_app(SHIFTFILL_SEED_FILE=str(tmp_path / "absent.json"))


def test_a_seed_file_can_hold_only_caregivers(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps({"caregivers": [{"name": "A", "role": "cna", "phone": "+15555550101"}]})
    )
    client = make_app(SHIFTFILL_SEED_FILE=str(seed)).test_client()
    assert client.get("/caregivers").json[0]["role"] == "CNA"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "ten"),
        ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "-1"),
        ("SHIFTFILL_SEND_CONCURRENCY", "0"),
        ("SHIFTFILL_NOTIFIER", "carrier-pigeon"),
        ("SHIFTFILL_ENV", "staging"),
        ("SHIFTFILL_LOG_FORMAT", "xml"),
        ("SHIFTFILL_ROLES", " , "),
        ("SHIFTFILL_ROLES", "RN,Home Health Aide"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        config_from_env({name: value})


TWILIO = {
    "SHIFTFILL_NOTIFIER": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "secret",
    "SHIFTFILL_TWILIO_FROM": "+15555550100",
    "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
    "SHIFTFILL_API_TOKEN": "ops-token",
    "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "XY123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": ""}, "SHIFTFILL_PUBLIC_BASE_URL|TWILIO_AUTH_TOKEN"),
        ({"SHIFTFILL_TWILIO_FROM": ""}, "SHIFTFILL_TWILIO_FROM"),
        ({"SHIFTFILL_TWILIO_FROM": "555-0100"}, "SHIFTFILL_TWILIO_FROM"),
        ({"SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID": "123"}, "MESSAGING_SERVICE_SID"),
        ({"SHIFTFILL_PUBLIC_BASE_URL": ""}, "SHIFTFILL_PUBLIC_BASE_URL"),
        ({"SHIFTFILL_PUBLIC_BASE_URL": "ftp://x"}, "SHIFTFILL_PUBLIC_BASE_URL"),
        ({"SHIFTFILL_PUBLIC_BASE_URL": "http://shiftfill.example.com"}, "https"),
        ({"SHIFTFILL_TWILIO_API_BASE": "not a url"}, "SHIFTFILL_TWILIO_API_BASE"),
    ],
)
def test_missing_or_inconsistent_twilio_settings_stop_start_up(
    change: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        config_from_env({**TWILIO, **change})


def test_complete_twilio_settings_build_the_twilio_notifier() -> None:
    from shiftfill.adapters.twilio_notifier import TwilioNotifier

    runtime = bootstrap(config_from_env({**TWILIO, "SHIFTFILL_SEED_FILE": ""}))
    assert isinstance(runtime.deps.notifier, TwilioNotifier)


def test_a_signature_token_without_a_public_address_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="SHIFTFILL_PUBLIC_BASE_URL"):
        config_from_env({"TWILIO_AUTH_TOKEN": "secret"})


def test_send_rate_and_body_limit_settings() -> None:
    config = config_from_env(
        {"SHIFTFILL_SEND_RATE_PER_SECOND": "1", "SHIFTFILL_MAX_BODY_BYTES": "2048"}
    )
    assert config.SHIFTFILL_SEND_RATE_PER_SECOND == 1
    assert config.MAX_CONTENT_LENGTH == 2048
    assert config_from_env({}).SHIFTFILL_SEND_RATE_PER_SECOND is None
    with pytest.raises(ConfigError, match="SHIFTFILL_SEND_RATE_PER_SECOND"):
        config_from_env({"SHIFTFILL_SEND_RATE_PER_SECOND": "fast"})


SIGNED_WEBHOOKS = {
    "TWILIO_AUTH_TOKEN": "secret",
    "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
}


def test_signed_webhooks_with_an_open_ops_api_stop_start_up_naming_the_token() -> None:
    # Otherwise an unsigned JSON "YES" to /messages/inbound would still assign shifts.
    with pytest.raises(ConfigError, match="SHIFTFILL_API_TOKEN") as refused:
        config_from_env(SIGNED_WEBHOOKS)
    assert "\n" not in str(refused.value)
    assert "SHIFTFILL_ALLOW_OPEN_OPS_API=1" in str(refused.value)


def test_an_open_ops_api_beside_signed_webhooks_starts_when_it_is_meant() -> None:
    assert config_from_env({**SIGNED_WEBHOOKS, "SHIFTFILL_ALLOW_OPEN_OPS_API": "1"})
    assert config_from_env(
        {
            **SIGNED_WEBHOOKS,
            "SHIFTFILL_API_TOKEN": "ops",
            "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
        }
    )
    with pytest.raises(ConfigError, match="SHIFTFILL_ALLOW_OPEN_OPS_API"):
        config_from_env({**SIGNED_WEBHOOKS, "SHIFTFILL_ALLOW_OPEN_OPS_API": "maybe"})


def test_a_restart_on_a_live_redis_store_adds_only_the_absent_seed_records(
    redis_server: RedisServer,
) -> None:
    env = {
        "SHIFTFILL_STORE_URL": redis_server.url,
        "SHIFTFILL_REDIS_PREFIX": unique_prefix(),
        "SHIFTFILL_SEED_FILE": SAMPLE_SEED,
    }
    first_app = make_app(**env)
    first = first_app.test_client()
    assert first.post("/shifts/sh_1/fanout").status_code == 202
    yes = first.post("/messages/inbound", json={"from": "+15555550101", "body": "yes"})
    assert yes.json["outcome"] == "assigned"
    stop = first.post("/messages/inbound", json={"from": "+15555550103", "body": "STOP"})
    assert stop.json["outcome"] == "opted_out"
    caregivers = first.get("/caregivers").json

    first_app.extensions["shiftfill"].shutdown()

    restarted_app = make_app(**env)  # the same store, the seed file loaded again
    restarted = restarted_app.test_client()
    assert restarted.get("/caregivers").json == caregivers
    assert restarted.get("/shifts/sh_1").json["status"] == "filled"
    assert restarted.get("/caregivers/cg_3").json["opted_out"] is True
    assert restarted.post("/shifts/sh_1/fanout").status_code == 200  # a repeat: nothing sent
    restarted_app.extensions["shiftfill"].shutdown()


def test_an_app_started_before_its_redis_answers_503_then_seeds_before_serving() -> None:
    redis = RedisServer(persistent=True)
    try:
        env = {
            "SHIFTFILL_STORE_URL": redis.url,
            "SHIFTFILL_REDIS_PREFIX": unique_prefix(),
            "SHIFTFILL_SEED_FILE": SAMPLE_SEED,
        }
        # Live state another process wrote: the seed must add around it, not over it.
        earlier = make_app(**{**env, "SHIFTFILL_SEED_FILE": ""}).test_client()
        ana = {"id": "cg_1", "name": "Ana Lima-Reyes", "role": "RN", "phone": "+15555550101"}
        assert earlier.post("/caregivers", json=ana).status_code == 201
        redis.stop()

        client = make_app(**env).test_client()  # starts: the seed waits for the store
        for path in ("/health", "/shifts"):
            answer = client.get(path)
            assert answer.status_code == 503
            assert answer.json["error"]["code"] == "store_unavailable"

        redis.start()
        health = client.get("/health")  # the request runs the seed first
        assert health.status_code == 200
        assert health.json["seeded_at"] is not None
        assert {s["id"] for s in client.get("/shifts").json} >= {"sh_1", "sh_2", "sh_3"}
        caregivers = {c["id"]: c["name"] for c in client.get("/caregivers").json}
        assert len(caregivers) >= 8
        assert caregivers["cg_1"] == "Ana Lima-Reyes"
    finally:
        redis.close()


def test_http_public_address_is_allowed_with_twilio_only_on_loopback() -> None:
    for address in ("http://127.0.0.1:8000", "http://localhost:9000", "http://[::1]:8000"):
        config = config_from_env({**TWILIO, "SHIFTFILL_PUBLIC_BASE_URL": address})
        assert address == config.SHIFTFILL_PUBLIC_BASE_URL


def test_roles_and_log_format_settings() -> None:
    default = config_from_env({})
    assert default.SHIFTFILL_ROLES == (
        "RN",
        "LPN",
        "LVN",
        "CNA",
        "HHA",
        "PCA",
        "PT",
        "OT",
        "ST",
        "MSW",
    )
    assert default.SHIFTFILL_LOG_FORMAT == "text"
    custom = config_from_env({"SHIFTFILL_ROLES": " rn, cna ,RN", "SHIFTFILL_LOG_FORMAT": "JSON"})
    assert custom.SHIFTFILL_ROLES == ("RN", "CNA")
    assert custom.SHIFTFILL_LOG_FORMAT == "json"


def test_the_sample_shifts_are_relative_to_start_up_and_open_to_fan_out_on_any_day() -> None:
    for day in ("2026-11-28T14:00:00+00:00", "2031-06-01T23:30:00+00:00"):
        with freeze_time(day):
            client = make_app(SHIFTFILL_SEED_FILE=SAMPLE_SEED).test_client()
            shifts = client.get("/shifts?status=open").json
            assert {s["id"] for s in shifts} == {"sh_1", "sh_2", "sh_3", "sh_4", "sh_5"}
            sh_1 = client.get("/shifts/sh_1").json
            assert (
                sh_1["start_time"] == (datetime.fromisoformat(day) + timedelta(hours=6)).isoformat()
            )
            assert client.post("/shifts/sh_1/fanout").status_code == 202


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        ({"start_in_hours": 6}, "hours"),
        ({"start_in_hours": "6", "hours": 12}, "start_in_hours"),
        ({"start_in_hours": 6, "hours": 0}, "hours"),
        ({"start_in_hours": 6, "hours": 12, "start_time": "2026-11-29T07:00:00Z"}, "start_time"),
    ],
)
def test_a_bad_relative_seed_shift_names_the_field(
    tmp_path: Path, shift: dict[str, object], message: str
) -> None:
    seed = tmp_path / "seed.json"
    record = {"id": "sh_1", "organization_id": "org_1", "role_required": "RN", **shift}
    seed.write_text(json.dumps({"shifts": [record]}))
    with pytest.raises(SeedError, match=message):
        make_app(SHIFTFILL_SEED_FILE=str(seed))


async def _coroutine_view() -> str:
    return "async"


def _plain_view() -> str:
    return "sync"


class _Views:
    async def coroutine(self) -> str:
        return "async"

    def plain(self) -> str:
        return "sync"


@pytest.mark.parametrize(
    "view",
    [
        _plain_view,
        _coroutine_view,
        lambda: "sync",
        functools.partial(_coroutine_view),
        functools.partial(_plain_view),
        _Views().coroutine,
        _Views().plain,
        functools.wraps(_coroutine_view)(lambda: _coroutine_view()),
    ],
    ids=[
        "def",
        "async def",
        "lambda",
        "partial of async",
        "partial",
        "async method",
        "method",
        "sync wrapper of async",
    ],
)
def test_views_and_hooks_are_run_as_flask_runs_them_sync_or_async(view: Any) -> None:
    # The app's cheaper check (shiftfill.app.App) must come to Flask's answer: a sync
    # callable is called as it is, an async one goes to Flask's async_to_sync.
    app = make_app()

    def outcome(ensure_sync: Any) -> object:
        try:
            return ensure_sync(app, view) is view
        except RuntimeError as error:  # Flask without its "async" extra refuses async views
            return str(error)

    assert outcome(type(app).ensure_sync) == outcome(Flask.ensure_sync)
    assert type(app).ensure_sync is not Flask.ensure_sync
