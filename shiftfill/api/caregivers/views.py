"""``/caregivers``: the roster of people who can be offered shifts."""

from __future__ import annotations

from typing import Any

from shiftfill.adapters.bulk_load import bulk_insert
from shiftfill.api.blueprint import Blueprint
from shiftfill.api.caregivers.schemas import (
    CaregiverBatchSchema,
    CaregiverCreateSchema,
    CaregiverQuerySchema,
    CaregiverSchema,
)
from shiftfill.api.context import services
from shiftfill.domain.model import Caregiver
from shiftfill.services import caregivers

blp = Blueprint("caregivers", __name__, url_prefix="/caregivers", description="Caregivers")


@blp.get("")
@blp.arguments(CaregiverQuerySchema, location="query", as_kwargs=True)
@blp.response(200, CaregiverSchema(many=True))
def list_caregivers(role: str | None = None) -> list[Caregiver]:
    """List caregivers, optionally of one role."""
    return caregivers.list_caregivers(services(), role=role)


@blp.post("")
@blp.arguments(CaregiverCreateSchema)
@blp.response(201, CaregiverSchema)
@blp.errors(400, 409)
def create_caregiver(data: dict[str, Any]) -> Caregiver:
    """Add a caregiver; the role is upper-cased and the phone normalised to E.164."""
    return caregivers.register_caregiver(services(), **data)


@blp.post("/batch")
@blp.arguments(CaregiverBatchSchema)
@blp.response(201, CaregiverSchema(many=True))
@blp.errors(400, 409)
def create_caregivers(data: dict[str, Any]) -> list[Caregiver]:
    """Import up to 1,000 caregivers at once: all are added, or none (a 409 names the clash)."""
    # A roster import stores thousands of records for good: keep the collector off them.
    with bulk_insert(len(data["caregivers"])):
        return caregivers.register_caregivers(services(), data["caregivers"])


@blp.get("/<caregiver_id>")
@blp.response(200, CaregiverSchema)
@blp.errors(404)
def get_caregiver(caregiver_id: str) -> Caregiver:
    """Show one caregiver."""
    return caregivers.get_caregiver(services(), caregiver_id)
