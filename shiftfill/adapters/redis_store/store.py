"""The Redis store: the repositories on one connection pool, under one key prefix."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import redis
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.retry import Retry

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import _UNAVAILABLE, _translating
from shiftfill.adapters.redis_store.caregivers import RedisCaregivers
from shiftfill.adapters.redis_store.clients import RedisClients
from shiftfill.adapters.redis_store.events import RedisEvents
from shiftfill.adapters.redis_store.inbound import RedisInbound
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.notifications import RedisNotifications
from shiftfill.adapters.redis_store.organizations import RedisOrganizations
from shiftfill.adapters.redis_store.outbox import RedisOutbox
from shiftfill.adapters.redis_store.scripts import OUTGOING
from shiftfill.adapters.redis_store.shifts import RedisShifts, Related
from shiftfill.adapters.redis_store.steps import Steps, run_scripts
from shiftfill.adapters.redis_store.webhooks import RedisWebhooks
from shiftfill.domain.indexes import random_offer_code
from shiftfill.domain.model import Client, split_notification_id
from shiftfill.services.ports import Outgoing, RecordCounts, StoreUnavailable


class RedisStore:
    """Everything in Redis under one key prefix; survives any shiftfill process."""

    kind = "redis"
    durable = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "shiftfill:",
        dedupe_window: timedelta = timedelta(hours=72),
        code_source: Callable[[int], str] = random_offer_code,
        max_connections: int = 2048,
    ) -> None:
        self.client = redis.Redis.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=15,
            # No replays: a step's checked write that timed out may have been applied,
            # and replayed it would fail its own check and look like another's claim.
            # A failed command is StoreUnavailable; the pool reconnects on the next.
            retry=Retry(NoBackoff(), 0),
            # Named once here: left out, every new connection looks the version up in
            # the installed packages' metadata, under the pool's lock.
            driver_info=DriverInfo(name="redis-py", lib_version=redis.__version__),
        )
        self.keys = Keys(prefix)
        consumer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        steps = Steps(self.client)
        self.events = RedisEvents(self.client, self.keys)
        self.outbox = RedisOutbox(self.client, self.keys, consumer)
        self.notifications = RedisNotifications(
            self.client, self.keys, steps, self.events, self.outbox
        )
        self.caregivers = RedisCaregivers(self.client, self.keys)
        self.organizations = RedisOrganizations(self.client, self.keys, steps)
        self.clients = RedisClients(self.client, self.keys, steps)
        related = Related(
            self.caregivers, self.organizations, self.clients, self.notifications, self.events
        )
        self.shifts = RedisShifts(self.client, self.keys, steps, related, code_source)
        self.webhooks = RedisWebhooks(self.client, self.keys, self.shifts.loaded)
        self._outgoing = self.client.register_script(OUTGOING)
        self.inbound = RedisInbound(self.client, self.keys, dedupe_window, self.shifts)

    @_translating
    def outgoing(self, notification_ids: Sequence[str]) -> list[Outgoing]:
        """One ``OUTGOING`` script a notification, all in one pipeline."""
        wanted, calls = [], []
        for notification_id in notification_ids:
            reads = self.notifications.reads(notification_id)
            if reads is None:
                continue
            wanted.append((notification_id, reads))
            shift_id, caregiver_id, _ = split_notification_id(notification_id)
            keys = [
                reads[0][1],
                reads[1][1],
                self.shifts.key(shift_id),
                self.caregivers.key(caregiver_id),
            ]
            calls.append((keys, [caregiver_id, self.organizations.key(""), self.keys.client("")]))
        answers = run_scripts(self.client, self._outgoing, calls)
        found = []
        # Many notifications of a batch share a shift and its client: each client parsed once.
        clients: dict[bytes, Client] = {}
        for (notification_id, reads), answer in zip(wanted, answers, strict=True):
            raw, queued_at, shift, caregiver, org, client = answer
            notification = self.notifications.remembered(notification_id, reads, [raw, queued_at])
            if notification is None:
                continue
            shifts = self.shifts.loaded([shift])
            found.append(
                Outgoing(
                    notification,
                    shifts[0] if shifts else None,
                    codec.load_caregiver(caregiver) if caregiver else None,
                    codec.load_organization(org) if org else None,
                    _client_of(client, clients),
                )
            )
        return found

    def ping(self) -> None:
        try:
            self.client.ping()
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc

    @_translating
    def counts(self) -> RecordCounts:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(self.keys.caregivers)
            pipe.llen(self.keys.shifts)
            pipe.get(self.notifications.count_key)
            caregivers, shifts, notifications = pipe.execute()
        return RecordCounts(int(caregivers), int(shifts), int(notifications or 0))

    @_translating
    def mark_seeded(self, at: datetime) -> datetime:
        key = self.keys.seeded_at
        self.client.set(key, at.isoformat(), nx=True)
        return datetime.fromisoformat(self.client.get(key).decode())

    @_translating
    def seeded_at(self) -> datetime | None:
        raw = self.client.get(self.keys.seeded_at)
        return datetime.fromisoformat(raw.decode()) if raw else None

    def close(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            self.outbox.flush()
        self.client.close()


def _client_of(raw: bytes, parsed: dict[bytes, Client]) -> Client | None:
    """The client stored as ``raw`` (empty: none), parsed once per batch."""
    if not raw:
        return None
    client = parsed.get(raw)
    if client is None:
        client = parsed[raw] = codec.load_client(raw)
    return client
