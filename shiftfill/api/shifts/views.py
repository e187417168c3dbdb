"""``/shifts``: create shifts, start and cancel their fanout, read their audit trail."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.context import services
from shiftfill.api.shifts.schemas import (
    CandidatesSchema,
    EventSchema,
    NotificationSchema,
    ShiftCreateSchema,
    ShiftQuerySchema,
    ShiftSchema,
)
from shiftfill.domain.model import Event, Notification, Shift, ShiftStatus
from shiftfill.services import fanout, matching, shifts

blp = Blueprint("shifts", __name__, url_prefix="/shifts", description="Shifts and their fanout")


@blp.get("")
@blp.doc(operationId="listShifts")
@blp.arguments(ShiftQuerySchema, location="query", as_kwargs=True, unknown=ma.RAISE)
@blp.response(200, ShiftSchema(many=True))
def list_shifts(
    status: ShiftStatus | None = None,
    role: str | None = None,
    organization_id: str | None = None,
) -> list[Shift]:
    """List shifts, optionally by status, required role and organization."""
    return shifts.list_shifts(services(), status=status, role=role, organization_id=organization_id)


@blp.post("")
@blp.doc(operationId="createShift")
@blp.arguments(ShiftCreateSchema)
@blp.response(201, ShiftSchema)
@blp.errors(409)
def create_shift(data: dict[str, Any]) -> Shift:
    """Add an open shift."""
    return shifts.create_shift(services(), **data)


@blp.get("/<shift_id>")
@blp.doc(operationId="getShift")
@blp.response(200, ShiftSchema)
@blp.errors(404)
def get_shift(shift_id: str) -> Shift:
    """Show one shift, with its fanout once started."""
    return shifts.get_shift(services(), shift_id)


@blp.post("/<shift_id>/fanout")
@blp.doc(operationId="startFanout")
@blp.response(202, ShiftSchema, description="Fanout started: texts are being sent.")
@blp.alt_response(200, schema=ShiftSchema, description="Fanout had already started; nothing sent.")
@blp.errors(404, 409)
def start_fanout(shift_id: str) -> tuple[Shift, int]:
    """Text every qualified caregiver and schedule the phone round; repeating it sends nothing."""
    shift, started = fanout.start_fanout(services(), shift_id)
    return shift, 202 if started else 200


@blp.get("/<shift_id>/candidates")
@blp.doc(operationId="listShiftCandidates")
@blp.no_filters()
@blp.response(200, CandidatesSchema)
@blp.errors(404)
def list_candidates(shift_id: str) -> dict[str, object]:
    """Rank the qualified caregivers in the order they are asked; say why the others are not."""
    return matching.candidates(services(), shift_id)


@blp.post("/<shift_id>/cancel")
@blp.doc(operationId="cancelShift")
@blp.response(200, ShiftSchema)
@blp.errors(404, 409)
def cancel_shift(shift_id: str) -> Shift:
    """Cancel a shift that is not filled: no phone round, later accepts hear it is gone."""
    return shifts.cancel_shift(services(), shift_id)


@blp.get("/<shift_id>/notifications")
@blp.doc(operationId="listShiftNotifications")
@blp.no_filters()
@blp.response(200, NotificationSchema(many=True))
@blp.errors(404)
def list_notifications(shift_id: str) -> list[Notification]:
    """List the texts and calls of a shift with their delivery status."""
    return shifts.shift_notifications(services(), shift_id)


@blp.get("/<shift_id>/events")
@blp.doc(operationId="listShiftEvents")
@blp.no_filters()
@blp.response(200, EventSchema(many=True))
@blp.errors(404)
def list_events(shift_id: str) -> list[Event]:
    """Show the audit trail of a shift, oldest first."""
    return shifts.shift_events(services(), shift_id)
