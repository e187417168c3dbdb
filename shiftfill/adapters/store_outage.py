"""Waiting out an unreachable store without a traceback or a log line a second.

A platform starts processes in any order, so Redis may not answer yet when a
shiftfill process starts, and it may go away for a while later. Meanwhile every
request answers 503, the send workers and the phone-round poller try again about
once a second, and the start-up work that needs the store (loading the seed file)
waits here until the store answers. ``OutageLog`` says once that the store went
away and once that it is back, whichever of them noticed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shiftfill.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

# How long start-up work waits before trying an unreachable store again.
RETRY_SECONDS = 1.0
# How long a request waits for start-up work that another thread is running.
REQUEST_WAIT_SECONDS = 5.0


class OutageLog:
    """One WARNING when the store stops answering, one INFO when it answers again.

    Shared by everything in a process that retries the store on its own: a line
    for each retry would bury the one that matters. Requests are not counted here;
    each refused request is logged by the error handler.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def unreachable(self, waiting: str, error: StoreUnavailable) -> None:
        """Record a failed try by ``waiting`` (what waits for the store); log only the first."""
        with self._lock:
            first = self._since is None
            if first:
                self._since = self._clock()
        if first:
            log.warning(
                "%s; %s waits and tries again every second, requests get 503 until it answers",
                str(error).rstrip("."),
                waiting,
            )
        else:
            log.debug("%s still waits for the store: %s", waiting, error)

    def reachable(self) -> None:
        """Record a successful try; log once that the store answers again."""
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.info("the store answers again after %.0f s", self._clock() - since)


class StartupWork:
    """Start-up work that needs the store, run as soon as it answers.

    ``add`` keeps the work when the store did not answer at start-up; no thread
    starts then. Once the server starts the runtime, a thread tries the work
    every ``RETRY_SECONDS``, and every request runs it first (``run``), so no
    request is served from a store the work has not reached yet: while the store
    is down, requests answer 503 as they would anyway. The work itself must be
    safe to run again after a try that failed half-way (the seed adds only the
    records that are absent).
    """

    def __init__(self, outage: OutageLog | None = None) -> None:
        self._outage = outage or OutageLog()
        self._pending: list[tuple[str, Callable[[], None]]] = []
        # Held while the work runs; the thread is started under a lock of its own,
        # so that starting never waits for a try under way.
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> list[str]:
        """The names of the work still waiting for the store."""
        return [name for name, _ in self._pending]

    def add(self, name: str, work: Callable[[], None], error: StoreUnavailable) -> None:
        """Keep ``work`` (named ``name`` in the log), which failed with ``error``, for later."""
        with self._lock:
            self._pending.append((name, work))
        self._outage.unreachable(name, error)

    def run(self, wait: float = REQUEST_WAIT_SECONDS) -> None:
        """Run the pending work now; ``StoreUnavailable`` while the store does not answer.

        Waits up to ``wait`` seconds for another thread already running it.
        """
        if not self._pending:  # the common case, on every request, without the lock
            return
        if not self._lock.acquire(timeout=wait):
            raise StoreUnavailable("start-up work is still waiting for the store")
        try:
            self._run_pending()
        finally:
            self._lock.release()

    def _run_pending(self) -> None:
        while self._pending:
            name, work = self._pending[0]
            try:
                work()
            except StoreUnavailable:
                raise
            except Exception:
                # A fault of the work, not of the store: trying again would fail the
                # same way and hold every request back for nothing.
                log.exception("%s failed; the process serves without it", name)
            del self._pending[0]

    def start(self) -> None:
        """Start retrying the pending work on a thread; nothing pending, nothing starts."""
        with self._start_lock:
            if self._pending and self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._retry, name="startup-work", daemon=True
                )
                self._thread.start()

    def shutdown(self, timeout: float = RETRY_SECONDS * 5) -> None:
        """Stop retrying, waiting a moment for a try under way."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _retry(self) -> None:
        while self._pending and not self._stopping.wait(RETRY_SECONDS):
            if not self._lock.acquire(timeout=RETRY_SECONDS):
                continue  # a request is running the work
            try:
                self._run_pending()
            except StoreUnavailable as exc:
                self._outage.unreachable(", ".join(self.pending), exc)
            else:
                self._outage.reachable()
            finally:
                self._lock.release()
