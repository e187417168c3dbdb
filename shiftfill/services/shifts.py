"""Use cases for shifts as ops sees them: create, look up, cancel, audit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from shiftfill.domain import fill, rules
from shiftfill.domain.model import Event, Notification, Shift, ShiftStatus
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, Invalid, NotFound
from shiftfill.services.organizations import find_organization
from shiftfill.services.ports import ClientElsewhere, DuplicateKey

log = logging.getLogger(__name__)


def create_shift(
    deps: Dependencies,
    *,
    organization_id: str,
    role_required: str,
    start_time: datetime,
    end_time: datetime,
    id: str | None = None,
    client_id: str | None = None,
    required_credentials: Sequence[str] = (),
) -> Shift:
    """Add an open shift; the caller has checked that it ends after it starts.

    A shift that has already ended is refused: nobody could work it; its
    organization must exist, and its client be one of that organization
    (``Invalid`` otherwise).
    """
    if find_organization(deps, organization_id) is None:
        message = f"No organization with id {organization_id}."
        raise Invalid(message, {"organization_id": [message]})
    shift = new_shift(
        {
            "id": id,
            "organization_id": organization_id,
            "role_required": role_required,
            "start_time": start_time,
            "end_time": end_time,
            "client_id": client_id,
            "required_credentials": required_credentials,
        }
    )
    client = deps.store.clients.get(shift.client_id) if shift.client_id else None
    if rules.client_elsewhere(shift, client):
        raise _client_elsewhere(shift)
    if shift.has_ended(deps.clock()):
        raise Invalid("The shift has already ended.", {"end_time": ["Must be in the future."]})
    try:
        deps.store.shifts.add(shift)
    except DuplicateKey as exc:
        raise Conflict(f"A shift with id {exc.value} already exists.") from exc
    except ClientElsewhere:  # the client moved since it was read above
        raise _client_elsewhere(shift) from None
    return shift


def _client_elsewhere(shift: Shift) -> Invalid:
    message = f"No client with id {shift.client_id} in organization {shift.organization_id}."
    return Invalid(message, {"client_id": [message]})


def new_shift(record: dict[str, Any]) -> Shift:
    """Make an open shift from validated fields, with a new id when none is given."""
    return Shift(
        id=record.get("id") or uuid.uuid4().hex,
        organization_id=record["organization_id"],
        role_required=record["role_required"],
        start_time=record["start_time"],
        end_time=record["end_time"],
        client_id=record.get("client_id"),
        required_credentials=tuple(dict.fromkeys(record.get("required_credentials", ()))),
    )


def get_shift(deps: Dependencies, shift_id: str) -> Shift:
    """Return one shift or raise ``NotFound``."""
    shift = deps.store.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    return shift


def list_shifts(
    deps: Dependencies,
    status: ShiftStatus | None = None,
    role: str | None = None,
    organization_id: str | None = None,
) -> list[Shift]:
    """List shifts, optionally filtered by status, required role and organization."""
    found = deps.store.shifts.all(status=status, role=role)
    if organization_id is None:
        return found
    return [s for s in found if s.organization_id == organization_id]


def cancel_shift(deps: Dependencies, shift_id: str) -> Shift:
    """Cancel a shift that is not filled; its phone round goes with it. Repeating it is fine."""
    now = deps.clock()
    try:
        change = deps.store.shifts.apply(shift_id, partial(fill.cancel, now=now))
    except KeyError:
        raise NotFound(f"No shift with id {shift_id}.") from None
    except rules.ShiftConflict as exc:
        raise Conflict(str(exc)) from exc
    if change.changed:
        log.info(
            "shift %s cancelled",
            shift_id,
            extra={"event": "cancelled", "shift_id": shift_id},
        )
    return change.shift


def shift_notifications(deps: Dependencies, shift_id: str) -> list[Notification]:
    """List the messages sent, or queued, about one shift."""
    get_shift(deps, shift_id)
    return deps.store.notifications.for_shift(shift_id)


def shift_events(deps: Dependencies, shift_id: str) -> list[Event]:
    """Return the audit trail of one shift, oldest first."""
    get_shift(deps, shift_id)
    return deps.store.events.for_shift(shift_id)
