"""Use cases of the agency's webhooks: the endpoints, the unfilled alarm, and each delivery.

The messages themselves are written by the steps that make the changes they
report (see ``domain/fill.py``); here they become deliveries, one per endpoint
that wants them, and each delivery is tried on the retry schedule.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

from shiftfill.domain import fill, webhooks
from shiftfill.domain.model import Shift
from shiftfill.domain.webhooks import Attempt, Delivery, Webhook, WebhookMessage
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.due import run_each_due
from shiftfill.services.errors import Invalid, NotFound
from shiftfill.services.organizations import find_organization

log = logging.getLogger(__name__)

# How long a taken delivery is presumed in progress: past the longest attempt
# (60 s at most), after which a delivery whose taker died is due again.
LEASE = timedelta(seconds=90)

RenderShift = Callable[[Shift], dict[str, Any]]
# A send batch's failures may be about a few shifts at once, in turns.
RENDERINGS_KEPT = 8

BAD_HOST_OR_PORT = "The URL's host name or port is not valid."


class WebhookSender(Protocol):
    """Posts one signed delivery to one endpoint; never raises for the receiver's faults."""

    def send(self, webhook: Webhook, delivery: Delivery) -> Attempt: ...


# --- the endpoints ---


def _organization(deps: Dependencies, organization_id: str) -> None:
    if find_organization(deps, organization_id) is None:
        raise NotFound(f"No organization with id {organization_id}.")


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse (``Invalid``) a URL that is not ``https://``, or names a private address.

    Names are checked again on every attempt, on the address actually connected
    to: a check here cannot know what the name will resolve to then.
    """
    if not url.isascii() or not url.isprintable() or " " in url:
        raise _invalid_url(
            "The URL must be plain ASCII without spaces: percent-encode other characters,"
            " and give an international host name in its xn-- form."
        )
    try:
        parts = urlsplit(url)  # ValueError: a bracketed host that is no IPv6 address
        host, port = parts.hostname, parts.port  # ValueError: a port not from 0 to 65535
    except ValueError:
        raise _invalid_url(BAD_HOST_OR_PORT) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not host:
        raise Invalid("The URL must be https://.", {"url": ["Must be an https:// URL."]})
    problem = webhooks.host_problem(host)
    if problem:
        raise _invalid_url(f"The URL's host is not valid: {problem}.")
    if port == 0:
        raise _invalid_url(BAD_HOST_OR_PORT)
    if parts.username is not None or parts.password is not None:
        # They would never be sent: a receiver checks the signature instead.
        raise _invalid_url(
            "The URL must not carry a user name or password; the signature authenticates."
        )
    if allow_private:
        return
    name = host.removesuffix(".")
    why = "name is local" if name == "localhost" or name.endswith(".localhost") else None
    with contextlib.suppress(ValueError):  # a name: checked when it is resolved, per attempt
        why = why or webhooks.refused_address(name)
    if why:
        raise _invalid_url(f"Private, loopback and link-local addresses are refused ({why}).")


def _invalid_url(message: str) -> Invalid:
    return Invalid(message, {"url": [message]})


def create_webhook(
    deps: Dependencies, organization_id: str, url: str, events: Sequence[str]
) -> Webhook:
    """Add an endpoint; the caller shows its secret once."""
    _organization(deps, organization_id)
    unknown = sorted(set(events) - set(webhooks.EVENTS))
    if unknown or not events:
        message = f"Unknown event {', '.join(unknown)}." if unknown else "Name an event."
        raise Invalid(message, {"events": [message]})
    check_url(url, allow_private=deps.settings.webhook_allow_private)
    webhook = Webhook(
        id="wh_" + secrets.token_hex(12),
        organization_id=organization_id,
        url=url,
        events=tuple(dict.fromkeys(events)),
        secret=webhooks.new_secret(),
        created_at=deps.clock(),
    )
    deps.store.webhooks.add(webhook)
    log.info(
        "webhook %s added for organization %s: %s",
        webhook.id,
        organization_id,
        ", ".join(webhook.events),
        extra={"event": "webhook_added", "webhook_id": webhook.id},
    )
    return webhook


def list_webhooks(deps: Dependencies, organization_id: str) -> list[Webhook]:
    _organization(deps, organization_id)
    return deps.store.webhooks.for_organization(organization_id)


def get_webhook(deps: Dependencies, organization_id: str, webhook_id: str) -> Webhook:
    _organization(deps, organization_id)
    webhook = deps.store.webhooks.get(webhook_id)
    if webhook is None or webhook.organization_id != organization_id:
        raise NotFound(f"No webhook with id {webhook_id}.")
    return webhook


def delete_webhook(deps: Dependencies, organization_id: str, webhook_id: str) -> None:
    get_webhook(deps, organization_id, webhook_id)
    deps.store.webhooks.remove(webhook_id)


def list_deliveries(deps: Dependencies, organization_id: str, webhook_id: str) -> list[Delivery]:
    get_webhook(deps, organization_id, webhook_id)
    return deps.store.webhooks.deliveries(webhook_id)


# --- the unfilled alarm ---


def run_due_unfilled(deps: Dependencies) -> list[str]:
    """Raise the unfilled alarm of every open shift whose time for it has come; once each."""
    now = deps.clock()
    alarm = partial(fill.unfilled, now=now)
    changes = run_each_due(
        deps.store.shifts.due_unfilled(now),
        lambda shift_id: deps.store.shifts.apply(shift_id, alarm),
        "unfilled alarm",
    )
    raised = []
    for shift_id, change in changes.items():
        if change.changed:
            raised.append(shift_id)
            log.warning(
                "shift %s (%s) is still unfilled",
                shift_id,
                change.shift.role_required,
                extra={"event": "unfilled", "shift_id": shift_id},
            )
    return raised


# --- deliveries ---


def expander(
    render_shift: RenderShift, now: datetime
) -> Callable[[WebhookMessage, Sequence[Webhook]], list[Delivery]]:
    """What ``WebhookRepository.dispatch`` runs: one delivery per endpoint that wants it.

    Each is due at once, from the time of its event (never later than ``now``, the
    dispatch's time), so that the first attempts go out in the order of their events,
    where messages dispatched together would otherwise share one due time. Messages
    about one stored shift (the same object: every failed text of a send batch, on the
    memory store) share one rendering of it, the largest part of their payloads.
    """
    # The shifts rendered last, by identity (each kept, so that its id is not reused).
    rendered: OrderedDict[int, tuple[Shift, str]] = OrderedDict()

    def shift_text(shift: Shift) -> str:
        kept = rendered.get(id(shift))
        if kept is None or kept[0] is not shift:
            kept = rendered[id(shift)] = (shift, json.dumps(render_shift(shift)))
            if len(rendered) > RENDERINGS_KEPT:
                rendered.popitem(last=False)
        return kept[1]

    def expand(message: WebhookMessage, endpoints: Sequence[Webhook]) -> list[Delivery]:
        wanted = [w for w in endpoints if w.wants(message.type)]
        if not wanted:
            return []
        payload = webhooks.payload_of(message, shift_text(message.shift))
        return [
            Delivery(
                id=message.id,
                webhook_id=w.id,
                event=message.type,
                payload=payload,
                created_at=message.at,
                next_attempt_at=min(message.at, now),
            )
            for w in wanted
        ]

    return expand


def dispatch(deps: Dependencies, render_shift: RenderShift) -> int:
    """Turn every waiting message into deliveries; return how many messages were taken."""
    expand = expander(render_shift, deps.clock())
    total = 0
    while taken := deps.store.webhooks.dispatch(expand):
        total += taken
    return total


def attempt_delivery(
    deps: Dependencies, sender: WebhookSender, webhook_id: str, delivery_id: str
) -> Delivery | None:
    """Take one due delivery, post it, and store what came of it; ``None`` when not taken.

    Of several processes one takes it; one that dies mid-attempt leaves it due
    again after ``LEASE`` (at least once). Once it is stored, the endpoint's settled
    deliveries beyond the newest ``webhook_deliveries_kept`` are forgotten.
    """
    now = deps.clock()
    store = deps.store.webhooks
    delivery = store.claim(webhook_id, delivery_id, now, now + LEASE)
    if delivery is None:
        return None
    webhook = store.get(webhook_id)
    if webhook is None:
        return None
    if webhook.enabled:
        attempt = sender.send(webhook, delivery)
        after = webhooks.after_attempt(
            delivery, attempt, now=deps.clock(), schedule=deps.settings.webhook_retry_seconds
        )
        store.settle(after, disable=attempt.gone)
        _report(deps, webhook, after, attempt)
    else:
        after = webhooks.settled(
            delivery, webhooks.FAILED, last_error="not sent: the webhook is disabled"
        )
        store.settle(after)
        deps.metrics.webhook_delivery(delivery.event, "failed")
    store.forget_settled(webhook_id, deps.settings.webhook_deliveries_kept)
    return after


def _report(deps: Dependencies, webhook: Webhook, delivery: Delivery, attempt: Attempt) -> None:
    """Count the attempt; log a failed delivery or a disabled endpoint for the operator."""
    if attempt.gone:
        status = "disabled"
    elif delivery.status == webhooks.DELIVERED:
        status = "delivered"
    elif delivery.status == webhooks.FAILED:
        status = "failed"
    else:
        status = "retrying"
    deps.metrics.webhook_delivery(delivery.event, status)
    extra = {
        "webhook_id": webhook.id,
        "organization_id": webhook.organization_id,
        "delivery_id": delivery.id,
        "status_code": attempt.status_code,
    }
    if status == "disabled":
        log.warning(
            "webhook %s of organization %s disabled: its receiver answered 410 Gone",
            webhook.id,
            webhook.organization_id,
            extra={"event": "webhook_disabled", **extra},
        )
    elif status == "failed":
        log.warning(
            "webhook delivery %s to %s failed after %d attempts: %s",
            delivery.id,
            webhook.id,
            delivery.attempts,
            attempt.error or f"HTTP {attempt.status_code}",
            extra={"event": "webhook_failed", **extra},
        )
