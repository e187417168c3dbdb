"""The escalation scheduler: runs each shift's phone round once its delay has passed."""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

PhoneRound = Callable[[str], None]


def job_id(shift_id: str) -> str:
    """Name the escalation job of a shift."""
    return f"escalate:{shift_id}"


class EscalationScheduler(abc.ABC):
    """Schedules and cancels the phone round of a shift."""

    _phone_round: PhoneRound

    def bind(self, phone_round: PhoneRound) -> None:
        """Set the function a due job runs, with the shift id as its argument."""
        self._phone_round = phone_round

    @abc.abstractmethod
    def schedule(self, shift_id: str, run_at: datetime) -> None:
        """Run the phone round of ``shift_id`` at ``run_at``; scheduling again replaces it."""

    @abc.abstractmethod
    def cancel(self, shift_id: str) -> None:
        """Drop the shift's phone round if it has not run; unknown ids are fine."""

    def describe(self) -> dict[str, object]:
        """Report the scheduler's state for the health endpoint."""
        return {}

    def shutdown(self) -> None:  # noqa: B027 - optional hook, nothing to stop by default
        """Stop running jobs."""


class APSchedulerEscalation(EscalationScheduler):
    """Production scheduler: an APScheduler ``BackgroundScheduler`` in UTC.

    The scheduler thread starts with the first scheduled job, so that it runs only
    in a process that serves requests (not at import, in a pre-forking master, or
    in a reloader's watcher). Jobs have no misfire limit: a phone round found late,
    say after a long pause of the process, still runs, and the job itself re-checks
    the shift, so a late run after a claim does nothing.
    """

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._start_lock = threading.Lock()

    @property
    def scheduler(self) -> BackgroundScheduler:
        return self._scheduler

    def schedule(self, shift_id: str, run_at: datetime) -> None:
        self._ensure_started()
        self._scheduler.add_job(
            self._run,
            trigger="date",
            run_date=run_at,
            args=[shift_id],
            id=job_id(shift_id),
            replace_existing=True,
        )

    def cancel(self, shift_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id(shift_id))

    def describe(self) -> dict[str, object]:
        return {"running": self._scheduler.running, "jobs": len(self._scheduler.get_jobs())}

    def shutdown(self) -> None:
        with self._start_lock:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)

    def _ensure_started(self) -> None:
        if self._scheduler.running:
            return
        with self._start_lock:
            if not self._scheduler.running:
                self._scheduler.start()

    def _run(self, shift_id: str) -> None:
        try:
            self._phone_round(shift_id)
        except Exception:
            # One shift's failure must not reach APScheduler's thread or other shifts.
            log.exception("phone round of shift %s failed", shift_id)
