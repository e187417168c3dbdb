"""A whole fill over Twilio's wire formats: the real server under gunicorn, a fake Twilio API."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from bench.harness import Server, free_port
from tests.conftest import shift_body
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi

pytestmark = pytest.mark.server

OURS = "+15555550100"
RNS = ["+15555550401", "+15555550402", "+15555550403"]
OPS_TOKEN = "ops-token"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def server(twilio: FakeTwilioApi) -> Iterator[Server]:
    port = free_port()
    server = Server(
        port=port,
        SHIFTFILL_ESCALATION_DELAY_SECONDS="1",
        SHIFTFILL_NOTIFIER="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        SHIFTFILL_TWILIO_FROM=OURS,
        SHIFTFILL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SHIFTFILL_TWILIO_API_BASE=twilio.base_url,
        SHIFTFILL_API_TOKEN=OPS_TOKEN,
        SHIFTFILL_SECRET_KEY="board-signing-key-0123456789",
    )
    yield server
    assert server.stop() == 0


def provider(server: Server, path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> Any:
    signature = RequestValidator(token).compute_signature(server.base + path, params)
    return server.request("POST", path, form=params, headers={"X-Twilio-Signature": signature})


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_whole_fill_over_the_providers_wire_formats(server: Server, twilio: FakeTwilioApi) -> None:
    for i, phone in enumerate(RNS):
        body = {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": phone}
        assert server.request("POST", "/caregivers", body, headers=OPS)[0] == 201
    shift = shift_body(id="sh_1")
    assert server.request("POST", "/shifts", shift, headers=OPS)[0] == 201

    # Unauthenticated ops calls and forged webhooks are refused and change nothing.
    assert server.request("POST", "/shifts/sh_1/fanout")[0] == 401
    forged = provider(server, "/messages/inbound", {"From": RNS[0], "Body": "yes"}, token="x")
    assert forged[0] == 403
    assert twilio.requests == []

    # SMS out, through the Messages API, with our status callback.
    assert server.request("POST", "/shifts/sh_1/fanout", headers=OPS)[0] == 202
    assert wait_for(lambda: len(twilio.messages()) == 3)
    texts = {r.params["To"]: r for r in twilio.messages()}
    assert set(texts) == set(RNS)
    assert all(
        r.params["StatusCallback"] == server.base + "/messages/status" for r in texts.values()
    )
    code = server.request("GET", "/shifts/sh_1", headers=OPS)[1]["fanout"]["offer_code"]
    assert f"YES {code}" in texts[RNS[0]].params["Body"]

    # Status callbacks in.
    notes = server.request("GET", "/shifts/sh_1/notifications", headers=OPS)[1]
    for note in notes:
        params = {"MessageSid": note["provider_id"], "MessageStatus": "delivered"}
        assert provider(server, "/messages/status", params)[0] == 204
    notes = server.request("GET", "/shifts/sh_1/notifications", headers=OPS)[1]
    assert {n["status"] for n in notes} == {"delivered"}

    # A decline by SMS, then the phone round calls the other two with TwiML.
    declined = provider(
        server, "/messages/inbound", {"From": RNS[0], "Body": "no", "MessageSid": "SMd"}
    )
    assert "<Message>" in declined[1]
    assert wait_for(lambda: len(twilio.calls()) == 2)
    calls = {r.params["To"]: r for r in twilio.calls()}
    assert set(calls) == set(RNS[1:])
    assert f'action="{server.base}/voice/gather"' in calls[RNS[1]].params["Twiml"]

    # Keypad replies in, at the same instant: one winner.
    def call_sid(phone: str) -> str:
        notes = server.request("GET", "/shifts/sh_1/notifications", headers=OPS)[1]
        index = RNS.index(phone)
        return next(
            n["provider_id"]
            for n in notes
            if n["channel"] == "call" and n["caregiver_id"] == f"cg_{index}"
        )

    assert wait_for(lambda: all(call_sid(p) for p in RNS[1:]))
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def press_one(phone: str) -> None:
        params = {"CallSid": call_sid(phone), "From": OURS, "To": phone, "Digits": "1"}
        barrier.wait()
        status, body = provider(server, "/voice/gather", params)
        assert status == 200
        answers.append(body)

    threads = [threading.Thread(target=press_one, args=(p,)) for p in RNS[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter("<Say>Confirmed" in a for a in answers) == {True: 1, False: 1}

    final = server.request("GET", "/shifts/sh_1", headers=OPS)[1]
    assert final["status"] == "filled"
    assert final["assigned_caregiver_id"] in {"cg_1", "cg_2"}
    events = [e["type"] for e in server.request("GET", "/shifts/sh_1/events", headers=OPS)[1]]
    assert events.count("assigned") == 1
    assert events.count("sms_delivered") == 3
    assert events.count("call_placed") == 2
