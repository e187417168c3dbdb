"""Operating it (docs/operating.md): log lines, request ids, metrics, health."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory
from werkzeug.test import EnvironBuilder, run_wsgi_app

from bench.harness import RedisServer, free_port
from config import SAMPLE_SEED, TestingConfig
from shiftfill.adapters import logs
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.domain import rules
from shiftfill.domain.model import Channel, Shift
from shiftfill.domain.rules import Outreach
from shiftfill.services.fanout import run_due_phone_rounds
from shiftfill.services.ports import StoreUnavailable
from tests.conftest import RN_PHONES, START, add_shift, build_app, reply, unique_prefix
from tests.fakes import FakeNotifier


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What shiftfill logs while the test runs, as SHIFTFILL_LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logger = logging.getLogger("shiftfill")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def metric(text: str, name: str, absent: float | None = None, **labels: str) -> float:
    """The value of one sample of the exposition ``text``.

    A sample that is not there fails the test, unless ``absent`` gives its value: a
    counter with labels appears only once counted, so ``absent=0`` for one that may
    not have counted yet; a gauge is always there.
    """
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if sample.split("{")[0] == name and found == labels:
            return float(value)
    assert absent is not None, f"no sample {name} {labels} in the scrape"
    return absent


# --- logs and request ids ---


def test_a_request_id_is_echoed_and_stamped_on_every_json_line_of_the_request(
    client: FlaskClient, roster: Any, json_lines: io.StringIO
) -> None:
    add_shift(client, id="sh_1")
    response = client.post("/shifts/sh_1/fanout", headers={"X-Request-ID": "dash-42.a:b"})
    assert response.headers["X-Request-ID"] == "dash-42.a:b"
    [line] = [line for line in parsed(json_lines) if line["event"] == "fanout_started"]
    assert line["request_id"] == "dash-42.a:b"
    assert line["shift_id"] == "sh_1"
    assert line["level"] == "INFO"
    assert line["offered"] == 3
    assert "3 caregivers offered" in line["message"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["ts"])


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(client: FlaskClient) -> None:
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    for unsafe in ("a" * 65, "two words", "<script>", "x\u00e9"):
        echoed = client.get("/health", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]
        assert echoed != unsafe and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_every_answer_carries_its_request_id_and_the_id_ends_with_the_request(
    client: FlaskClient, json_lines: io.StringIO
) -> None:
    for path in ("/no-such-route", "/shifts/unknown"):
        response = client.get(path, headers={"X-Request-ID": "dash-7"})
        assert response.status_code == 404
        assert response.headers["X-Request-ID"] == "dash-7"
    unknown = client.get("/no-such-route")
    assert re.fullmatch(r"[0-9a-f]{32}", unknown.headers["X-Request-ID"])
    logging.getLogger("shiftfill.test").warning("between requests")
    [line] = [line for line in parsed(json_lines) if line["message"] == "between requests"]
    assert "request_id" not in line


def test_a_request_id_with_a_line_break_is_replaced_where_a_server_lets_it_through(
    client: FlaskClient,
) -> None:
    # Flask's test client refuses such a header; a WSGI server may not.
    environ = EnvironBuilder(path="/health").get_environ()
    environ["HTTP_X_REQUEST_ID"] = "dash-7\n"
    answered: list[list[tuple[str, str]]] = []
    body = client.application(environ, lambda status, headers, *_: answered.append(headers))
    b"".join(body)
    [echoed] = [value for name, value in answered[0] if name == "X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_every_business_event_of_a_fill_is_one_json_line(
    client: FlaskClient, runtime: Runtime, roster: Any, json_lines: io.StringIO
) -> None:
    add_shift(client, id="sh_1")
    add_shift(client, id="sh_2")
    client.post("/shifts/sh_1/fanout")
    reply(client, RN_PHONES[1], "no")
    reply(client, RN_PHONES[0], "yes")
    reply(client, RN_PHONES[2], "stop")
    client.post("/shifts/sh_2/cancel")
    client.patch("/caregivers/cg_8", json={"opted_out": False})
    events = [line["event"] for line in parsed(json_lines)]
    for event in ("fanout_started", "declined", "assigned", "opted_out", "cancelled", "opted_in"):
        assert events.count(event) == 1, (event, events)
    lines = {line["event"]: line for line in parsed(json_lines)}
    assert lines["assigned"]["caregiver_id"] == "cg_1"
    assert lines["assigned"]["shift_id"] == "sh_1"
    assert lines["cancelled"]["shift_id"] == "sh_2"
    assert all(phone not in json_lines.getvalue() for phone in RN_PHONES)


def test_a_failed_delivery_and_a_phone_round_are_logged_with_counts(
    frozen: FrozenDateTimeFactory,
    client: FlaskClient,
    runtime: Runtime,
    roster: Any,
    notifier: FakeNotifier,
    json_lines: io.StringIO,
) -> None:
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    assert runtime.sender.wait_idle(5)
    reply(client, RN_PHONES[1], "no")
    notifier.failing.add(RN_PHONES[0])
    frozen.tick(timedelta(minutes=10))
    run_due_phone_rounds(runtime.deps)
    assert runtime.sender.wait_idle(5)
    lines = parsed(json_lines)
    [round_line] = [line for line in lines if line["event"] == "phone_round"]
    assert (round_line["calls"], round_line["declined"]) == (2, 1)
    [failed] = [line for line in lines if line["event"] == "delivery_failed"]
    assert failed["level"] == "WARNING"
    assert (failed["caregiver_id"], failed["channel"]) == ("cg_1", "call")


def test_start_up_writes_one_line_with_the_effective_configuration_and_no_secret(
    json_lines: io.StringIO,
) -> None:
    build_app(
        {
            "SHIFTFILL_API_TOKEN": "ops-secret-1,ops-secret-2",
            "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
            "TWILIO_AUTH_TOKEN": "twilio-secret",
            "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
            "SHIFTFILL_ESCALATION_DELAY_SECONDS": "90",
        }
    )
    [line] = [line for line in parsed(json_lines) if line["event"] == "config"]
    assert line["store"] == "memory"
    assert line["notifier"] == "log"
    assert line["escalation_delay_seconds"] == 90
    assert (line["auth"], line["signatures"]) == ("on", "on")
    assert "secret" not in json_lines.getvalue()


def test_start_up_line_says_inline_when_the_send_path_makes_the_sends_itself(
    json_lines: io.StringIO,
) -> None:
    for env in ({}, {"SHIFTFILL_NOTIFIER_LATENCY_MS": "50", "SHIFTFILL_SEND_CONCURRENCY": "7"}):
        config = TestingConfig(env)
        runtime = bootstrap(config, escalation=False)
        create_app(config, runtime)
        runtime.shutdown()
    lines = [line for line in parsed(json_lines) if line["event"] == "config"]
    assert [line["send_concurrency"] for line in lines] == ["inline", 7]


def test_refused_tokens_and_signatures_are_logged(json_lines: io.StringIO) -> None:
    app = build_app(
        {
            "SHIFTFILL_API_TOKEN": "ops-token",
            "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
            "TWILIO_AUTH_TOKEN": "twilio-token",
            "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
        }
    )
    client = app.test_client()
    assert client.get("/caregivers", headers={"Authorization": "Bearer nope"}).status_code == 401
    forged = client.post("/messages/inbound", data={"From": "+15555550101", "Body": "yes"})
    assert forged.status_code == 403
    lines = {line["event"]: line for line in parsed(json_lines)}
    assert lines["token_refused"]["level"] == "WARNING"
    assert "nope" not in json_lines.getvalue()
    assert lines["signature_refused"]["request_id"] == forged.headers["X-Request-ID"]


# --- metrics ---


def test_metrics_count_a_whole_fill_in_the_prometheus_text_format(
    client: FlaskClient, runtime: Runtime, roster: Any
) -> None:
    add_shift(client, id="sh_1")
    add_shift(client, id="sh_2", role_required="CNA")
    client.post("/shifts/sh_1/fanout")
    client.post("/shifts/sh_2/fanout")
    assert runtime.sender.wait_idle(5)
    reply(client, RN_PHONES[1], "no")
    reply(client, RN_PHONES[0], "yes")
    reply(client, RN_PHONES[2], "yes")
    reply(client, RN_PHONES[2], "yes", message_id="SM1")
    reply(client, RN_PHONES[2], "yes", message_id="SM1")  # a replay is not counted again
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert metric(text, "shiftfill_fanouts_total", role="RN") == 1
    assert metric(text, "shiftfill_fanouts_total", role="CNA") == 1
    assert metric(text, "shiftfill_notifications_total", channel="sms", status="queued") == 3
    assert metric(text, "shiftfill_notifications_total", channel="sms", status="sent") == 3
    assert metric(text, "shiftfill_inbound_messages_total", outcome="declined") == 1
    assert metric(text, "shiftfill_inbound_messages_total", outcome="assigned") == 1
    assert metric(text, "shiftfill_inbound_messages_total", outcome="filled") == 2
    assert metric(text, "shiftfill_shifts_filled_total", round="sms") == 1
    assert metric(text, "shiftfill_time_to_fill_seconds_count", round="sms") == 1
    assert metric(text, "shiftfill_open_shifts") == 1  # sh_2 still open
    assert metric(text, "shiftfill_send_queue_depth") == 0
    fanouts = metric(
        text,
        "shiftfill_http_request_duration_seconds_count",
        method="POST",
        endpoint="/shifts/<shift_id>/fanout",
        status="202",
    )
    assert fanouts == 2
    assert 'endpoint="/shifts/sh_1/fanout"' not in text


def test_requests_are_timed_by_route_and_status_never_by_raw_path_or_odd_method(
    client: FlaskClient,
) -> None:
    client.get("/no/such/path/4821")
    client.open("/health", method="PROPFIND")
    client.post("/shifts/missing/fanout")
    client.post("/messages/inbound", data="not json", content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    count = "shiftfill_http_request_duration_seconds_count"
    assert metric(text, count, method="GET", endpoint="unmatched", status="404") == 1
    assert metric(text, count, method="OTHER", endpoint="unmatched", status="405") == 1
    assert metric(text, count, method="POST", endpoint="/shifts/<shift_id>/fanout", status="404")
    assert metric(text, count, method="POST", endpoint="/messages/inbound", status="400") == 1
    assert "4821" not in text and "missing" not in text and "PROPFIND" not in text


def test_a_method_sent_in_lower_case_is_timed_as_it_is_routed(client: FlaskClient) -> None:
    # gunicorn refuses one; a development server passes it on, and werkzeug routes it as GET.
    environ = EnvironBuilder(path="/health").get_environ()
    environ["REQUEST_METHOD"] = "get"
    status = run_wsgi_app(client.application, environ)[1]
    assert status.startswith("200")
    text = client.get("/metrics").get_data(as_text=True)
    count = "shiftfill_http_request_duration_seconds_count"
    assert metric(text, count, method="GET", endpoint="/health", status="200") == 1


def test_the_queue_depth_gauge_is_read_from_the_store_at_scrape_time(runtime: Runtime) -> None:
    # No request reaches this runtime, so its send workers never start to take the texts.
    store = runtime.deps.store
    store.shifts.add(Shift("sh_1", "default", "RN", START, START + timedelta(hours=12)))
    # Queued straight in the store, as another process would: nothing was counted here.
    store.shifts.apply(
        "sh_1",
        lambda s, reads: rules.start_fanout(
            s,
            now=s.start_time,
            offer_code=reads.free_code(),
            qualified_ids=["cg_1", "cg_3"],
            escalation_delay=timedelta(minutes=10),
        ).reaching(Outreach(Channel.SMS, ["cg_1", "cg_3"], s.start_time)),
    )
    text = runtime.metrics.exposition()[0].decode()
    assert metric(text, "shiftfill_send_queue_depth") == 2
    assert metric(text, "shiftfill_fanouts_total", absent=0, role="RN") == 0


def test_metrics_need_the_ops_token_when_one_is_set() -> None:
    client = build_app(
        {"SHIFTFILL_API_TOKEN": "ops-token", "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789"}
    ).test_client()
    assert client.get("/metrics").status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer ops-token"})
    assert allowed.status_code == 200
    assert "shiftfill_open_shifts 0.0" in allowed.get_data(as_text=True)


# --- health ---


def test_health_tells_which_process_answers_and_what_its_store_holds(
    client: FlaskClient, runtime: Runtime, roster: Any
) -> None:
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    body = client.get("/health").json
    assert body["status"] == "ok"
    assert body["store"] == "memory"
    assert body["boot_id"] == runtime.boot_id and len(body["boot_id"]) == 32
    assert body["started_at"] == runtime.started_at.isoformat()
    assert body["seeded_at"] is None  # this test app loads no seed file
    assert body["records"] == {"caregivers": 5, "shifts": 1, "notifications": 3}


def test_health_after_a_restart_shows_a_fresh_process_and_a_fresh_store() -> None:
    before = build_app({"SHIFTFILL_SEED_FILE": SAMPLE_SEED}).test_client()
    before.post("/shifts/sh_1/fanout")
    first = before.get("/health").json
    after = build_app({"SHIFTFILL_SEED_FILE": SAMPLE_SEED}).test_client().get("/health").json
    assert after["boot_id"] != first["boot_id"]
    assert after["seeded_at"] is not None and after["seeded_at"] >= after["started_at"]
    assert first["records"]["notifications"] == 3
    assert after["records"]["notifications"] == 0


class UnreachableStore(MemoryStore):
    def ping(self) -> None:
        raise StoreUnavailable("connection refused")


def test_health_is_503_with_the_error_body_when_the_store_is_unreachable() -> None:
    response = build_app({}, store=UnreachableStore()).test_client().get("/health")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"
    assert "connection refused" in response.json["error"]["message"]


def test_metrics_answer_with_the_counts_while_redis_is_down() -> None:
    """An outage is when an operator reads the metrics most: no 503, the store marked down."""
    env = {
        "SHIFTFILL_STORE_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
        "SHIFTFILL_SEED_FILE": SAMPLE_SEED,  # waits for the store
    }
    client = build_app(env).test_client()
    assert client.get("/health").status_code == 503
    assert client.get("/caregivers").status_code == 503
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert metric(scrape.text, "shiftfill_store_up") == 0
    assert "shiftfill_open_shifts " not in scrape.text
    timed = metric(
        scrape.text,
        "shiftfill_http_request_duration_seconds_count",
        method="GET",
        endpoint="/health",
        status="503",
    )
    assert timed == 1


def test_metrics_mark_a_store_that_answers_as_up(client: FlaskClient) -> None:
    add_shift(client, id="sh_1")
    scrape = client.get("/metrics").text
    assert metric(scrape, "shiftfill_store_up") == 1
    assert metric(scrape, "shiftfill_open_shifts") == 1


def test_a_redis_out_of_memory_answers_503_and_changes_nothing(redis_server: RedisServer) -> None:
    """A full Redis (maxmemory reached, no eviction) is a store that cannot serve, not a bug."""
    env = {"SHIFTFILL_STORE_URL": redis_server.url, "SHIFTFILL_REDIS_PREFIX": unique_prefix()}
    client = build_app(env).test_client()
    admin = redis.Redis.from_url(redis_server.url)
    body = {"name": "Ana", "role": "RN", "phone": "+15555550199"}
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)
    try:
        response = client.post("/caregivers", json=body)
    finally:
        admin.config_set("maxmemory", 0)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"
    assert client.get("/caregivers").json == []
    assert client.post("/caregivers", json=body).status_code == 201
