"""``/clients``: an agency's patients, whom they prefer and whom they refuse."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.clients.schemas import (
    ClientCreateSchema,
    ClientPatchSchema,
    ClientQuerySchema,
    ClientSchema,
)
from shiftfill.api.context import services
from shiftfill.domain.model import Client
from shiftfill.services import clients

blp = Blueprint(
    "clients",
    __name__,
    url_prefix="/clients",
    description="Clients: place, preferred and excluded caregivers",
)


@blp.get("")
@blp.doc(operationId="listClients")
@blp.arguments(ClientQuerySchema, location="query", as_kwargs=True, unknown=ma.RAISE)
@blp.response(200, ClientSchema(many=True))
def list_clients(organization_id: str | None = None) -> list[Client]:
    """List clients, optionally of one organization."""
    return clients.list_clients(services(), organization_id)


@blp.post("")
@blp.doc(operationId="createClient")
@blp.arguments(ClientCreateSchema)
@blp.response(201, ClientSchema)
@blp.errors(409)
def create_client(data: dict[str, Any]) -> Client:
    """Add a client of an existing organization; every caregiver it lists must exist."""
    return clients.create_client(services(), **data)


@blp.get("/<client_id>")
@blp.doc(operationId="getClient")
@blp.response(200, ClientSchema)
@blp.errors(404)
def get_client(client_id: str) -> Client:
    """Show one client."""
    return clients.get_client(services(), client_id)


@blp.patch("/<client_id>")
@blp.doc(operationId="updateClient")
@blp.arguments(ClientPatchSchema)
@blp.response(200, ClientSchema)
@blp.errors(404, 409)
def update_client(data: dict[str, Any], client_id: str) -> Client:
    """Change any field but the id; claims decided after it follow it."""
    return clients.update_client(services(), client_id, data)
