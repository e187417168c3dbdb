"""Each provider message id's outcome in Redis, kept for the dedupe window."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import redis

from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.shifts import RedisShifts
from shiftfill.domain.model import Caregiver, Shift
from shiftfill.services.ports import StoreUnavailable

R = TypeVar("R")


# A duplicate delivery of a message waits this long for the first one's outcome.
INBOUND_LEASE_SECONDS = 30
PENDING = b"\x00pending"


@translating_errors
class RedisInbound:
    """Each provider message id's outcome, kept for the dedupe window by Redis's own expiry."""

    def __init__(
        self, client: redis.Redis, keys: Keys, window: timedelta, shifts: RedisShifts
    ) -> None:
        self._r = client
        self._k = keys
        self._window_ms = max(1, int(window.total_seconds() * 1000))
        self._shifts = shifts

    def once(
        self,
        message_id: str,
        sender: str,
        compute: Callable[[Caregiver, list[Shift]], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool] | None:
        lease = (self._k.inbound(message_id), INBOUND_LEASE_SECONDS, PENDING)
        deadline = time.monotonic() + INBOUND_LEASE_SECONDS
        while True:
            # The sender and their offers, and the lease or a duplicate's first outcome:
            # one round trip.
            answer = self._shifts.reply_read(sender, lease)
            if not answer:
                return None  # no caregiver has the number: no lease was taken
            if answer[0] == 1:
                try:
                    result = compute(*self._shifts.sender_in(answer))
                except BaseException:
                    # Nothing is remembered: the provider may retry the message.
                    self._r.delete(lease[0])
                    raise
                self._r.set(lease[0], encode(result), px=self._window_ms)
                return result, True
            held = answer[1]
            if held != PENDING:
                return decode(held.decode()), False
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"message {message_id} is still being handled elsewhere")
            time.sleep(0.01)
