"""The ``log`` notifier: writes each message to the log instead of sending it."""

from __future__ import annotations

import logging
import random
import time

from shiftfill.phones import mask

log = logging.getLogger(__name__)


class LogNotifier:
    """Writes each message to the log at DEBUG instead of sending it (development and demos).

    DEBUG, not INFO: a fanout is thousands of texts, and a line each, written
    from the send threads, cost four times the rest of a send and queued the
    requests behind the log handler's lock. At INFO the send workers write one
    line per batch of sends instead (``sends recorded: ...``); start the server
    with ``SHIFTFILL_LOG_LEVEL=DEBUG`` to read every text.

    ``latency_ms`` simulates a provider's round-trip, so that demos and benchmarks
    see the send pool behave as it would against a real provider.
    """

    def __init__(self, latency_ms: int = 0) -> None:
        self._latency = latency_ms / 1000
        # Without a simulated latency a send never waits: the send path makes it in
        # its own thread rather than a thread per send (adapters/send_workers.py).
        self.waits = latency_ms > 0

    def send_sms(self, to: str, body: str) -> str:
        return self._deliver("sms", to, body)

    def place_call(self, to: str, script: str, goodbye: str, *, language: str) -> str:
        return self._deliver("call", to, script)

    def _deliver(self, channel: str, to: str, text: str) -> str:
        if self._latency:
            time.sleep(self._latency)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s to %s: %s", channel, mask(to), text)
        # Not uuid4: its system call per text let a request's thread lose its turn on
        # the interpreter lock to the send threads (docs/performance.md).
        return f"log-{random.getrandbits(128):032x}"
