"""Use cases of one outbound message: send it, then follow the provider's reports on it."""

from __future__ import annotations

import logging
from functools import partial

from shiftfill.domain import replies, rules
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    DeliveryReport,
    Event,
    EventType,
    Notification,
    NotificationStatus,
    Organization,
    Shift,
)
from shiftfill.services.caregivers import opt_out_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.organizations import as_stored
from shiftfill.services.ports import NotifierError

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

SHUTTING_DOWN = "not sent: shiftfill was shutting down"
OUTCOME_UNKNOWN = "outcome unknown: the process sending it stopped mid-send"


def deliver(deps: Dependencies, notification_id: str) -> Notification | None:
    """Send one queued notification and record how it went; never raises.

    A transient provider error (a timeout, a 5xx, a 429) is retried up to
    ``send_retries`` times with exponential backoff; the shift and the
    caregiver are checked again before every attempt.
    """
    store, settings = deps.store, deps.settings
    attempt = 0
    while True:
        found = store.outgoing(notification_id)
        if found is None or found.notification.status is not NotificationStatus.QUEUED:
            return found.notification if found else None
        notification, shift, caregiver = found.notification, found.shift, found.caregiver
        if shift is None or caregiver is None:
            return _skip(deps, notification, "shift or caregiver is gone")
        reason = rules.why_not_contact(shift, caregiver, notification.channel)
        if reason is not None:
            return _skip(deps, notification, reason)

        # Counting the attempt is the claim on it: of two processes that hold the
        # same notification (one presumed dead), only one goes on to send.
        _, claimed = store.notifications.update(
            notification_id, partial(_start_attempt, seen=notification)
        )
        if not claimed:
            return store.notifications.get(notification_id)
        try:
            org = as_stored(deps, shift, found.organization)
            provider_id = _send(deps, notification.channel, caregiver, shift, org)
        except NotifierError as exc:
            if exc.transient and attempt < settings.send_retries:
                log.info("retrying %s after: %s", notification_id, exc)
                deps.sleep(settings.retry_backoff_seconds * 2**attempt)
                attempt += 1
                continue
            return settle(deps, notification_id, NotificationStatus.FAILED, error=str(exc))
        except Exception as exc:  # a broken adapter must not take the worker down
            log.exception("notifier raised on notification %s", notification_id)
            error = f"{type(exc).__name__}: {exc}"
            return settle(deps, notification_id, NotificationStatus.FAILED, error=error)
        return settle(deps, notification_id, NotificationStatus.SENT, provider_id=provider_id)


def _start_attempt(current: Notification, seen: Notification) -> Notification | None:
    if current.status is not NotificationStatus.QUEUED or current.attempts != seen.attempts:
        return None
    return current._replace(attempts=current.attempts + 1)


def recover_stalled_sends(deps: Dependencies) -> tuple[int, int]:
    """Take over sends that a dead process left behind; return (requeued, given up).

    A send that process had taken but not started goes back on the queue. One
    it had started (an attempt is counted) may or may not have reached the
    provider: it is not sent again blindly (invariant 2) but marked failed with
    ``outcome unknown``, so ops can check with the caregiver.
    """
    taken = deps.store.outbox.reclaim(deps.settings.send_visibility.total_seconds())
    if not taken:
        return 0, 0
    unstarted, started, settled = [], [], []
    for notification_id in taken:
        notification = deps.store.notifications.get(notification_id)
        if notification is None or notification.status is not NotificationStatus.QUEUED:
            settled.append(notification_id)
        elif notification.attempts == 0:
            unstarted.append(notification_id)
        else:
            started.append(notification_id)
    abandon(deps, started, OUTCOME_UNKNOWN)
    deps.store.outbox.done(started + settled)
    deps.store.outbox.requeue(unstarted)
    return len(unstarted), len(started)


def abandon(deps: Dependencies, notification_ids: list[str], error: str) -> list[Notification]:
    """Record queued notifications that will not be sent, with the reason and an event.

    The whole list is logged, so an operator can see exactly who was not contacted.
    """
    abandoned = []
    for notification_id in notification_ids:
        notification = deps.store.notifications.get(notification_id)
        if notification is None or notification.status.is_final:
            continue
        abandoned.append(settle(deps, notification_id, NotificationStatus.FAILED, error=error))
    if abandoned:
        log.warning(
            "%d notifications not sent (%s): %s",
            len(abandoned),
            error,
            " ".join(n.id for n in abandoned),
        )
    return abandoned


def record_delivery_report(deps: Dependencies, report: DeliveryReport) -> Notification | None:
    """Apply a provider's delivery report to the notification it is about.

    A report with no status is a step on the way (queued, ringing...). Unknown
    ids and reports that would move a status backwards change nothing. A
    caregiver the provider reports as unsubscribed is opted out here too, so no
    fanout or phone round contacts them again.
    """
    notification = deps.store.notifications.by_provider_id(report.provider_id)
    if notification is None:
        return None
    updated = notification
    if report.status is not None:
        updated = settle(
            deps, notification.id, report.status, error=report.error, provider_id=report.provider_id
        )
    if report.unsubscribed:
        opt_out_caregiver(deps, notification.caregiver_id, via="provider")
    return updated


def _send(
    deps: Dependencies, channel: Channel, caregiver: Caregiver, shift: Shift, org: Organization
) -> str:
    language = caregiver.language
    if channel is Channel.SMS:
        return deps.notifier.send_sms(caregiver.phone, replies.offer_sms(shift, org, language))
    return deps.notifier.place_call(
        caregiver.phone,
        replies.offer_call_script(shift, org, language),
        replies.no_answer_on_call(shift, org, language),
        language=replies.speech_locale(language),
    )


def settle(
    deps: Dependencies,
    notification_id: str,
    status: NotificationStatus,
    *,
    error: str | None = None,
    provider_id: str | None = None,
) -> Notification:
    """Move a notification forward to ``status`` and record the event that says so."""
    now = deps.clock()

    def advance(n: Notification) -> Notification | None:
        moved = rules.report_delivery(n, status, error=error)
        if moved is None:
            return None
        sent_at = now if status is NotificationStatus.SENT else moved.sent_at
        return moved._replace(sent_at=sent_at, provider_id=provider_id or n.provider_id)

    def record(n: Notification) -> list[Event]:
        detail = {"error": error} if error else {}
        return [
            Event(
                at=now, type=_EVENT[(n.channel, status)], caregiver_id=n.caregiver_id, detail=detail
            )
        ]

    notification, changed = deps.store.notifications.update(notification_id, advance, record)
    if changed:
        deps.metrics.notifications(str(notification.channel), str(status))
        if status in _NOT_DELIVERED:
            log.warning(
                "%s %s to caregiver %s for shift %s: %s",
                notification.channel,
                status,
                notification.caregiver_id,
                notification.shift_id,
                error or "no reason given",
                extra={
                    "event": "delivery_failed",
                    "shift_id": notification.shift_id,
                    "caregiver_id": notification.caregiver_id,
                    "channel": str(notification.channel),
                    "status": str(status),
                },
            )
    return notification


_NOT_DELIVERED = frozenset({NotificationStatus.FAILED, NotificationStatus.UNDELIVERED})


def _skip(deps: Dependencies, notification: Notification, reason: str) -> Notification:
    """Drop a queued message that may no longer go out; no event, it was never attempted."""
    done, changed = deps.store.notifications.update(
        notification.id,
        lambda n: (
            n._replace(status=NotificationStatus.FAILED, error=f"not sent: {reason}")
            if n.status is NotificationStatus.QUEUED
            else None
        ),
    )
    if changed:
        # Counted apart from provider failures: nothing was wrong, the message was moot.
        deps.metrics.notifications(str(done.channel), "skipped")
        log.debug("%s not sent: %s", notification.id, reason)
    return done
