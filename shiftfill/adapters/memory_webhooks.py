"""The agency's webhook endpoints, the webhook outbox and the deliveries, in memory.

One lock guards all of it. A shift, caregiver or notification step of the
memory store calls ``put`` while it holds its own lock (this one is always taken
inside those, never the other way round), so a message is written in the step
of the change it reports.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import islice

from shiftfill.domain.webhooks import (
    NO_PAYLOAD,
    Delivery,
    Webhook,
    WebhookMessage,
    forgettable,
)
from shiftfill.services.ports import Expand


class MemoryWebhooks:
    """Endpoints by id, messages waiting to be dispatched, deliveries and their due times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._webhooks: dict[str, Webhook] = {}
        self._outbox: deque[WebhookMessage] = deque()
        # Each endpoint's deliveries by id, in the order they were made.
        self._deliveries: dict[str, dict[str, Delivery]] = {}
        self._due: dict[tuple[str, str], datetime] = {}

    def put(self, messages: Iterable[WebhookMessage]) -> None:
        """Add messages to the outbox; called inside the step of their change."""
        with self._lock:
            self._outbox.extend(messages)

    def add(self, webhook: Webhook) -> None:
        with self._lock:
            self._webhooks[webhook.id] = webhook
            self._deliveries[webhook.id] = {}

    def get(self, webhook_id: str) -> Webhook | None:
        return self._webhooks.get(webhook_id)

    def for_organization(self, organization_id: str) -> list[Webhook]:
        with self._lock:
            return [w for w in self._webhooks.values() if w.organization_id == organization_id]

    def remove(self, webhook_id: str) -> bool:
        with self._lock:
            if self._webhooks.pop(webhook_id, None) is None:
                return False
            for delivery_id in self._deliveries.pop(webhook_id, {}):
                self._due.pop((webhook_id, delivery_id), None)
            return True

    def deliveries(self, webhook_id: str) -> list[Delivery]:
        with self._lock:
            held = list(reversed(self._deliveries.get(webhook_id, {}).values()))
            due = {d.id: self._due.get((webhook_id, d.id)) for d in held if d.pending}
        return [
            replace(d, payload=NO_PAYLOAD, next_attempt_at=due[d.id] or d.next_attempt_at)
            if d.pending
            else d
            for d in held
        ]

    def dispatch(self, expand: Expand, limit: int = 100) -> int:
        with self._lock:
            taken = 0
            while self._outbox and taken < limit:
                message = self._outbox.popleft()
                taken += 1
                endpoints = [
                    w
                    for w in self._webhooks.values()
                    if w.organization_id == message.organization_id
                ]
                for delivery in expand(message, endpoints):
                    self._deliveries[delivery.webhook_id][delivery.id] = delivery
                    if delivery.next_attempt_at is not None:
                        self._due[(delivery.webhook_id, delivery.id)] = delivery.next_attempt_at
            return taken

    def due(
        self, now: datetime, limit: int = 100, skip: Collection[str] = ()
    ) -> list[tuple[str, str]]:
        with self._lock:
            due = sorted(
                (at, key) for key, at in self._due.items() if at <= now and key[0] not in skip
            )
        return [key for _, key in due[:limit]]

    def claim(
        self, webhook_id: str, delivery_id: str, now: datetime, until: datetime
    ) -> Delivery | None:
        with self._lock:
            key = (webhook_id, delivery_id)
            at = self._due.get(key)
            if at is None or at > now:
                return None
            self._due[key] = until
            return self._deliveries[webhook_id][delivery_id]

    def settle(self, delivery: Delivery, *, disable: bool = False) -> None:
        with self._lock:
            held = self._deliveries.get(delivery.webhook_id)
            if held is None:
                return  # the endpoint was deleted meanwhile
            # A late settle of a forgotten delivery (its attempt outlived the lease)
            # writes nothing back; its 410 still disables the endpoint.
            if delivery.id in held:
                held[delivery.id] = delivery
                key = (delivery.webhook_id, delivery.id)
                if delivery.pending and delivery.next_attempt_at is not None:
                    self._due[key] = delivery.next_attempt_at
                else:
                    self._due.pop(key, None)
            webhook = self._webhooks.get(delivery.webhook_id)
            if disable and webhook is not None:
                self._webhooks[webhook.id] = replace(webhook, enabled=False)

    def forget_settled(self, webhook_id: str, keep: int) -> int:
        with self._lock:
            held = self._deliveries.get(webhook_id, {})
            older = list(islice(held.values(), forgettable(len(held), keep)))
            settled = [delivery.id for delivery in older if not delivery.pending]
            for delivery_id in settled:
                del held[delivery_id]
            return len(settled)

    def waiting(self) -> int:
        return len(self._outbox)

    def pending(self, webhook_ids: Sequence[str]) -> int:
        """How many deliveries of these endpoints are pending (for tests)."""
        with self._lock:
            return sum(1 for (wid, _) in self._due if wid in webhook_ids)
