"""``/messages``: caregivers' replies (provider webhook or JSON) and delivery reports."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request

from shiftfill.api.blueprint import INVALID_JSON, Blueprint, reject, request_json
from shiftfill.api.context import services
from shiftfill.api.messages.schemas import (
    CallReplySchema,
    InboundJsonSchema,
    InboundResultSchema,
    SmsReplySchema,
    StatusCallbackSchema,
    is_call_reply,
)
from shiftfill.api.twiml import twiml_reply
from shiftfill.domain.model import Channel, DeliveryReport
from shiftfill.domain.replies import speech_locale
from shiftfill.services.delivery import record_delivery_report
from shiftfill.services.inbound import (
    InboundMessage,
    handle_call_reply,
    handle_inbound,
)

blp = Blueprint("messages", __name__, url_prefix="/messages", description="Inbound replies")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Built once: a marshmallow schema is reusable, and building one per request is slow.
SMS_REPLY = SmsReplySchema()
CALL_REPLY = CallReplySchema()
INBOUND_JSON = InboundJsonSchema()
INBOUND_RESULT = InboundResultSchema()

PROVIDER_SECURITY: list[dict[str, list[str]]] = [{"twilioSignature": []}]

_REQUEST_BODY = {
    "required": True,
    "content": {
        JSON: {"schema": InboundJsonSchema},
        # anyOf: a text's reply may carry a call's parameters too, and is then a text.
        FORM: {"schema": {"anyOf": [SmsReplySchema, CallReplySchema]}},
    },
}


@blp.post("/inbound")
@blp.doc(
    operationId="postInboundMessage",
    requestBody=_REQUEST_BODY,
    security=[{"bearerAuth": []}, *PROVIDER_SECURITY],
    responses={
        "200": {
            "description": "JSON in, JSON out; a form in, TwiML out.",
            "content": {
                JSON: {"schema": InboundResultSchema},
                "text/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
@blp.errors(422)
def inbound() -> dict[str, Any] | Response:
    """Handle a caregiver's reply: accept, decline, STOP, HELP, or something else."""
    # The 200 is documented above, for both shapes, and the JSON one is dumped here:
    # flask-smorest's ``response`` would wrap the view in a call on every provider
    # reply, the busiest request (docs/performance.md, "The reply path").
    if request.mimetype == FORM:
        form = request.form.to_dict()
        if is_call_reply(form):
            call = load(CALL_REPLY, form)
            return answer_on_call(call, fallback_phone=call["From"])
        data = load(SMS_REPLY, form)
        message = InboundMessage(
            sender=data["From"], body=data["Body"], message_id=data.get("MessageSid")
        )
        return twiml_reply(handle_inbound(services(), message).reply, Channel.SMS)
    if request.mimetype == JSON:
        payload = request_json()
        if payload is None:
            reject(400, INVALID_JSON)
        result = handle_inbound(services(), InboundMessage(**load(INBOUND_JSON, payload)))
        return INBOUND_RESULT.dump(result)
    reject(400, f"Content-Type must be {JSON} or {FORM}.")


@blp.post("/status")
@blp.doc(operationId="postDeliveryStatus", security=PROVIDER_SECURITY)
@blp.arguments(StatusCallbackSchema, location="form")
@blp.response(204, description="Report applied, or ignored when stale or unknown.")
def status_callback(report: DeliveryReport) -> None:
    """Take the provider's delivery report for a text or a call."""
    record_delivery_report(services(), report)


def answer_on_call(data: dict[str, Any], fallback_phone: str | None) -> Response:
    """Act on a keypad press or spoken answer (Twilio's ``Digits``, ``SpeechResult``); TwiML."""
    said = data.get("Digits") or data.get("SpeechResult") or ""
    result = handle_call_reply(
        services(), call_sid=data["CallSid"], said=said, fallback_phone=fallback_phone
    )
    return twiml_reply(result.reply, Channel.CALL, speech_locale(result.language))


def load(schema: ma.Schema, data: Any) -> dict[str, Any]:
    """Validate ``data`` with ``schema`` or stop the request with a 422 naming the fields."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ma.ValidationError as exc:
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        reject(422, "The request is invalid; see fields.", errors={"body": fields})
    return loaded
