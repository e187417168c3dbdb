"""Outbound webhooks end to end: a real receiver on a loopback port checks every signature
with the ``standardwebhooks`` library, as an agency's system would."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.adapters.webhook_sender import HttpWebhookSender
from shiftfill.adapters.webhook_workers import WebhookWorkers
from shiftfill.api.shifts.schemas import ShiftSchema
from shiftfill.bootstrap import Runtime
from shiftfill.domain.webhooks import Delivery, Payload, Webhook
from shiftfill.services import fanout, webhooks
from tests.conftest import RN_PHONES, add_roster, add_shift, build_app, reply
from tests.webhook_receiver import Receiver

PRIVATE = {
    "SHIFTFILL_WEBHOOK_ALLOW_PRIVATE": "1",
    "SHIFTFILL_WEBHOOK_RETRY_SECONDS": "0.1,0.1",
    "SHIFTFILL_WEBHOOK_TIMEOUT_SECONDS": "0.5",
}


@pytest.fixture
def settings_env() -> dict[str, str]:
    return dict(PRIVATE)


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def workers(runtime: Runtime) -> Iterator[WebhookWorkers]:
    workers = WebhookWorkers(
        runtime.deps,
        HttpWebhookSender(timeout=0.5, allow_private=True),
        ShiftSchema().dump,
        0.05,
    )
    workers.start()
    yield workers
    workers.shutdown()


def until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def register(client: FlaskClient, url: str, events: list[str], org: str = "default") -> Any:
    response = client.post(f"/organizations/{org}/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.json
    return response.json


def deliveries(client: FlaskClient, hook: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"/organizations/default/webhooks/{hook['id']}/deliveries")
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def test_endpoints_are_created_listed_without_secret_and_deleted(client: FlaskClient) -> None:
    created = register(client, "https://hooks.example.com/in", ["shift.filled"])
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True
    listed = client.get("/organizations/default/webhooks").json
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    path = f"/organizations/default/webhooks/{created['id']}"
    assert client.delete(path).status_code == 204
    assert client.delete(path).status_code == 404
    assert client.get("/organizations/default/webhooks").json == []
    assert client.get("/organizations/nope/webhooks").status_code == 404
    assert client.get(f"{path}/deliveries").status_code == 404


def test_an_event_named_more_than_once_is_subscribed_once() -> None:
    client = build_app({}).test_client()
    events = ["shift.filled"] * 8 + ["shift.cancelled"]
    response = client.post(
        "/organizations/default/webhooks",
        json={"url": "https://hooks.example.com/", "events": events},
    )
    assert response.status_code == 201, response.json
    assert response.json["events"] == ["shift.filled", "shift.cancelled"]


UNSAFE_URLS = [
    "http://hooks.example.com/",
    "https://127.0.0.1/",
    "https://localhost/",
    "https://[::1]/",
    "https://169.254.169.254/latest",
    "https://10.0.0.8/",
    # A name or port no attempt could connect to.
    "https://hooks..example.com/",
    f"https://{'a' * 64}.example.com/",
    "https://hooks.example.com:99999/",
    "https://hooks.example.com:http/",
    "https://hooks.example.com:0/",
    "https://[::1",
    "https://a]b/",
    "https://hooks.example.com/café",
    "https://hooks.example.com/a b",
    "https://user:secret@hooks.example.com/",
    # Shared (carrier-grade NAT) space, and loopback inside a 6to4 address.
    "https://100.64.0.1/",
    "https://[2002:7f00:1::]/",
    # Loopback and private addresses in the forms resolvers read, or with a final dot.
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0177.0.0.1/",
    "https://0/",
    "https://localhost./",
    "https://foo.localhost./",
    "https://10.0.0.1./",
    # Names no resolver answers for.
    f"https://{'.'.join(['a' * 60] * 5)}/",
    "https://exa%20mple.com/",
    "https://xn--/",
    "https://xn--zz.example.com/",
    "https://hooks_1.example.com/",
]


def test_unknown_events_and_unsafe_urls_are_refused() -> None:
    client = build_app({}).test_client()
    unknown_event = ("https://hooks.example.com/", ["shift.exploded"], "events")
    for url, events, field in [unknown_event, *((u, ["shift.filled"], "url") for u in UNSAFE_URLS)]:
        response = client.post(
            "/organizations/default/webhooks", json={"url": url, "events": events}
        )
        assert response.status_code == 422, (url, response.json)
        assert response.json["error"]["code"] == "validation_error"
        assert list(response.json["error"]["fields"]) == [field]


def test_every_event_arrives_signed_with_the_shift_as_get_shows_it(
    client: FlaskClient,
    runtime: Runtime,
    workers: WebhookWorkers,
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers()
    hook = register(client, receiver.url, list(webhooks.webhooks.EVENTS))
    add_roster(client)
    runtime.deps.notifier.failing.add(RN_PHONES[2])  # type: ignore[attr-defined]
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    assert runtime.sender.wait_idle(5)
    later = datetime.now(UTC) + timedelta(minutes=11)
    fanout.run_phone_round(runtime.deps, "sh_1", now=later)
    reply(client, RN_PHONES[1], "STOP")
    reply(client, RN_PHONES[0], "YES")
    filled_shift = client.get("/shifts/sh_1").json
    add_shift(client, id="sh_2")
    assert client.post("/shifts/sh_2/fanout").status_code == 202
    assert client.post("/shifts/sh_2/cancel").status_code == 200
    add_shift(client, id="sh_3", role_required="LPN")
    assert client.post("/shifts/sh_3/fanout").status_code == 202
    at_start = dataclasses.replace(
        runtime.deps, clock=lambda: datetime.now(UTC) + timedelta(days=2)
    )
    assert webhooks.run_due_unfilled(at_start) == ["sh_3"]
    assert webhooks.run_due_unfilled(at_start) == []  # once per shift

    expected = {
        ("shift.fanout_started", "sh_1"),
        ("notification.failed", "sh_1"),
        ("shift.escalated", "sh_1"),
        ("caregiver.opted_out", "sh_1"),
        ("shift.filled", "sh_1"),
        ("shift.fanout_started", "sh_2"),
        ("shift.cancelled", "sh_2"),
        ("shift.fanout_started", "sh_3"),
        ("shift.unfilled", "sh_3"),
    }

    def arrived() -> set[tuple[str, str]]:
        return {(m["type"], m["data"]["shift"]["id"]) for m in receiver.verified(hook["secret"])}

    try:
        until(lambda: arrived() >= expected)
    except AssertionError:
        raise AssertionError(f"missing {expected - arrived()}") from None
    got = {(m["type"], m["data"]["shift"]["id"]): m for m in receiver.verified(hook["secret"])}
    filled = got[("shift.filled", "sh_1")]
    assert filled["data"]["caregiver_id"] == "cg_1"
    assert filled["data"]["round"] == "phone"
    assert filled["data"]["shift"] == filled_shift
    assert got[("shift.escalated", "sh_1")]["data"]["called"] == 3  # cg_5 too: a failed text
    assert got[("caregiver.opted_out", "sh_1")]["data"]["caregiver_id"] == "cg_3"
    failed = got[("notification.failed", "sh_1")]["data"]["notification"]
    assert (failed["caregiver_id"], failed["status"]) == ("cg_5", "failed")
    assert got[("shift.cancelled", "sh_2")]["data"]["shift"]["status"] == "cancelled"
    assert filled["timestamp"].endswith("Z")
    # The LPN shift's phone round was never run: its alarm came at its start time.
    assert got[("shift.unfilled", "sh_3")]["data"]["shift"]["status"] == "open"

    # The receiver answers before its answer is recorded: wait for the last record.
    def all_delivered() -> list[dict[str, Any]] | None:
        listed = deliveries(client, hook)
        return listed if all(d["status"] == "delivered" for d in listed) else None

    listed = until(all_delivered)
    assert all(d["attempts"] == 1 for d in listed)
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert {d["id"] for d in listed} == set(ids)
    assert "unfilled" in [e.type for e in runtime.deps.store.events.for_shift("sh_3")]


def test_only_the_subscribed_events_of_the_organization_are_sent(
    client: FlaskClient, workers: WebhookWorkers, receivers: Callable[..., Receiver]
) -> None:
    receiver, other = receivers(), receivers()
    register(client, receiver.url, ["shift.cancelled"])
    client.post("/organizations", json={"id": "north", "name": "North", "time_zone": "UTC"})
    register(client, other.url, ["shift.cancelled"], org="north")
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    client.post("/shifts/sh_1/cancel")
    until(lambda: receiver.requests)
    time.sleep(0.3)
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["shift.cancelled"]
    assert other.requests == []


def test_a_refused_delivery_is_retried_with_the_same_id_until_it_is_delivered(
    client: FlaskClient,
    workers: WebhookWorkers,
    receivers: Callable[..., Receiver],
    runtime: Runtime,
) -> None:
    receiver = receivers(answers=[500, 503, 200])
    hook = register(client, receiver.url, ["shift.fanout_started"])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    (delivery,) = until(lambda: [d for d in deliveries(client, hook) if d["status"] == "delivered"])
    assert delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.verified(hook["secret"])) == 3
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'shiftfill_webhook_deliveries_total{event="shift.fanout_started",status="retrying"} 2.0'
        in text
    )
    assert (
        'shiftfill_webhook_deliveries_total{event="shift.fanout_started",status="delivered"} 1.0'
        in text
    )


@pytest.mark.parametrize("settings_env", [{**PRIVATE, "SHIFTFILL_WEBHOOK_DELIVERIES_KEPT": "2"}])
def test_an_endpoint_lists_only_its_newest_deliveries_once_the_older_are_settled(
    client: FlaskClient, workers: WebhookWorkers, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    hook = register(client, receiver.url, ["shift.fanout_started"])
    for n in range(1, 5):
        add_shift(client, id=f"sh_{n}")
        client.post(f"/shifts/sh_{n}/fanout")
    until(lambda: len(receiver.requests) == 4)
    shift_of = {
        r.headers["webhook-id"]: json.loads(r.body)["data"]["shift"]["id"]
        for r in receiver.requests
    }

    def all_settled() -> list[dict[str, Any]]:
        found = deliveries(client, hook)
        # The receiver holds the last request before its answer is stored, and the
        # older are forgotten just after.
        settled = len(found) == 2 and all(d["status"] == "delivered" for d in found)
        return found if settled else []

    listed = until(all_settled)
    assert [shift_of[d["id"]] for d in listed] == ["sh_4", "sh_3"]


def test_a_delivery_fails_when_the_schedule_runs_out(
    client: FlaskClient,
    workers: WebhookWorkers,
    receivers: Callable[..., Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = receivers(answers=[500])
    hook = register(client, receiver.url, ["shift.fanout_started"])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    (delivery,) = until(lambda: [d for d in deliveries(client, hook) if d["status"] == "failed"])
    assert delivery["attempts"] == 3  # the first and one retry per schedule entry
    time.sleep(0.3)
    assert len(receiver.requests) == 3
    assert any(getattr(r, "event", None) == "webhook_failed" for r in caplog.records)


def test_410_disables_the_webhook_and_stops_its_retries(
    client: FlaskClient,
    workers: WebhookWorkers,
    receivers: Callable[..., Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = receivers(answers=[410])
    hook = register(client, receiver.url, ["shift.fanout_started", "shift.cancelled"])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    until(lambda: [d for d in deliveries(client, hook) if d["status"] == "failed"])
    client.post("/shifts/sh_1/cancel")
    time.sleep(0.4)
    assert len(receiver.requests) == 1
    assert client.get("/organizations/default/webhooks").json[0]["enabled"] is False
    statuses = {(d["event"], d["status"], d["last_status_code"]) for d in deliveries(client, hook)}
    # A disabled endpoint gets no new deliveries: the cancel made none.
    assert statuses == {("shift.fanout_started", "failed", 410)}
    assert any(getattr(r, "event", None) == "webhook_disabled" for r in caplog.records)


def test_a_redirect_is_not_followed(
    client: FlaskClient, workers: WebhookWorkers, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(answers=[302])
    hook = register(client, receiver.url, ["shift.fanout_started"])
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    (delivery,) = until(lambda: [d for d in deliveries(client, hook) if d["status"] == "failed"])
    assert delivery["last_status_code"] == 302
    assert {r.path for r in receiver.requests} == {"/hooks"}


def test_a_hanging_receiver_times_out_and_holds_up_no_other_endpoint(
    client: FlaskClient, workers: WebhookWorkers, receivers: Callable[..., Receiver]
) -> None:
    hanging = receivers(hang=3.0)
    quick = receivers()
    slow_hook = register(client, hanging.url, ["shift.fanout_started"])
    register(client, quick.url, ["shift.fanout_started"])
    for shift_id in ("sh_1", "sh_2", "sh_3"):
        add_shift(client, id=shift_id)
        client.post(f"/shifts/{shift_id}/fanout")
    # The quick receiver has all three while the hanging one still holds its first.
    until(lambda: len(quick.requests) == 3, timeout=1.5)
    assert len(hanging.requests) <= 2
    (first, *_) = until(
        lambda: [d for d in deliveries(client, slow_hook) if d["attempts"] >= 1], timeout=3
    )
    assert "timed out" in (first["last_error"] or "")


def test_a_hanging_receivers_backlog_hides_no_other_endpoints_deliveries(
    client: FlaskClient,
    workers: WebhookWorkers,
    receivers: Callable[..., Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A poll takes 2 due deliveries at a time; the hanging receiver's 8 fill it for
    # about 4 s (each attempt times out after 0.5 s).
    monkeypatch.setattr("shiftfill.adapters.webhook_workers.DUE_BATCH", 2)
    hanging = receivers(hang=3.0)
    register(client, hanging.url, ["shift.fanout_started"])
    for n in range(1, 9):
        add_shift(client, id=f"sh_{n}")
        client.post(f"/shifts/sh_{n}/fanout")
    until(lambda: hanging.requests)  # its lane is busy, the others are due behind it
    quick = receivers()
    register(client, quick.url, ["shift.cancelled"])
    client.post("/shifts/sh_1/cancel")
    until(lambda: quick.requests, timeout=1.5)


def test_a_name_that_resolves_to_loopback_is_refused_at_the_connected_address(
    monkeypatch: pytest.MonkeyPatch, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    port = receiver.server.server_address[1]
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.com":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    hook = Webhook(
        "wh_1",
        "default",
        f"https://hooks.example.com:{port}/hooks",
        ("shift.filled",),
        "whsec_" + "A" * 32,
        datetime.now(UTC),
    )
    delivery = Delivery("msg_1", "wh_1", "shift.filled", Payload("{}"), datetime.now(UTC))
    attempt = HttpWebhookSender(timeout=0.5).send(hook, delivery)
    assert attempt.error == "refused: address 127.0.0.1 is loopback"
    localhost = dataclasses.replace(hook, url=f"https://localhost:{port}/hooks")
    assert (HttpWebhookSender(timeout=0.5).send(localhost, delivery).error or "").startswith(
        "refused: address"
    )
    plain = dataclasses.replace(hook, url=receiver.url)
    assert HttpWebhookSender(timeout=0.5).send(plain, delivery).error == (
        "refused: only https:// URLs are allowed"
    )
    assert receiver.requests == []


def test_a_stored_url_no_attempt_can_use_fails_its_attempts_on_the_schedule(
    client: FlaskClient, runtime: Runtime
) -> None:
    """An endpoint stored before its name and port were checked: each attempt is a failure
    with its error, retried then failed like any unreachable receiver, never a delivery
    stuck pending."""
    deps = runtime.deps
    for n, url in enumerate(["https://hooks..example.com/x", "https://hooks.example.com:99999/x"]):
        deps.store.webhooks.add(
            Webhook(
                f"wh_{n}",
                "default",
                url,
                ("shift.fanout_started",),
                "whsec_" + "A" * 32,
                datetime.now(UTC),
            )
        )
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/fanout")
    webhooks.dispatch(deps, lambda shift: {"id": shift.id})
    sender = HttpWebhookSender(timeout=0.5)
    due = deps.store.webhooks.due(deps.clock(), 10)
    assert sorted(webhook_id for webhook_id, _ in due) == ["wh_0", "wh_1"]
    for webhook_id, delivery_id in due:
        after = webhooks.attempt_delivery(deps, sender, webhook_id, delivery_id)
        assert after is not None
        assert (after.status, after.attempts) == ("pending", 1)
        assert after.last_error and after.next_attempt_at is not None
