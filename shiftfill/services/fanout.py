"""Use cases of the outreach: start a fanout, run the phone round, deliver one message."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from shiftfill.domain import rules
from shiftfill.domain.model import (
    Channel,
    Event,
    EventType,
    Notification,
    Shift,
)
from shiftfill.services.context import Context
from shiftfill.services.errors import Conflict
from shiftfill.services.shifts import get_shift

log = logging.getLogger(__name__)


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
            record=lambda d: d.if_changed(
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
    _queue(ctx, shift_id, Channel.SMS, shift.fanout.offered_caregiver_ids, now)
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
        record=lambda d: d.if_changed(
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
    return len(_queue(ctx, shift_id, Channel.CALL, callees, now))


def _queue(
    ctx: Context, shift_id: str, channel: Channel, caregiver_ids: Sequence[str], now: datetime
) -> list[Notification]:
    """Store one notification per caregiver who has none on this channel, and send those."""
    created = ctx.notifications.add_missing(shift_id, channel, caregiver_ids, now)
    ctx.send_pool.submit_many([n.id for n in created])
    return created
