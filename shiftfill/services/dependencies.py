"""What every use case receives: the store, the notifier, the clock, the settings, the metrics.

Built once by ``shiftfill.bootstrap`` and frozen; a test that needs another
clock or notifier builds another bundle rather than changing this one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shiftfill.services.ports import Metrics, NoMetrics, Notifier, Store

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def system_clock() -> datetime:
    """Read the time as aware UTC (freezegun controls it in tests)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Settings:
    """The rules of the outreach that configuration may change."""

    escalation_delay: timedelta = timedelta(minutes=10)
    phone_region: str = "US"
    # The time zone of the organization ``default`` (SHIFTFILL_TIME_ZONE).
    time_zone: str = "UTC"
    send_retries: int = 2
    retry_backoff_seconds: float = 0.5
    # How long a send may stay taken before the process that took it is presumed dead.
    send_visibility: timedelta = timedelta(seconds=60)
    # The agency's webhooks: when an open shift's alarm fires after its phone round,
    # the wait before each retry, and whether private addresses are allowed (tests).
    unfilled_after: timedelta = timedelta(seconds=900)
    webhook_retry_seconds: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_allow_private: bool = False
    # How many of an endpoint's newest deliveries are kept (docs/webhooks.md, "Delivery").
    webhook_deliveries_kept: int = 1000


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The store and the outside world, as one object the use cases receive."""

    store: Store
    notifier: Notifier
    settings: Settings = field(default_factory=Settings)
    clock: Clock = system_clock
    sleep: Sleep = time.sleep
    metrics: Metrics = field(default_factory=NoMetrics)
