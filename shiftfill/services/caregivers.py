"""Use cases for the caregiver roster."""

from __future__ import annotations

import uuid
from typing import Any

from shiftfill.adapters.repository import DuplicateKey
from shiftfill.domain.model import Caregiver, Event, EventType
from shiftfill.services.context import Context
from shiftfill.services.errors import Conflict, NotFound


def register_caregiver(
    ctx: Context,
    *,
    name: str,
    role: str,
    phone: str,
    opted_out: bool = False,
    id: str | None = None,
) -> Caregiver:
    """Add a caregiver; ``role`` and ``phone`` arrive already normalised."""
    return register_caregivers(
        ctx, [{"name": name, "role": role, "phone": phone, "opted_out": opted_out, "id": id}]
    )[0]


def register_caregivers(ctx: Context, records: list[dict[str, Any]]) -> list[Caregiver]:
    """Add a roster at once: every caregiver is stored, or none is."""
    caregivers = [
        Caregiver(
            id=record.get("id") or uuid.uuid4().hex,
            name=record["name"],
            role=record["role"],
            phone=record["phone"],
            opted_out=record.get("opted_out", False),
        )
        for record in records
    ]
    try:
        ctx.caregivers.add_many(caregivers)
    except DuplicateKey as exc:
        raise Conflict(f"A caregiver with {exc.field} {exc.value} already exists.") from exc
    return caregivers


def get_caregiver(ctx: Context, caregiver_id: str) -> Caregiver:
    """Return one caregiver or raise ``NotFound``."""
    caregiver = ctx.caregivers.get(caregiver_id)
    if caregiver is None:
        raise NotFound(f"No caregiver with id {caregiver_id}.")
    return caregiver


def list_caregivers(ctx: Context, role: str | None = None) -> list[Caregiver]:
    """List caregivers, optionally only those of one role."""
    return ctx.caregivers.all(role=role)


def opt_out_caregiver(ctx: Context, caregiver_id: str, *, via: str) -> Caregiver:
    """Stop every future contact with a caregiver, and note it on their open offers.

    ``via`` says how the opt-out arrived (``sms``, ``call``, ``provider``).
    """
    caregiver, changed = ctx.caregivers.opt_out(caregiver_id)
    if changed:
        now = ctx.clock()
        for shift in ctx.shifts.offers_for(caregiver):
            if shift.is_open:
                event = Event(
                    at=now, type=EventType.OPTED_OUT, caregiver_id=caregiver_id, detail={"via": via}
                )
                ctx.events.append(shift.id, event)
    return caregiver
