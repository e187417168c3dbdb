"""TwiML answers to the provider's webhooks, built with Twilio's own builders."""

from __future__ import annotations

from functools import lru_cache

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from shiftfill.domain.model import Channel


def twiml_reply(text: str, channel: Channel, language: str = "en-US") -> Response:
    """Answer with ``<Message>`` on an SMS and ``<Say>`` in ``language`` on a call."""
    return Response(_render(text, channel, language), mimetype="text/xml")


@lru_cache(maxsize=4096)
def _render(text: str, channel: Channel, language: str) -> str:
    # The same few answers ("filled", "confirmed"...) repeat for every caregiver
    # of a shift; building the XML tree each time was a tenth of a reply's cost.
    response: MessagingResponse | VoiceResponse
    if channel is Channel.CALL:
        response = VoiceResponse()
        # Twilio speaks en-US unless told otherwise: English TwiML stays as it always was.
        response.say(text, **({} if language == "en-US" else {"language": language}))
    else:
        response = MessagingResponse()
        response.message(text)
    return str(response)
