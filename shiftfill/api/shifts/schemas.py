"""Request and response bodies of the shifts endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.clients.schemas import codes_field
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
    client_id = Id(
        allow_none=True,
        load_default=None,
        metadata={"description": "A client of the shift's organization"},
    )
    required_credentials = codes_field(
        load_default=list, metadata={"description": "Credential codes the caregiver must hold"}
    )

    @ma.validates_schema
    def ends_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and end <= start:
            raise ma.ValidationError("Must be after start_time.", field_name="end_time")


class FanoutSchema(ma.Schema):
    started_at = ma.fields.DateTime(required=True)
    offer_code = ma.fields.String(required=True)
    escalation_due_at = ma.fields.DateTime(required=True)
    escalated_at = ma.fields.DateTime(required=True, allow_none=True)
    round = ma.fields.String(required=True, metadata={"enum": ["sms", "phone"]})
    no_one_qualified = ma.fields.Boolean(
        required=True,
        metadata={"description": "True when nobody qualified: the fanout texted no one"},
    )
    offered_caregiver_ids = Ids(required=True)
    declined_caregiver_ids = Ids(required=True)
    waves_sent = ma.fields.Integer(
        required=True, metadata={"description": "Waves texted so far; 1 without waves"}
    )
    next_wave_at = ma.fields.DateTime(
        required=True, allow_none=True, metadata={"description": "null when no wave is due"}
    )


class ShiftSchema(ma.Schema):
    id = ma.fields.String(required=True)
    organization_id = ma.fields.String(required=True)
    role_required = ma.fields.String(required=True)
    start_time = ma.fields.DateTime(required=True)
    end_time = ma.fields.DateTime(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in ShiftStatus]})
    assigned_caregiver_id = ma.fields.String(required=True, allow_none=True)
    filled_at = ma.fields.DateTime(required=True, allow_none=True)
    fanout = ma.fields.Nested(FanoutSchema, required=True, allow_none=True)
    client_id = ma.fields.String(required=True, allow_none=True)
    required_credentials = ma.fields.List(ma.fields.String(), required=True)


class CandidateSchema(ma.Schema):
    rank = ma.fields.Integer(required=True)
    caregiver_id = ma.fields.String(required=True)
    preferred = ma.fields.Boolean(required=True)
    shifts_with_client = ma.fields.Integer(
        required=True, metadata={"description": "Of this client, in the 90 days before the shift"}
    )
    distance_miles = ma.fields.Float(required=True, allow_none=True)
    week_hours = ma.fields.Float(required=True)


LEFT_OUT_REASONS = [
    "shift_closed",
    "role",
    "opted_out",
    "inactive",
    "conflict",
    "over_hours",
    "excluded",
    "out_of_range",
    "credential_missing",
    "credential_expired",
]


class LeftOutSchema(ma.Schema):
    caregiver_id = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, metadata={"enum": LEFT_OUT_REASONS})


class CandidatesSchema(ma.Schema):
    shift_id = ma.fields.String(required=True)
    qualified = ma.fields.List(ma.fields.Nested(CandidateSchema), required=True)
    left_out = ma.fields.List(ma.fields.Nested(LeftOutSchema), required=True)


class ShiftQuerySchema(ma.Schema):
    status = ma.fields.Enum(ShiftStatus, by_value=True)
    role = Role()
    organization_id = Id()


class NotificationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    shift_id = ma.fields.String(required=True)
    caregiver_id = ma.fields.String(required=True)
    channel = ma.fields.String(required=True, metadata={"enum": [c.value for c in Channel]})
    status = ma.fields.String(
        required=True, metadata={"enum": [s.value for s in NotificationStatus]}
    )
    attempts = ma.fields.Integer(required=True)
    queued_at = ma.fields.DateTime(required=True)
    sent_at = ma.fields.DateTime(required=True, allow_none=True)
    error = ma.fields.String(required=True, allow_none=True)
    provider_id = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The provider's MessageSid or CallSid"},
    )


class EventSchema(ma.Schema):
    at = ma.fields.DateTime(required=True)
    type = ma.fields.String(required=True, metadata={"enum": [t.value for t in EventType]})
    caregiver_id = ma.fields.String(required=True, allow_none=True)
    detail = ma.fields.Dict(required=True)
