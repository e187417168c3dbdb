"""Use cases of the outreach: start a fanout, run the phone rounds that are due."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from shiftfill.domain import contact, fill, rules
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Channel, Organization, Shift
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.due import run_each_due
from shiftfill.services.errors import Conflict, NotFound
from shiftfill.services.matching import needs_ranking, read_match
from shiftfill.services.organizations import organization_of

log = logging.getLogger(__name__)


def start_fanout(deps: Dependencies, shift_id: str) -> tuple[Shift, bool]:
    """Offer the shift to every qualified caregiver by SMS; the phone round is then due.

    Qualified: of the role, not opted out, and free to take it (no overlapping
    assignment, within the organization's weekly hours cap). Returns the shift
    and whether this call started the fanout. Repeating it returns the shift as
    it is and sends nothing (I2 in docs/invariants.md); a cancelled or filled shift is a
    ``Conflict``.
    """
    shift = deps.store.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    now = deps.clock()
    org = organization_of(deps, shift)
    next_wave_at, waiting = None, 0
    if shift.fanout is not None:
        # A repeat: the step answers it as one, without reading the roster again.
        qualified, ineligible = [], {}
    elif needs_ranking(shift, org):
        found = read_match(deps, shift, org)
        qualified, ineligible = found.ranked_ids, found.left_out
        if org.waves is not None and len(qualified) > org.waves.size:
            waiting = len(qualified) - org.waves.size
            qualified = qualified[: org.waves.size]
            next_wave_at = now + timedelta(seconds=org.waves.interval_seconds)
    else:
        of_role = deps.store.caregivers.qualified_ids(shift.role_required)
        ineligible = ineligible_caregivers(deps, shift, org, of_role)
        qualified = [cid for cid in of_role if cid not in ineligible] if ineligible else of_role
    decide = partial(
        fill.fan_out,
        now=now,
        qualified=qualified,
        not_offered=ineligible,
        escalation_delay=deps.settings.escalation_delay,
        next_wave_at=next_wave_at,
        waiting=waiting,
    )
    try:
        change = deps.store.shifts.apply(shift_id, decide)
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    if change.changed:
        _report_fanout(deps, change.shift, len(qualified))
    return change.shift, change.changed


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


def ineligible_caregivers(
    deps: Dependencies, shift: Shift, org: Organization, caregiver_ids: list[str]
) -> dict[str, NotAsked]:
    """Map each of ``caregiver_ids`` who holds shifts that keep them from ``shift`` to why."""
    held = deps.store.shifts.assignments(caregiver_ids, contact.eligibility_since(shift))
    reasons = {
        cid: contact.why_not_ask(shift, cid, assigned=shifts, organization=org)
        for cid, shifts in held.items()
    }
    return {cid: reason for cid, reason in reasons.items() if reason is not None}


def run_due_phone_rounds(deps: Dependencies) -> dict[str, int]:
    """Run every phone round that is due now; return the calls queued per shift.

    Any number of processes may run this at once: each round starts in one
    shift operation, which only one of them wins.
    """
    now = deps.clock()
    due = deps.store.shifts.due_phone_rounds(now)
    return run_each_due(
        due, lambda shift_id: run_phone_round(deps, shift_id, now=now), "phone round"
    )


def run_phone_round(deps: Dependencies, shift_id: str, *, now: datetime | None = None) -> int:
    """Call every offered caregiver who has not declined or opted out, if the shift is still open.

    A caregiver inside their quiet hours, or no longer free to take the shift,
    is skipped with a ``call_skipped`` event saying why. Safe to run late or
    more than once: only the first run on an open, due shift places calls.
    Returns the number of calls queued.
    """
    shift = deps.store.shifts.get(shift_id)
    if shift is None or shift.fanout is None:
        return 0
    offered = {c.id: c for c in deps.store.caregivers.get_many(shift.fanout.offered_caregiver_ids)}
    at = now or deps.clock()
    org = organization_of(deps, shift)
    reachable = [cid for cid, c in offered.items() if contact.reachable(c)]
    held = deps.store.shifts.assignments(reachable, contact.eligibility_since(shift))
    client = deps.store.clients.get(shift.client_id) if shift.client_id else None
    wants = contact.needs(shift, client, org)
    # Asked of the shift as read here, outside the step: a step asks again only what
    # may have changed since (a decline, a wave sent meanwhile), so it stays short for
    # ten thousand offered.
    reasons = fill.why_not_called(shift, offered, held, at=at, organization=org, wants=wants)
    decide = partial(
        fill.phone_round,
        at=at,
        reasons=reasons,
        organization=org,
        wants=wants,
        unfilled_after=deps.settings.unfilled_after,
    )
    change = deps.store.shifts.apply(shift_id, decide)
    if not change.changed or change.outreach is None:
        return 0
    calls = len(change.outreach.caregiver_ids)
    unreachable = sum(1 for reason in reasons.values() if reason is not None and reason.unreachable)
    fanout = change.shift.fanout
    declined = len(fanout.declined_caregiver_ids) if fanout else 0
    deps.metrics.notifications(str(Channel.CALL), "queued", calls)
    log.info(
        "phone round for shift %s: %d calls queued (%d offered, %d declined, %d unreachable)",
        shift_id,
        calls,
        len(shift.fanout.offered_caregiver_ids),
        declined,
        unreachable,
        extra={
            "event": "phone_round",
            "shift_id": shift_id,
            "calls": calls,
            "declined": declined,
            "unreachable": unreachable,
        },
    )
    return calls
