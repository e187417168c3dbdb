"""Inbound message ids in this process's memory, kept for the dedupe window."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from shiftfill.services.dependencies import Clock, system_clock

R = TypeVar("R")


class MemoryInbound:
    """Remembers the outcome of each provider message id for the dedupe window.

    Ids are kept in the order they arrived, so forgetting the expired ones costs
    only the ones that expired.
    """

    def __init__(self, window: timedelta, clock: Clock = system_clock) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._clock = clock
        self._results: OrderedDict[str, tuple[datetime, object]] = OrderedDict()
        self._in_flight: dict[str, threading.Event] = {}

    def once(
        self,
        message_id: str,
        compute: Callable[[], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool]:
        """Keep outcomes as they are: in this process there is nothing to encode."""
        while True:
            with self._lock:
                self._forget_expired()
                if message_id in self._results:
                    return self._results[message_id][1], False  # type: ignore[return-value]
                running = self._in_flight.get(message_id)
                if running is None:
                    done = self._in_flight[message_id] = threading.Event()
                    break
            running.wait()
        try:
            result = compute()
            with self._lock:
                self._results[message_id] = (self._clock(), result)
        finally:
            # On failure nothing is remembered: the provider may retry the message.
            with self._lock:
                del self._in_flight[message_id]
            done.set()
        return result, True

    def _forget_expired(self) -> None:
        oldest = self._clock() - self._window
        while self._results:
            message_id, (at, _) = next(iter(self._results.items()))
            if at > oldest:
                return
            del self._results[message_id]

    def __len__(self) -> int:
        return len(self._results)
