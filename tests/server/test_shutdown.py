"""SIGTERM: every queued text is either sent or recorded as not sent; the process exits cleanly."""

from __future__ import annotations

import re

import pytest

from bench.harness import Server
from tests.conftest import shift_body

pytestmark = pytest.mark.server


def test_sigterm_sends_or_records_every_queued_notification() -> None:
    server = Server(
        SHIFTFILL_NOTIFIER_LATENCY_MS="300",
        SHIFTFILL_SEND_CONCURRENCY="2",
        SHIFTFILL_SHUTDOWN_DRAIN_SECONDS="0.5",
        SHIFTFILL_LOG_LEVEL="DEBUG",  # the log notifier writes each text at DEBUG
    )
    try:
        people = [
            {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": f"+1555555{i + 600:04d}"}
            for i in range(20)
        ]
        assert server.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
        shift = shift_body(id="sh_1")
        assert server.request("POST", "/shifts", shift)[0] == 201
        assert server.request("POST", "/shifts/sh_1/fanout")[0] == 202
    finally:
        # The SIGTERM under test; also what stops the server when a step above failed.
        exit_code = server.stop()
    assert exit_code == 0
    sent = re.findall(r"sms to \+1555•••(\d{4})", server.log)
    [(count, ids)] = re.findall(
        r"(\d+) notifications not sent \(not sent: shiftfill was shutting down\): (.*)", server.log
    )
    unsent = ids.split()
    assert len(unsent) == int(count)
    assert sent, "the sends under way finish before the process exits"
    assert unsent, "with 20 texts and 2 workers some are still queued"
    unsent_phones = {f"{600 + int(i.split('~')[1].removeprefix('cg_')):04d}" for i in unsent}
    assert len(sent) + len(unsent) == 20
    assert not unsent_phones & set(sent)
