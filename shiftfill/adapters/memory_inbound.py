"""Inbound message ids in this process's memory, kept for the dedupe window."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from shiftfill.domain.model import Caregiver, Shift
from shiftfill.services.dependencies import Clock, system_clock
from shiftfill.services.ports import Sender

R = TypeVar("R")


class MemoryInbound:
    """Remembers the outcome of each provider message id for the dedupe window.

    Ids are kept in the order they arrived, so forgetting the expired ones costs
    only the ones that expired.
    """

    def __init__(
        self,
        window: timedelta,
        senders: Callable[[str], Sender | None],
        clock: Clock = system_clock,
    ) -> None:
        self._lock = threading.Lock()
        # A copy of a message that is still being handled waits here for its outcome.
        self._finished = threading.Condition(self._lock)
        self._window = window
        self._senders = senders
        self._clock = clock
        self._results: OrderedDict[str, tuple[datetime, object]] = OrderedDict()
        self._in_flight: set[str] = set()
        self._waiting = 0

    def once(
        self,
        message_id: str,
        sender: str,
        compute: Callable[[Caregiver, list[Shift]], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool] | None:
        """Keep outcomes as they are: in this process there is nothing to encode."""
        found = self._senders(sender)
        if found is None:
            return None
        waited = False
        with self._lock:
            self._forget_expired()
            while message_id in self._in_flight:
                waited = True
                self._waiting += 1
                self._finished.wait()
                self._waiting -= 1
            if message_id in self._results:
                return self._results[message_id][1], False  # type: ignore[return-value]
            self._in_flight.add(message_id)
        try:
            if waited:
                # The delivery waited on failed, perhaps after changing the offers: read again.
                found = self._senders(sender)
                if found is None:
                    return None
            result = compute(*found)
            with self._lock:
                self._results[message_id] = (self._clock(), result)
        finally:
            # On failure nothing is remembered: the provider may retry the message.
            with self._lock:
                self._in_flight.discard(message_id)
                if self._waiting:
                    self._finished.notify_all()
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
