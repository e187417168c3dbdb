"""Use cases of one outbound message: send it, then follow the provider's reports on it."""

from __future__ import annotations

import logging

from shiftfill.adapters.notifier import NotifierError
from shiftfill.domain import replies, rules
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    EventType,
    Notification,
    NotificationStatus,
    Shift,
)
from shiftfill.services.caregivers import opt_out_caregiver
from shiftfill.services.context import Context

log = logging.getLogger(__name__)

_EVENT = {
    (Channel.SMS, NotificationStatus.SENT): EventType.SMS_SENT,
    (Channel.SMS, NotificationStatus.DELIVERED): EventType.SMS_DELIVERED,
    (Channel.SMS, NotificationStatus.UNDELIVERED): EventType.SMS_UNDELIVERED,
    (Channel.SMS, NotificationStatus.FAILED): EventType.SMS_FAILED,
    (Channel.CALL, NotificationStatus.SENT): EventType.CALL_PLACED,
    (Channel.CALL, NotificationStatus.DELIVERED): EventType.CALL_ANSWERED,
    (Channel.CALL, NotificationStatus.UNDELIVERED): EventType.CALL_UNANSWERED,
    (Channel.CALL, NotificationStatus.FAILED): EventType.CALL_FAILED,
}

# The provider's error for a recipient who texted STOP to the provider itself.
UNSUBSCRIBED_RECIPIENT = "21610"


def deliver(ctx: Context, notification_id: str) -> Notification | None:
    """Send one queued notification and record how it went; never raises.

    A transient provider error (a timeout, a 5xx, a 429) is retried up to
    ``ctx.send_retries`` times with exponential backoff; the shift and the
    caregiver are checked again before every attempt.
    """
    attempt = 0
    while True:
        notification = ctx.notifications.get(notification_id)
        if notification is None or notification.status is not NotificationStatus.QUEUED:
            return notification
        shift = ctx.shifts.get(notification.shift_id)
        caregiver = ctx.caregivers.get(notification.caregiver_id)
        if shift is None or caregiver is None:
            return _skip(ctx, notification, "shift or caregiver is gone")
        reason = rules.why_not_contact(shift, caregiver, notification.channel)
        if reason is not None:
            return _skip(ctx, notification, reason)

        ctx.notifications.update(notification_id, lambda n: n._replace(attempts=n.attempts + 1))
        try:
            provider_id = _send(ctx, notification.channel, caregiver, shift)
        except NotifierError as exc:
            if exc.transient and attempt < ctx.send_retries:
                log.info("retrying %s after: %s", notification_id, exc)
                ctx.sleep(ctx.retry_backoff_seconds * 2**attempt)
                attempt += 1
                continue
            return _settle(ctx, notification_id, NotificationStatus.FAILED, error=str(exc))
        except Exception as exc:  # a broken adapter must not take the worker down
            log.exception("notifier raised on notification %s", notification_id)
            error = f"{type(exc).__name__}: {exc}"
            return _settle(ctx, notification_id, NotificationStatus.FAILED, error=error)
        return _settle(ctx, notification_id, NotificationStatus.SENT, provider_id=provider_id)


def abandon(ctx: Context, notification_ids: list[str]) -> list[Notification]:
    """Record queued notifications that will not be sent because the process is stopping.

    Each is marked failed with the reason and an event, and the whole list is
    logged, so an operator can see exactly who was not contacted.
    """
    abandoned = []
    for notification_id in notification_ids:
        notification = ctx.notifications.get(notification_id)
        if notification is None or notification.status is not NotificationStatus.QUEUED:
            continue
        error = "not sent: shiftfill was shutting down"
        abandoned.append(_settle(ctx, notification_id, NotificationStatus.FAILED, error=error))
    if abandoned:
        log.warning(
            "shutdown: %d queued notifications not sent: %s",
            len(abandoned),
            " ".join(n.id for n in abandoned),
        )
    return abandoned


def record_delivery_report(
    ctx: Context,
    provider_id: str,
    status: NotificationStatus | None,
    *,
    error_code: str | None = None,
) -> Notification | None:
    """Apply a provider status callback to the notification it is about.

    ``status`` is ``None`` for a step on the way (queued, ringing...). Unknown ids
    and reports that would move a status backwards change nothing.
    Error 21610 means the caregiver unsubscribed at the provider: they are
    opted out here too, so no fanout or phone round contacts them again.
    """
    notification = ctx.notifications.by_provider_id(provider_id)
    if notification is None:
        return None
    error = f"provider error {error_code}" if error_code else None
    updated = notification
    if status is not None:
        updated = _settle(ctx, notification.id, status, error=error, provider_id=provider_id)
    if error_code == UNSUBSCRIBED_RECIPIENT:
        opt_out_caregiver(ctx, notification.caregiver_id, via="provider")
    return updated


def _send(ctx: Context, channel: Channel, caregiver: Caregiver, shift: Shift) -> str:
    if channel is Channel.SMS:
        return ctx.notifier.send_sms(caregiver.phone, replies.offer_sms(shift))
    return ctx.notifier.place_call(caregiver.phone, replies.offer_call_script(shift))


def _settle(
    ctx: Context,
    notification_id: str,
    status: NotificationStatus,
    *,
    error: str | None = None,
    provider_id: str | None = None,
) -> Notification:
    """Move a notification forward to ``status`` and record the event that says so."""
    now = ctx.clock()

    def advance(n: Notification) -> Notification | None:
        moved = rules.report_delivery(n, status, error=error)
        if moved is None:
            return None
        if status is NotificationStatus.SENT:
            moved = moved._replace(sent_at=now)
        return moved._replace(provider_id=provider_id or n.provider_id)

    notification, changed = ctx.notifications.update(notification_id, advance)
    if changed:
        detail = {"error": error} if error else {}
        event = Event(
            at=now,
            type=_EVENT[(notification.channel, status)],
            caregiver_id=notification.caregiver_id,
            detail=detail,
        )
        ctx.events.append(notification.shift_id, event)
    return notification


def _skip(ctx: Context, notification: Notification, reason: str) -> Notification:
    """Drop a queued message that may no longer go out; no event, it was never attempted."""
    done, _ = ctx.notifications.update(
        notification.id,
        lambda n: n._replace(status=NotificationStatus.FAILED, error=f"not sent: {reason}"),
    )
    return done
