"""Loading a roster and shifts at start-up, without touching what the store already holds."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shiftfill.services.caregivers import new_caregiver
from shiftfill.services.clients import check_client, new_client
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, Invalid
from shiftfill.services.organizations import find_organization, new_organization
from shiftfill.services.shifts import new_shift


def seed(
    deps: Dependencies,
    caregivers: list[dict[str, Any]],
    shifts: list[dict[str, Any]],
    organizations: list[dict[str, Any]] | None = None,
    clients: list[dict[str, Any]] | None = None,
) -> tuple[int, int]:
    """Add the organizations, caregivers and shifts whose ids the store does not hold.

    Returns how many caregivers and shifts were added. A store that already
    holds a record keeps it as it is: a restart on a live store never reopens a
    filled shift or resubscribes a caregiver; nor does it add a shift naming a
    client the store holds in another organization (moved since the seed was
    written: ``rules.client_elsewhere``). Ids that repeat inside the seed
    itself are a ``Conflict``; a shift of an organization that exists neither in
    the seed nor in the store is ``Invalid``.
    """
    agencies = [new_organization(record) for record in organizations or []]
    people = [new_caregiver(record) for record in caregivers]
    slots = [new_shift(record) for record in shifts]
    patients = [new_client(record) for record in clients or []]
    for kind, ids in (
        ("organization", [o.id for o in agencies]),
        ("caregiver", [c.id for c in people]),
        ("client", [c.id for c in patients]),
        ("shift", [s.id for s in slots]),
    ):
        # Counted once, not ``ids.count(i)`` per id: a 100,000-caregiver seed is quadratic so.
        repeated = sorted(i for i, seen in Counter(ids).items() if seen > 1)
        if repeated:
            raise Conflict(f"A {kind} with id {repeated[0]} already exists in the seed.")
    seeded = {o.id for o in agencies}
    for slot in slots:
        if slot.organization_id not in seeded and not find_organization(deps, slot.organization_id):
            message = f"Shift {slot.id} names no organization with id {slot.organization_id}."
            raise Invalid(message, {"organization_id": [message]})
    known = seeded | {c.id for c in people}
    for patient in patients:
        check_client(deps, patient, known)
    client_orgs = {c.id: c.organization_id for c in patients}
    for slot in slots:
        if slot.client_id is None:
            continue
        stored = deps.store.clients.get(slot.client_id)
        org = client_orgs.get(slot.client_id) or (stored.organization_id if stored else None)
        if org != slot.organization_id:
            message = f"Shift {slot.id} names no client {slot.client_id} of its organization."
            raise Invalid(message, {"client_id": [message]})
    deps.store.organizations.add_absent(agencies)
    added_people = deps.store.caregivers.add_absent(people)
    deps.store.clients.add_absent(patients)
    added_shifts = deps.store.shifts.add_absent(slots)
    deps.store.mark_seeded(deps.clock())
    return len(added_people), len(added_shifts)
