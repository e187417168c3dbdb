"""Bounds at the API edge: what a client can make the process keep, and how much it answers."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.bootstrap import Runtime
from tests.conftest import RN_PHONES, reply

FORM = "application/x-www-form-urlencoded"


def reply_bodies(client: FlaskClient) -> list[str]:
    events = client.get("/shifts/sh_1/events").json
    return [e["detail"]["body"] for e in events if e["type"] == "reply_received"]


def test_a_long_reply_is_answered_and_kept_cut_to_1600_characters(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    # Twilio's longest SMS, and a message id of the longest length accepted.
    webhook = {"From": RN_PHONES[1], "Body": "no " + "n" * 1597, "MessageSid": "M" * 64}
    response = client.post("/messages/inbound", data=webhook)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    # Longer than any provider sends, through the JSON shape.
    answer = reply(client, RN_PHONES[0], "yes " + "x" * 200_000, message_id="m" * 64)
    assert answer["outcome"] == "assigned"
    assert [len(body) for body in reply_bodies(client)] == [1600, 1600]


def test_a_webhook_body_over_16_kib_is_413_while_the_ops_api_takes_more(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    padding = "x" * 17_000
    webhook = client.post(
        "/messages/inbound", data={"From": RN_PHONES[0], "Body": "yes", "Pad": padding}
    )
    assert webhook.status_code == 413
    assert webhook.json["error"]["code"] == "payload_too_large"
    assert client.get("/shifts/sh_1").json["status"] == "open"
    # The same size as JSON from the ops dashboard is an ordinary reply.
    assert reply(client, RN_PHONES[0], "yes " + padding)["outcome"] == "assigned"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/messages/inbound", "From=%2B15555550101&Body=HELP&Body=YES"),
        ("/messages/inbound", "From=%2B15555550199&From=%2B15555550101&Body=YES"),
        ("/messages/status", "MessageSid=SM1&MessageStatus=sent&MessageStatus=failed"),
        ("/voice/gather", "CallSid=CA1&Digits=2&Digits=1&To=%2B15555550101"),
    ],
)
def test_a_repeated_webhook_parameter_is_400_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any], path: str, form: str
) -> None:
    # A signature covers every value, but the view would read only the first.
    events = client.get("/shifts/sh_1/events").json
    response = client.post(path, data=form, content_type=FORM)
    assert response.status_code == 400
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert len(response.json["error"]["fields"]) == 1
    assert client.get("/shifts/sh_1/events").json == events
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_replies_with_overlong_message_ids_are_refused_and_not_remembered(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    remembered = len(runtime.deps.store.inbound)
    for n in range(50):
        response = client.post(
            "/messages/inbound",
            data={"From": RN_PHONES[2], "Body": "help", "MessageSid": f"SM{n}" + "0" * 1000},
        )
        assert response.status_code == 422
    assert len(runtime.deps.store.inbound) == remembered


def test_a_batch_of_10000_invalid_caregivers_gets_a_short_error(client: FlaskClient) -> None:
    response = client.post("/caregivers/batch", json={"caregivers": [{"name": ""}] * 10_000})
    assert response.status_code == 422
    assert len(response.data) < 1000
    assert "1,000" in response.json["error"]["fields"]["caregivers"][0]


def test_a_batch_of_1000_invalid_caregivers_reports_the_first_20(client: FlaskClient) -> None:
    response = client.post("/caregivers/batch", json={"caregivers": [{"name": ""}] * 1000})
    assert response.status_code == 422
    reported = response.json["error"]["fields"]["caregivers"]
    assert set(reported) == {str(i) for i in range(20)} | {"_more"}
    assert reported["_more"] == ["980 more not shown."]
    assert len(response.data) < 10_000
    assert client.get("/caregivers").json == []


def test_thousands_of_unknown_fields_get_a_short_error(client: FlaskClient) -> None:
    junk = {f"field_{i}_" + "x" * 200: 1 for i in range(3000)}
    response = client.post("/caregivers", json=junk)
    assert response.status_code == 422
    assert len(response.data) < 10_000
    assert all(len(name) <= 67 for name in response.json["error"]["fields"])
