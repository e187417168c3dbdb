"""Provider webhooks: signatures, the call Gather callback and delivery reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory
from twilio.request_validator import RequestValidator

from shiftfill.bootstrap import Runtime
from shiftfill.services.fanout import run_phone_round
from tests.conftest import RN_PHONES, START
from tests.fakes import FakeNotifier

TOKEN = "twilio-auth-token"
PUBLIC = "https://shiftfill.example.com"
OURS = "+15555550100"


@pytest.fixture
def settings_env() -> dict[str, str]:
    # No ops token, on purpose: the JSON shape stays open, as the last flag says is meant.
    return {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SHIFTFILL_PUBLIC_BASE_URL": PUBLIC,
        "SHIFTFILL_ALLOW_OPEN_OPS_API": "1",
    }


def signed(
    client: FlaskClient,
    path: str,
    params: dict[str, str],
    *,
    token: str = TOKEN,
    url: str | None = None,
    sign_params: dict[str, str] | None = None,
) -> Any:
    signature = RequestValidator(token).compute_signature(
        url or PUBLIC + path, sign_params if sign_params is not None else params
    )
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_signed_sms_webhook_is_handled(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    response = signed(
        client, "/messages/inbound", {"From": RN_PHONES[0], "Body": "yes", "MessageSid": "SM1"}
    )
    assert response.status_code == 200
    assert "Confirmed" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "wrong-token"},
        {"sign_params": {"From": RN_PHONES[0], "Body": "no", "MessageSid": "SM1"}},
        {"url": "https://evil.example.com/messages/inbound"},
        {"url": PUBLIC + "/messages/inbound?x=1"},
    ],
    ids=["wrong token", "changed parameter", "changed host", "changed query"],
)
def test_a_forged_webhook_is_403_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any], forgery: dict[str, Any]
) -> None:
    params = {"From": RN_PHONES[0], "Body": "yes", "MessageSid": "SM1"}
    response = signed(client, "/messages/inbound", params, **forgery)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert client.get("/shifts/sh_1").json["status"] == "open"
    assert client.get("/shifts/sh_1/events").json[-1]["type"] == "sms_sent"


def test_a_webhook_without_a_signature_is_403(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    for path, params in [
        ("/messages/inbound", {"From": RN_PHONES[0], "Body": "yes"}),
        ("/voice/gather", {"CallSid": "CA1", "Digits": "1"}),
        ("/messages/status", {"MessageSid": "fake-1", "MessageStatus": "delivered"}),
    ]:
        assert client.post(path, data=params).status_code == 403, path
    assert client.get("/shifts/sh_1").json["status"] == "open"
    assert {n["status"] for n in client.get("/shifts/sh_1/notifications").json} == {"sent"}


def test_a_webhook_is_bounded_before_its_signature_is_read(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    # The signature check reads the whole form: it must meet the webhook's own limits first.
    oversized = {"From": RN_PHONES[0], "Body": "yes", "Pad": "x" * 17_000}
    assert client.post("/messages/inbound", data=oversized).status_code == 413
    repeated = "From=%2B15555550101&Body=HELP&Body=YES"
    response = client.post(
        "/messages/inbound", data=repeated, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_signature_over_the_public_url_passes_behind_a_proxy(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    # The proxy terminated TLS and forwarded to http://localhost; the signature
    # was computed by the provider over the public https address.
    params = {"From": RN_PHONES[0], "Body": "yes", "MessageSid": "SM1"}
    response = signed(client, "/messages/inbound?src=proxy", params, url=None)
    assert response.status_code == 200
    assert client.get("/shifts/sh_1").json["status"] == "filled"


def test_the_json_shape_does_not_need_a_provider_signature(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    response = client.post("/messages/inbound", json={"from": RN_PHONES[0], "body": "yes"})
    assert response.status_code == 200


def phone_round(
    frozen: FrozenDateTimeFactory, runtime: Runtime, client: FlaskClient
) -> dict[str, str]:
    """Run the phone round; return each called caregiver's CallSid."""
    frozen.move_to(START + timedelta(minutes=10))
    run_phone_round(runtime.deps, "sh_1")
    assert runtime.sender.wait_idle(5)
    notes = client.get("/shifts/sh_1/notifications").json
    return {n["caregiver_id"]: n["provider_id"] for n in notes if n["channel"] == "call"}


def test_keypad_one_on_a_placed_call_claims_for_the_called_caregiver(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    call_sids = phone_round(frozen, runtime, client)
    response = signed(
        client,
        "/voice/gather",
        {"CallSid": call_sids["cg_3"], "From": OURS, "To": RN_PHONES[1], "Digits": "1"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert "<Response><Say>Confirmed" in response.get_data(as_text=True)
    assert client.get("/shifts/sh_1").json["assigned_caregiver_id"] == "cg_3"


def test_spoken_yes_on_a_placed_call_claims(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    call_sids = phone_round(frozen, runtime, client)
    params = {
        "CallSid": call_sids["cg_5"],
        "From": OURS,
        "To": RN_PHONES[2],
        "SpeechResult": "Yes, I'll take it.",
    }
    assert "Confirmed" in signed(client, "/voice/gather", params).get_data(as_text=True)
    assert client.get("/shifts/sh_1").json["assigned_caregiver_id"] == "cg_5"


def test_no_input_on_a_call_says_they_can_still_text(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    call_sids = phone_round(frozen, runtime, client)
    response = signed(client, "/voice/gather", {"CallSid": call_sids["cg_1"], "From": OURS})
    text = response.get_data(as_text=True)
    assert f"text YES {fanned_out['fanout']['offer_code']}" in text
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_an_unknown_call_falls_back_to_the_called_number(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    params = {"CallSid": "CA-unknown", "From": OURS, "To": RN_PHONES[0], "Digits": "1"}
    assert "Confirmed" in signed(client, "/voice/gather", params).get_data(as_text=True)


def status(client: FlaskClient, sid: str, word: str, **extra: str) -> None:
    response = signed(
        client, "/messages/status", {"MessageSid": sid, "MessageStatus": word, **extra}
    )
    assert response.status_code == 204


def sms_sids(client: FlaskClient) -> dict[str, str]:
    notes = client.get("/shifts/sh_1/notifications").json
    return {n["caregiver_id"]: n["provider_id"] for n in notes if n["channel"] == "sms"}


def test_delivered_and_undelivered_reports_move_the_notification(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    sids = sms_sids(client)
    status(client, sids["cg_1"], "delivered")
    status(client, sids["cg_3"], "undelivered", ErrorCode="30003")
    status(client, sids["cg_1"], "sent")  # late and out of order: ignored
    notes = {n["caregiver_id"]: n for n in client.get("/shifts/sh_1/notifications").json}
    assert notes["cg_1"]["status"] == "delivered"
    assert notes["cg_3"]["status"] == "undelivered"
    assert notes["cg_3"]["error"] == "provider error 30003"
    types = [e["type"] for e in client.get("/shifts/sh_1/events").json]
    assert types.count("sms_delivered") == 1
    assert types.count("sms_undelivered") == 1


def test_error_21610_opts_the_caregiver_out_and_skips_their_call(
    frozen: FrozenDateTimeFactory,
    client: FlaskClient,
    runtime: Runtime,
    fanned_out: dict[str, Any],
    notifier: FakeNotifier,
) -> None:
    status(client, sms_sids(client)["cg_5"], "failed", ErrorCode="21610")
    assert client.get("/caregivers/cg_5").json["opted_out"] is True
    call_sids = phone_round(frozen, runtime, client)
    assert set(call_sids) == {"cg_1", "cg_3"}
    assert notifier.to(RN_PHONES[2], "call") == []


def test_call_status_reports_are_recorded(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    call_sids = phone_round(frozen, runtime, client)
    for caregiver, word in [("cg_1", "completed"), ("cg_3", "no-answer"), ("cg_5", "ringing")]:
        params = {"CallSid": call_sids[caregiver], "CallStatus": word}
        assert signed(client, "/messages/status", params).status_code == 204
    notes = {
        n["caregiver_id"]: n["status"]
        for n in client.get("/shifts/sh_1/notifications").json
        if n["channel"] == "call"
    }
    assert notes == {"cg_1": "delivered", "cg_3": "undelivered", "cg_5": "sent"}


def test_a_report_for_an_unknown_message_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    before = client.get("/shifts/sh_1/events").json
    status(client, "SM-never-sent", "delivered")
    assert client.get("/shifts/sh_1/events").json == before


def test_a_report_without_ids_is_422(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    assert signed(client, "/messages/status", {"MessageStatus": "delivered"}).status_code == 422


@pytest.mark.parametrize("path", ["/messages/status", "/voice/gather"])
def test_a_callback_that_is_not_a_form_is_400_before_its_signature(
    client: FlaskClient, fanned_out: dict[str, Any], path: str
) -> None:
    """A wrong content type is the caller's mistake (400), not a form with fields missing
    (422), and it is known before the signature is read (no 403)."""
    before = client.get("/shifts/sh_1/notifications").json
    answer = client.post(path, json={"CallSid": "CA1", "Digits": "1", "CallStatus": "completed"})
    assert answer.status_code == 400
    assert answer.json["error"] == {
        "code": "bad_request",
        "message": "Content-Type must be application/x-www-form-urlencoded.",
        "fields": {},
    }
    assert client.get("/shifts/sh_1/notifications").json == before
