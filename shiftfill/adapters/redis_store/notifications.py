"""Notifications in Redis: queued ones as hash fields, changed ones as JSON records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import redis

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import translating_errors
from shiftfill.adapters.redis_store.events import RedisEvents
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.outbox import RedisOutbox
from shiftfill.adapters.redis_store.steps import Command, Step, Steps
from shiftfill.adapters.redis_store.webhooks import message_writes
from shiftfill.domain.model import Channel, Notification, split_notification_id
from shiftfill.domain.sending import NotificationChange
from shiftfill.services.ports import ChangeNotification


@translating_errors
class RedisNotifications:
    """Notifications, each shift's list of them, and the provider-id index.

    A notification that is only queued is one field of ``queued:<shift>:<channel>``
    (caregiver id to queued time), written by the step that queues it: a fanout to
    ten thousand writes ten thousand hash fields, not ten thousand JSON records.
    Its first change writes it whole, as JSON under ``notification:<id>``.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        steps: Steps,
        events: RedisEvents,
        outbox: RedisOutbox,
    ) -> None:
        self._r = client
        self._k = keys
        self._steps = steps
        self._events = events
        self._outbox = outbox
        self._providers = keys.provider_ids
        self.count_key = keys.notification_count

    def key(self, notification_id: str) -> str:
        return self._k.notification(notification_id)

    def _of_shift(self, shift_id: str) -> str:
        return self._k.notifications(shift_id)

    def _queued(self, shift_id: str, channel: str) -> str:
        return self._k.queued(shift_id, channel)

    def reads(self, notification_id: str) -> tuple[Command, Command] | None:
        """The two reads that find a notification: its record, else its queued time."""
        try:
            shift_id, caregiver_id, channel = split_notification_id(notification_id)
        except ValueError:
            return None
        return (
            ("GET", self.key(notification_id)),
            ("HGET", self._queued(shift_id, channel), caregiver_id),
        )

    def queue(
        self, step: Step, shift_id: str, channel: str, caregiver_ids: Sequence[str], at: datetime
    ) -> None:
        """Queue a notification to each caregiver without one on ``channel``, inside a step."""
        step.write(
            "queue",
            self._queued(shift_id, channel),
            self._of_shift(shift_id),
            self._outbox.key,
            self.count_key,
            shift_id,
            channel,
            codec.dump_time(at),
            json.dumps(list(caregiver_ids)),
        )

    def get(self, notification_id: str) -> Notification | None:
        reads = self.reads(notification_id)
        if reads is None:
            return None
        with self._r.pipeline(transaction=False) as pipe:
            for command in reads:
                pipe.execute_command(*command)
            replies = pipe.execute()
        return self.remembered(notification_id, reads, replies)

    def remembered(
        self, notification_id: str, reads: tuple[Command, Command], replies: Sequence[Any]
    ) -> Notification | None:
        """The notification ``reads`` found; their answers are the guess of a step on it."""
        for command, reply in zip(reads, replies, strict=True):
            self._steps.remember(command, reply or None)
        return notification_from(notification_id, *(reply or None for reply in replies))

    def by_provider_id(self, provider_id: str) -> Notification | None:
        notification_id = self._r.hget(self._providers, provider_id)
        return self.get(notification_id.decode()) if notification_id else None

    def for_shift(self, shift_id: str) -> list[Notification]:
        ids = [i.decode() for i in self._r.lrange(self._of_shift(shift_id), 0, -1)]
        if not ids:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            pipe.mget([self.key(i) for i in ids])
            for each in Channel:
                pipe.hgetall(self._queued(shift_id, each))
            raws, *queued = pipe.execute()
        queued_at = {
            (str(each), cid): at
            for each, times in zip(Channel, queued, strict=True)
            for cid, at in times.items()
        }
        found = []
        for notification_id, raw in zip(ids, raws, strict=True):
            _, caregiver_id, channel = split_notification_id(notification_id)
            at = queued_at.get((channel, caregiver_id.encode()))
            notification = notification_from(notification_id, raw, at)
            if notification is not None:
                found.append(notification)
        return found

    def update(self, notification_id: str, change: ChangeNotification) -> NotificationChange:
        route, attempt = self._step(notification_id, change)
        return cast(NotificationChange, self._steps.run(route, attempt))

    def update_many(
        self, notification_ids: Sequence[str], change: ChangeNotification
    ) -> dict[str, NotificationChange]:
        known = [i for i in notification_ids if self.reads(i) is not None]
        jobs = [self._step(i, change, missing_ok=True) for i in known]
        updated = self._steps.run_many(jobs)
        return {i: result for i, result in zip(known, updated, strict=True) if result is not None}

    def _step(
        self,
        notification_id: str,
        change: ChangeNotification,
        *,
        missing_ok: bool = False,
    ) -> tuple[str, Callable[[Step], Any]]:
        """The route and the attempt of one notification's step.

        ``missing_ok``: an unknown notification is ``None``, not a ``KeyError``.
        """
        reads = self.reads(notification_id)
        if reads is None:
            raise KeyError(notification_id)
        key = self.key(notification_id)

        def attempt(step: Step) -> NotificationChange | None:
            current = notification_from(notification_id, *step.recall(*reads))
            if current is None:
                if missing_ok:
                    return None
                raise KeyError(notification_id)
            decided = change(current)
            if not decided.changed:
                return decided
            notification = decided.notification
            step.write("SET", key, codec.dump_notification(notification))
            if notification.provider_id and notification.provider_id != current.provider_id:
                step.write("HSET", self._providers, notification.provider_id, notification_id)
            events = [codec.dump_event(e) for e in decided.events]
            step.write_many("RPUSH", self._events.key(current.shift_id), events)
            step.write_many("RPUSH", self._k.webhook_outbox, message_writes(decided.messages))
            return decided

        return key, attempt


def notification_from(
    notification_id: str, raw: bytes | None, queued_at: bytes | None
) -> Notification | None:
    """A notification from its record, else from its queued time; ``None`` when neither."""
    if raw:
        return codec.load_notification(raw)
    if not queued_at:
        return None
    shift_id, caregiver_id, channel = split_notification_id(notification_id)
    at = datetime.fromisoformat(queued_at.decode())
    return Notification.queued(shift_id, caregiver_id, Channel(channel), at)
