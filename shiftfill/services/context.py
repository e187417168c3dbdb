"""Everything a use case needs, built once per app by ``create_app``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shiftfill.adapters.notifier import Notifier
from shiftfill.adapters.repository import (
    CaregiverRepository,
    EventLog,
    InboundLog,
    NotificationRepository,
    ShiftRepository,
)
from shiftfill.adapters.scheduler import EscalationScheduler
from shiftfill.adapters.send_pool import SendPool

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Read the time as aware UTC (freezegun controls it in tests)."""
    return datetime.now(UTC)


@dataclass
class Context:
    """The repositories and the outside world, as one object the services receive."""

    notifier: Notifier
    scheduler: EscalationScheduler
    send_pool: SendPool
    escalation_delay: timedelta = timedelta(minutes=10)
    phone_region: str = "US"
    send_retries: int = 2
    retry_backoff_seconds: float = 0.5
    shutdown_drain_seconds: float = 10.0
    clock: Clock = system_clock
    sleep: Callable[[float], None] = time.sleep
    caregivers: CaregiverRepository = field(default_factory=CaregiverRepository)
    events: EventLog = field(default_factory=EventLog)
    shifts: ShiftRepository = field(init=False)
    notifications: NotificationRepository = field(default_factory=NotificationRepository)
    inbound: InboundLog = field(default_factory=InboundLog)

    def __post_init__(self) -> None:
        # Shift decisions and their events are written under one lock.
        self.shifts = ShiftRepository(events=self.events)

    def shutdown(self) -> None:
        """Stop the scheduler, give queued sends a moment to finish, record the rest.

        Safe to call more than once (the process's exit hook and gunicorn's both do).
        """
        from shiftfill.services.delivery import abandon  # the services import this module

        self.scheduler.shutdown()
        abandon(self, self.send_pool.shutdown(timeout=self.shutdown_drain_seconds))
