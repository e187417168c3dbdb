"""The two shapes of an inbound message, and the JSON answer."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.adapters import twilio_notifier as twilio
from shiftfill.domain.model import Channel, DeliveryReport
from shiftfill.domain.rules import Outcome


class InboundJsonSchema(ma.Schema):
    """An inbound message posted as JSON by the ops dashboard or a test harness."""

    sender = ma.fields.String(
        required=True,
        data_key="from",
        validate=ma.validate.Length(min=1),
        metadata={"example": "+15555550101"},
    )
    body = ma.fields.String(required=True, metadata={"example": "yes"})
    shift_id = ma.fields.String(load_default=None)
    message_id = ma.fields.String(load_default=None)
    channel = ma.fields.Enum(Channel, by_value=True, load_default=Channel.SMS)


class ProviderParamsSchema(ma.Schema):
    """Parameters of a provider callback; Twilio sends many more, which are ignored."""

    class Meta:
        unknown = ma.EXCLUDE


class TwilioWebhookSchema(ProviderParamsSchema):
    """An SMS (``MessageSid``, ``Body``) or a gathered call reply (``CallSid``, ``Digits`` or
    ``SpeechResult``) in Twilio's parameter names. Twilio's other parameters are ignored."""

    From = ma.fields.String(required=True, validate=ma.validate.Length(min=1))
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


class StatusCallbackSchema(ProviderParamsSchema):
    """A delivery report: ``MessageSid`` + ``MessageStatus``, or ``CallSid`` + ``CallStatus``."""

    MessageSid = ma.fields.String()
    MessageStatus = ma.fields.String()
    CallSid = ma.fields.String()
    CallStatus = ma.fields.String()
    ErrorCode = ma.fields.String()

    @ma.validates_schema
    def names_a_message_or_call(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (
            {"MessageSid", "MessageStatus"} <= data.keys()
            or {"CallSid", "CallStatus"} <= data.keys()
        ):
            raise ma.ValidationError(
                "Send MessageSid with MessageStatus, or CallSid with CallStatus.",
                field_name="_schema",
            )

    @ma.post_load
    def to_report(self, data: dict[str, Any], **kwargs: Any) -> DeliveryReport:
        if "MessageSid" in data and "MessageStatus" in data:
            return twilio.message_report(
                data["MessageSid"], data["MessageStatus"], data.get("ErrorCode")
            )
        return twilio.call_report(data["CallSid"], data["CallStatus"], data.get("ErrorCode"))


class GatherSchema(ProviderParamsSchema):
    """The provider's callback after a ``<Gather>`` on a call shiftfill placed."""

    CallSid = ma.fields.String(required=True)
    To = ma.fields.String()
    Digits = ma.fields.String()
    SpeechResult = ma.fields.String()
