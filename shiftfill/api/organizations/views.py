"""``/organizations``: the agencies shifts belong to, with their time zone and hours cap."""

from __future__ import annotations

from typing import Any

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.context import services
from shiftfill.api.organizations.schemas import (
    OrganizationCreateSchema,
    OrganizationPatchSchema,
    OrganizationSchema,
)
from shiftfill.domain.model import Organization
from shiftfill.services import organizations

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/organizations",
    description="Organizations: time zone and weekly hours cap",
)


@blp.get("")
@blp.doc(operationId="listOrganizations")
@blp.no_filters()
@blp.response(200, OrganizationSchema(many=True))
def list_organizations() -> list[Organization]:
    """List organizations; `default` is always there."""
    return organizations.list_organizations(services())


@blp.post("")
@blp.doc(operationId="createOrganization")
@blp.arguments(OrganizationCreateSchema)
@blp.response(201, OrganizationSchema)
@blp.errors(409)
def create_organization(data: dict[str, Any]) -> Organization:
    """Add an organization with an IANA time zone and an optional weekly hours cap."""
    return organizations.create_organization(services(), **data)


@blp.get("/<organization_id>")
@blp.doc(operationId="getOrganization")
@blp.response(200, OrganizationSchema)
@blp.errors(404)
def get_organization(organization_id: str) -> Organization:
    """Show one organization."""
    return organizations.get_organization(services(), organization_id)


@blp.patch("/<organization_id>")
@blp.doc(operationId="updateOrganization")
@blp.arguments(OrganizationPatchSchema)
@blp.response(200, OrganizationSchema)
@blp.errors(404)
def update_organization(data: dict[str, Any], organization_id: str) -> Organization:
    """Change an organization's name, time zone or cap; later texts and claims follow it."""
    return organizations.update_organization(services(), organization_id, data)
