"""Fakes of the outside world that record what shiftfill asked of them."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from shiftfill.services.delivery import deliver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.ports import NotifierError


@dataclass(frozen=True)
class Sent:
    channel: str
    to: str
    text: str
    language: str = ""


class FakeNotifier:
    """Records every message; numbers in ``failing`` get a provider error instead."""

    waits = True  # sent from sender threads, as a provider's would be

    def __init__(self, failing: set[str] | None = None) -> None:
        self.sent: list[Sent] = []
        self.failing = failing or set()
        self._lock = threading.Lock()

    def send_sms(self, to: str, body: str) -> str:
        return self._record("sms", to, body)

    def place_call(self, to: str, script: str, goodbye: str, *, language: str) -> str:
        return self._record("call", to, script, language)

    def to(self, phone: str, channel: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.to == phone and channel in (None, s.channel)]

    def by_channel(self, channel: str) -> list[Sent]:
        return [s for s in self.sent if s.channel == channel]

    def _record(self, channel: str, to: str, text: str, language: str = "") -> str:
        if to in self.failing:
            raise NotifierError("provider refused the number")
        with self._lock:
            self.sent.append(Sent(channel, to, text, language))
            return f"fake-{len(self.sent)}"


def send_queued(deps: Dependencies) -> None:
    """Send what the outbox holds, here and now in this thread, as a send worker would."""
    while taken := deps.store.outbox.take(0):
        for notification_id in taken:
            deliver(deps, notification_id)
        deps.store.outbox.done(taken)


class RecordingMetrics:
    """Counts what the use cases report, as the Prometheus adapter would, in plain dicts."""

    def __init__(self) -> None:
        self.fanouts: Counter[str] = Counter()
        self.offered: Counter[str] = Counter()
        self.notified: Counter[tuple[str, str]] = Counter()
        self.inbound: Counter[str] = Counter()
        self.fills: list[tuple[str, float]] = []
        self.webhooks: Counter[tuple[str, str]] = Counter()

    def fanout_started(self, role: str, offered: int) -> None:
        self.fanouts[role] += 1
        self.offered[role] += offered

    def notifications(self, channel: str, status: str, count: int = 1) -> None:
        self.notified[(channel, status)] += count

    def inbound_handled(self, outcome: str) -> None:
        self.inbound[outcome] += 1

    def webhook_delivery(self, event: str, status: str) -> None:
        self.webhooks[(event, status)] += 1

    def shift_filled(self, round: str, seconds: float) -> None:
        self.fills.append((round, seconds))


class Clock:
    """A clock a test moves by hand: use cases read it, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by
