"""Use cases for organizations: the agencies shifts belong to, their zone and hours cap.

The organization ``default`` always exists: until it is changed through the API it
is not stored, and its time zone is ``SHIFTFILL_TIME_ZONE``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from shiftfill.domain.model import DEFAULT_ORGANIZATION_ID, Organization, Shift
from shiftfill.domain.replies import BRAND
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, NotFound
from shiftfill.services.ports import DuplicateKey


def default_organization(deps: Dependencies) -> Organization:
    """The built-in organization of shifts that name none: the configured zone, no cap."""
    return Organization(DEFAULT_ORGANIZATION_ID, BRAND, deps.settings.time_zone, None)


def find_organization(deps: Dependencies, organization_id: str) -> Organization | None:
    """Return the organization with this id (``default`` always), or ``None``."""
    found = deps.store.organizations.get(organization_id)
    if found is None and organization_id == DEFAULT_ORGANIZATION_ID:
        return default_organization(deps)
    return found


def get_organization(deps: Dependencies, organization_id: str) -> Organization:
    """Return one organization or raise ``NotFound``."""
    found = find_organization(deps, organization_id)
    if found is None:
        raise NotFound(f"No organization with id {organization_id}.")
    return found


def organization_of(deps: Dependencies, shift: Shift) -> Organization:
    """The organization of a shift; one stored before organizations existed reads as UTC."""
    return as_stored(deps, shift, deps.store.organizations.get(shift.organization_id))


def as_stored(deps: Dependencies, shift: Shift, stored: Organization | None) -> Organization:
    """The organization of a shift, given what the store holds under its id (maybe nothing)."""
    if stored is not None:
        return stored
    if shift.organization_id == DEFAULT_ORGANIZATION_ID:
        return default_organization(deps)
    return Organization(shift.organization_id, BRAND)


def organizations_of(deps: Dependencies, shifts: Iterable[Shift]) -> dict[str, Organization]:
    """The organizations of ``shifts``, by id."""
    found: dict[str, Organization] = {}
    for shift in shifts:
        if shift.organization_id not in found:
            found[shift.organization_id] = organization_of(deps, shift)
    return found


def list_organizations(deps: Dependencies) -> list[Organization]:
    """List every organization, ``default`` first while it is not stored."""
    stored = deps.store.organizations.all()
    if any(o.id == DEFAULT_ORGANIZATION_ID for o in stored):
        return stored
    return [default_organization(deps), *stored]


def new_organization(record: dict[str, Any]) -> Organization:
    """Make an organization from validated fields, with a new id when none is given."""
    return Organization(
        id=record.get("id") or uuid.uuid4().hex,
        name=record["name"],
        time_zone=record["time_zone"],
        max_weekly_hours=record.get("max_weekly_hours"),
        waves=record.get("waves"),
    )


def create_organization(deps: Dependencies, **fields: Any) -> Organization:
    """Add an organization; its id (``default`` included) must be free."""
    organization = new_organization(fields)
    if organization.id == DEFAULT_ORGANIZATION_ID:
        raise Conflict(f"An organization with id {DEFAULT_ORGANIZATION_ID} already exists.")
    try:
        deps.store.organizations.add(organization)
    except DuplicateKey as exc:
        raise Conflict(f"An organization with id {exc.value} already exists.") from exc
    return organization


def update_organization(
    deps: Dependencies, organization_id: str, changes: dict[str, Any]
) -> Organization:
    """Change an organization's name, time zone or hours cap; texts sent later follow."""
    absent = default_organization(deps) if organization_id == DEFAULT_ORGANIZATION_ID else None
    try:
        return deps.store.organizations.update(
            organization_id, lambda current: replace(current, **changes), absent=absent
        )
    except KeyError:
        raise NotFound(f"No organization with id {organization_id}.") from None
