"""``/organizations/<id>/webhooks``: where the agency's own systems hear of fills and alarms."""

from __future__ import annotations

from typing import Any

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.context import services
from shiftfill.api.webhooks.schemas import (
    DeliverySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
)
from shiftfill.domain.webhooks import Delivery, Webhook
from shiftfill.services import webhooks

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/organizations",
    description="Signed outbound webhooks to the agency's own systems",
)


@blp.post("/<organization_id>/webhooks")
@blp.doc(operationId="createWebhook")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookCreatedSchema)
@blp.errors(404)
def create_webhook(data: dict[str, Any], organization_id: str) -> Webhook:
    """Add an endpoint; the answer carries its signing secret, shown only here."""
    return webhooks.create_webhook(services(), organization_id, data["url"], data["events"])


@blp.get("/<organization_id>/webhooks")
@blp.doc(operationId="listWebhooks")
@blp.no_filters()
@blp.response(200, WebhookSchema(many=True))
@blp.errors(404)
def list_webhooks(organization_id: str) -> list[Webhook]:
    """List an organization's endpoints, without their secrets."""
    return webhooks.list_webhooks(services(), organization_id)


@blp.delete("/<organization_id>/webhooks/<webhook_id>")
@blp.doc(operationId="deleteWebhook")
@blp.response(204, description="Deleted, with its pending deliveries.")
@blp.errors(404)
def delete_webhook(organization_id: str, webhook_id: str) -> None:
    """Delete an endpoint; its pending deliveries are not sent."""
    webhooks.delete_webhook(services(), organization_id, webhook_id)


@blp.get("/<organization_id>/webhooks/<webhook_id>/deliveries")
@blp.doc(operationId="listWebhookDeliveries")
@blp.no_filters()
@blp.response(200, DeliverySchema(many=True))
@blp.errors(404)
def list_deliveries(organization_id: str, webhook_id: str) -> list[Delivery]:
    """An endpoint's deliveries, newest first."""
    return webhooks.list_deliveries(services(), organization_id, webhook_id)
