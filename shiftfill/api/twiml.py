"""TwiML answers to the provider's webhooks, built with Twilio's own builders."""

from __future__ import annotations

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from shiftfill.domain.model import Channel


def twiml_reply(text: str, channel: Channel) -> Response:
    """Answer with ``<Message>`` on an SMS and ``<Say>`` on a call."""
    response: MessagingResponse | VoiceResponse
    if channel is Channel.CALL:
        response = VoiceResponse()
        response.say(text)
    else:
        response = MessagingResponse()
        response.message(text)
    return Response(str(response), mimetype="text/xml")
