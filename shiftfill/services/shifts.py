"""Use cases for shifts as ops sees them: create, look up, cancel, audit."""

from __future__ import annotations

import uuid
from datetime import datetime

from shiftfill.adapters.repository import DuplicateKey
from shiftfill.domain import rules
from shiftfill.domain.model import Event, EventType, Notification, Shift, ShiftStatus
from shiftfill.services.context import Context
from shiftfill.services.errors import Conflict, NotFound


def create_shift(
    ctx: Context,
    *,
    organization_id: str,
    role_required: str,
    start_time: datetime,
    end_time: datetime,
    id: str | None = None,
) -> Shift:
    """Add an open shift; the caller has checked that it ends after it starts."""
    shift = Shift(
        id=id or uuid.uuid4().hex,
        organization_id=organization_id,
        role_required=role_required,
        start_time=start_time,
        end_time=end_time,
    )
    try:
        ctx.shifts.add(shift)
    except DuplicateKey as exc:
        raise Conflict(f"A shift with id {exc.value} already exists.") from exc
    return shift


def get_shift(ctx: Context, shift_id: str) -> Shift:
    """Return one shift or raise ``NotFound``."""
    shift = ctx.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    return shift


def list_shifts(
    ctx: Context, status: ShiftStatus | None = None, role: str | None = None
) -> list[Shift]:
    """List shifts, optionally filtered by status and required role."""
    return ctx.shifts.all(status=status, role=role)


def cancel_shift(ctx: Context, shift_id: str) -> Shift:
    """Cancel a shift that is not filled and stop its fanout; repeating it changes nothing."""
    get_shift(ctx, shift_id)
    now = ctx.clock()
    try:
        decision = ctx.shifts.update(
            shift_id,
            lambda s: rules.cancel(s, now=now),
            record=lambda d: d.if_changed(Event(at=now, type=EventType.CANCELLED)),
        )
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    if decision.changed:
        ctx.scheduler.cancel(shift_id)
    return decision.shift


def shift_notifications(ctx: Context, shift_id: str) -> list[Notification]:
    """List the messages sent, or queued, about one shift."""
    get_shift(ctx, shift_id)
    return ctx.notifications.for_shift(shift_id)


def shift_events(ctx: Context, shift_id: str) -> list[Event]:
    """Return the audit trail of one shift, oldest first."""
    get_shift(ctx, shift_id)
    return ctx.events.for_shift(shift_id)
