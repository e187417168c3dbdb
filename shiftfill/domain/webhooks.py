"""Outbound webhooks, as the domain sees them: endpoints, messages and deliveries.

A **message** is one event about one shift, written by the store in the same
atomic step as the change it reports (the outbox). A **delivery** is one message
on its way to one endpoint: it is tried, and tried again on the retry schedule,
until the endpoint answers 2xx, the schedule runs out, or the endpoint is gone
(410). None of this touches storage or the network.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shiftfill.domain.model import Notification, Shift

SHIFT_FANOUT_STARTED = "shift.fanout_started"
SHIFT_FILLED = "shift.filled"
SHIFT_ESCALATED = "shift.escalated"
SHIFT_UNFILLED = "shift.unfilled"
SHIFT_CANCELLED = "shift.cancelled"
NOTIFICATION_FAILED = "notification.failed"
CAREGIVER_OPTED_OUT = "caregiver.opted_out"

# Every event an endpoint may subscribe to, in the order the docs list them.
EVENTS: tuple[str, ...] = (
    SHIFT_FANOUT_STARTED,
    SHIFT_FILLED,
    SHIFT_ESCALATED,
    SHIFT_UNFILLED,
    SHIFT_CANCELLED,
    NOTIFICATION_FAILED,
    CAREGIVER_OPTED_OUT,
)

SECRET_PREFIX = "whsec_"
# 24 random bytes: as Svix draws them, well past what HMAC-SHA256 needs.
SECRET_BYTES = 24

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
# An endpoint keeps its newest deliveries (``SHIFTFILL_WEBHOOK_DELIVERIES_KEPT``); after
# each attempt, the settled ones among the oldest ``FORGET_WINDOW`` beyond those are
# forgotten. Pending ones stay until they settle. The window keeps the cost of an
# attempt fixed when a receiver that was down has a backlog of thousands.
FORGET_WINDOW = 100


def forgettable(held: int, keep: int) -> int:
    """How many of an endpoint's ``held`` deliveries, counted from the oldest, an attempt
    looks at to forget (the settled among them go): those beyond the newest ``keep``,
    at most ``FORGET_WINDOW``."""
    return min(FORGET_WINDOW, max(0, held - keep))


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A message id, the ``webhook-id`` of every attempt to deliver it."""
    return "msg_" + uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """One event about one shift, for the endpoints of its organization that subscribe to it.

    ``shift`` is the shift right after the change (``data.shift``), ``fields``
    the event's own fields beside it. The id is drawn when the message is made:
    a step run twice (optimistic stores) writes only the message of the attempt
    that applied.
    """

    type: str
    organization_id: str
    at: datetime
    shift: Shift
    fields: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_message_id)


def about(shift: Shift, type: str, at: datetime, **fields: Any) -> WebhookMessage:
    """A message of ``type`` about ``shift`` as it is now, with ``fields`` beside it."""
    return WebhookMessage(type, shift.organization_id, at, shift, dict(fields))


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint of an organization: where to post, which events, and the signing secret."""

    id: str
    organization_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime
    enabled: bool = True

    def wants(self, event: str) -> bool:
        return self.enabled and event in self.events


@dataclass(frozen=True, slots=True)
class Payload:
    """The JSON a delivery posts, kept as its shift's part and what goes around it.

    The shift is nearly all of it on a big fanout (10,000 offered ids are about
    110 KB), and many messages carry one shift state: every failed text of a send
    batch does. So a store keeps each shift part once for all the pending
    deliveries that carry it, and a settled delivery keeps no payload at all
    (docs/webhooks.md, "What a delivery keeps").
    """

    head: str
    shift: str = ""
    tail: str = ""

    @property
    def text(self) -> str:
        return f"{self.head}{self.shift}{self.tail}"


# What a settled delivery keeps: it is never sent again.
NO_PAYLOAD = Payload("")


def payload_of(message: WebhookMessage, shift: str) -> Payload:
    """``{"type", "timestamp", "data": {"shift", ...fields}}`` around ``shift``, the shift's
    JSON: the same text as ``json.dumps`` of the whole, built in parts."""
    stamp = message.at.isoformat().replace("+00:00", "Z")
    head = f'{{"type": {json.dumps(message.type)}, "timestamp": {json.dumps(stamp)}, '
    fields = json.dumps(dict(message.fields))
    tail = f", {fields[1:]}}}" if message.fields else "}}"
    return Payload(head + '"data": {"shift": ', shift, tail)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message on its way to one endpoint.

    ``id`` is the message's id (unique among one endpoint's deliveries, and the
    ``webhook-id`` header); ``payload`` the JSON posted, fixed when the delivery
    was made so that every attempt sends the same bytes, and dropped once it is
    settled.
    """

    id: str
    webhook_id: str
    event: str
    payload: Payload
    created_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    @property
    def body(self) -> str:
        return self.payload.text


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt got: the HTTP status, or the error that kept it from one."""

    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """``410 Gone``: the receiver says this endpoint no longer exists."""
        return self.status_code == 410


def after_attempt(
    delivery: Delivery, attempt: Attempt, *, now: datetime, schedule: Sequence[float]
) -> Delivery:
    """The delivery after ``attempt``: delivered, due again on the schedule, or failed.

    The schedule has one entry per retry, each the wait after the attempt before
    it; when it runs out, or on ``410``, the delivery is ``failed``.
    """
    attempts = delivery.attempts + 1
    tried = replace(
        delivery,
        attempts=attempts,
        last_status_code=attempt.status_code,
        last_error=attempt.error,
        next_attempt_at=None,
    )
    if attempt.delivered:
        return settled(tried, DELIVERED, last_error=None)
    if attempt.gone or attempts > len(schedule):
        return settled(tried, FAILED)
    return replace(tried, next_attempt_at=now + timedelta(seconds=schedule[attempts - 1]))


def settled(delivery: Delivery, status: str, **changes: Any) -> Delivery:
    """``delivery`` ended ``status`` (delivered or failed): due no more, and without its
    payload, which is never sent again."""
    return replace(delivery, status=status, next_attempt_at=None, payload=NO_PAYLOAD, **changes)


# One label of a host name (RFC 1123), as ``urlsplit`` gives it: lower case.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")


def host_problem(host: str) -> str | None:
    """Why ``host`` (a URL's, lower case, an IPv6 address without its brackets) can name no
    receiver, or ``None``.

    A name is labels of letters, digits and inner hyphens, 63 characters each and 253 in
    all, with one final dot at most. One whose last label is a number is no name: resolvers
    read it as an IPv4 address in a form of their own (``127.1``, ``2130706433``,
    ``0x7f000001``, ``0177.0.0.1``), so it must be an address in its dotted form, where the
    checks of ``refused_address`` can see what it is.
    """
    if ":" in host:
        return None  # an IPv6 address, which ``urlsplit`` checked
    name = host.removesuffix(".")
    labels = name.split(".")
    if _NUMBER.fullmatch(labels[-1]):
        try:
            ipaddress.IPv4Address(name)  # four numbers 0-255, no leading zeros
        except ValueError:
            return "a numeric host must be an IPv4 address written a.b.c.d"
        return None
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "a host name is labels of letters, digits and hyphens (63 at most, 253 in all)"
    for label in labels:
        if label.startswith("xn--"):
            try:
                decoded = label.encode().decode("idna")
            except UnicodeError:
                decoded = ""
            if not decoded or decoded == label:
                return f"{label} is no international (xn--) name"
    return None


def refused_address(address: str) -> str | None:
    """Why an IP address may not receive webhooks (SSRF), or ``None`` when it may.

    Private, loopback, link-local (cloud metadata lives there), multicast,
    reserved, unspecified and shared (carrier-grade NAT) addresses reach the
    agency's or shiftfill's own network, not a receiver on the internet; so may
    an IPv6 address that carries one of them (IPv4-mapped, 6to4, Teredo).
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # the IPv4 address itself, as the connection reaches it
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        carried = [ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        candidates += [v4 for v4 in carried if v4 is not None]
    for candidate in candidates:
        for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(candidate, f"is_{kind}"):
                return f"address {candidate} is {kind.replace('_', '-')}"
        if not candidate.is_global:
            return f"address {candidate} is not global"
    return None


def notification_fields(notification: Notification) -> dict[str, Any]:
    """A notification as ``GET /shifts/<id>/notifications`` shows it."""
    return {
        "id": notification.id,
        "shift_id": notification.shift_id,
        "caregiver_id": notification.caregiver_id,
        "channel": str(notification.channel),
        "status": str(notification.status),
        "attempts": notification.attempts,
        "queued_at": notification.queued_at.isoformat(),
        "sent_at": notification.sent_at.isoformat() if notification.sent_at else None,
        "error": notification.error,
        "provider_id": notification.provider_id,
    }
