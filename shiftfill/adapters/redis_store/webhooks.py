"""The agency's webhook endpoints, the webhook outbox and the deliveries, in Redis.

A message enters ``webhook-outbox`` as one more write of the step of the change
it reports (``message_writes``), so it survives whatever happens to the process
after that step. ``dispatch`` turns messages into deliveries in one
WATCH/MULTI/EXEC step; each pending delivery has its due time in
``webhook-due``, which ``claim`` moves forward atomically (a script) so that of
any number of processes one sends each attempt, and one whose taker died is due
again when its lease ends.

A pending delivery keeps its payload around the digest of its shift's part,
which ``webhook-body:<digest>`` holds once for every delivery that refers to it;
``webhook-body-refs`` counts them, and the last to settle (or be removed)
deletes it, in the same step (docs/webhooks.md, "What a delivery keeps").
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import redis
from redis.client import Pipeline

from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.base import score_of, translating_errors
from shiftfill.adapters.redis_store.keys import Keys
from shiftfill.adapters.redis_store.steps import transact
from shiftfill.domain.model import Shift
from shiftfill.domain.webhooks import (
    FAILED,
    FORGET_WINDOW,
    NO_PAYLOAD,
    PENDING,
    Delivery,
    Payload,
    Webhook,
    WebhookMessage,
    forgettable,
    settled,
)
from shiftfill.services.ports import Expand

log = logging.getLogger(__name__)

# KEYS: an endpoint's delivery list, webhook-due, then each delivery's key. ARGV: each
# delivery's id and its member of webhook-due, in turn. Forgets those with no due time
# (settled); how many.
FORGET = """
local forgotten = 0
for i = 3, #KEYS do
  local id, member = ARGV[2 * i - 5], ARGV[2 * i - 4]
  if not redis.call('ZSCORE', KEYS[2], member) and redis.call('LREM', KEYS[1], -1, id) > 0 then
    redis.call('DEL', KEYS[i])
    forgotten = forgotten + 1
  end
end
return forgotten
"""

# KEYS: webhook-body-refs, webhook-body:<digest>. ARGV: the digest. A pending delivery
# stopped referring to it; the last one to let go deletes the shift part. Sent whole
# (EVAL) inside a settle's MULTI: an EVALSHA there could fail on an emptied script cache
# after the rest of the transaction was applied.
RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return 0
"""

# Whether a stored delivery (JSON as ``dump_delivery`` writes it) is pending, and the
# digest of the shift part it refers to. Matched, not decoded: a delivery stored before
# payloads were kept in parts holds its whole body (110 KB on a big fanout), and an
# endpoint's backlog may hold thousands. The quotes matched cannot occur unescaped
# inside a JSON string, so only the fields themselves match.
_PENDING_DIGEST = """
local function pending_digest(record)
  if not string.find(record, '"status": "pending"', 1, true) then return false, nil end
  return true, string.match(record, '"shift_digest": "(%x+)"')
end
"""

# KEYS: webhook-due, the delivery's key. ARGV: its member of webhook-due, now, the lease's
# end, the webhook-body key prefix. When taken: the delivery's JSON and its shift part
# (nil when it has none, or when the part is lost), read in the same step as the take,
# so that another taker's settle cannot land between them. A due entry without a pending
# delivery (none is left so) is dropped.
CLAIM = (
    _PENDING_DIGEST
    + """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then return false end
local record = redis.call('GET', KEYS[2])
local pending, digest = false, nil
if record then pending, digest = pending_digest(record) end
if not pending then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if not digest then return {record} end
return {record, redis.call('GET', ARGV[4] .. digest)}
"""
)

# KEYS: webhooks, the endpoint's delivery list, webhook-due, webhook-body-refs. ARGV: the
# endpoint's id, its delivery key prefix, the webhook-body key prefix, its member prefix
# of webhook-due. Deletes the endpoint and its deliveries, and lets go of the shift parts
# its pending ones refer to, as one step: 1 when it existed.
REMOVE = (
    _PENDING_DIGEST
    + """
local existed = redis.call('HDEL', KEYS[1], ARGV[1])
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local record = redis.call('GET', ARGV[2] .. id)
  if record then
    local _, digest = pending_digest(record)
    if digest and redis.call('HINCRBY', KEYS[4], digest, -1) <= 0 then
      redis.call('HDEL', KEYS[4], digest)
      redis.call('DEL', ARGV[3] .. digest)
    end
    redis.call('DEL', ARGV[2] .. id)
  end
  redis.call('ZREM', KEYS[3], ARGV[4] .. id)
end
redis.call('DEL', KEYS[2])
return existed
"""
)


def dump_message(message: WebhookMessage) -> str:
    """A message as the outbox keeps it; its shift without the offered ids (kept apart)."""
    return json.dumps(
        {
            "id": message.id,
            "type": message.type,
            "organization_id": message.organization_id,
            "at": codec.dump_time(message.at),
            "fields": dict(message.fields),
            "shift": codec.dump_shift(message.shift),
        }
    )


def message_writes(messages: Iterable[WebhookMessage]) -> list[str]:
    """The encoded messages to ``RPUSH`` on the outbox, in a step's writes."""
    return [dump_message(m) for m in messages]


def dump_webhook(webhook: Webhook) -> str:
    return json.dumps(
        {
            "id": webhook.id,
            "organization_id": webhook.organization_id,
            "url": webhook.url,
            "events": list(webhook.events),
            "secret": webhook.secret,
            "created_at": codec.dump_time(webhook.created_at),
            "enabled": webhook.enabled,
        }
    )


def load_webhook(raw: str | bytes) -> Webhook:
    data = json.loads(raw)
    return Webhook(
        id=data["id"],
        organization_id=data["organization_id"],
        url=data["url"],
        events=tuple(data["events"]),
        secret=data["secret"],
        created_at=datetime.fromisoformat(data["created_at"]),
        enabled=data["enabled"],
    )


# The error of a delivery whose shift part is gone (only a store that lost data has that).
PAYLOAD_LOST = "not sent: its payload was lost"


def digest_of(payload: Payload) -> str | None:
    """The key of a payload's shift part in ``webhook-body:<digest>``; ``None`` for none."""
    return hashlib.sha256(payload.shift.encode()).hexdigest() if payload.shift else None


def dump_delivery(delivery: Delivery, digest: str | None) -> str:
    """A delivery as JSON; a pending one with its payload around ``digest``, its shift part's.

    The scripts find ``"status": "pending"`` and ``"shift_digest": "<hex>"`` in it as written
    here, with ``json.dumps``' default separators.
    """
    payload = delivery.payload
    kept = {"head": payload.head, "shift_digest": digest, "tail": payload.tail}
    return json.dumps(
        {
            "id": delivery.id,
            "webhook_id": delivery.webhook_id,
            "event": delivery.event,
            **(kept if delivery.pending else {}),
            "created_at": codec.dump_time(delivery.created_at),
            "status": delivery.status,
            "attempts": delivery.attempts,
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "next_attempt_at": (
                codec.dump_time(delivery.next_attempt_at) if delivery.next_attempt_at else None
            ),
        }
    )


def held_digest(data: dict[str, Any]) -> str | None:
    """The shift part a stored delivery refers to (and counts in ``webhook-body-refs``)."""
    return data.get("shift_digest") if data["status"] == PENDING else None


def load_delivery(data: dict[str, Any], part: str | None = None) -> Delivery:
    """A stored delivery, without its payload; a pending one with it when ``part`` is given
    (the shift part it refers to, ``""`` when it refers to none).

    A delivery stored before payloads were kept in parts has its ``body`` whole.
    """
    next_at = data["next_attempt_at"]
    payload = NO_PAYLOAD
    if part is not None and data["status"] == PENDING:
        whole = data.get("body")
        payload = Payload(whole) if whole is not None else Payload(data["head"], part, data["tail"])
    return Delivery(
        id=data["id"],
        webhook_id=data["webhook_id"],
        event=data["event"],
        payload=payload,
        created_at=datetime.fromisoformat(data["created_at"]),
        status=data["status"],
        attempts=data["attempts"],
        last_status_code=data["last_status_code"],
        last_error=data["last_error"],
        next_attempt_at=datetime.fromisoformat(next_at) if next_at else None,
    )


def _member(webhook_id: str, delivery_id: str) -> str:
    return f"{webhook_id} {delivery_id}"


@translating_errors
class RedisWebhooks:
    """Endpoints in one hash, messages in a list, deliveries as JSON with a due-time index.

    ``load_shifts`` turns stored shifts back into shifts with their offered ids
    (the shift repository's ``loaded``).
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        load_shifts: Callable[[Iterable[bytes | str | None]], list[Shift]],
    ) -> None:
        self._r = client
        self._k = keys
        self._load_shifts = load_shifts
        self.outbox = keys.webhook_outbox
        self._claim = client.register_script(CLAIM)
        self._remove = client.register_script(REMOVE)
        self._forget = client.register_script(FORGET)

    def add(self, webhook: Webhook) -> None:
        self._r.hset(self._k.webhooks, webhook.id, dump_webhook(webhook))

    def get(self, webhook_id: str) -> Webhook | None:
        raw = self._r.hget(self._k.webhooks, webhook_id)
        return load_webhook(raw) if raw else None

    def _all(self, reader: Any) -> list[Webhook]:
        webhooks = [load_webhook(raw) for raw in reader.hvals(self._k.webhooks)]
        return sorted(webhooks, key=lambda w: (w.created_at, w.id))

    def for_organization(self, organization_id: str) -> list[Webhook]:
        return [w for w in self._all(self._r) if w.organization_id == organization_id]

    def remove(self, webhook_id: str) -> bool:
        """One script: a settle or dispatch meanwhile sees the endpoint gone and writes
        nothing for it, so none of its deliveries stays due or keeps a shift part."""
        keys = [
            self._k.webhooks,
            self._k.webhook_deliveries(webhook_id),
            self._k.webhook_due,
            self._k.webhook_body_refs,
        ]
        args = [
            webhook_id,
            self._k.webhook_delivery(webhook_id, ""),
            self._k.webhook_body(""),
            _member(webhook_id, ""),
        ]
        return bool(self._remove(keys=keys, args=args))

    def deliveries(self, webhook_id: str) -> list[Delivery]:
        ids = [i.decode() for i in self._r.lrange(self._k.webhook_deliveries(webhook_id), 0, -1)]
        if not ids:
            return []
        with self._r.pipeline(transaction=True) as pipe:
            pipe.mget([self._k.webhook_delivery(webhook_id, i) for i in ids])
            pipe.zmscore(self._k.webhook_due, [_member(webhook_id, i) for i in ids])
            raws, scores = pipe.execute()
        listed = []
        for raw, score in zip(raws, scores, strict=True):
            if raw:
                delivery = load_delivery(json.loads(raw))
                if delivery.pending and score is not None:
                    due = datetime.fromtimestamp(score, UTC)
                    delivery = replace(delivery, next_attempt_at=due)
                listed.append(delivery)
        return listed

    def dispatch(self, expand: Expand, limit: int = 100) -> int:
        def step(pipe: Pipeline) -> int:
            raws = pipe.lrange(self.outbox, 0, limit - 1)
            if not raws:
                pipe.multi()
                return 0
            webhooks = self._all(pipe)
            made: list[Delivery] = []
            for raw in raws:
                message = self._load_message(raw)
                if message is None:
                    continue
                endpoints = [w for w in webhooks if w.organization_id == message.organization_id]
                made += expand(message, endpoints)
            pipe.multi()
            digests: dict[int, str | None] = {}  # by payload: a message's endpoints share one
            shift_parts: dict[str, str] = {}
            refs: Counter[str] = Counter()
            for delivery in made:
                payload = delivery.payload
                if id(payload) not in digests:
                    digests[id(payload)] = digest_of(payload)
                digest = digests[id(payload)]
                if digest is not None:
                    shift_parts[digest] = payload.shift
                    refs[digest] += 1
                pipe.set(
                    self._k.webhook_delivery(delivery.webhook_id, delivery.id),
                    dump_delivery(delivery, digest),
                )
                pipe.lpush(self._k.webhook_deliveries(delivery.webhook_id), delivery.id)
                if delivery.next_attempt_at is not None:
                    member = _member(delivery.webhook_id, delivery.id)
                    pipe.zadd(self._k.webhook_due, {member: score_of(delivery.next_attempt_at)})
            for digest, shift_part in shift_parts.items():
                # Named by its content: one already there is this one (no 110 KB rewrite).
                pipe.set(self._k.webhook_body(digest), shift_part, nx=True)
                pipe.hincrby(self._k.webhook_body_refs, digest, refs[digest])
            pipe.ltrim(self.outbox, len(raws), -1)
            return len(raws)

        return transact(self._r, [self.outbox, self._k.webhooks], step)

    def _load_message(self, raw: bytes) -> WebhookMessage | None:
        data = json.loads(raw)
        shifts = self._load_shifts([data["shift"].encode()])
        if not shifts:
            return None
        return WebhookMessage(
            type=data["type"],
            organization_id=data["organization_id"],
            at=datetime.fromisoformat(data["at"]),
            shift=shifts[0],
            fields=data["fields"],
            id=data["id"],
        )

    def due(
        self, now: datetime, limit: int = 100, skip: Collection[str] = ()
    ) -> list[tuple[str, str]]:
        """Pages through the due set past the skipped endpoints' entries: a round trip per
        ``limit`` of them."""
        found: list[tuple[str, str]] = []
        start = 0
        while len(found) < limit:
            members = self._r.zrangebyscore(
                self._k.webhook_due, "-inf", score_of(now), start=start, num=limit
            )
            for member in members:
                webhook_id, delivery_id = member.decode().split(" ", 1)
                if webhook_id not in skip:
                    found.append((webhook_id, delivery_id))
            if len(members) < limit:
                break
            start += limit
        return found[:limit]

    def claim(
        self, webhook_id: str, delivery_id: str, now: datetime, until: datetime
    ) -> Delivery | None:
        key = self._k.webhook_delivery(webhook_id, delivery_id)
        taken = self._claim(
            keys=[self._k.webhook_due, key],
            args=[
                _member(webhook_id, delivery_id),
                score_of(now),
                score_of(until),
                self._k.webhook_body(""),
            ],
        )
        if not taken:
            return None
        data = json.loads(taken[0])
        digest = held_digest(data)
        part = taken[1] if len(taken) > 1 else None
        if digest is not None and part is None:
            # Kept while a pending delivery refers to it; gone only if the store lost data.
            log.error("webhook payload lost: delivery %s of %s fails", delivery_id, webhook_id)
            lost = settled(load_delivery(data), FAILED, last_error=PAYLOAD_LOST)
            self.settle(lost)
            return None
        return load_delivery(data, part.decode() if part is not None else "")

    def settle(self, delivery: Delivery, *, disable: bool = False) -> None:
        key = self._k.webhook_delivery(delivery.webhook_id, delivery.id)
        member = _member(delivery.webhook_id, delivery.id)
        digest = digest_of(delivery.payload) if delivery.pending else None

        def step(pipe: Pipeline) -> None:
            raw = pipe.hget(self._k.webhooks, delivery.webhook_id)
            stored = pipe.get(key)
            pipe.multi()
            if raw is None:
                return  # the endpoint was deleted meanwhile
            # A late settle of a forgotten delivery (its attempt outlived the lease)
            # writes nothing back; its 410 still disables the endpoint.
            if stored is not None:
                held = held_digest(json.loads(stored))
                if digest != held:
                    # Settled, it lets go of its shift part; pending again after another
                    # taker settled it (an attempt that outlived its lease), it takes it back.
                    if digest is not None:
                        part = delivery.payload.shift
                        pipe.set(self._k.webhook_body(digest), part, nx=True)
                        pipe.hincrby(self._k.webhook_body_refs, digest, 1)
                    if held is not None:
                        self._release(pipe, held)
                pipe.set(key, dump_delivery(delivery, digest))
                if delivery.pending and delivery.next_attempt_at is not None:
                    pipe.zadd(self._k.webhook_due, {member: score_of(delivery.next_attempt_at)})
                else:
                    pipe.zrem(self._k.webhook_due, member)
            if disable:
                disabled = replace(load_webhook(raw), enabled=False)
                pipe.hset(self._k.webhooks, delivery.webhook_id, dump_webhook(disabled))

        transact(self._r, [self._k.webhooks, key], step)

    def _release(self, pipe: Pipeline, digest: str) -> None:
        """Queue on ``pipe``: a pending delivery no longer refers to ``digest``."""
        pipe.eval(RELEASE, 2, self._k.webhook_body_refs, self._k.webhook_body(digest), digest)

    def forget_settled(self, webhook_id: str, keep: int) -> int:
        """The list is newest first: its tail holds the oldest. A delivery is pending
        exactly while it has a due time, which the script checks as it forgets, so a
        settle that lands meanwhile is seen (and ``settle`` writes nothing for a
        delivery whose key is gone)."""
        listed = self._k.webhook_deliveries(webhook_id)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.llen(listed)
            pipe.lrange(listed, -FORGET_WINDOW, -1)
            length, tail = pipe.execute()
        # The tail holds the oldest ``FORGET_WINDOW``, newest first: the oldest are its end.
        older = [i.decode() for i in tail[len(tail) - forgettable(length, keep) :]]
        if not older:
            return 0
        keys = [self._k.webhook_delivery(webhook_id, i) for i in older]
        args = [part for i in older for part in (i, _member(webhook_id, i))]
        return int(self._forget(keys=[listed, self._k.webhook_due, *keys], args=args))

    def waiting(self) -> int:
        return int(self._r.llen(self.outbox))
