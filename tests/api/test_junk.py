"""Hand-written junk on every endpoint: a 4xx with the contract's error body, and no change."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.bootstrap import Runtime

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
]

BODY_ENDPOINTS = [
    "/caregivers",
    "/caregivers/batch",
    "/shifts",
    "/messages/inbound",
    "/messages/status",
    "/voice/gather",
]


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
    client: FlaskClient,
    runtime: Runtime,
    fanned_out: dict[str, Any],
    path: str,
    label: str,
    body: bytes,
    content_type: str | None,
) -> None:
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
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any], method: str, path: str
) -> None:
    before = snapshot(client, runtime)
    response = getattr(client, method)(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert snapshot(client, runtime) == before
