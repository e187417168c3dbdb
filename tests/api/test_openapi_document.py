"""``/openapi.json`` as a client generator reads it: ids, required fields, every error answered.

The errors each operation documents are checked against what the app answers:
without the token, with a body over the cap, and with the store down.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bench.harness import RedisServer
from shiftfill.api import errors
from shiftfill.api.blueprint import WITHOUT_STORE
from shiftfill.api.errors import ALL_ERROR_CODES
from shiftfill.services.errors import ServiceError
from tests.conftest import RN_PHONES, build_app, shift_body, unique_prefix

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "post", "put", "patch", "delete"}

# Clients are generated from these names: renaming one breaks them, so a change here
# is a change of the API.
OPERATION_IDS = {
    ("get", "/caregivers"): "listCaregivers",
    ("post", "/caregivers"): "createCaregiver",
    ("post", "/caregivers/batch"): "importCaregivers",
    ("get", "/caregivers/{caregiver_id}"): "getCaregiver",
    ("patch", "/caregivers/{caregiver_id}"): "updateCaregiver",
    ("get", "/caregivers/{caregiver_id}/events"): "listCaregiverEvents",
    ("get", "/health"): "getHealth",
    ("post", "/messages/inbound"): "postInboundMessage",
    ("post", "/messages/status"): "postDeliveryStatus",
    ("get", "/metrics"): "getMetrics",
    ("get", "/organizations"): "listOrganizations",
    ("post", "/organizations"): "createOrganization",
    ("get", "/organizations/{organization_id}"): "getOrganization",
    ("patch", "/organizations/{organization_id}"): "updateOrganization",
    ("post", "/organizations/{organization_id}/webhooks"): "createWebhook",
    ("get", "/organizations/{organization_id}/webhooks"): "listWebhooks",
    ("delete", "/organizations/{organization_id}/webhooks/{webhook_id}"): "deleteWebhook",
    ("get", "/organizations/{organization_id}/webhooks/{webhook_id}/deliveries"): (
        "listWebhookDeliveries"
    ),
    ("get", "/shifts"): "listShifts",
    ("post", "/shifts"): "createShift",
    ("get", "/shifts/{shift_id}"): "getShift",
    ("post", "/shifts/{shift_id}/fanout"): "startFanout",
    ("post", "/shifts/{shift_id}/cancel"): "cancelShift",
    ("get", "/shifts/{shift_id}/notifications"): "listShiftNotifications",
    ("get", "/shifts/{shift_id}/events"): "listShiftEvents",
    ("get", "/shifts/{shift_id}/candidates"): "listShiftCandidates",
    ("get", "/clients"): "listClients",
    ("post", "/clients"): "createClient",
    ("get", "/clients/{client_id}"): "getClient",
    ("patch", "/clients/{client_id}"): "updateClient",
    ("post", "/voice/gather"): "postCallAnswer",
}

# One request per operation that its schema accepts, so that the layer under test
# answers it, not validation. A new operation needs one here.
VALID_REQUESTS: dict[str, dict[str, Any]] = {
    "listCaregivers": {},
    "createCaregiver": {"json": {"name": "Ana", "role": "RN", "phone": RN_PHONES[0]}},
    "importCaregivers": {
        "json": {"caregivers": [{"name": "Ana", "role": "RN", "phone": RN_PHONES[0]}]}
    },
    "getCaregiver": {},
    "updateCaregiver": {"json": {"name": "Ana Lima"}},
    "listCaregiverEvents": {},
    "getHealth": {},
    "postInboundMessage": {"json": {"from": RN_PHONES[0], "body": "yes"}},
    "postDeliveryStatus": {"data": {"MessageSid": "SM1", "MessageStatus": "delivered"}},
    "getMetrics": {},
    "listOrganizations": {},
    "createOrganization": {"json": {"name": "Sunrise", "time_zone": "America/Chicago"}},
    "getOrganization": {},
    "updateOrganization": {"json": {"name": "Sunset"}},
    "createWebhook": {"json": {"url": "https://example.com/hook", "events": ["shift.filled"]}},
    "listWebhooks": {},
    "deleteWebhook": {},
    "listWebhookDeliveries": {},
    "listShifts": {},
    "createShift": {"json": shift_body()},
    "getShift": {},
    "startFanout": {},
    "cancelShift": {},
    "listShiftNotifications": {},
    "listShiftEvents": {},
    "listShiftCandidates": {},
    "listClients": {},
    "createClient": {"json": {"organization_id": "default", "name": "R. Alvarez"}},
    "getClient": {},
    "updateClient": {"json": {"name": "R. Alvarez"}},
    "postCallAnswer": {"data": {"CallSid": "CA1", "Digits": "1"}},
}
# The provider's shape of the operations that take it, for the signature check.
PROVIDER_REQUESTS: dict[str, dict[str, Any]] = {
    "postInboundMessage": {"data": {"From": RN_PHONES[0], "Body": "yes"}},
    "postDeliveryStatus": VALID_REQUESTS["postDeliveryStatus"],
    "postCallAnswer": VALID_REQUESTS["postCallAnswer"],
}


def document(app: Flask, headers: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = app.test_client().get("/openapi.json", headers=headers).json
    return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each documented operation: method, path, operation object."""
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def call(client: FlaskClient, method: str, path: str, **request: Any) -> TestResponse:
    """Send ``request`` to ``path`` with every path parameter set to an unknown id."""
    url = re.sub(r"\{\w+\}", "x1", path)
    return client.open(url, method=method.upper(), **request)


@pytest.fixture
def open_app() -> Flask:
    return build_app({})


def test_every_operation_has_its_own_stable_operation_id(open_app: Flask) -> None:
    found = {
        (method, path): op.get("operationId") for method, path, op in operations(document(open_app))
    }
    assert found == OPERATION_IDS
    assert len(set(found.values())) == len(found)
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", name) for name in found.values())


def response_schemas(doc: dict[str, Any]) -> set[str]:
    """The component schemas a response can carry, nested ones included."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in names:
                    names.add(name)
                    visit(doc["components"]["schemas"][name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for _, _, operation in operations(doc):
        visit(operation["responses"])
    visit(doc["components"]["responses"])
    return names


def test_every_field_of_a_response_is_required_and_nullable_ones_say_so(open_app: Flask) -> None:
    doc = document(open_app)
    schemas = doc["components"]["schemas"]
    names = response_schemas(doc)
    assert {"Shift", "Fanout", "Caregiver", "Notification", "Event", "Error"} <= names
    for name in names:
        properties = schemas[name].get("properties", {})
        assert sorted(schemas[name].get("required", [])) == sorted(properties), name
    shift = schemas["Shift"]["properties"]
    assert shift["filled_at"]["nullable"] is True
    assert shift["assigned_caregiver_id"]["nullable"] is True


def test_responses_of_a_whole_fill_carry_every_required_field() -> None:
    app = build_app({})
    client = app.test_client()
    schema = schemathesis.openapi.from_dict(document(app))
    runtime = app.extensions["shiftfill"]
    answered: list[tuple[str, str, TestResponse]] = []

    def record(method: str, template: str, url: str, **request: Any) -> TestResponse:
        response = client.open(url, method=method.upper(), **request)
        answered.append((method, template, response))
        return response

    record("post", "/caregivers", "/caregivers", json=VALID_REQUESTS["createCaregiver"]["json"])
    record("post", "/shifts", "/shifts", json=shift_body(id="sh_1"))
    record("post", "/shifts/{shift_id}/fanout", "/shifts/sh_1/fanout")
    assert runtime.sender.wait_idle(5)
    record(
        "post", "/messages/inbound", "/messages/inbound", json={"from": RN_PHONES[0], "body": "yes"}
    )
    record("get", "/shifts/{shift_id}", "/shifts/sh_1")
    record("get", "/shifts/{shift_id}/notifications", "/shifts/sh_1/notifications")
    record("get", "/shifts/{shift_id}/events", "/shifts/sh_1/events")
    record("get", "/caregivers", "/caregivers")
    record("get", "/organizations", "/organizations")
    record("get", "/health", "/health")
    record("get", "/shifts/{shift_id}", "/shifts/nope")
    record("post", "/shifts", "/shifts", json={"role_required": "RN"})
    for method, template, response in answered:
        assert response.status_code < 500, (template, response.json)
        schema[template][method.upper()].validate_response(response)
    shift = answered[4][2].json
    assert shift["status"] == "filled" and shift["fanout"]["escalated_at"] is None
    assert set(shift) == set(schema.raw_schema["components"]["schemas"]["Shift"]["required"])


def test_the_document_is_valid_openapi_3(open_app: Flask) -> None:
    doc = document(open_app)
    assert doc["openapi"].startswith("3.0")
    schemathesis.openapi.from_dict(doc).validate()


def test_a_provider_reply_is_documented_as_a_text_or_a_call(open_app: Flask) -> None:
    """Each form the view answers is valid against the document, and one it refuses is not."""
    doc = document(open_app)
    body = doc["paths"]["/messages/inbound"]["post"]["requestBody"]["content"]
    form = body["application/x-www-form-urlencoded"]["schema"]
    valid = jsonschema_rs.validator_for({**form, "components": doc["components"]}).is_valid
    text = {"From": RN_PHONES[0], "Body": "yes", "MessageSid": "SM1"}
    call = {"From": RN_PHONES[0], "CallSid": "CA1", "Digits": "1"}
    assert valid(text) and valid(call)
    assert valid({**text, "CallSid": "CA1"})  # a text, whatever else it carries
    assert not valid({"From": RN_PHONES[0], "MessageSid": "SM1"})


def codes_the_app_can_send() -> set[str]:
    """Every error code in the code: by status, by service error, and literal ones."""
    service_errors, todo = set(), [ServiceError]
    while todo:
        cls = todo.pop()
        service_errors.add(cls.code)
        todo += cls.__subclasses__()
    literal = {
        match
        for path in (ROOT / "shiftfill" / "api").rglob("*.py")
        for match in re.findall(r"\bcode=\"(\w+)\"", path.read_text())
    }
    constants = {errors.STORE_UNAVAILABLE, errors.OTHER_ERROR}
    return set(errors.ERROR_CODES.values()) | service_errors | literal | constants


def test_error_code_enum_lists_every_code_the_app_and_its_proxy_send(open_app: Flask) -> None:
    enum = document(open_app)["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
    nginx = set(re.findall(r'"code": "(\w+)"', (ROOT / "deploy/nginx.conf.template").read_text()))
    assert nginx, "the proxy's error bodies were not found"
    assert set(enum) == set(ALL_ERROR_CODES)
    assert codes_the_app_can_send() | nginx <= set(enum)
    assert set(enum) <= codes_the_app_can_send() | nginx, "a code nothing sends"


def test_every_error_status_is_documented_with_the_error_body(open_app: Flask) -> None:
    doc = document(open_app)
    error = {"$ref": "#/components/schemas/Error"}
    for method, path, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                name = response["$ref"].rsplit("/", 1)[1]
                content = doc["components"]["responses"][name]["content"]
                assert content["application/json"]["schema"] == error, (method, path, status)


GUARDED = {
    "SHIFTFILL_API_TOKEN": "ops-token",
    "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
    "TWILIO_AUTH_TOKEN": "twilio-token",
    "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
}


def test_exactly_the_operations_documented_with_401_and_403_refuse_a_missing_credential() -> None:
    app = build_app(GUARDED)
    client = app.test_client()
    doc = document(app, {"Authorization": "Bearer ops-token"})
    for method, path, operation in operations(doc):
        name, documented = operation["operationId"], operation["responses"]
        response = call(client, method, path, **VALID_REQUESTS[name])
        if "401" in documented:
            assert response.status_code == 401, name
            assert response.json["error"]["code"] == "unauthorized"
        else:
            assert response.status_code != 401, name
        if name in PROVIDER_REQUESTS:
            signed = call(client, method, path, **PROVIDER_REQUESTS[name])
            assert ("403" in documented) == (signed.status_code == 403), name
        else:
            assert "403" not in documented, name


def oversized(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` with a body of more than 2 KiB, in the same content type."""
    if "data" in request:
        return {"data": {**request["data"], "Padding": "x" * 2048}}
    return {"json": {"padding": "x" * 2048}}


def test_every_operation_that_takes_a_body_documents_and_answers_413_over_the_cap() -> None:
    client = build_app({"SHIFTFILL_MAX_BODY_BYTES": "1024"}).test_client()
    doc = document(client.application)
    for method, path, operation in operations(doc):
        name = operation["operationId"]
        assert ("413" in operation["responses"]) == ("requestBody" in operation), name
        if "requestBody" in operation:
            response = call(client, method, path, **oversized(VALID_REQUESTS[name]))
            assert response.status_code == 413, name
            assert response.json["error"]["code"] == "payload_too_large"


@pytest.fixture
def redis_to_stop() -> Iterator[RedisServer]:
    """A Redis of this test's own, which the test stops."""
    server = RedisServer()
    yield server
    server.close()


def test_every_operation_documents_503_and_answers_it_when_the_store_is_down(
    redis_to_stop: RedisServer,
) -> None:
    env = {"SHIFTFILL_STORE_URL": redis_to_stop.url, "SHIFTFILL_REDIS_PREFIX": unique_prefix()}
    app = build_app(env)
    client = app.test_client()
    doc = document(app)
    redis_to_stop.stop()
    for method, path, operation in operations(doc):
        name = operation["operationId"]
        response = call(client, method, path, **VALID_REQUESTS[name])
        if operation.get(WITHOUT_STORE):
            assert "503" not in operation["responses"], name
            assert response.status_code == 200, name
            continue
        assert "503" in operation["responses"], name
        assert response.status_code == 503, (name, response.status_code)
        assert response.json["error"]["code"] == "store_unavailable"
        assert response.headers["Retry-After"] == "5"
