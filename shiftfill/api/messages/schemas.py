"""The two shapes of an inbound message, and the JSON answer."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from shiftfill.adapters import twilio_notifier as twilio
from shiftfill.api.fields import FullMatch, Id, Line, MessageId, ReplyText
from shiftfill.domain.model import Channel, DeliveryReport
from shiftfill.domain.rules import Outcome


class InboundJsonSchema(ma.Schema):
    """An inbound message posted as JSON by the ops dashboard or a test harness."""

    sender = Line(
        required=True,
        data_key="from",
        validate=ma.validate.Length(min=1),
        metadata={"example": "+15555550101"},
    )
    body = ReplyText(
        required=True,
        metadata={"example": "yes", "description": "Kept cut to 1,600 characters"},
    )
    shift_id = Id(load_default=None)
    message_id = MessageId(load_default=None)
    channel = ma.fields.Enum(Channel, by_value=True, load_default=Channel.SMS)


# Keys pressed on a call: shiftfill asks for one, a caregiver may press a few.
DIGITS = re.compile(r"^[0-9*#]{0,32}$")


class ProviderParamsSchema(ma.Schema):
    """Parameters of a provider callback; Twilio sends many more, which are ignored."""

    class Meta:
        unknown = ma.EXCLUDE


# A form with neither reply is answered as a text without its ``Body``.
NO_REPLY = "Missing data for required field (or CallSid with Digits or SpeechResult)."


class ProviderReplySchema(ProviderParamsSchema):
    """A caregiver's reply posted by the provider: the number it came ``From``."""

    From = Line(required=True, validate=ma.validate.Length(min=1))


class SmsReplySchema(ProviderReplySchema):
    """A text's reply in Twilio's parameter names: ``From``, ``Body``, ``MessageSid``.

    The provider's busiest request: it loads only what a text's reply uses, and
    Twilio's other parameters are ignored.
    """

    Body = ReplyText(required=True, error_messages={"required": NO_REPLY})
    MessageSid = MessageId()


class CallReplySchema(ProviderReplySchema):
    """A call's gathered reply in Twilio's parameter names: ``CallSid`` with ``Digits``
    or ``SpeechResult``, and the ``From`` it came from."""

    CallSid = MessageId(required=True)
    Digits = ma.fields.String(validate=FullMatch(DIGITS, error="Keys 0-9, * and # only."))
    SpeechResult = ReplyText()

    @ma.validates_schema
    def has_a_reply(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "Digits" not in data and "SpeechResult" not in data:
            raise ma.ValidationError(NO_REPLY, field_name="Body")


def is_call_reply(form: dict[str, str]) -> bool:
    """A form is a call's reply when it names a call and carries no text."""
    return "CallSid" in form and "Body" not in form


class InboundResultSchema(ma.Schema):
    outcome = ma.fields.String(required=True, metadata={"enum": [o.value for o in Outcome]})
    shift_id = ma.fields.String(required=True, allow_none=True)
    caregiver_id = ma.fields.String(required=True, allow_none=True)
    reply = ma.fields.String(required=True)


class StatusCallbackSchema(ProviderParamsSchema):
    """A delivery report: ``MessageSid`` + ``MessageStatus``, or ``CallSid`` + ``CallStatus``."""

    MessageSid = MessageId()
    MessageStatus = Line()
    CallSid = MessageId()
    CallStatus = Line()
    ErrorCode = Line(max_length=16)

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

    CallSid = MessageId(required=True)
    To = Line()
    Digits = ma.fields.String(validate=FullMatch(DIGITS, error="Keys 0-9, * and # only."))
    SpeechResult = ReplyText()
