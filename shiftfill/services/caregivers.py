"""Use cases for the caregiver roster."""

from __future__ import annotations

import uuid
from typing import Any

from shiftfill.domain.model import Caregiver, Event, EventType, QuietHours
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, NotFound
from shiftfill.services.ports import DuplicateKey


def register_caregiver(
    deps: Dependencies,
    *,
    name: str,
    role: str,
    phone: str,
    opted_out: bool = False,
    id: str | None = None,
    language: str = "en",
    quiet_hours: QuietHours | None = None,
) -> Caregiver:
    """Add a caregiver; ``role`` and ``phone`` arrive already normalised."""
    record = {
        "name": name,
        "role": role,
        "phone": phone,
        "opted_out": opted_out,
        "id": id,
        "language": language,
        "quiet_hours": quiet_hours,
    }
    return register_caregivers(deps, [record])[0]


def register_caregivers(deps: Dependencies, records: list[dict[str, Any]]) -> list[Caregiver]:
    """Add a roster at once: every caregiver is stored, or none is."""
    caregivers = [new_caregiver(record) for record in records]
    try:
        deps.store.caregivers.add_many(caregivers)
    except DuplicateKey as exc:
        raise Conflict(f"A caregiver with {exc.field} {exc.value} already exists.") from exc
    return caregivers


def new_caregiver(record: dict[str, Any]) -> Caregiver:
    """Make a caregiver from validated fields, with a new id when none is given."""
    return Caregiver(
        id=record.get("id") or uuid.uuid4().hex,
        name=record["name"],
        role=record["role"],
        phone=record["phone"],
        opted_out=record.get("opted_out", False),
        language=record.get("language", "en"),
        quiet_hours=record.get("quiet_hours"),
    )


def get_caregiver(deps: Dependencies, caregiver_id: str) -> Caregiver:
    """Return one caregiver or raise ``NotFound``."""
    caregiver = deps.store.caregivers.get(caregiver_id)
    if caregiver is None:
        raise NotFound(f"No caregiver with id {caregiver_id}.")
    return caregiver


def list_caregivers(deps: Dependencies, role: str | None = None) -> list[Caregiver]:
    """List caregivers, optionally only those of one role."""
    return deps.store.caregivers.all(role=role)


def opt_out_caregiver(deps: Dependencies, caregiver_id: str, *, via: str) -> Caregiver:
    """Stop every future contact with a caregiver, and note it on their open offers.

    ``via`` says how the opt-out arrived (``sms``, ``call``, ``provider``). The
    opt-out itself is one step; the notes on the open offers follow it, and only
    from the call that made the change, so a repeated STOP notes nothing twice.
    """
    caregiver, changed = deps.store.caregivers.opt_out(caregiver_id)
    if changed:
        now = deps.clock()
        event = Event(
            at=now, type=EventType.OPTED_OUT, caregiver_id=caregiver_id, detail={"via": via}
        )
        for shift in deps.store.shifts.offers_for(caregiver):
            if shift.is_open:
                deps.store.events.append(shift.id, event)
    return caregiver
