"""Crash and outage on the Redis store: kill -9 of every shiftfill process, Redis stopped."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from bench.harness import RedisServer, Server
from tests.conftest import shift_body, unique_prefix
from tests.server.conftest import sent_to

pytestmark = pytest.mark.server

TEXTS = 2_000
PHONES = [f"+1555555{i:04d}" for i in range(TEXTS)]
DELAY = 4.0


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_kill_9_of_every_process_midway_loses_nothing_and_sends_nothing_twice(
    redis: RedisServer,
) -> None:
    env = {
        "SHIFTFILL_STORE_URL": redis.url,
        "SHIFTFILL_REDIS_PREFIX": unique_prefix(),
        "SHIFTFILL_NOTIFIER_LATENCY_MS": "50",
        "SHIFTFILL_ESCALATION_DELAY_SECONDS": str(DELAY),
        "SHIFTFILL_ESCALATION_POLL_SECONDS": "0.2",
        "SHIFTFILL_SEND_VISIBILITY_SECONDS": "5",
        "SHIFTFILL_LOG_LEVEL": "DEBUG",  # the log notifier writes each text at DEBUG
    }
    first = Server(SHIFTFILL_WORKERS="2", SHIFTFILL_SEND_CONCURRENCY="8", **env)
    try:
        for start in range(0, TEXTS, 1000):
            people = [
                {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": PHONES[i]}
                for i in range(start, start + 1000)
            ]
            assert first.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
        assert first.request("POST", "/shifts", shift_body(id="sh_1"))[0] == 201
        assert first.request("POST", "/shifts/sh_1/fanout")[0] == 202
        due = time.monotonic() + DELAY  # the phone round is due no sooner
        # 2 workers x 8 senders x 50 ms: some 300 texts a second. The crash comes once
        # the log shows the first few dozen out, long before half are.
        assert wait_for(
            lambda: sum(sent_to(first.read_log(), "sms").values()) >= 50,
            due - time.monotonic() - 0.5,
        ), "texts were going out before the crash"
    finally:
        log_before = first.kill()
    texts_before = sent_to(log_before, "sms")
    assert 0 < sum(texts_before.values()) < TEXTS // 2, "the crash came midway"
    assert not sent_to(log_before, "call"), "the crash came before the phone round was due"

    time.sleep(max(0.0, due - time.monotonic()))  # the phone round falls due while nothing runs
    second = Server(SHIFTFILL_WORKERS="2", SHIFTFILL_SEND_CONCURRENCY="50", **env)
    try:
        assert len(second.request("GET", "/caregivers")[1]) == TEXTS
        shift = second.request("GET", "/shifts/sh_1")[1]
        assert shift["status"] == "open" and len(shift["fanout"]["offered_caregiver_ids"]) == TEXTS
        # Posting the fanout again after the crash changes and sends nothing.
        assert second.request("POST", "/shifts/sh_1/fanout")[0] == 200

        def settled() -> bool:
            notes = second.request("GET", "/shifts/sh_1/notifications")[1]
            return len(notes) == 2 * TEXTS and all(n["status"] != "queued" for n in notes)

        assert wait_for(settled, 60), "every text and call is sent or settled"
        notes = second.request("GET", "/shifts/sh_1/notifications")[1]
        events = second.request("GET", "/shifts/sh_1/events")[1]
    finally:
        second.stop()
    log_after = second.log

    texts = texts_before + sent_to(log_after, "sms")
    calls = sent_to(log_after, "call")
    assert max(texts.values()) == 1, "no caregiver got a second text for the shift"
    assert max(calls.values()) == 1
    unknown = [n for n in notes if (n["error"] or "").startswith("outcome unknown")]
    # Only sends under way at the crash (at most 2 workers x 8 senders) end unknown.
    assert len(unknown) <= 16
    assert all(n["channel"] == "sms" and n["attempts"] == 1 for n in unknown)
    assert sum(texts.values()) + len(unknown) >= TEXTS
    assert {n["status"] for n in notes} <= {"sent", "failed"}
    assert [e["type"] for e in events].count("escalated") == 1
    assert len(calls) == TEXTS


def test_redis_stopped_under_traffic_gives_503s_then_full_service(redis: RedisServer) -> None:
    server = Server(
        SHIFTFILL_STORE_URL=redis.url,
        SHIFTFILL_REDIS_PREFIX=unique_prefix(),
        SHIFTFILL_WORKERS="2",
    )
    try:
        people = [
            {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": PHONES[i]} for i in range(3)
        ]
        assert server.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
        assert server.request("POST", "/shifts", shift_body(id="sh_1"))[0] == 201
        assert server.request("POST", "/shifts", shift_body(id="sh_down"))[0] == 201
        statuses: Counter[int] = Counter()
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                for method, path, body in (
                    ("GET", "/health", None),
                    ("GET", "/shifts/sh_1", None),
                    ("POST", "/messages/inbound", {"from": PHONES[0], "body": "help"}),
                ):
                    statuses[server.request(method, path, body)[0]] += 1

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            time.sleep(0.5)
            redis.stop()
            time.sleep(1.0)
            down, body = server.request("POST", "/shifts/sh_down/fanout")
            assert down == 503 and body["error"]["code"] == "store_unavailable"
            assert server.request("GET", "/health")[0] == 503
            redis.start()
            assert wait_for(lambda: server.request("GET", "/health")[0] == 200, 20)
            time.sleep(0.5)
        finally:
            stop.set()
            worker.join()
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[503] and statuses[200]
        # Nothing was half-written: the refused fanout left the shift as it was, and
        # posting it now works in full.
        assert server.request("GET", "/shifts/sh_down")[1]["fanout"] is None
        assert server.request("POST", "/shifts/sh_down/fanout")[0] == 202
        assert wait_for(
            lambda: (
                {n["status"] for n in server.request("GET", "/shifts/sh_down/notifications")[1]}
                == {"sent"}
            ),
            10,
        )
    finally:
        assert server.stop() == 0
