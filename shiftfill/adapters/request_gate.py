"""Requests first: background work waits while the process is serving requests.

A process runs Python code on one core at a time (the interpreter lock), and
the send workers' work is mostly Python: claiming texts, writing them, recording
how they went. With a backlog of texts that work never runs out, and a request
then waits for the lock after every system call it makes: a fanout to a
thousand caregivers, 2 ms on its own, took 85 ms at the median behind a backlog.
So the send path asks for its turn before each step of its work, and waits while
a request is being served and for ``GRACE_SECONDS`` after one ends. gunicorn's
``pre_request`` and ``post_request`` hooks (config/gunicorn.conf.py) count a
request from the moment it is parsed until its response is written: a
10,000-caregiver fanout answers 150 KB, and sending while it is written slowed
it as much as sending while it is built. The moment after matters too: requests
come in bursts (a dashboard posting fanouts one after another, a provider
delivering replies), and the next one is then accepted and parsed behind the
send path unless it arrives within that moment. The wait is bounded by
``MAX_WAIT_SECONDS``, so sending never stops: a process that is never without a
request still takes a step of sending five times a second (up to 320 texts a
second). At twenty steps a second, replies under a flood were answered about 5%
slower (docs/performance.md). Under a rate cap a step is one text, and waits no
longer than the cap's interval: a capped process sends at its rate either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# After a request, how long the send path waits for the next one before its own step.
GRACE_SECONDS = 0.005
# The longest the send path waits for its turn: much longer than a fanout to 10,000
# caregivers (about 20 ms), so that sending does not cut into one.
MAX_WAIT_SECONDS = 0.2


class RequestGate:
    """Counts the requests being served; background work waits its turn on it."""

    def __init__(
        self,
        max_wait: float = MAX_WAIT_SECONDS,
        grace: float = GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_wait = max_wait
        self._grace = grace
        self._clock = clock
        self._serving = 0
        self._last_left = -grace
        self._quiet = threading.Condition(threading.Lock())
        # Threads in ``wait_turn``: a request that ends wakes them only when there are some.
        self._waiting = 0

    @property
    def serving(self) -> int:
        """How many requests are being served right now."""
        return self._serving

    def enter(self) -> None:
        """A request starts."""
        with self._quiet:
            self._serving += 1

    def leave(self) -> None:
        """A request ends."""
        with self._quiet:
            self._serving -= 1
            self._last_left = self._clock()
            if not self._serving and self._waiting:
                self._quiet.notify_all()

    def wait_turn(self, longest: float | None = None) -> None:
        """Return once no request has been served for ``grace``, or after the longest wait
        (``max_wait``, or ``longest`` if shorter)."""
        if not self._serving and self._clock() - self._last_left >= self._grace:
            return  # the common case when idle, without taking the lock
        max_wait = self._max_wait if longest is None else min(self._max_wait, longest)
        with self._quiet:
            deadline = self._clock() + max_wait
            self._waiting += 1
            try:
                while True:
                    now = self._clock()
                    if now >= deadline:
                        return
                    if self._serving:
                        self._quiet.wait(deadline - now)
                        continue
                    quiet_for = now - self._last_left
                    if quiet_for >= self._grace:
                        return
                    self._quiet.wait(min(self._grace - quiet_for, deadline - now))
            finally:
                self._waiting -= 1
