"""TwiML answers to the provider's webhooks, built with Twilio's own builders."""

from __future__ import annotations

from functools import lru_cache

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from shiftfill.domain.model import Channel


def twiml_reply(text: str, channel: Channel) -> Response:
    """Answer with ``<Message>`` on an SMS and ``<Say>`` on a call."""
    return Response(_render(text, channel), mimetype="text/xml")


@lru_cache(maxsize=4096)
def _render(text: str, channel: Channel) -> str:
    # The same few answers ("filled", "confirmed"...) repeat for every caregiver
    # of a shift; building the XML tree each time was a tenth of a reply's cost.
    response: MessagingResponse | VoiceResponse
    if channel is Channel.CALL:
        response = VoiceResponse()
        response.say(text)
    else:
        response = MessagingResponse()
        response.message(text)
    return str(response)
