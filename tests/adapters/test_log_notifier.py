"""The log notifier: each text at DEBUG, and one INFO line per batch of sends."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from config import TestingConfig
from shiftfill.adapters.notifier import LogNotifier
from shiftfill.app import create_app
from shiftfill.bootstrap import bootstrap
from tests.conftest import add_roster, shift_body


def test_each_text_is_written_at_debug_with_the_number_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="shiftfill")
    provider_id = LogNotifier().send_sms("+15555550101", "Shift tomorrow? Reply YES")
    assert provider_id.startswith("log-")
    [line] = [r for r in caplog.records if r.name == "shiftfill.adapters.notifier"]
    assert line.levelno == logging.DEBUG
    assert line.getMessage() == "sms to +1555•••0101: Shift tomorrow? Reply YES"


def test_at_info_a_fanout_logs_its_sends_per_batch_not_per_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = TestingConfig({})
    runtime = bootstrap(config, escalation=False)  # the log notifier, as configured
    client: FlaskClient = create_app(config, runtime).test_client()
    try:
        caplog.set_level(logging.INFO, logger="shiftfill")
        add_roster(client)  # three RNs who may be texted
        assert client.post("/shifts", json=shift_body(id="sh_1")).status_code == 201
        assert client.post("/shifts/sh_1/fanout").status_code == 202
        assert runtime.sender.wait_idle(5)
    finally:
        runtime.shutdown()
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if m.startswith("sms to")]
    recorded = [m for m in messages if m.startswith("sends recorded: ")]
    assert recorded, messages
    assert sum(int(m.split()[2]) for m in recorded) == 3
    assert all(m.endswith("sms sent") for m in recorded)


def test_the_send_path_sends_in_its_own_thread_only_when_no_latency_is_simulated() -> None:
    assert LogNotifier().waits is False
    assert LogNotifier(latency_ms=50).waits is True
