"""The send queue in Redis: a stream of notification ids read by one consumer group."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.keys import Keys

GROUP = "senders"


@translating_errors
class RedisOutbox:
    """The send queue: a stream of notification ids read by one consumer group.

    Each process reads as its own consumer. ``take`` hands out new entries;
    ``done`` acknowledges and deletes them, so the stream's length is what is
    waiting or being sent. The acknowledgements go with this process's next read
    of the stream, in its round trip: a send costs one trip less. One lost with a
    crash is harmless: the entry is taken over after the visibility timeout and
    found settled.
    """

    def __init__(self, client: redis.Redis, keys: Keys, consumer: str) -> None:
        self._r = client
        self.key = keys.outbox
        self._consumer = consumer
        self._entries: dict[str, bytes] = {}
        self._handled: list[bytes] = []
        self._lock = threading.Lock()
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._r.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def queue(self, pipe: Pipeline, notification_ids: Iterable[str]) -> None:
        """Queue ids inside a caller's transaction."""
        for notification_id in notification_ids:
            pipe.xadd(self.key, {"id": notification_id})

    def take(self, timeout: float, limit: int = 1) -> list[str]:
        self._ensure_group()
        # No BLOCK at all for a zero timeout: Redis checks blocked clients' timeouts
        # only on its 100 ms clock, so a 1 ms block would wait up to 100 ms.
        block = int(timeout * 1000) or None
        with self._acknowledging() as pipe:
            pipe.xreadgroup(GROUP, self._consumer, {self.key: ">"}, count=limit, block=block)
            answer = pipe.execute()[-1]
        return self._remember(entry for _, entries in answer or () for entry in entries)

    @contextlib.contextmanager
    def _acknowledging(self) -> Iterator[Pipeline]:
        """A pipeline that first acknowledges and deletes the entries handled since the last.

        When it fails, they are kept for the next one.
        """
        with self._lock:
            handled, self._handled = self._handled, []
        try:
            with self._r.pipeline(transaction=False) as pipe:
                if handled:
                    pipe.xack(self.key, GROUP, *handled)
                    pipe.xdel(self.key, *handled)
                yield pipe
        except BaseException:
            with self._lock:
                self._handled += handled
            raise

    def _remember(self, entries: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> list[str]:
        ids = []
        with self._lock:
            for entry_id, fields in entries:
                notification_id = fields[b"id"].decode()
                self._entries[notification_id] = entry_id
                ids.append(notification_id)
        return ids

    def _forget(self, notification_ids: Sequence[str]) -> list[bytes]:
        with self._lock:
            entries = [self._entries.pop(i, None) for i in notification_ids]
        return [e for e in entries if e is not None]

    def done(self, notification_ids: Sequence[str]) -> None:
        entries = self._forget(notification_ids)
        with self._lock:
            self._handled += entries

    def drain(self) -> list[str]:
        """Nothing to drain: what waits stays in Redis for the next process."""
        return []

    def reclaim(self, idle_seconds: float) -> list[str]:
        self._ensure_group()
        taken: list[str] = []
        start = "0-0"
        while True:
            answer = self._r.xautoclaim(
                self.key, GROUP, self._consumer, int(idle_seconds * 1000), start, count=100
            )
            start, entries = answer[0], answer[1]
            taken += self._remember((e_id, f) for e_id, f in entries if f)
            if start in (b"0-0", "0-0") or not entries:
                return taken

    def requeue(self, notification_ids: Sequence[str]) -> None:
        entries = self._forget(notification_ids)
        with self._r.pipeline(transaction=True) as pipe:
            if entries:
                pipe.xack(self.key, GROUP, *entries)
                pipe.xdel(self.key, *entries)
            self.queue(pipe, notification_ids)
            pipe.execute()

    def flush(self) -> None:
        """Send the acknowledgements still waiting for a read of the stream."""
        with self._acknowledging() as pipe:
            pipe.execute()

    def depth(self) -> int:
        with self._acknowledging() as pipe:
            pipe.xlen(self.key)
            return int(pipe.execute()[-1])
