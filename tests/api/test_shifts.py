"""``/shifts``: create, list, fanout, cancel, notifications and events."""

import gc
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from config import TestingConfig
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from tests.conftest import (
    RN_PHONES,
    add_shift,
    pending_phone_rounds,
    reply,
    shift_body,
    tomorrow_at,
)
from tests.fakes import FakeNotifier


def test_create_shift_stores_times_in_utc(client: FlaskClient) -> None:
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    response = client.post(
        "/shifts",
        json={
            "id": "sh_1",
            "organization_id": "default",
            "role_required": "rn",
            "start_time": f"{day}T07:00:00-05:00",
            "end_time": f"{day}T19:00:00-05:00",
        },
    )
    assert response.status_code == 201
    assert response.json == {
        "id": "sh_1",
        "organization_id": "default",
        "role_required": "RN",
        "start_time": f"{day}T12:00:00+00:00",
        "end_time": f"{day + timedelta(days=1)}T00:00:00+00:00",
        "status": "open",
        "assigned_caregiver_id": None,
        "filled_at": None,
        "fanout": None,
        "client_id": None,
        "required_credentials": [],
    }
    assert client.get("/shifts/sh_1").json == response.json


def test_end_before_start_is_422_on_end_time(client: FlaskClient) -> None:
    response = client.post("/shifts", json=shift_body(end_time=shift_body()["start_time"]))
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"end_time": ["Must be after start_time."]}
    assert client.get("/shifts").json == []


def test_times_without_an_offset_are_refused(client: FlaskClient) -> None:
    response = client.post(
        "/shifts", json=shift_body(start_time="2026-11-29T07:00:00", end_time="tomorrow")
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"start_time", "end_time"}


def test_list_filters_by_status_and_role(client: FlaskClient) -> None:
    add_shift(client, id="sh_1", role_required="RN")
    add_shift(client, id="sh_2", role_required="CNA")
    client.post("/shifts/sh_2/cancel")
    assert [s["id"] for s in client.get("/shifts?status=open").json] == ["sh_1"]
    assert [s["id"] for s in client.get("/shifts?role=cna").json] == ["sh_2"]
    bad = client.get("/shifts?status=closed")
    assert bad.status_code == 422
    assert "status" in bad.json["error"]["fields"]


def test_unknown_shift_is_404_everywhere(client: FlaskClient) -> None:
    for method, path in [
        ("get", "/shifts/nope"),
        ("post", "/shifts/nope/fanout"),
        ("post", "/shifts/nope/cancel"),
        ("get", "/shifts/nope/notifications"),
        ("get", "/shifts/nope/events"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"


def test_fanout_texts_every_qualified_caregiver_and_only_them(
    fanned_out: dict[str, Any], notifier: FakeNotifier, runtime: Runtime
) -> None:
    assert sorted(s.to for s in notifier.by_channel("sms")) == sorted(RN_PHONES)
    fanout = fanned_out["fanout"]
    assert fanout["offered_caregiver_ids"] == ["cg_1", "cg_3", "cg_5"]
    assert fanout["round"] == "sms"
    assert fanout["declined_caregiver_ids"] == []
    assert len(fanout["offer_code"]) == 4
    assert f"YES {fanout['offer_code']}" in notifier.sent[0].text
    assert pending_phone_rounds(runtime) == ["sh_1"]


def test_fanout_posted_five_times_sends_one_sms_per_caregiver(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any], notifier: FakeNotifier
) -> None:
    for _ in range(4):
        response = client.post("/shifts/sh_1/fanout")
        assert response.status_code == 200
        assert response.json["fanout"] == fanned_out["fanout"]
    assert runtime.sender.wait_idle(5)
    assert len(notifier.by_channel("sms")) == 3
    notifications = client.get("/shifts/sh_1/notifications").json
    assert len(notifications) == 3
    assert {n["status"] for n in notifications} == {"sent"}
    assert all(n["attempts"] == 1 and n["sent_at"] for n in notifications)


def test_fanout_of_a_cancelled_shift_is_409(client: FlaskClient, roster: Any) -> None:
    add_shift(client, id="sh_1")
    client.post("/shifts/sh_1/cancel")
    response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"
    assert client.get("/shifts/sh_1/notifications").json == []


def test_fanout_posted_again_after_a_cancel_is_409_and_sends_nothing(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any], notifier: FakeNotifier
) -> None:
    assert client.post("/shifts/sh_1/cancel").status_code == 200
    response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"
    assert runtime.sender.wait_idle(5)
    assert len(notifier.by_channel("sms")) == 3


def test_a_fanout_refused_for_a_cancelled_shift_holds_no_offer_code(
    notifier: FakeNotifier,
) -> None:
    codes = iter(["1111", "1111", "1111", "2222"])
    store = MemoryStore(code_source=lambda digits: next(codes))
    runtime = bootstrap(TestingConfig({}), store=store, notifier=notifier, escalation=False)
    client = create_app(TestingConfig({}), runtime).test_client()
    try:
        add_shift(client, id="sh_cancelled")
        add_shift(client, id="sh_open")
        client.post("/shifts/sh_cancelled/cancel")
        assert client.post("/shifts/sh_cancelled/fanout").status_code == 409
        started = client.post("/shifts/sh_open/fanout")
        assert started.status_code == 202
        assert started.json["fanout"]["offer_code"] == "1111"
    finally:
        runtime.shutdown()


def test_a_provider_failure_is_recorded_on_the_notification(
    client: FlaskClient, runtime: Runtime, roster: Any, notifier: FakeNotifier
) -> None:
    notifier.failing.add(RN_PHONES[1])
    add_shift(client, id="sh_1")
    assert client.post("/shifts/sh_1/fanout").status_code == 202
    assert runtime.sender.wait_idle(5)
    by_caregiver = {n["caregiver_id"]: n for n in client.get("/shifts/sh_1/notifications").json}
    assert by_caregiver["cg_3"]["status"] == "failed"
    assert by_caregiver["cg_3"]["error"] == "provider refused the number"
    assert by_caregiver["cg_1"]["status"] == "sent"
    events = client.get("/shifts/sh_1/events").json
    assert {"type": "sms_failed", "caregiver_id": "cg_3"}.items() <= next(
        e for e in events if e["type"] == "sms_failed"
    ).items()


def test_cancel_stops_the_phone_round_and_later_accepts_hear_it_is_gone(
    client: FlaskClient, fanned_out: dict[str, Any], runtime: Runtime
) -> None:
    response = client.post("/shifts/sh_1/cancel")
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert pending_phone_rounds(runtime) == []
    answer = reply(client, RN_PHONES[0], "yes")
    assert answer["outcome"] == "unavailable"
    assert "no longer available" in answer["reply"]
    assert client.post("/shifts/sh_1/cancel").status_code == 200


def test_cancelling_a_filled_shift_is_409_and_keeps_the_winner(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    reply(client, RN_PHONES[0], "yes")
    response = client.post("/shifts/sh_1/cancel")
    assert response.status_code == 409
    shift = client.get("/shifts/sh_1").json
    assert shift["status"] == "filled"
    assert shift["assigned_caregiver_id"] == "cg_1"


def test_events_tell_the_story_of_a_fill(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    reply(client, RN_PHONES[1], "no")
    reply(client, RN_PHONES[0], "yes")
    reply(client, RN_PHONES[2], "yes")
    types = [e["type"] for e in client.get("/shifts/sh_1/events").json]
    assert types[0] == "fanout_started"
    assert types.count("sms_sent") == 3
    assert types[4:] == [
        "reply_received",
        "declined",
        "reply_received",
        "assigned",
        "reply_received",
        "claim_lost",
    ]


def test_a_shift_that_has_already_ended_is_422_and_not_stored(client: FlaskClient) -> None:
    response = client.post(
        "/shifts",
        json=shift_body(start_time="2020-01-01T07:00:00+00:00", end_time="2020-01-01T19:00:00Z"),
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"end_time": ["Must be in the future."]}
    assert client.get("/shifts").json == []


def test_a_shift_that_ends_while_waiting_cannot_be_fanned_out(
    client: FlaskClient, roster: Any, frozen: FrozenDateTimeFactory, notifier: FakeNotifier
) -> None:
    add_shift(client, id="sh_1")
    add_shift(client, id="sh_started")
    frozen.move_to(tomorrow_at(8))  # sh_started began at 7:00: a call-out can still be filled
    assert client.post("/shifts/sh_started/fanout").status_code == 202
    frozen.move_to(tomorrow_at(19))
    response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 409
    assert "ended" in response.json["error"]["message"]
    assert client.get("/shifts/sh_1").json["fanout"] is None
    assert client.get("/shifts/sh_1/notifications").json == []
    # Re-posting the fanout that started in time is still a harmless repeat.
    assert client.post("/shifts/sh_started/fanout").status_code == 200


def test_list_filters_by_organization_and_refuses_unknown_parameters(client: FlaskClient) -> None:
    for org in ("org_1", "org_2"):
        body = {"id": org, "name": org, "time_zone": "America/Chicago"}
        assert client.post("/organizations", json=body).status_code == 201
    add_shift(client, id="sh_1", organization_id="org_1")
    add_shift(client, id="sh_2", organization_id="org_2")
    assert [s["id"] for s in client.get("/shifts?organization_id=org_2").json] == ["sh_2"]
    assert client.get("/shifts?organization_id=org_3").json == []
    response = client.get("/shifts?org=org_2")
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"org": ["Unknown field."]}


def test_a_fanout_that_offers_nobody_is_202_but_says_so_and_warns(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    add_shift(client, id="sh_1", role_required="PT")
    with caplog.at_level(logging.INFO, logger="shiftfill"):
        response = client.post("/shifts/sh_1/fanout")
    assert response.status_code == 202
    assert response.json["fanout"]["no_one_qualified"] is True
    assert response.json["fanout"]["offered_caregiver_ids"] == []
    types = [e["type"] for e in client.get("/shifts/sh_1/events").json]
    assert types == ["fanout_started", "no_one_qualified"]
    [warning] = [r for r in caplog.records if getattr(r, "event", None) == "no_one_qualified"]
    assert warning.levelno == logging.WARNING
    assert warning.shift_id == "sh_1"  # type: ignore[attr-defined]


def test_a_fanout_that_offers_someone_is_not_marked(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    assert fanned_out["fanout"]["no_one_qualified"] is False


def test_no_request_switches_the_garbage_collector(client: FlaskClient) -> None:
    """Bulk imports and fanouts leave the collector as the process set it: on, nothing frozen."""
    frozen = gc.get_freeze_count()
    people = [{"name": f"RN {n}", "role": "RN", "phone": f"+1555557{n:04d}"} for n in range(1_000)]
    assert client.post("/caregivers/batch", json={"caregivers": people}).status_code == 201
    assert client.post("/shifts", json=shift_body(id="sh_big")).status_code == 201
    assert client.post("/shifts/sh_big/fanout").status_code == 202
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
