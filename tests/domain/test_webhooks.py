"""A delivery's payload, built in parts: the same JSON as the whole, and none once settled."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shiftfill.domain.model import Shift
from shiftfill.domain.webhooks import (
    Attempt,
    Delivery,
    about,
    after_attempt,
    payload_of,
)

AT = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)
SHIFT = Shift("sh_1", "default", "RN", AT, AT)
RENDERED = {"id": "sh_1", "note": 'a "quoted" é', "offered_caregiver_ids": ["cg_1", "cg_2"]}


@pytest.mark.parametrize(
    "fields",
    [{}, {"caregiver_id": "cg_1", "round": "sms"}, {"notification": {"error": "30003 ü"}}],
    ids=["no-fields", "fields", "nested-fields"],
)
def test_a_payload_is_the_json_of_the_whole_message(fields: dict[str, object]) -> None:
    message = about(SHIFT, "shift.filled", AT, **fields)
    payload = payload_of(message, json.dumps(RENDERED))
    whole = {
        "type": "shift.filled",
        "timestamp": "2026-11-28T14:00:05Z",
        "data": {"shift": RENDERED, **fields},
    }
    assert payload.text == json.dumps(whole)
    assert payload.shift == json.dumps(RENDERED)


def test_a_retry_keeps_the_payload_and_a_settled_delivery_drops_it() -> None:
    message = about(SHIFT, "shift.filled", AT)
    delivery = Delivery(message.id, "wh_1", message.type, payload_of(message, "{}"), AT)
    retry = after_attempt(delivery, Attempt(status_code=500), now=AT, schedule=[5])
    assert retry.pending and retry.body == delivery.body
    for answer in (Attempt(status_code=200), Attempt(status_code=410), Attempt(error="timed out")):
        done = after_attempt(retry, answer, now=AT, schedule=[5])
        assert not done.pending and done.body == "", answer
