"""The bodies of ``/organizations/<id>/webhooks``: endpoints and their deliveries."""

from __future__ import annotations

import marshmallow as ma

from shiftfill.domain.webhooks import EVENTS

_STATUSES = ["pending", "delivered", "failed"]


EVENTS_GIVEN_MAX = 64


class WebhookCreateSchema(ma.Schema):
    url = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2048),
        metadata={"description": "https:// address the events are posted to"},
    )
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        required=True,
        # Room for a name given twice (kept once); bounded all the same.
        validate=ma.validate.Length(min=1, max=EVENTS_GIVEN_MAX),
        metadata={"description": f"Any of {', '.join(EVENTS)}; a name given twice counts once"},
    )


class WebhookSchema(ma.Schema):
    id = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(), required=True)
    enabled = ma.fields.Boolean(required=True)
    created_at = ma.fields.DateTime(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(
        required=True,
        metadata={"description": "Signing secret (whsec_...), shown only in this answer"},
    )


class DeliverySchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The webhook-id header"})
    event = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": _STATUSES})
    attempts = ma.fields.Integer(required=True)
    last_status_code = ma.fields.Integer(required=True, allow_none=True)
    last_error = ma.fields.String(required=True, allow_none=True)
    next_attempt_at = ma.fields.DateTime(required=True, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
