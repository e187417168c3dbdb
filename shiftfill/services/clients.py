"""Use cases for clients: an agency's patients, whom they prefer and whom they refuse."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shiftfill.domain.model import Client
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import Conflict, Invalid, NotFound
from shiftfill.services.organizations import find_organization
from shiftfill.services.ports import ClientHeld, DuplicateKey

LISTS = ("preferred_caregiver_ids", "excluded_caregiver_ids")


def new_client(record: Mapping[str, Any]) -> Client:
    """Make a client from validated fields, with a new id when none is given."""
    return Client(
        id=record.get("id") or uuid.uuid4().hex,
        organization_id=record["organization_id"],
        name=record["name"],
        location=record.get("location"),
        preferred_caregiver_ids=tuple(dict.fromkeys(record.get("preferred_caregiver_ids", ()))),
        excluded_caregiver_ids=tuple(dict.fromkeys(record.get("excluded_caregiver_ids", ()))),
    )


def check_client(deps: Dependencies, client: Client, known: set[str] | None = None) -> None:
    """``Invalid`` when the client's organization or a caregiver it lists does not exist.

    ``known`` are caregiver and organization ids about to be added with it (a seed).
    """
    known = known or set()
    if client.organization_id not in known and not find_organization(deps, client.organization_id):
        message = f"No organization with id {client.organization_id}."
        raise Invalid(message, {"organization_id": [message]})
    for field in LISTS:
        ids = getattr(client, field)
        stored = {c.id for c in deps.store.caregivers.get_many(ids)}
        missing = [cid for cid in ids if cid not in stored and cid not in known]
        if missing:
            message = f"No caregiver with id {missing[0]}."
            raise Invalid(message, {field: [message]})


def create_client(deps: Dependencies, **fields: Any) -> Client:
    """Add a client of an existing organization; the caregivers it lists must exist."""
    client = new_client(fields)
    check_client(deps, client)
    try:
        deps.store.clients.add(client)
    except DuplicateKey as exc:
        raise Conflict(f"A client with id {exc.value} already exists.") from exc
    return client


def get_client(deps: Dependencies, client_id: str) -> Client:
    """Return one client or raise ``NotFound``."""
    client = deps.store.clients.get(client_id)
    if client is None:
        raise NotFound(f"No client with id {client_id}.")
    return client


def list_clients(deps: Dependencies, organization_id: str | None = None) -> list[Client]:
    """List clients, optionally of one organization."""
    return deps.store.clients.all(organization_id)


def update_client(deps: Dependencies, client_id: str, changes: Mapping[str, Any]) -> Client:
    """Change any field of a client but its id; a claim decided after it honours it.

    A client named by an open shift stays in that shift's organization (``Conflict``):
    moved, their lists would be another agency's to edit while this one's fanouts,
    claims and sends still follow them.
    """
    values = dict(changes)
    for field in LISTS:
        if field in values:
            values[field] = tuple(dict.fromkeys(values[field]))
    current = get_client(deps, client_id)
    check_client(deps, replace(current, **values))
    try:
        # The store judges the move (``rules.shifts_holding``) in the step that writes it.
        return deps.store.clients.update(client_id, lambda c: replace(c, **values))
    except KeyError:
        raise NotFound(f"No client with id {client_id}.") from None
    except ClientHeld as exc:
        raise Conflict(
            f"Client {client_id} has open shifts in organization "
            f"{exc.organization_id} ({', '.join(exc.shift_ids)}): fill or cancel them"
            " first, or add the client to the other organization as a new client."
        ) from exc
