"""Races over HTTP on the real server: 50 accepts, a cancel and the phone round in one instant."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from bench.harness import Server
from tests.conftest import tomorrow_at

pytestmark = pytest.mark.server

ROUNDS = int(os.environ.get("SHIFTFILL_RACE_ROUNDS", "100"))
CAREGIVERS = 50
DELAY = 0.15
PHONES = [f"+1555555{i + 700:04d}" for i in range(CAREGIVERS)]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # Poll for due phone rounds often, so the round really lands among the accepts.
    server = Server(
        SHIFTFILL_ESCALATION_DELAY_SECONDS=str(DELAY), SHIFTFILL_ESCALATION_POLL_SECONDS="0.05"
    )
    people = [
        {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": phone}
        for i, phone in enumerate(PHONES)
    ]
    assert server.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
    yield server
    assert server.stop() == 0


def race_round(server: Server, n: int) -> tuple[str, Counter[str]]:
    shift_id = f"race_{n}"
    body = {
        "id": shift_id,
        "organization_id": "org_1",
        "role_required": "RN",
        "start_time": tomorrow_at(7).isoformat(),
        "end_time": tomorrow_at(19).isoformat(),
    }
    assert server.request("POST", "/shifts", body)[0] == 201
    fanned_out_at = time.monotonic()
    assert server.request("POST", f"/shifts/{shift_id}/fanout")[0] == 202
    # Release everyone around the escalation instant, a little before or after it.
    release_at = fanned_out_at + DELAY + ((n % 5) - 2) * 0.01
    barrier = threading.Barrier(CAREGIVERS + 1)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def accept(phone: str) -> None:
        barrier.wait()
        time.sleep(max(0.0, release_at - time.monotonic()))
        message = {"from": phone, "body": "yes", "shift_id": shift_id}
        status, answer = server.request("POST", "/messages/inbound", message)
        assert status == 200, answer
        with lock:
            outcomes[answer["outcome"]] += 1

    def cancel() -> None:
        barrier.wait()
        # In every other round the cancel leaves a hair earlier, so both endings happen.
        time.sleep(max(0.0, release_at - (n % 2) * 0.003 - time.monotonic()))
        status, _ = server.request("POST", f"/shifts/{shift_id}/cancel")
        with lock:
            outcomes[f"cancel {status}"] += 1

    threads = [threading.Thread(target=accept, args=(p,)) for p in PHONES]
    threads.append(threading.Thread(target=cancel))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return shift_id, outcomes


def test_accepts_cancel_and_phone_round_racing_leave_one_clean_outcome(server: Server) -> None:
    endings: Counter[str] = Counter()
    for n in range(ROUNDS):
        shift_id, outcomes = race_round(server, n)
        shift = server.request("GET", f"/shifts/{shift_id}")[1]
        if shift["status"] == "filled":
            assert outcomes == {"assigned": 1, "filled": CAREGIVERS - 1, "cancel 409": 1}, n
        else:
            assert shift["status"] == "cancelled", n
            assert outcomes == {"unavailable": CAREGIVERS, "cancel 200": 1}, n
        endings[shift["status"]] += 1

        time.sleep(0.05)  # let the queued calls of this round be sent or dropped
        notes = server.request("GET", f"/shifts/{shift_id}/notifications")[1]
        per_person = Counter((n["caregiver_id"], n["channel"]) for n in notes)
        assert max(per_person.values()) == 1, n
        events = [e["type"] for e in server.request("GET", f"/shifts/{shift_id}/events")[1]]
        assert events.count("escalated") <= 1
        assert events.count("assigned") + events.count("cancelled") == 1
        if "escalated" in events:
            endings["escalated"] += 1
            closed = events.index("assigned" if "assigned" in events else "cancelled")
            assert events.index("escalated") < closed, n  # never a phone round after the close
    assert endings["filled"] + endings["cancelled"] == ROUNDS
    # The rounds really raced: both endings happened, and so did phone rounds.
    assert endings["filled"] and endings["cancelled"] and endings["escalated"], endings
