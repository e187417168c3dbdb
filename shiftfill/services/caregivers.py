"""Use cases for the caregiver roster."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from shiftfill.domain import rules
from shiftfill.domain.model import Caregiver, Credential, Event, EventType, Location, QuietHours
from shiftfill.phones import mask
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, Invalid, NotFound
from shiftfill.services.ports import DuplicateKey

log = logging.getLogger(__name__)


def register_caregiver(
    deps: Dependencies,
    *,
    name: str,
    role: str,
    phone: str,
    opted_out: bool = False,
    active: bool = True,
    id: str | None = None,
    language: str = "en",
    quiet_hours: QuietHours | None = None,
    location: Location | None = None,
    max_travel_miles: float | None = None,
    credentials: Sequence[Credential] = (),
) -> Caregiver:
    """Add a caregiver; ``role`` and ``phone`` arrive already normalised."""
    record = {
        "name": name,
        "role": role,
        "phone": phone,
        "opted_out": opted_out,
        "active": active,
        "id": id,
        "language": language,
        "quiet_hours": quiet_hours,
        "location": location,
        "max_travel_miles": max_travel_miles,
        "credentials": credentials,
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
        active=record.get("active", True),
        language=record.get("language", "en"),
        quiet_hours=record.get("quiet_hours"),
        location=record.get("location"),
        max_travel_miles=record.get("max_travel_miles"),
        credentials=tuple(record.get("credentials", ())),
    )


def get_caregiver(deps: Dependencies, caregiver_id: str) -> Caregiver:
    """Return one caregiver or raise ``NotFound``."""
    caregiver = deps.store.caregivers.get(caregiver_id)
    if caregiver is None:
        raise NotFound(f"No caregiver with id {caregiver_id}.")
    return caregiver


def list_caregivers(
    deps: Dependencies,
    role: str | None = None,
    opted_out: bool | None = None,
    active: bool | None = None,
) -> list[Caregiver]:
    """List caregivers, optionally only those of one role, opt-out state or activity."""
    return [
        c
        for c in deps.store.caregivers.all(role=role)
        if (opted_out is None or c.opted_out is opted_out)
        and (active is None or c.active is active)
    ]


def update_caregiver(
    deps: Dependencies, caregiver_id: str, changes: Mapping[str, Any]
) -> Caregiver:
    """Apply the agency's changes to a caregiver in one step; an opt-in is noted and logged.

    A phone that another caregiver holds is a ``Conflict``; opting a caregiver
    out is theirs to do, not the agency's.
    """
    now = deps.clock()
    if "credentials" in changes:
        changes = {**changes, "credentials": tuple(changes["credentials"])}
    try:
        change = deps.store.caregivers.update(
            caregiver_id, partial(rules.edit, changes=changes, now=now)
        )
    except KeyError:
        raise NotFound(f"No caregiver with id {caregiver_id}.") from None
    except DuplicateKey as exc:
        raise Conflict(f"A caregiver with {exc.field} {exc.value} already exists.") from exc
    except rules.CaregiverEditRefused as exc:
        raise Invalid(str(exc)) from exc
    caregiver = change.caregiver
    if change.changed and change.events:
        log.info(
            "caregiver %s changed: %s",
            caregiver_id,
            ", ".join(change.events[0].detail["fields"]),
            extra={"event": "caregiver_changed", "caregiver_id": caregiver_id},
        )
        if any(e.type is EventType.OPTED_IN for e in change.events):
            log.info(
                "caregiver %s (%s) opted back in by the agency",
                caregiver_id,
                mask(caregiver.phone),
                extra={"event": "opted_in", "caregiver_id": caregiver_id},
            )
    return caregiver


def caregiver_events(deps: Dependencies, caregiver_id: str) -> list[Event]:
    """Return a caregiver's own trail (changes made by the agency), oldest first."""
    get_caregiver(deps, caregiver_id)
    return deps.store.caregivers.events(caregiver_id)


def opt_out_caregiver(deps: Dependencies, caregiver_id: str, *, via: str) -> Caregiver:
    """Stop every future contact with a caregiver, and note it on their open offers.

    ``via`` says how the opt-out arrived (``sms``, ``call``, ``provider``). The
    opt-out itself is one step; the notes on the open offers follow it, and only
    from the call that made the change, so a repeated STOP notes nothing twice.
    """
    before = deps.store.caregivers.get(caregiver_id)
    # Read before the step: the caregiver's open offers name the shifts the
    # agency's systems hear about (``caregiver.opted_out``) in the opt-out's own step.
    offers = deps.store.shifts.offers_for(before) if before is not None else []
    change = deps.store.caregivers.update(
        caregiver_id, partial(rules.opt_out, now=deps.clock(), offers=offers)
    )
    caregiver = change.caregiver
    if change.changed:
        log.info(
            "caregiver %s (%s) opted out via %s",
            caregiver_id,
            mask(caregiver.phone),
            via,
            extra={"event": "opted_out", "caregiver_id": caregiver_id, "via": via},
        )
        now = deps.clock()
        event = Event(
            at=now, type=EventType.OPTED_OUT, caregiver_id=caregiver_id, detail={"via": via}
        )
        for shift in offers:
            if shift.is_open:
                deps.store.events.append(shift.id, event)
    return caregiver
