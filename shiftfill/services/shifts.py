"""Use cases for shifts as ops sees them: create, look up, cancel, audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shiftfill.domain import rules
from shiftfill.domain.model import Event, EventType, Notification, Shift, ShiftStatus
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, Invalid, NotFound
from shiftfill.services.organizations import find_organization
from shiftfill.services.ports import DuplicateKey


def create_shift(
    deps: Dependencies,
    *,
    organization_id: str,
    role_required: str,
    start_time: datetime,
    end_time: datetime,
    id: str | None = None,
) -> Shift:
    """Add an open shift; the caller has checked that it ends after it starts.

    Its organization must exist (``Invalid`` otherwise).
    """
    if find_organization(deps, organization_id) is None:
        raise Invalid("organization_id", f"No organization with id {organization_id}.")
    shift = new_shift(
        {
            "id": id,
            "organization_id": organization_id,
            "role_required": role_required,
            "start_time": start_time,
            "end_time": end_time,
        }
    )
    try:
        deps.store.shifts.add(shift)
    except DuplicateKey as exc:
        raise Conflict(f"A shift with id {exc.value} already exists.") from exc
    return shift


def new_shift(record: dict[str, Any]) -> Shift:
    """Make an open shift from validated fields, with a new id when none is given."""
    return Shift(
        id=record.get("id") or uuid.uuid4().hex,
        organization_id=record["organization_id"],
        role_required=record["role_required"],
        start_time=record["start_time"],
        end_time=record["end_time"],
    )


def get_shift(deps: Dependencies, shift_id: str) -> Shift:
    """Return one shift or raise ``NotFound``."""
    shift = deps.store.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    return shift


def list_shifts(
    deps: Dependencies, status: ShiftStatus | None = None, role: str | None = None
) -> list[Shift]:
    """List shifts, optionally filtered by status and required role."""
    return deps.store.shifts.all(status=status, role=role)


def cancel_shift(deps: Dependencies, shift_id: str) -> Shift:
    """Cancel a shift that is not filled; its phone round goes with it. Repeating it is fine."""
    now = deps.clock()
    try:
        decision = deps.store.shifts.update(
            shift_id,
            lambda s: rules.cancel(s, now=now),
            record=lambda d: d.if_changed(Event(at=now, type=EventType.CANCELLED)),
        )
    except KeyError:
        raise NotFound(f"No shift with id {shift_id}.") from None
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    return decision.shift


def shift_notifications(deps: Dependencies, shift_id: str) -> list[Notification]:
    """List the messages sent, or queued, about one shift."""
    get_shift(deps, shift_id)
    return deps.store.notifications.for_shift(shift_id)


def shift_events(deps: Dependencies, shift_id: str) -> list[Event]:
    """Return the audit trail of one shift, oldest first."""
    get_shift(deps, shift_id)
    return deps.store.events.for_shift(shift_id)
