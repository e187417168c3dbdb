"""Request and response bodies of the shifts endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.fields import Id, Ids, Role, UtcDateTime
from shiftfill.domain.model import (
    DEFAULT_ORGANIZATION_ID,
    Channel,
    EventType,
    NotificationStatus,
    ShiftStatus,
)


class ShiftCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    organization_id = Id(
        load_default=DEFAULT_ORGANIZATION_ID,
        metadata={"description": "An existing organization; `default` when absent"},
    )
    role_required = Role(required=True, metadata={"example": "RN"})
    start_time = UtcDateTime(required=True)
    end_time = UtcDateTime(required=True)

    @ma.validates_schema
    def ends_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and end <= start:
            raise ma.ValidationError("Must be after start_time.", field_name="end_time")


class FanoutSchema(ma.Schema):
    started_at = ma.fields.DateTime()
    offer_code = ma.fields.String()
    escalation_due_at = ma.fields.DateTime()
    escalated_at = ma.fields.DateTime(allow_none=True)
    round = ma.fields.String(metadata={"enum": ["sms", "phone"]})
    no_one_qualified = ma.fields.Boolean(
        metadata={"description": "True when nobody qualified: the fanout texted no one"}
    )
    offered_caregiver_ids = Ids()
    declined_caregiver_ids = Ids()


class ShiftSchema(ma.Schema):
    id = ma.fields.String()
    organization_id = ma.fields.String()
    role_required = ma.fields.String()
    start_time = ma.fields.DateTime()
    end_time = ma.fields.DateTime()
    status = ma.fields.String(metadata={"enum": [s.value for s in ShiftStatus]})
    assigned_caregiver_id = ma.fields.String(allow_none=True)
    filled_at = ma.fields.DateTime(allow_none=True)
    fanout = ma.fields.Nested(FanoutSchema, allow_none=True)


class ShiftQuerySchema(ma.Schema):
    status = ma.fields.Enum(ShiftStatus, by_value=True)
    role = Role()
    organization_id = Id()


class NotificationSchema(ma.Schema):
    id = ma.fields.String()
    shift_id = ma.fields.String()
    caregiver_id = ma.fields.String()
    channel = ma.fields.String(metadata={"enum": [c.value for c in Channel]})
    status = ma.fields.String(metadata={"enum": [s.value for s in NotificationStatus]})
    attempts = ma.fields.Integer()
    queued_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    error = ma.fields.String(allow_none=True)
    provider_id = ma.fields.String(
        allow_none=True, metadata={"description": "The provider's MessageSid or CallSid"}
    )


class EventSchema(ma.Schema):
    at = ma.fields.DateTime()
    type = ma.fields.String(metadata={"enum": [t.value for t in EventType]})
    caregiver_id = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict()
