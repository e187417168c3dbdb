"""Use cases of one outbound message: send it, then follow the provider's reports on it."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shiftfill.domain import contact, replies, sending
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    DeliveryReport,
    Notification,
    NotificationStatus,
    Organization,
    Shift,
)
from shiftfill.domain.sending import NotificationChange
from shiftfill.services.caregivers import opt_out_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.organizations import as_stored
from shiftfill.services.ports import NotifierError

log = logging.getLogger(__name__)

SHUTTING_DOWN = "not sent: shiftfill was shutting down"
OUTCOME_UNKNOWN = "outcome unknown: the process sending it stopped mid-send"


@dataclass(frozen=True, slots=True)
class Ready:
    """A notification claimed for sending, with what its message says."""

    notification: Notification
    shift: Shift
    caregiver: Caregiver
    organization: Organization

    @property
    def id(self) -> str:
        return self.notification.id


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one send went: ``sent`` with the provider's id, or ``failed`` with the error."""

    id: str
    status: NotificationStatus
    error: str | None = None
    provider_id: str | None = None


def deliver(deps: Dependencies, notification_id: str) -> Notification | None:
    """Send one queued notification and record how it went; never raises.

    The three steps the send workers take for many notifications at once.
    """
    ready = prepare_sends(deps, [notification_id])
    outcome = attempt_send(deps, ready[0]) if ready else None
    if outcome is None:
        return deps.store.notifications.get(notification_id)
    return settle_many(deps, [outcome])[0]


def prepare_sends(deps: Dependencies, notification_ids: Sequence[str]) -> list[Ready]:
    """Claim the queued notifications that may still go out; drop those that may not.

    A notification already settled, or to a caregiver or for a shift that may no
    longer be contacted, is not returned. Counting the attempt is the claim on
    it: of two processes that hold the same notification (one presumed dead),
    only one goes on to send.
    """
    candidates: dict[str, Ready] = {}
    moot: dict[str, str] = {}
    now = deps.clock()
    for found in deps.store.outgoing(notification_ids):
        notification, shift, caregiver = found.notification, found.shift, found.caregiver
        if notification.status is not NotificationStatus.QUEUED:
            continue
        if shift is None or caregiver is None:
            moot[notification.id] = "shift or caregiver is gone"
            continue
        org = as_stored(deps, shift, found.organization)
        # An exclusion or a lapse since the offer is caught here too; and, asked at the
        # moment of sending, the end of the shift and (on a call) the caregiver's quiet
        # hours: a send can wait behind a backlog, a rate cap or a retry.
        wants = contact.needs(shift, found.client, org)
        reason = contact.why_not_ask(
            shift,
            caregiver.id,
            caregiver=caregiver,
            channel=notification.channel,
            at=now,
            organization=org,
            wants=wants,
        )
        if reason is not None:
            moot[notification.id] = contact.explain(reason, shift)
            continue
        candidates[notification.id] = Ready(notification, shift, caregiver, org)
    _skip(deps, moot)

    seen = {nid: ready.notification.attempts for nid, ready in candidates.items()}
    claimed = deps.store.notifications.update_many(
        list(candidates), lambda n: sending.start_attempt(n, seen_attempts=seen[n.id])
    )
    return [
        replace(candidates[notification_id], notification=change.notification)
        for notification_id, change in claimed.items()
        if change.changed
    ]


def attempt_send(deps: Dependencies, ready: Ready) -> Outcome | None:
    """Send one claimed notification through the provider; never raises.

    A transient provider error (a timeout, a 5xx, a 429) is retried up to
    ``send_retries`` times with exponential backoff; the notification, the
    shift and the caregiver are checked and claimed again before every attempt.
    ``None`` when a check stops it (it is settled then).
    """
    attempt = 0
    while True:
        try:
            provider_id = _send(deps, ready)
        except NotifierError as exc:
            if exc.transient and attempt < deps.settings.send_retries:
                log.info("retrying %s after: %s", ready.id, exc)
                deps.sleep(deps.settings.retry_backoff_seconds * 2**attempt)
                attempt += 1
                again = prepare_sends(deps, [ready.id])
                if not again:
                    return None
                ready = again[0]
                continue
            return Outcome(ready.id, NotificationStatus.FAILED, error=str(exc))
        except Exception as exc:  # a broken adapter must not take the worker down
            log.exception("notifier raised on notification %s", ready.id)
            error = f"{type(exc).__name__}: {exc}"
            return Outcome(ready.id, NotificationStatus.FAILED, error=error)
        return Outcome(ready.id, NotificationStatus.SENT, provider_id=provider_id)


def recover_stalled_sends(deps: Dependencies) -> tuple[int, int]:
    """Take over sends that a dead process left behind; return (requeued, given up).

    A send that process had taken but not started goes back on the queue. One
    it had started (an attempt is counted) may or may not have reached the
    provider: it is not sent again blindly (I2 in docs/invariants.md) but marked failed with
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


def _send(deps: Dependencies, ready: Ready) -> str:
    shift, org, language = ready.shift, ready.organization, ready.caregiver.language
    phone = ready.caregiver.phone
    if ready.notification.channel is Channel.SMS:
        return deps.notifier.send_sms(phone, replies.offer_sms(shift, org, language))
    return deps.notifier.place_call(
        phone,
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
    settled = settle_many(deps, [Outcome(notification_id, status, error, provider_id)])
    if not settled:
        raise KeyError(notification_id)
    return settled[0]


def settle_many(deps: Dependencies, outcomes: Sequence[Outcome]) -> list[Notification]:
    """``settle`` each notification to its outcome (how each send went, for the send
    workers); the notifications as stored after, unknown ids left out."""
    now = deps.clock()
    by_id = {outcome.id: outcome for outcome in outcomes}
    shifts = _shifts_failing(deps, outcomes)

    def advance(n: Notification) -> NotificationChange:
        outcome = by_id[n.id]
        return sending.settle(
            n,
            outcome.status,
            now=now,
            error=outcome.error,
            provider_id=outcome.provider_id,
            shift=shifts.get(n.shift_id),
        )

    updated = deps.store.notifications.update_many(list(by_id), advance)
    settled = []
    counts: Counter[tuple[str, str]] = Counter()
    for notification_id, change in updated.items():
        settled.append(change.notification)
        if change.changed:
            outcome = by_id[notification_id]
            counts[str(change.notification.channel), str(outcome.status)] += 1
            _warn_if_not_delivered(change.notification, outcome)
    # Counted once per batch and series, not once per text: a fanout settles thousands.
    for (channel, status), count in counts.items():
        deps.metrics.notifications(channel, status, count)
    return settled


def record_sends(deps: Dependencies, outcomes: Sequence[Outcome]) -> list[Notification]:
    """``settle_many`` for the send workers, with one INFO line per batch saying how it went.

    One line a batch, not one a text: the log notifier writes each text at DEBUG.
    """
    settled = settle_many(deps, outcomes)
    if settled and log.isEnabledFor(logging.INFO):
        counts = Counter(f"{n.channel} {n.status}" for n in settled)
        log.info(
            "sends recorded: %s",
            ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())),
            extra={"event": "sends_recorded", "sends": len(settled)},
        )
    return settled


def _warn_if_not_delivered(notification: Notification, outcome: Outcome) -> None:
    """Warn of a settled notification that did not reach its caregiver."""
    status = outcome.status
    if status in _NOT_DELIVERED:
        log.warning(
            "%s %s to caregiver %s for shift %s: %s",
            notification.channel,
            status,
            notification.caregiver_id,
            notification.shift_id,
            outcome.error or "no reason given",
            extra={
                "event": "delivery_failed",
                "shift_id": notification.shift_id,
                "caregiver_id": notification.caregiver_id,
                "channel": str(notification.channel),
                "status": str(status),
            },
        )


_NOT_DELIVERED = frozenset({NotificationStatus.FAILED, NotificationStatus.UNDELIVERED})


def _shifts_failing(deps: Dependencies, outcomes: Sequence[Outcome]) -> dict[str, Shift]:
    """The shifts of the outcomes that are failures, for their ``notification.failed``.

    Read before the step: a notification's step does not change its shift, so
    that is the shift as it stands right after it.
    """
    # The id's first part; an id of no notification is left out by the step itself.
    shift_ids = {o.id.split("~", 1)[0] for o in outcomes if o.status is NotificationStatus.FAILED}
    return {sid: shift for sid in shift_ids if (shift := deps.store.shifts.get(sid)) is not None}


def _skip(deps: Dependencies, reasons: dict[str, str]) -> None:
    """Drop queued messages that may no longer go out; no event, they were never attempted."""
    if not reasons:
        return

    dropped = deps.store.notifications.update_many(
        list(reasons), lambda n: sending.drop(n, reasons[n.id])
    )
    for notification_id, change in dropped.items():
        if change.changed:
            # Counted apart from provider failures: nothing was wrong, the message was moot.
            deps.metrics.notifications(str(change.notification.channel), "skipped")
            log.debug("%s not sent: %s", notification_id, reasons[notification_id])
