"""The phone rounds' clock: an APScheduler job that starts every round that falls due.

A round's due time is part of the shift in the store, written in the same step
as its fanout, and a claim or a cancel takes it away in their own step. So the
scheduler holds no state of its own: one interval job asks the store for due
rounds every ``interval`` seconds. Every process runs this job; the shift
operation that starts a round lets only one of them win it, and a round that
fell due while every process was down runs at the next poll after a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from shiftfill.adapters.store_outage import OutageLog
from shiftfill.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

JOB_ID = "escalate"


class EscalationPoller:
    """Runs ``poll()`` every ``interval`` seconds on an APScheduler ``BackgroundScheduler``.

    The job has no misfire limit and never runs twice at once: a process that
    was paused past a due time still runs the round when it wakes, once.
    """

    def __init__(
        self, poll: Callable[[], object], interval: float, *, outage: OutageLog | None = None
    ) -> None:
        self._poll = poll
        self._outage = outage or OutageLog()
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._interval = interval
        self._lock = threading.Lock()

    @property
    def scheduler(self) -> BackgroundScheduler:
        return self._scheduler

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start polling, first right away; calling it again does nothing."""
        with self._lock:
            if not self._scheduler.running:
                self._scheduler.start()
                self._scheduler.add_job(
                    self._run,
                    trigger="interval",
                    seconds=self._interval,
                    id=JOB_ID,
                    next_run_time=datetime.now(UTC),
                )

    def shutdown(self) -> None:
        """Stop polling, waiting for a poll under way."""
        with self._lock:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)

    def _run(self) -> None:
        try:
            self._poll()
        except StoreUnavailable as exc:
            # Every poll skipped while the store is down is one log line an outage.
            self._outage.unreachable("polling for phone rounds", exc)
        except Exception:
            # A store that is down for a moment must not stop the next polls.
            log.exception("the phone-round poll failed")
        else:
            self._outage.reachable()
