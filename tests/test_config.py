"""The settings table: every variable has bounds, and a value past them is one line naming it."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest

from bench.harness import RedisServer
from config import ConfigError, config_from_env, settings_table
from config.settings import Limit, Number, Whole
from tests.conftest import add_caregiver, add_shift, build_app, pending_phone_rounds, unique_prefix

ROOT = Path(__file__).resolve().parent.parent

BAD = [
    # The settings that started the server and then failed, or failed it at boot.
    ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "inf", "a number from 0 to 604800"),
    ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "nan", "a number from 0 to 604800"),
    ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "1e12", "a number from 0 to 604800"),
    ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "-inf", "a number from 0 to 604800"),
    ("SHIFTFILL_THREADS", "eight", "a whole number from 1 to 256"),
    ("SHIFTFILL_THREADS", "0", "a whole number from 1 to 256"),
    ("SHIFTFILL_THREADS", "100000", "a whole number from 1 to 256"),
    ("SHIFTFILL_THREADS", "8.5", "a whole number from 1 to 256"),
    ("SHIFTFILL_WORKERS", "65", "a whole number from 1 to 64"),
    ("SHIFTFILL_REDIS_PORT", "0", "a whole number from 1 to 65535"),
    ("SHIFTFILL_REDIS_PORT", "65536", "a whole number from 1 to 65535"),
    ("SHIFTFILL_REDIS_PORT", "redis", "a whole number from 1 to 65535"),
    ("SHIFTFILL_PUBLIC_PORT", "99999", "a whole number from 1 to 65535"),
    ("SHIFTFILL_BIND", "localhost:99999", "HOST:PORT"),
    ("SHIFTFILL_BIND", "localhost", "HOST:PORT"),
    ("SHIFTFILL_BIND", "unix:", "unix:PATH"),
    ("SHIFTFILL_BIND", "127.0.0.1:80 :81", "HOST:PORT"),
    ("SHIFTFILL_ACCESS_LOG", "/no/such/directory/access.log", "a file that can be written"),
    ("SHIFTFILL_LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
    ("SHIFTFILL_ESCALATION_POLL_SECONDS", "0", "a number from 0.05 to 600"),
    ("SHIFTFILL_ESCALATION_POLL_SECONDS", "inf", "a number from 0.05 to 600"),
    ("SHIFTFILL_INBOUND_DEDUPE_HOURS", "1e9", "a number from 0.01 to 720"),
    ("SHIFTFILL_SEND_VISIBILITY_SECONDS", "nan", "a number from 1 to 3600"),
    ("SHIFTFILL_SEND_CONCURRENCY", "1000000", "a whole number from 1 to 2000"),
    ("SHIFTFILL_SEND_RATE_PER_SECOND", "1e-300", "0 (no limit) or a number from 0.1 to 10000"),
    ("SHIFTFILL_SEND_RATE_PER_SECOND", "inf", "0 (no limit) or a number from 0.1 to 10000"),
    ("SHIFTFILL_SEND_RATE_PER_SECOND", "-1", "0 (no limit) or a number from 0.1 to 10000"),
    ("SHIFTFILL_SEND_RETRIES", "1000", "a whole number from 0 to 5"),
    ("SHIFTFILL_SEND_RETRY_BACKOFF_MS", "1e308", "a number from 0 to 10000"),
    ("SHIFTFILL_SHUTDOWN_DRAIN_SECONDS", "-1", "a number from 0 to 300"),
    ("SHIFTFILL_NOTIFIER_LATENCY_MS", "86400000", "a whole number from 0 to 60000"),
    ("SHIFTFILL_MAX_BODY_BYTES", "1e12", "a whole number from 1024 to 67108864"),
    ("SHIFTFILL_MAX_WEBHOOK_BODY_BYTES", "100", "a whole number from 1024 to 1048576"),
    ("SHIFTFILL_DEFAULT_REGION", "USA", "a two-letter region code"),
    ("SHIFTFILL_PUBLIC_HOST", "0.0.0.0; include /etc/passwd", "a host name or an IP address"),
    ("SHIFTFILL_TIME_ZONE", "Mars/Olympus", "an IANA time zone name"),
    # Debian's zoneinfo has a "localtime" link to the host's /etc/localtime: not an IANA name.
    ("SHIFTFILL_TIME_ZONE", "localtime", "an IANA time zone name"),
    ("SHIFTFILL_REDIS_PREFIX", "has space", "1 to 64 letters"),
    ("SHIFTFILL_STORE_URL", "postgres://db", "memory:// or redis://"),
    ("SHIFTFILL_ENV", "staging", "one of production, development, testing"),
]


@pytest.mark.parametrize(("name", "value", "bounds"), BAD)
def test_a_value_out_of_bounds_is_one_line_naming_the_variable_and_its_bounds(
    name: str, value: str, bounds: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_env({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name} must be ")
    assert bounds in message
    assert message.endswith(f"got {value!r}.")
    assert "\n" not in message


def test_the_example_message_reads_as_documented() -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_env({"SHIFTFILL_ESCALATION_DELAY_SECONDS": "inf"})
    assert str(refused.value) == (
        "SHIFTFILL_ESCALATION_DELAY_SECONDS must be a number from 0 to 604800, got 'inf'."
    )


NUMERIC = [s for s in settings_table() if isinstance(s, Number | Whole | Limit)]


def test_every_numeric_setting_has_finite_bounds_and_a_default_within_them() -> None:
    assert len(NUMERIC) >= 16
    for setting in NUMERIC:
        bounds = setting.number if isinstance(setting, Limit) else setting
        assert math.isfinite(bounds.low) and math.isfinite(bounds.high), setting.env
        assert bounds.low <= bounds.high, setting.env
        if setting.default is not None:
            assert bounds.low <= setting.default <= bounds.high, setting.env
        for absurd in ("inf", "-inf", "nan", "1e400", str(bounds.high * 2 + 1)):
            with pytest.raises(ConfigError, match=setting.env):
                config_from_env({setting.env: absurd})


@pytest.mark.parametrize("setting", NUMERIC, ids=lambda s: s.env)
def test_each_numeric_setting_takes_its_upper_bound(setting: Number) -> None:
    bounds = setting.number if isinstance(setting, Limit) else setting
    env = {setting.env: str(bounds.high)}
    if setting.env == "SHIFTFILL_WORKERS":
        env["SHIFTFILL_STORE_URL"] = "redis://127.0.0.1:6379/0"
    assert getattr(config_from_env(env), setting.attribute) == bounds.high


def test_server_settings_are_read_by_the_config() -> None:
    config = config_from_env(
        {
            "SHIFTFILL_THREADS": "4",
            "SHIFTFILL_BIND": "127.0.0.1:9000, [::1]:9000 ,unix:/run/shiftfill.sock",
            "SHIFTFILL_ACCESS_LOG": "-",
            "SHIFTFILL_REDIS_PORT": "6380",
            "SHIFTFILL_LOG_LEVEL": "warning",
        }
    )
    assert config.SHIFTFILL_THREADS == 4
    assert config.SHIFTFILL_BIND == ("127.0.0.1:9000", "[::1]:9000", "unix:/run/shiftfill.sock")
    assert config.SHIFTFILL_ACCESS_LOG == "-"
    assert config.SHIFTFILL_REDIS_PORT == 6380
    assert config.SHIFTFILL_LOG_LEVEL == "WARNING"
    default = config_from_env({})
    assert default.SHIFTFILL_THREADS == 8
    assert default.SHIFTFILL_BIND == ("127.0.0.1:8000",)
    assert default.SHIFTFILL_ACCESS_LOG == ""
    assert default.SHIFTFILL_REDIS_PORT == 6379


def test_every_setting_is_declared_once_with_what_it_means() -> None:
    names = [setting.env for setting in settings_table()]
    assert len(names) == len(set(names))
    assert all(setting.doc for setting in settings_table())


def test_nothing_but_the_config_classes_reads_the_environment() -> None:
    """Settings are read in one place: elsewhere ``os.environ`` is only ever written."""
    sources = [ROOT / "wsgi.py", *(ROOT / "shiftfill").rglob("*.py"), *(ROOT / "config").glob("*")]
    readers = []
    for path in sources:
        if path.suffix != ".py" or path == ROOT / "config" / "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        written = {
            id(target.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Subscript)
        }
        for node in ast.walk(tree):
            # ``os.environ`` and ``os.getenv``; a request's WSGI ``environ`` is not settings.
            reads = (
                isinstance(node, ast.Attribute)
                and node.attr in {"environ", "getenv"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            )
            imported = isinstance(node, ast.ImportFrom) and node.module == "os"
            if imported and {a.name for a in node.names} & {"environ", "getenv"}:
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if reads and id(node) not in written:
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []
    text = (ROOT / "config" / "__init__.py").read_text()
    assert len(re.findall(r"os\.environ", text)) == 2  # the default Mapping, twice


# --- the largest allowed escalation delay, end to end ---


def fan_out_with_the_longest_delay(**env: str) -> None:
    client = build_app({"SHIFTFILL_ESCALATION_DELAY_SECONDS": "604800", **env}).test_client()
    add_caregiver(client, id="cg_1", name="Ana Lima", role="RN", phone="+15555550101")
    add_shift(client, id="sh_1")
    response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 202, response.json
    assert client.post("/shifts/sh_1/fanout").status_code == 200
    assert client.get("/shifts/sh_1").status_code == 200
    reply = client.post("/messages/inbound", json={"from": "+15555550101", "body": "yes"})
    assert reply.status_code == 200
    assert reply.json["outcome"] == "assigned"


def test_a_fanout_with_the_largest_escalation_delay_answers_2xx() -> None:
    fan_out_with_the_longest_delay()


def test_a_fanout_with_the_largest_escalation_delay_answers_2xx_on_redis(
    redis_server: RedisServer,
) -> None:
    fan_out_with_the_longest_delay(
        SHIFTFILL_STORE_URL=redis_server.url, SHIFTFILL_REDIS_PREFIX=unique_prefix()
    )


def test_the_phone_round_of_the_largest_delay_is_due_seven_days_on() -> None:
    app = build_app({"SHIFTFILL_ESCALATION_DELAY_SECONDS": "604800"})
    client = app.test_client()
    add_caregiver(client, id="cg_1", name="Ana Lima", role="RN", phone="+15555550101")
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    runtime = app.extensions["shiftfill"]
    assert pending_phone_rounds(runtime) == ["sh_1"]
    shift = runtime.deps.store.shifts.get("sh_1")
    fanout = shift.fanout
    assert (fanout.escalation_due_at - fanout.started_at).total_seconds() == 604800


# What a request depends on; thread pools, the poller and shutdown are left out here.
REQUEST_FACING = (
    "SHIFTFILL_ESCALATION_DELAY_SECONDS",
    "SHIFTFILL_INBOUND_DEDUPE_HOURS",
    "SHIFTFILL_SEND_RETRIES",
    "SHIFTFILL_SEND_RETRY_BACKOFF_MS",
    "SHIFTFILL_SEND_VISIBILITY_SECONDS",
    "SHIFTFILL_MAX_BODY_BYTES",
    "SHIFTFILL_MAX_WEBHOOK_BODY_BYTES",
)


@pytest.mark.parametrize("end", ["low", "high"])
def test_request_facing_settings_at_either_bound_answer_every_request_2xx(end: str) -> None:
    table = {setting.env: setting for setting in NUMERIC}
    env = {name: str(getattr(table[name], end)) for name in REQUEST_FACING}
    client = build_app(env).test_client()
    add_caregiver(client, id="cg_1", name="Ana Lima", role="RN", phone="+15555550101")
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    webhook = {"From": "+15555550101", "Body": "yes", "MessageSid": "SM1"}
    assert client.post("/messages/inbound", data=webhook).status_code == 200
    assert client.post("/messages/inbound", data=webhook).status_code == 200  # a re-delivery
    assert client.get("/shifts/sh_1").json["status"] == "filled"
    assert client.get("/metrics").status_code == 200


def test_python_m_config_lists_every_variable_for_the_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from config.__main__ import main

    main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| variable | default | accepted | meaning |"
    assert [line.split("`")[1] for line in lines[2:]] == [s.env for s in settings_table()]
    assert (
        "| `SHIFTFILL_THREADS` | `8` | a whole number from 1 to 256 | gunicorn threads per worker |"
        in lines
    )
