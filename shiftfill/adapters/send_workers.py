"""Threads that send what the store's outbox holds, off the request path."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from shiftfill.services.ports import Outbox, StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[str], object]

# How long a worker waits on an empty outbox before checking whether to stop.
POLL_SECONDS = 0.5
# How long a worker waits before trying an unreachable store again.
STORE_RETRY_SECONDS = 1.0


class RateLimiter:
    """A token bucket shared by the workers: at most ``per_second`` sends a second.

    A provider's sender has a rate (a long code sends about one message a
    second, a short code about a hundred); going faster gets messages refused.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until this caller may send."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


class SendWorkers:
    """Runs ``handler(notification_id)`` on ``workers`` threads for each id the outbox hands out.

    Sends are mostly waiting on the provider, so the threads are many and cheap.
    A sender that finishes takes the next id itself, without waiting; an idle
    one waits for a reader thread, which alone waits on the outbox and takes as
    many ids as there are idle senders. So an idle process asks its store twice a
    second, not twice a second per sender, and a busy one takes ids from as many
    threads as are sending. They start with ``start()``, in the process that
    serves requests: nothing runs at import, in a pre-forking master, or in the
    watcher of a reloader.
    """

    def __init__(
        self,
        outbox: Outbox,
        handler: Handler,
        *,
        workers: int,
        rate_per_second: float | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("sending needs at least one worker")
        self._outbox = outbox
        self._handler = handler
        self._workers = workers
        self._limiter = RateLimiter(rate_per_second) if rate_per_second else None
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        # Ids the reader took for idle senders (``None``: stop); how many senders are idle.
        self._handed: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(workers)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stopping.is_set()

    def start(self) -> None:
        """Start the threads; calling it again does nothing."""
        with self._start_lock:
            if self._threads or self._stopping.is_set():
                return
            for n in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
            reader = threading.Thread(target=self._read, name="send-reader", daemon=True)
            reader.start()
            self._threads.append(reader)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the outbox has nothing waiting or being sent; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._outbox.depth():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def shutdown(self, timeout: float, *, wait_for_queue: bool = True) -> None:
        """Stop the threads; sends under way are waited for, up to ``timeout`` seconds.

        With ``wait_for_queue``, queued sends first get ``timeout`` seconds to go
        out. What is still queued after that stays in the outbox, and so do the
        ids taken for a sender that did not start them.
        """
        if self._threads and wait_for_queue:
            self.wait_idle(timeout)
        self._stopping.set()
        for _ in range(self._workers):
            self._handed.put(None)
        deadline = time.monotonic() + timeout + POLL_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        still_sending = sum(thread.is_alive() for thread in self._threads)
        if still_sending:
            log.warning("%d sends were still under way at shutdown", still_sending)
        self._give_back()

    def _give_back(self) -> None:
        unstarted = []
        while True:
            try:
                notification_id = self._handed.get_nowait()
            except queue.Empty:
                break
            if notification_id is not None:
                unstarted.append(notification_id)
        if not unstarted:
            return
        try:
            self._outbox.requeue(unstarted)
        except StoreUnavailable as exc:
            # Taken over after the visibility timeout, and sent then.
            log.warning("could not give back %d unstarted sends: %s", len(unstarted), exc)

    def _read(self) -> None:
        """Take ids for the idle senders; the only thread that waits on the outbox."""
        while not self._stopping.is_set():
            if not self._idle.acquire(timeout=POLL_SECONDS):
                continue
            wanted = 1
            while self._idle.acquire(blocking=False):
                wanted += 1
            if self._stopping.is_set():
                break
            try:
                taken = self._outbox.take(POLL_SECONDS, limit=wanted)
            except StoreUnavailable as exc:
                # Queued sends wait in the store; take them once it is back.
                log.warning("send workers waiting for the store: %s", exc)
                taken = []
                self._stopping.wait(STORE_RETRY_SECONDS)
            for notification_id in taken:
                self._handed.put(notification_id)
            for _ in range(wanted - len(taken)):
                self._idle.release()

    def _work(self) -> None:
        while True:
            notification_id = self._handed.get()
            if notification_id is None:
                return
            if self._stopping.is_set():
                # Taken but not started: given back at shutdown.
                self._handed.put(notification_id)
                return
            while notification_id is not None:
                self._send_one(notification_id)
                notification_id = self._take_now()
            self._idle.release()

    def _take_now(self) -> str | None:
        """The next queued id, if one is waiting right now."""
        if self._stopping.is_set():
            return None
        try:
            taken = self._outbox.take(0)
        except StoreUnavailable:
            return None
        return taken[0] if taken else None

    def _send_one(self, notification_id: str) -> None:
        try:
            if self._limiter is not None:
                self._limiter.acquire()
            self._handler(notification_id)
        except StoreUnavailable as exc:
            # Left taken: once the store is back, the visibility timeout hands it
            # to a process that settles it (see ``recover_stalled_sends``).
            log.warning("sending %s stopped, the store is unreachable: %s", notification_id, exc)
            return
        except Exception:
            log.exception("sending %s failed", notification_id)
        try:
            self._outbox.done([notification_id])
        except StoreUnavailable as exc:
            log.warning("could not acknowledge %s: %s", notification_id, exc)
