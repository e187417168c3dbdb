"""Fakes of the outside world that record what shiftfill asked of them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from shiftfill.adapters.notifier import Notifier, NotifierError
from shiftfill.adapters.scheduler import EscalationScheduler
from shiftfill.adapters.send_pool import SendPool


@dataclass(frozen=True)
class Sent:
    channel: str
    to: str
    text: str


class FakeNotifier(Notifier):
    """Records every message; numbers in ``failing`` get a provider error instead."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.sent: list[Sent] = []
        self.failing = failing or set()
        self._lock = threading.Lock()

    def send_sms(self, to: str, body: str) -> str:
        return self._record("sms", to, body)

    def place_call(self, to: str, script: str) -> str:
        return self._record("call", to, script)

    def to(self, phone: str, channel: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.to == phone and channel in (None, s.channel)]

    def by_channel(self, channel: str) -> list[Sent]:
        return [s for s in self.sent if s.channel == channel]

    def _record(self, channel: str, to: str, text: str) -> str:
        if to in self.failing:
            raise NotifierError("provider refused the number")
        with self._lock:
            self.sent.append(Sent(channel, to, text))
            return f"fake-{len(self.sent)}"


class FakeScheduler(EscalationScheduler):
    """Keeps scheduled phone rounds in a dict; ``run_due`` plays the scheduler's part."""

    def __init__(self) -> None:
        self.jobs: dict[str, datetime] = {}
        self.cancelled: list[str] = []

    def schedule(self, shift_id: str, run_at: datetime) -> None:
        self.jobs[shift_id] = run_at

    def cancel(self, shift_id: str) -> None:
        if self.jobs.pop(shift_id, None) is not None:
            self.cancelled.append(shift_id)

    def run_due(self, now: datetime) -> list[str]:
        """Run every job due at ``now``, as APScheduler would; returns the shifts run."""
        due = [sid for sid, at in self.jobs.items() if at <= now]
        for shift_id in due:
            del self.jobs[shift_id]
            self._phone_round(shift_id)
        return due


class HeldSendPool(SendPool):
    """A send pool that holds every item until ``run_all``, to stage what lands in between."""

    def __init__(self, handler: Callable[[str], object]) -> None:
        super().__init__(workers=1)
        self.bind(handler)
        self.held: list[str] = []

    def submit_many(self, items: Iterable[str]) -> None:
        self.held.extend(items)

    def run_all(self) -> None:
        held, self.held = self.held, []
        for item in held:
            self._handler(item)  # type: ignore[misc]
