"""``/messages/inbound``: caregivers' replies, from the provider's webhook or as JSON."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import marshmallow as ma
from flask import Response, request

from shiftfill.api.blueprint import Blueprint, reject
from shiftfill.api.context import services
from shiftfill.api.messages.schemas import (
    InboundJsonSchema,
    InboundResultSchema,
    TwilioWebhookSchema,
)
from shiftfill.domain.model import Channel
from shiftfill.services.inbound import InboundMessage, InboundResult, handle_inbound

blp = Blueprint("messages", __name__, url_prefix="/messages", description="Inbound replies")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_REQUEST_BODY = {
    "required": True,
    "content": {
        JSON: {"schema": InboundJsonSchema},
        FORM: {"schema": TwilioWebhookSchema},
    },
}


@blp.post("/inbound")
@blp.doc(requestBody=_REQUEST_BODY)
@blp.response(200, InboundResultSchema, description="JSON in, JSON out; a form in, TwiML out.")
@blp.errors(400, 422)
def inbound() -> InboundResult | Response:
    """Handle a caregiver's reply: accept, decline, STOP, HELP, or something else."""
    if request.mimetype == FORM:
        message = _from_webhook(_load(TwilioWebhookSchema(), request.form.to_dict()))
        return _twiml(handle_inbound(services(), message), message.channel)
    if request.mimetype == JSON:
        data = request.get_json(silent=True)
        if data is None:
            reject(400, "Invalid JSON body.")
        return handle_inbound(services(), InboundMessage(**_load(InboundJsonSchema(), data)))
    reject(400, f"Content-Type must be {JSON} or {FORM}.")


def _load(schema: ma.Schema, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
        return loaded
    except ma.ValidationError as exc:
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        reject(422, "The request is invalid; see fields.", errors={"body": fields})


def _from_webhook(data: dict[str, Any]) -> InboundMessage:
    """Turn Twilio's parameters into a message; a call's keypad or speech is its body."""
    if "CallSid" in data and "Body" not in data:
        said = data.get("Digits") or data.get("SpeechResult") or ""
        # One call can gather more than once; a re-delivery repeats the same input.
        return InboundMessage(
            sender=data["From"],
            body=said,
            channel=Channel.CALL,
            message_id=f"{data['CallSid']}:{said}",
        )
    return InboundMessage(sender=data["From"], body=data["Body"], message_id=data.get("MessageSid"))


def _twiml(result: InboundResult, channel: Channel) -> Response:
    verb = "Say" if channel is Channel.CALL else "Message"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><{verb}>{escape(result.reply)}</{verb}></Response>"
    )
    return Response(xml, mimetype="text/xml")
