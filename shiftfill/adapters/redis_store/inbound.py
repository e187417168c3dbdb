"""Each provider message id's outcome in Redis, kept for the dedupe window."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import redis

from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.services.ports import StoreUnavailable

T = TypeVar("T")
R = TypeVar("R")


# A duplicate delivery of a message waits this long for the first one's outcome.
INBOUND_LEASE_SECONDS = 30
PENDING = b"\x00pending"


@translating_errors
class RedisInbound:
    """Each provider message id's outcome, kept for the dedupe window by Redis's own expiry."""

    def __init__(self, client: redis.Redis, keys: Keys, window: timedelta) -> None:
        self._r = client
        self._k = keys
        self._window_ms = max(1, int(window.total_seconds() * 1000))

    def once(
        self,
        message_id: str,
        compute: Callable[[], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool]:
        key = self._k.inbound(message_id)
        deadline = time.monotonic() + INBOUND_LEASE_SECONDS
        while True:
            # The lease and, for a duplicate, the first delivery's outcome: one round trip.
            held = self._r.set(key, PENDING, nx=True, ex=INBOUND_LEASE_SECONDS, get=True)
            if held is None:
                try:
                    result = compute()
                except BaseException:
                    # Nothing is remembered: the provider may retry the message.
                    self._r.delete(key)
                    raise
                self._r.set(key, encode(result), px=self._window_ms)
                return result, True
            if held != PENDING:
                return decode(held.decode()), False
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"message {message_id} is still being handled elsewhere")
            time.sleep(0.01)
