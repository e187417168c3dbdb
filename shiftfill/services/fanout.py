"""Use cases of the outreach: start a fanout, run the phone rounds that are due."""

from __future__ import annotations

import logging
from datetime import datetime

from shiftfill.domain import rules
from shiftfill.domain.model import Channel, Event, EventType, Shift
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, NotFound
from shiftfill.services.ports import Outreach

log = logging.getLogger(__name__)


def start_fanout(deps: Dependencies, shift_id: str) -> tuple[Shift, bool]:
    """Offer the shift to every qualified caregiver by SMS; the phone round is then due.

    Returns the shift and whether this call started the fanout. Repeating it
    returns the shift as it is and sends nothing (invariant 2); a cancelled or
    filled shift is a ``Conflict``.
    """
    shift = deps.store.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    now = deps.clock()
    qualified = deps.store.caregivers.qualified_ids(shift.role_required)

    def decide(current: Shift, offer_code: str) -> rules.Decision:
        return rules.start_fanout(
            current,
            now=now,
            offer_code=offer_code,
            qualified_ids=qualified,
            escalation_delay=deps.settings.escalation_delay,
        )

    def record(decision: rules.Decision) -> tuple[Event, ...]:
        fanout = decision.shift.fanout
        code = fanout.offer_code if fanout else None
        detail = {"offered": len(qualified), "offer_code": code}
        events = [Event(at=now, type=EventType.FANOUT_STARTED, detail=detail)]
        if not qualified:
            events.append(
                Event(at=now, type=EventType.NO_ONE_QUALIFIED, detail={"role": shift.role_required})
            )
        return decision.if_changed(*events)

    try:
        decision = deps.store.shifts.start_fanout(
            shift_id,
            decide,
            record=record,
            reach=lambda d: Outreach(Channel.SMS, qualified, now),
        )
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    if decision.changed:
        _report_fanout(deps, decision.shift, len(qualified))
    return decision.shift, decision.changed


def _report_fanout(deps: Dependencies, shift: Shift, offered: int) -> None:
    """Log and count a fanout that just started; nobody to offer it to is a warning."""
    role = shift.role_required
    deps.metrics.fanout_started(role, offered)
    deps.metrics.notifications(str(Channel.SMS), "queued", offered)
    extra = {"shift_id": shift.id, "role": role, "offered": offered}
    if offered:
        log.info(
            "fanout started for shift %s (%s): %d caregivers offered",
            shift.id,
            role,
            offered,
            extra={"event": "fanout_started", **extra},
        )
    else:
        log.warning(
            "fanout started for shift %s (%s) but no caregiver qualified: nobody was texted",
            shift.id,
            role,
            extra={"event": "no_one_qualified", **extra},
        )


def run_due_phone_rounds(deps: Dependencies) -> dict[str, int]:
    """Run every phone round that is due now; return the calls queued per shift.

    Any number of processes may run this at once: each round starts in one
    shift operation, which only one of them wins.
    """
    now = deps.clock()
    queued = {}
    for shift_id in deps.store.shifts.due_phone_rounds(now):
        try:
            queued[shift_id] = run_phone_round(deps, shift_id, now=now)
        except Exception:
            # One shift's failure must not keep the other rounds from running.
            log.exception("phone round of shift %s failed", shift_id)
    return queued


def run_phone_round(deps: Dependencies, shift_id: str, *, now: datetime | None = None) -> int:
    """Call every offered caregiver who has not declined or opted out, if the shift is still open.

    Safe to run late or more than once: only the first run on an open, due
    shift places calls. Returns the number of calls queued.
    """
    shift = deps.store.shifts.get(shift_id)
    if shift is None or shift.fanout is None:
        return 0
    offered = deps.store.caregivers.get_many(shift.fanout.offered_caregiver_ids)
    unreachable = [c.id for c in offered if not rules.is_qualified(c, shift.role_required)]
    at = now or deps.clock()

    def callees(decision: rules.Decision) -> list[str]:
        return rules.phone_round_callees(decision.shift, unreachable)

    decision = deps.store.shifts.update(
        shift_id,
        lambda s: rules.begin_phone_round(s, now=at),
        record=lambda d: d.if_changed(
            Event(at=at, type=EventType.ESCALATED, detail={"calls": len(callees(d))})
        ),
        reach=lambda d: Outreach(Channel.CALL, callees(d), at),
    )
    if not decision.changed:
        return 0
    calls = len(callees(decision))
    fanout = decision.shift.fanout
    declined = len(fanout.declined_caregiver_ids) if fanout else 0
    deps.metrics.notifications(str(Channel.CALL), "queued", calls)
    log.info(
        "phone round for shift %s: %d calls queued (%d offered, %d declined, %d unreachable)",
        shift_id,
        calls,
        len(shift.fanout.offered_caregiver_ids),
        declined,
        len(unreachable),
        extra={
            "event": "phone_round",
            "shift_id": shift_id,
            "calls": calls,
            "declined": declined,
            "unreachable": len(unreachable),
        },
    )
    return calls
