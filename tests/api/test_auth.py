"""The ops API behind bearer tokens (``SHIFTFILL_API_TOKEN``)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import shift_body

TOKENS = ("current-token", "previous-token")

OPS_ENDPOINTS = [
    ("get", "/caregivers"),
    ("post", "/caregivers"),
    ("get", "/caregivers/cg_1"),
    ("get", "/shifts"),
    ("post", "/shifts"),
    ("get", "/shifts/sh_1"),
    ("post", "/shifts/sh_1/fanout"),
    ("post", "/shifts/sh_1/cancel"),
    ("get", "/shifts/sh_1/notifications"),
    ("get", "/shifts/sh_1/events"),
    ("post", "/messages/inbound"),
    ("get", "/openapi.json"),
]


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {
        "SHIFTFILL_API_TOKEN": " current-token , previous-token ",
        "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "path"), OPS_ENDPOINTS)
def test_every_ops_endpoint_is_401_without_a_token(
    client: FlaskClient, method: str, path: str
) -> None:
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic current-token"},
        {"Authorization": "current-token"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_wrong_token_or_scheme_is_401_and_changes_nothing(
    client: FlaskClient, header: dict[str, str]
) -> None:
    body = {"name": "Ana", "role": "RN", "phone": "+15555550101"}
    assert client.post("/caregivers", json=body, headers=header).status_code == 401
    assert client.get("/caregivers", headers=bearer(TOKENS[0])).json == []


@pytest.mark.parametrize("token", TOKENS)
def test_any_configured_token_is_accepted(client: FlaskClient, token: str) -> None:
    created = client.post(
        "/caregivers",
        json={"id": "cg_1", "name": "Ana", "role": "RN", "phone": "+15555550101"},
        headers=bearer(token),
    )
    assert created.status_code == 201
    shift = shift_body(id="sh_1")
    assert client.post("/shifts", json=shift, headers=bearer(token)).status_code == 201
    for method, path in OPS_ENDPOINTS:
        if method == "get":
            assert client.get(path, headers=bearer(token)).status_code == 200, path
    fanout = client.post("/shifts/sh_1/fanout", headers=bearer(token))
    assert fanout.status_code == 202
    inbound = client.post(
        "/messages/inbound", json={"from": "+15555550101", "body": "yes"}, headers=bearer(token)
    )
    assert inbound.json["outcome"] == "assigned"


def test_health_and_provider_webhooks_need_no_bearer_token(client: FlaskClient) -> None:
    assert client.get("/health").status_code == 200
    form = {"From": "+15555550101", "Body": "yes", "MessageSid": "SM1"}
    assert client.post("/messages/inbound", data=form).status_code == 200


def test_the_openapi_document_declares_the_bearer_scheme(client: FlaskClient) -> None:
    doc = client.get("/openapi.json", headers=bearer(TOKENS[0])).json
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert doc["paths"]["/voice/gather"]["post"]["security"] == [{"twilioSignature": []}]
