"""Everything a use case needs, built once per app by ``create_app``."""

from __future__ import annotations

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
    clock: Clock = system_clock
    caregivers: CaregiverRepository = field(default_factory=CaregiverRepository)
    events: EventLog = field(default_factory=EventLog)
    shifts: ShiftRepository = field(init=False)
    notifications: NotificationRepository = field(default_factory=NotificationRepository)
    inbound: InboundLog = field(default_factory=InboundLog)

    def __post_init__(self) -> None:
        # Shift decisions and their events are written under one lock.
        self.shifts = ShiftRepository(events=self.events)

    def shutdown(self) -> None:
        """Stop the scheduler, then let the send pool finish what is queued."""
        self.scheduler.shutdown()
        self.send_pool.shutdown(timeout=30)
