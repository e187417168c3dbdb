"""The decisions of one outbound message: claim an attempt, settle it, or drop it.

Each returns a ``NotificationChange`` a store persists as it is, in one step:
the notification after the decision, the events for its shift's trail, and the
webhook messages that report it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shiftfill.domain import webhooks
from shiftfill.domain.model import (
    Channel,
    Event,
    EventType,
    Notification,
    NotificationStatus,
    Shift,
)
from shiftfill.domain.webhooks import WebhookMessage

# The trail entry of a message or call reaching each status.
DELIVERY_EVENTS = {
    (Channel.SMS, NotificationStatus.SENT): EventType.SMS_SENT,
    (Channel.SMS, NotificationStatus.DELIVERED): EventType.SMS_DELIVERED,
    (Channel.SMS, NotificationStatus.UNDELIVERED): EventType.SMS_UNDELIVERED,
    (Channel.SMS, NotificationStatus.FAILED): EventType.SMS_FAILED,
    (Channel.CALL, NotificationStatus.SENT): EventType.CALL_PLACED,
    (Channel.CALL, NotificationStatus.DELIVERED): EventType.CALL_ANSWERED,
    (Channel.CALL, NotificationStatus.UNDELIVERED): EventType.CALL_UNANSWERED,
    (Channel.CALL, NotificationStatus.FAILED): EventType.CALL_FAILED,
}


@dataclass(frozen=True, slots=True)
class NotificationChange:
    """A notification after a decision, whether it changed, and the events for its shift.

    A store writes the notification, indexes its provider id, appends the events
    and puts ``messages`` in the webhook outbox only when it changed, all in one step.
    """

    notification: Notification
    changed: bool
    events: tuple[Event, ...] = ()
    messages: tuple[WebhookMessage, ...] = ()

    @classmethod
    def of(
        cls, before: Notification, after: Notification | None, *events: Event
    ) -> NotificationChange:
        """``after`` with ``events``; ``before`` kept, with none, when ``after`` is ``None``."""
        if after is None:
            return cls(before, changed=False)
        return cls(after, changed=True, events=events)

    def announcing(self, *messages: WebhookMessage) -> NotificationChange:
        """This change with ``messages`` for the agency's webhooks."""
        return replace(self, messages=(*self.messages, *messages))


def report_delivery(
    notification: Notification, status: NotificationStatus, *, error: str | None = None
) -> Notification | None:
    """Apply a provider's delivery report; ``None`` when it would move the status backwards.

    Providers send reports out of order and more than once; a final status
    (delivered, undelivered, failed) is never replaced.
    """
    if notification.status.is_final or status is notification.status:
        return None
    if status is NotificationStatus.QUEUED:
        return None
    return notification._replace(status=status, error=error or notification.error)


def start_attempt(notification: Notification, *, seen_attempts: int) -> NotificationChange:
    """Count one more attempt, the claim on a send, if nobody else counted one since.

    Of two processes that read the same queued notification, only the first to
    count an attempt on the count it saw goes on to send.
    """
    if (
        notification.status is not NotificationStatus.QUEUED
        or notification.attempts != seen_attempts
    ):
        return NotificationChange.of(notification, None)
    return NotificationChange.of(
        notification, notification._replace(attempts=notification.attempts + 1)
    )


def settle(
    notification: Notification,
    status: NotificationStatus,
    *,
    now: datetime,
    error: str | None = None,
    provider_id: str | None = None,
    shift: Shift | None = None,
) -> NotificationChange:
    """Move a notification forward to ``status``, with the event that says so.

    A report that would move it backwards changes nothing and notes nothing.
    With ``shift`` (its shift, as read before the step: a notification's step
    does not change it), a move to ``failed`` is announced as ``notification.failed``.
    """
    moved = report_delivery(notification, status, error=error)
    if moved is None:
        return NotificationChange.of(notification, None)
    sent_at = now if status is NotificationStatus.SENT else moved.sent_at
    moved = moved._replace(sent_at=sent_at, provider_id=provider_id or notification.provider_id)
    detail = {"error": error} if error else {}
    kind = DELIVERY_EVENTS[(notification.channel, status)]
    event = Event(at=now, type=kind, caregiver_id=notification.caregiver_id, detail=detail)
    change = NotificationChange.of(notification, moved, event)
    if status is NotificationStatus.FAILED and shift is not None:
        fields = {"notification": webhooks.notification_fields(moved)}
        change = change.announcing(
            webhooks.about(shift, webhooks.NOTIFICATION_FAILED, now, **fields)
        )
    return change


def drop(notification: Notification, reason: str) -> NotificationChange:
    """Mark a queued message that may no longer go out as not sent; no event, it was never tried."""
    if notification.status is not NotificationStatus.QUEUED:
        return NotificationChange.of(notification, None)
    failed = notification._replace(status=NotificationStatus.FAILED, error=f"not sent: {reason}")
    return NotificationChange.of(notification, failed)
