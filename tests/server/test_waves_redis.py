"""Waves on Redis across processes: a wave that falls due while the process that started the
fanout is killed goes out once, from the processes that run afterwards."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from bench.harness import RedisServer, Server
from tests.conftest import shift_body, unique_prefix
from tests.server.conftest import sent_to

pytestmark = pytest.mark.server

PEOPLE = 6
INTERVAL = 2


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def texts_in(log: str) -> Counter[str]:
    """The texts the log notifier wrote, by last four digits of the number."""
    return sent_to(log, "sms")


def test_a_wave_due_while_its_starter_is_killed_goes_out_once_from_two_later_processes(
    redis: RedisServer,
) -> None:
    env = {
        "SHIFTFILL_STORE_URL": redis.url,
        "SHIFTFILL_REDIS_PREFIX": unique_prefix(),
        "SHIFTFILL_ESCALATION_DELAY_SECONDS": "600",
        "SHIFTFILL_ESCALATION_POLL_SECONDS": "0.2",
        # The log notifier writes each text at DEBUG.
        "SHIFTFILL_LOG_LEVEL": "DEBUG",
    }
    first = Server(**env)
    try:
        org = {
            "id": "org_w",
            "name": "Wave Care",
            "time_zone": "UTC",
            "waves": {"size": 2, "interval_seconds": INTERVAL},
        }
        assert first.request("POST", "/organizations", org)[0] == 201
        people = [
            {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": f"+1555555{i:04d}"}
            for i in range(PEOPLE)
        ]
        assert first.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
        client = {
            "id": "cl_w",
            "organization_id": "org_w",
            "name": "R.",
            "preferred_caregiver_ids": ["cg_5"],
        }
        assert first.request("POST", "/clients", client)[0] == 201
        body = shift_body(id="sh_w", organization_id="org_w", client_id="cl_w")
        assert first.request("POST", "/shifts", body)[0] == 201
        status, shift = first.request("POST", "/shifts/sh_w/fanout")
        assert status == 202
        assert shift["fanout"]["offered_caregiver_ids"] == ["cg_5", "cg_0"]
        assert wait_for(lambda: sum(texts_in(first.read_log()).values()) == 2, 10)
    finally:
        log_before = first.kill()
    assert sum(texts_in(log_before).values()) == 2

    time.sleep(INTERVAL + 0.5)  # the second wave falls due while no process runs
    later: list[Server] = []
    try:
        # One at a time, so that a second that fails to start still stops the first.
        for _ in range(2):
            later.append(Server(**env))

        def waves_sent() -> int:
            return int(later[0].request("GET", "/shifts/sh_w")[1]["fanout"]["waves_sent"])

        assert wait_for(lambda: waves_sent() == 3, 20)
        assert wait_for(
            lambda: sum(sum(texts_in(s.read_log()).values()) for s in later) == PEOPLE - 2, 20
        )
        time.sleep(1.0)  # both keep polling: nothing more goes out
        fanout = later[1].request("GET", "/shifts/sh_w")[1]["fanout"]
    finally:
        for server in later:
            server.stop()
    assert fanout["offered_caregiver_ids"] == ["cg_5", "cg_0", "cg_1", "cg_2", "cg_3", "cg_4"]
    assert (fanout["waves_sent"], fanout["next_wave_at"]) == (3, None)
    texts = texts_in(log_before) + sum((texts_in(s.log) for s in later), Counter())
    assert texts == Counter({f"{i:04d}": 1 for i in range(PEOPLE)})
