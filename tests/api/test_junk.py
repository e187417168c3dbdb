"""Hand-written junk on every endpoint: a 4xx with the one error body, and no change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from config import TestingConfig
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from tests.conftest import RN_PHONES, add_roster, fan_out, shift_body
from tests.fakes import FakeNotifier

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

JUNK_BODIES: list[tuple[str, bytes, str | None]] = [
    ("invalid utf-8", b'{"name": "\xff\xfe"}', JSON),
    ("truncated json", b'{"name": ', JSON),
    ("array for object", b'[{"name": "Ana"}]', JSON),
    ("string for object", b'"hello"', JSON),
    ("null body", b"null", JSON),
    ("nulls", b'{"name": null, "role": null, "phone": null, "from": null, "body": null}', JSON),
    ("numbers", b'{"name": 1, "role": 2, "phone": 3, "organization_id": 4, "from": 5}', JSON),
    ("nested junk", b'{"caregivers": [[1], {"a": {}}], "start_time": []}', JSON),
    ("text/plain", b"name=Ana", "text/plain"),
    ("no content type", b"name=Ana", None),
    ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
    ("form junk", b"%ZZ=%ZZ&From=&Body", FORM),
    ("huge", b'{"name": "' + b"x" * 2_000_000 + b'"}', JSON),
    # Too deep for Python's parser (RecursionError) or a number too long for int() (ValueError).
    ("100,000 [", b"[" * 100_000, JSON),
    ("5,000 levels", b'{"a": ' * 5000 + b"1" + b"}" * 5000, JSON),
    ("5,000 levels in a field", b'{"caregivers": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON),
    (
        "4,301-digit integer",
        b'{"name": "A", "role": "RN", "phone": ' + b"9" * 4301 + b', "from": 1, "body": "yes"}',
        JSON,
    ),
]

BODY_ENDPOINTS = [
    "/caregivers",
    "/caregivers/batch",
    "/shifts",
    "/messages/inbound",
    "/messages/status",
    "/voice/gather",
]


@pytest.fixture(scope="module")
def fanned_out_app() -> Iterator[tuple[FlaskClient, Runtime]]:
    """The roster and shift sh_1 fanned out, in one app for the junk tests of this module.

    Each of them checks that its junk changed nothing, so they need no fresh app each.
    """
    config = TestingConfig({})
    runtime = bootstrap(config, notifier=FakeNotifier(), escalation=False)
    client = create_app(config, runtime).test_client()
    add_roster(client)
    fan_out(client, runtime)
    yield client, runtime
    runtime.shutdown()


def snapshot(client: FlaskClient, runtime: Runtime) -> Any:
    return (
        client.get("/caregivers").json,
        client.get("/shifts").json,
        client.get("/shifts/sh_1/events").json,
        client.get("/shifts/sh_1/notifications").json,
        len(runtime.deps.store.inbound),
    )


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize(
    ("label", "body", "content_type"), JUNK_BODIES, ids=[j[0] for j in JUNK_BODIES]
)
def test_junk_bodies_get_the_error_body_and_change_nothing(
    fanned_out_app: tuple[FlaskClient, Runtime],
    path: str,
    label: str,
    body: bytes,
    content_type: str | None,
) -> None:
    client, runtime = fanned_out_app
    before = snapshot(client, runtime)
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, data=body, headers=headers)
    assert 400 <= response.status_code < 500, (label, response.status_code, response.data[:200])
    assert set(response.json["error"]) == {"code", "message", "fields"}, response.json
    assert snapshot(client, runtime) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/caregivers/%00"),
        ("get", "/caregivers/" + "x" * 5000),
        ("get", "/shifts/..%2F..%2Fetc"),
        ("post", "/shifts/%FF/fanout"),
        ("post", "/shifts/nope/cancel"),
        ("get", "/shifts/%F0%9F%92%A5/events"),
        ("get", "/shifts/nope/notifications"),
        ("get", "/shifts?status=OPEN%00&role=" + "R" * 100),
        ("get", "/caregivers?role=%20%20"),
        ("delete", "/caregivers"),
        ("put", "/shifts/sh_1"),
        ("get", "/messages/inbound"),
    ],
)
def test_junk_paths_and_queries_get_the_error_body_and_change_nothing(
    fanned_out_app: tuple[FlaskClient, Runtime], method: str, path: str
) -> None:
    client, runtime = fanned_out_app
    before = snapshot(client, runtime)
    response = getattr(client, method)(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert snapshot(client, runtime) == before


LISTS = [
    "/caregivers",
    "/organizations",
    "/shifts",
    "/shifts/sh_1/notifications",
    "/shifts/sh_1/events",
    "/caregivers/cg_1/events",
    "/clients",
    "/shifts/sh_1/candidates",
    "/organizations/default/webhooks",
]


@pytest.mark.parametrize("path", LISTS)
def test_an_unknown_query_parameter_on_a_list_is_422_naming_it(
    fanned_out_app: tuple[FlaskClient, Runtime], path: str
) -> None:
    client, _ = fanned_out_app
    assert client.get(path).status_code == 200
    # A filter misspelt or one a list does not have is refused, never ignored.
    response = client.get(path + "?limit=1")
    assert response.status_code == 422, (path, response.status_code)
    assert response.json["error"]["fields"] == {"limit": ["Unknown field."]}


@pytest.mark.parametrize(
    "query", ["/shifts?status=cancelled&status=open", "/caregivers?role=RN&role=LPN"]
)
def test_a_filter_sent_twice_is_422_not_read_as_its_first_value(
    fanned_out_app: tuple[FlaskClient, Runtime], query: str
) -> None:
    """A list filters by one value per parameter: the second must not be dropped silently."""
    client, _ = fanned_out_app
    response = client.get(query)
    assert response.status_code == 422, response.json
    name = query.split("?")[1].split("=")[0]
    assert response.json["error"]["fields"] == {name: ["Sent more than once."]}


A_CAREGIVER = {"name": "Ana", "role": "RN", "phone": "+15555550190"}
# Tomorrow's day shift, whatever the day the suite runs.
A_SHIFT = shift_body()
A_REPLY = {"from": "+15555550101", "body": "yes"}
A_WEBHOOK = {"From": "+15555550101", "Body": "yes", "MessageSid": "SM" + "0" * 32}

JUNK_FIELDS: list[tuple[str, str, dict[str, Any], str, str]] = [
    # (label, path, body, how it is sent, the field to blame)
    (
        "year 1 east of UTC",
        "/shifts",
        {"start_time": "0001-01-01T00:00:00+05:00"},
        JSON,
        "start_time",
    ),
    (
        "year 9999 west of UTC",
        "/shifts",
        {"end_time": "9999-12-31T20:00:00-05:00"},
        JSON,
        "end_time",
    ),
    ("year 9999 in UTC", "/shifts", {"end_time": "9999-12-31T23:59:59+00:00"}, JSON, "end_time"),
    ("NUL in a role", "/shifts", {"role_required": "R\x00N"}, JSON, "role_required"),
    ("zero-width space in a role", "/caregivers", {"role": "R\u200bN"}, JSON, "role"),
    ("NUL in a role", "/caregivers", {"role": "R\x00N"}, JSON, "role"),
    ("escape in a name", "/caregivers", {"name": "Ana\x1b[31mLima"}, JSON, "name"),
    ("newline in a name", "/caregivers", {"name": "Ana\nINFO forged line"}, JSON, "name"),
    ("line separator in a name", "/caregivers", {"name": "Ana\u2028Lima"}, JSON, "name"),
    ("right-to-left override", "/caregivers", {"name": "Ana\u202eamiL"}, JSON, "name"),
    ("zero-width spaces only", "/caregivers", {"name": "\u200b\u200b\u200b"}, JSON, "name"),
    ("format characters only", "/caregivers", {"name": "\u2060 \ufeff \u200d"}, JSON, "name"),
    ("lone surrogate", "/caregivers", {"name": "Ana \ud800"}, JSON, "name"),
    ("trailing newline in an id", "/caregivers", {"id": "cg_9\n"}, JSON, "id"),
    ("4,301-digit phone", "/caregivers", {"phone": "9" * 4301}, JSON, "phone"),
    ("65-character message id", "/messages/inbound", {"message_id": "S" * 65}, JSON, "message_id"),
    ("space in a message id", "/messages/inbound", {"message_id": "SM 1"}, JSON, "message_id"),
    ("NUL in a reply", "/messages/inbound", {"body": "yes\x00"}, JSON, "body"),
    ("NUL in a sender", "/messages/inbound", {"from": "+1555\x00"}, JSON, "from"),
    ("65-character sender", "/messages/inbound", {"from": "+" + "1" * 64}, JSON, "from"),
    ("65-character shift id", "/messages/inbound", {"shift_id": "s" * 65}, JSON, "shift_id"),
    ("huge MessageSid", "/messages/inbound", {"MessageSid": "S" * 10_000}, FORM, "MessageSid"),
    ("65-character CallSid", "/voice/gather", {"CallSid": "C" * 65}, FORM, "CallSid"),
    ("escape in a webhook body", "/messages/inbound", {"Body": "yes\x1b"}, FORM, "Body"),
    ("33 keys pressed", "/voice/gather", {"CallSid": "CA1", "Digits": "1" * 33}, FORM, "Digits"),
]
BASES = {
    "/shifts": A_SHIFT,
    "/caregivers": A_CAREGIVER,
    ("/messages/inbound", JSON): A_REPLY,
    ("/messages/inbound", FORM): A_WEBHOOK,
    "/voice/gather": {"CallSid": "CA1", "Digits": "1"},
}


@pytest.mark.parametrize(
    ("label", "path", "change", "sent_as", "field"),
    JUNK_FIELDS,
    ids=[f"{j[1]} {j[0]}" for j in JUNK_FIELDS],
)
def test_junk_in_one_field_is_422_naming_it_and_changes_nothing(
    fanned_out_app: tuple[FlaskClient, Runtime],
    label: str,
    path: str,
    change: dict[str, Any],
    sent_as: str,
    field: str,
) -> None:
    client, runtime = fanned_out_app
    before = snapshot(client, runtime)
    body = {**BASES.get((path, sent_as), BASES.get(path, {})), **change}
    if sent_as == JSON:
        response = client.post(path, json=body)
    else:
        response = client.post(path, data=body, content_type=FORM)
    assert response.status_code == 422, (label, response.status_code, response.data[:300])
    assert list(response.json["error"]["fields"]) == [field], response.json
    assert snapshot(client, runtime) == before


# The longest role SHIFTFILL_ROLES may name, allowed beside the roster's roles.
@pytest.mark.parametrize("settings_env", [{"SHIFTFILL_ROLES": "RN,LPN," + "R" * 32}])
def test_every_field_at_its_length_limit_is_accepted_and_answered(
    client: FlaskClient, runtime: Runtime, roster: list[dict[str, Any]]
) -> None:
    role = "R" * 32
    caregiver = {"id": "c" * 64, "name": "N" * 200, "role": role, "phone": "+15555550190"}
    assert client.post("/caregivers", json=caregiver).status_code == 201
    org = {"id": "o" * 64, "name": "O" * 100, "time_zone": "America/Argentina/ComodRivadavia"}
    assert client.post("/organizations", json=org).status_code == 201
    shift = {**A_SHIFT, "id": "s" * 64, "organization_id": "o" * 64, "role_required": role}
    assert client.post("/shifts", json=shift).status_code == 201
    assert client.post("/shifts/" + "s" * 64 + "/fanout").status_code == 202
    assert runtime.sender.wait_idle(5)
    reply = {
        "from": "+15555550190",
        "body": "yes " + "y" * 1596,
        "message_id": "m" * 64,
        "shift_id": "s" * 64,
    }
    answer = client.post("/messages/inbound", json=reply)
    assert answer.status_code == 200, answer.json
    assert answer.json["outcome"] == "assigned"
    webhook = {"From": RN_PHONES[0], "Body": "y" * 1600, "MessageSid": "M" * 64}
    twiml = client.post("/messages/inbound", data=webhook)
    assert twiml.status_code == 200
    assert twiml.mimetype == "text/xml"


class InvalidChunkSize(Exception):
    """What gunicorn raises, from the body's read, for ``Transfer-Encoding: chunked`` junk."""


class BrokenBody:
    """A chunked request body the server cannot read, as a malformed chunk size makes it."""

    def read(self, *_: Any) -> bytes:
        raise InvalidChunkSize("Invalid chunk size: b'zz'")

    def readline(self, *_: Any) -> bytes:
        raise InvalidChunkSize("Invalid chunk size: b'zz'")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [(path, JSON) for path in BODY_ENDPOINTS[:4]]
    + [(path, FORM) for path in ("/messages/inbound", "/messages/status", "/voice/gather")],
)
def test_a_body_that_cannot_be_read_is_400_not_500(
    fanned_out_app: tuple[FlaskClient, Runtime], path: str, content_type: str
) -> None:
    """``Transfer-Encoding: chunked`` with a junk chunk size fails as the body is read."""
    client, runtime = fanned_out_app
    before = snapshot(client, runtime)
    response = client.post(
        path,
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        # As gunicorn hands a chunked body over: read directly, ended by the server.
        environ_overrides={"wsgi.input": BrokenBody(), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400, (path, response.status_code)
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert response.json["error"]["code"] == "bad_request"
    assert snapshot(client, runtime) == before
