"""Use cases of the outreach: start a fanout, run the phone round, deliver one message."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from functools import partial

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
from shiftfill.services.context import Context
from shiftfill.services.errors import Conflict
from shiftfill.services.shifts import get_shift

log = logging.getLogger(__name__)

_SENT_EVENT = {Channel.SMS: EventType.SMS_SENT, Channel.CALL: EventType.CALL_PLACED}
_FAILED_EVENT = {Channel.SMS: EventType.SMS_FAILED, Channel.CALL: EventType.CALL_FAILED}


def start_fanout(ctx: Context, shift_id: str) -> tuple[Shift, bool]:
    """Offer the shift to every qualified caregiver by SMS and schedule the phone round.

    Returns the shift and whether this call started the fanout. Repeating it
    returns the shift as it is and sends nothing (invariant 2).
    """
    shift = get_shift(ctx, shift_id)
    if shift.fanout is not None:
        return shift, False
    now = ctx.clock()
    try:
        code = ctx.shifts.reserve_offer_code(shift_id)
        qualified = ctx.caregivers.qualified_ids(shift.role_required)
        decision = ctx.shifts.update(
            shift_id,
            lambda s: rules.start_fanout(
                s,
                now=now,
                offer_code=code,
                qualified_ids=qualified,
                escalation_delay=ctx.escalation_delay,
            ),
            record=lambda d: _when_changed(
                d,
                Event(
                    at=now,
                    type=EventType.FANOUT_STARTED,
                    detail={"offered": len(qualified), "offer_code": code},
                ),
            ),
        )
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    if not decision.changed:
        return decision.shift, False

    shift = decision.shift
    assert shift.fanout is not None
    ctx.scheduler.schedule(shift_id, shift.fanout.escalation_due_at)
    texts = _create_notifications(ctx, shift, shift.fanout.offered_caregiver_ids, Channel.SMS, now)
    _send(ctx, texts)
    return shift, True


def run_phone_round(ctx: Context, shift_id: str) -> int:
    """Call every offered caregiver who has not declined or opted out, if the shift is still open.

    Safe to run late or more than once: only the first run on an open, due
    shift places calls. Returns the number of calls queued.
    """
    shift = ctx.shifts.get(shift_id)
    if shift is None or shift.fanout is None:
        return 0
    offered = ctx.caregivers.get_many(shift.fanout.offered_caregiver_ids)
    opted_out = [c.id for c in offered if c.opted_out]
    now = ctx.clock()
    decision = ctx.shifts.update(
        shift_id,
        lambda s: rules.begin_phone_round(s, now=now),
        record=lambda d: _when_changed(
            d,
            Event(
                at=now,
                type=EventType.ESCALATED,
                detail={"calls": len(rules.phone_round_callees(d.shift, opted_out))},
            ),
        ),
    )
    if not decision.changed:
        return 0
    callees = rules.phone_round_callees(decision.shift, opted_out)
    calls = _create_notifications(ctx, decision.shift, callees, Channel.CALL, now)
    _send(ctx, calls)
    return len(calls)


def deliver(ctx: Context, notification_id: str) -> Notification:
    """Send one queued notification and record how it went; never raises."""
    notification = ctx.notifications.get(notification_id)
    if notification is None or notification.status is not NotificationStatus.QUEUED:
        return notification  # type: ignore[return-value]
    shift = ctx.shifts.get(notification.shift_id)
    caregiver = ctx.caregivers.get(notification.caregiver_id)
    if shift is None or caregiver is None:
        return _finish(ctx, notification, error="not sent: shift or caregiver is gone")
    if not rules.may_contact(shift, caregiver, notification.channel):
        return _finish(ctx, notification, error=f"not sent: {_why_not(shift, caregiver)}")

    attempt = ctx.notifications.update(
        notification_id, lambda n: replace(n, attempts=n.attempts + 1)
    )
    try:
        if notification.channel is Channel.SMS:
            provider_id = ctx.notifier.send_sms(caregiver.phone, replies.offer_sms(shift))
        else:
            provider_id = ctx.notifier.place_call(caregiver.phone, replies.offer_call_script(shift))
    except NotifierError as exc:
        return _finish(ctx, attempt, error=str(exc) or type(exc).__name__, record=True)
    except Exception as exc:  # a broken adapter must not take the worker down
        log.exception("notifier raised on notification %s", notification_id)
        return _finish(ctx, attempt, error=f"{type(exc).__name__}: {exc}", record=True)
    return _finish(ctx, attempt, provider_id=provider_id)


def _when_changed(decision: rules.Decision, *events: Event) -> tuple[Event, ...]:
    """Record ``events`` only if the decision changed the shift."""
    return events if decision.changed else ()


def _create_notifications(
    ctx: Context,
    shift: Shift,
    caregiver_ids: Iterable[str],
    channel: Channel,
    now: datetime,
) -> list[Notification]:
    """Queue one notification per caregiver on this channel, skipping any that exist."""
    return ctx.notifications.add_missing(
        Notification(
            id=uuid.uuid4().hex,
            shift_id=shift.id,
            caregiver_id=caregiver_id,
            channel=channel,
            queued_at=now,
        )
        for caregiver_id in caregiver_ids
    )


def _send(ctx: Context, notifications: list[Notification]) -> None:
    ctx.send_pool.submit_many(partial(deliver, ctx, n.id) for n in notifications)


def _finish(
    ctx: Context,
    notification: Notification,
    *,
    provider_id: str | None = None,
    error: str | None = None,
    record: bool = False,
) -> Notification:
    now = ctx.clock()
    if error is None:
        done = ctx.notifications.update(
            notification.id,
            lambda n: replace(
                n, status=NotificationStatus.SENT, sent_at=now, provider_id=provider_id
            ),
        )
        event = Event(at=now, type=_SENT_EVENT[done.channel], caregiver_id=done.caregiver_id)
    else:
        done = ctx.notifications.update(
            notification.id, lambda n: replace(n, status=NotificationStatus.FAILED, error=error)
        )
        if not record:
            return done
        event = Event(
            at=now,
            type=_FAILED_EVENT[done.channel],
            caregiver_id=done.caregiver_id,
            detail={"error": error},
        )
    ctx.events.append(done.shift_id, event)
    return done


def _why_not(shift: Shift, caregiver: Caregiver) -> str:
    if not shift.is_open:
        return f"the shift is {shift.status}"
    if caregiver.opted_out:
        return "the caregiver opted out"
    return "the caregiver declined"
