"""Limits: oversized bodies, overlong messages, floods of replays."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.bootstrap import Runtime
from tests.conftest import RN_PHONES, reply


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"SHIFTFILL_MAX_BODY_BYTES": "4096"}


def test_a_body_over_the_configured_size_is_413_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    big_json = client.post(
        "/caregivers", json={"name": "x" * 5000, "role": "RN", "phone": "+15555550190"}
    )
    assert big_json.status_code == 413
    assert big_json.json["error"]["code"] == "payload_too_large"
    big_form = client.post(
        "/messages/inbound", data={"From": RN_PHONES[0], "Body": "yes " + "x" * 5000}
    )
    assert big_form.status_code == 413
    assert client.get("/shifts/sh_1").json["status"] == "open"
    assert len(client.get("/caregivers").json) == 5


def chunked(client: FlaskClient, path: str, body: bytes, content_type: str) -> Any:
    """Post ``body`` as gunicorn hands a chunked one over: no length, ended by the server."""
    return client.post(
        path,
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )


def padded(data: bytes, size: int) -> bytes:
    """``data`` followed by spaces (JSON's and a form value's own padding) to ``size`` bytes."""
    return data + b" " * (size - len(data))


def test_a_chunked_body_over_the_size_is_413_not_read_cut_at_the_cap(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    """A chunked body has no length to check first; it used to be read up to the cap and
    used as if it ended there, so a valid start padded past the cap was taken."""
    caregiver = b'{"name": "Pad", "role": "RN", "phone": "+15555550191"}'
    over = chunked(client, "/caregivers", padded(caregiver, 4097), "application/json")
    assert over.status_code == 413, over.json
    assert over.json["error"]["code"] == "payload_too_large"
    form = f"From=%2B{RN_PHONES[0][1:]}&Body=yes&MessageSid=SM-pad".encode()
    over_form = chunked(
        client, "/messages/inbound", padded(form, 4097), "application/x-www-form-urlencoded"
    )
    assert over_form.status_code == 413
    assert client.get("/shifts/sh_1").json["status"] == "open"
    assert len(client.get("/caregivers").json) == 5

    at_the_cap = chunked(client, "/caregivers", padded(caregiver, 4096), "application/json")
    assert at_the_cap.status_code == 201, at_the_cap.json


def test_a_message_longer_than_the_providers_maximum_is_still_answered(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    long_yes = "Yes! " + "I would be glad to help. " * 60  # about 1,500 characters
    answer = reply(client, RN_PHONES[0], long_yes)
    assert answer["outcome"] == "assigned"
    rambling = reply(client, RN_PHONES[1], "well " * 320)  # 1,600 characters, no answer
    assert rambling["outcome"] == "unrecognized"


def test_a_flood_of_replays_from_one_number_adds_nothing(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    first = reply(client, RN_PHONES[0], "yes", message_id="SM-flood")
    events = client.get("/shifts/sh_1/events").json
    remembered = len(runtime.deps.store.inbound)
    for _ in range(500):
        assert reply(client, RN_PHONES[0], "yes", message_id="SM-flood") == first
    assert len(runtime.deps.store.inbound) == remembered
    assert client.get("/shifts/sh_1/events").json == events
