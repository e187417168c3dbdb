"""A bounded pool of worker threads that sends notifications off the request path."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

Handler = Callable[[str], object]


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


class SendPool:
    """Runs ``handler(item)`` for each submitted item on ``workers`` threads.

    Submitting never blocks: a fanout of ten thousand texts only extends a deque.
    The threads start on first use, so that nothing runs at import time, in a
    pre-forking master, or in the watcher process of a reloader.
    """

    def __init__(self, workers: int, rate_per_second: float | None = None) -> None:
        if workers < 1:
            raise ValueError("a send pool needs at least one worker")
        self._workers = workers
        self._handler: Handler | None = None
        self._limiter = RateLimiter(rate_per_second) if rate_per_second else None
        self._items: deque[str] = deque()
        self._cond = threading.Condition()
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def workers(self) -> int:
        return self._workers

    def bind(self, handler: Handler) -> None:
        """Set the function each submitted item is handed to."""
        self._handler = handler

    def submit_many(self, items: Iterable[str]) -> None:
        """Queue items; they are handled in the order submitted."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the send pool is shut down")
            before = len(self._items)
            self._items.extend(items)
            added = len(self._items) - before
            if not added:
                return
            self._ensure_started()
            self._cond.notify(added)

    @property
    def pending(self) -> int:
        """Items queued or being handled."""
        return len(self._items) + self._running

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued item has been handled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._running, timeout)

    def drain(self) -> list[str]:
        """Take every item still queued out of the pool, unhandled."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return items

    def shutdown(self, timeout: float | None = None) -> list[str]:
        """Stop taking items and let the workers work for up to ``timeout`` seconds.

        Returns the items no worker reached; sends already under way are waited
        for (up to ``timeout`` more), so every item is either handled or returned.
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._join(timeout)
        left = self.drain()
        self._join(timeout)
        still_sending = sum(thread.is_alive() for thread in self._threads)
        if still_sending:
            log.warning("%d sends were still under way at shutdown", still_sending)
        return left

    def _join(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _ensure_started(self) -> None:
        if self._threads:
            return
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _next_item(self) -> str | None:
        with self._cond:
            while not self._items:
                if self._stopping:
                    return None
                self._cond.wait()
            self._running += 1
            return self._items.popleft()

    def _work(self) -> None:
        while (item := self._next_item()) is not None:
            try:
                if self._limiter is not None:
                    self._limiter.acquire()
                assert self._handler is not None, "bind() the pool before submitting"
                self._handler(item)
            except Exception:
                log.exception("sending %s failed", item)
            finally:
                with self._cond:
                    self._running -= 1
                    if not self._items and not self._running:
                        self._cond.notify_all()
