"""``/caregivers``: the roster of people who can be offered shifts."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.caregivers.schemas import (
    CaregiverBatchSchema,
    CaregiverCreateSchema,
    CaregiverPatchSchema,
    CaregiverQuerySchema,
    CaregiverSchema,
)
from shiftfill.api.context import services
from shiftfill.api.shifts.schemas import EventSchema
from shiftfill.domain.model import Caregiver, Event
from shiftfill.services import caregivers

blp = Blueprint("caregivers", __name__, url_prefix="/caregivers", description="Caregivers")


@blp.get("")
@blp.doc(operationId="listCaregivers")
@blp.arguments(CaregiverQuerySchema, location="query", as_kwargs=True, unknown=ma.RAISE)
@blp.response(200, CaregiverSchema(many=True))
def list_caregivers(
    role: str | None = None, opted_out: bool | None = None, active: bool | None = None
) -> list[Caregiver]:
    """List caregivers, optionally by role, opt-out state and activity."""
    return caregivers.list_caregivers(services(), role=role, opted_out=opted_out, active=active)


@blp.post("")
@blp.doc(operationId="createCaregiver")
@blp.arguments(CaregiverCreateSchema)
@blp.response(201, CaregiverSchema)
@blp.errors(409)
def create_caregiver(data: dict[str, Any]) -> Caregiver:
    """Add a caregiver; the role is upper-cased and the phone normalised to E.164."""
    return caregivers.register_caregiver(services(), **data)


@blp.post("/batch")
@blp.doc(operationId="importCaregivers")
@blp.arguments(CaregiverBatchSchema)
@blp.response(201, CaregiverSchema(many=True))
@blp.errors(409)
def create_caregivers(data: dict[str, Any]) -> list[Caregiver]:
    """Import up to 1,000 caregivers at once: all are added, or none (a 409 names the clash)."""
    return caregivers.register_caregivers(services(), data["caregivers"])


@blp.get("/<caregiver_id>")
@blp.doc(operationId="getCaregiver")
@blp.response(200, CaregiverSchema)
@blp.errors(404)
def get_caregiver(caregiver_id: str) -> Caregiver:
    """Show one caregiver."""
    return caregivers.get_caregiver(services(), caregiver_id)


@blp.patch("/<caregiver_id>")
@blp.doc(operationId="updateCaregiver")
@blp.arguments(CaregiverPatchSchema)
@blp.response(200, CaregiverSchema)
@blp.errors(404, 409)
def update_caregiver(changes: dict[str, Any], caregiver_id: str) -> Caregiver:
    """Change a caregiver's details, or opt them back in.

    Any of name, phone, role, active, language and quiet_hours; opted_out only to false.
    """
    return caregivers.update_caregiver(services(), caregiver_id, changes)


@blp.get("/<caregiver_id>/events")
@blp.doc(operationId="listCaregiverEvents")
@blp.no_filters()
@blp.response(200, EventSchema(many=True))
@blp.errors(404)
def list_caregiver_events(caregiver_id: str) -> list[Event]:
    """Show the changes the agency made to a caregiver (on no shift), oldest first."""
    return caregivers.caregiver_events(services(), caregiver_id)
