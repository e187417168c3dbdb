"""The two shapes of an inbound message, and the JSON answer."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.domain.model import Channel
from shiftfill.domain.rules import Outcome


class InboundJsonSchema(ma.Schema):
    """An inbound message posted as JSON by the ops dashboard or a test harness."""

    sender = ma.fields.String(required=True, data_key="from", metadata={"example": "+15555550101"})
    body = ma.fields.String(required=True, metadata={"example": "yes"})
    shift_id = ma.fields.String(load_default=None)
    message_id = ma.fields.String(load_default=None)
    channel = ma.fields.Enum(Channel, by_value=True, load_default=Channel.SMS)


class TwilioWebhookSchema(ma.Schema):
    """An SMS (``MessageSid``, ``Body``) or a gathered call reply (``CallSid``, ``Digits`` or
    ``SpeechResult``) in Twilio's parameter names. Twilio's other parameters are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    From = ma.fields.String(required=True)
    Body = ma.fields.String()
    MessageSid = ma.fields.String()
    CallSid = ma.fields.String()
    Digits = ma.fields.String()
    SpeechResult = ma.fields.String()

    @ma.validates_schema
    def has_a_reply(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "Body" in data:
            return
        if "CallSid" in data and ("Digits" in data or "SpeechResult" in data):
            return
        raise ma.ValidationError(
            "Missing data for required field (or CallSid with Digits or SpeechResult).",
            field_name="Body",
        )


class InboundResultSchema(ma.Schema):
    outcome = ma.fields.String(metadata={"enum": [o.value for o in Outcome]})
    shift_id = ma.fields.String(allow_none=True)
    caregiver_id = ma.fields.String(allow_none=True)
    reply = ma.fields.String()
