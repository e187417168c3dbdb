"""Twilio: sending through its Messages and Calls APIs, and reading its status words.

Everything that speaks Twilio's vocabulary (status names, error codes, the
paths its callbacks come to) is here; the rest of shiftfill sees domain terms.
"""

from __future__ import annotations

import logging

from requests import RequestException
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from shiftfill.domain.model import DeliveryReport, NotificationStatus
from shiftfill.phones import mask
from shiftfill.services.ports import NotifierError

log = logging.getLogger(__name__)
# The client logs each request's parameters at INFO, whole phone numbers included.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

STATUS_PATH = "/messages/status"
GATHER_PATH = "/voice/gather"

# Twilio's words for where a message or call stands. Words not listed (queued,
# sending, ringing, in-progress...) are steps on the way and change nothing.
MESSAGE_STATUSES = {
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "read": NotificationStatus.DELIVERED,
    "undelivered": NotificationStatus.UNDELIVERED,
    "failed": NotificationStatus.FAILED,
}
CALL_STATUSES = {
    "completed": NotificationStatus.DELIVERED,
    "busy": NotificationStatus.UNDELIVERED,
    "no-answer": NotificationStatus.UNDELIVERED,
    "canceled": NotificationStatus.UNDELIVERED,
    "failed": NotificationStatus.FAILED,
}
# The language of <Say> and <Gather> when TwiML names none.
TWILIO_DEFAULT_LANGUAGE = "en-US"
# Twilio's error for a recipient who texted STOP to Twilio itself.
UNSUBSCRIBED_RECIPIENT = "21610"


def message_report(message_sid: str, status: str, error_code: str | None) -> DeliveryReport:
    """Read a message's status callback."""
    return _report(message_sid, MESSAGE_STATUSES.get(status), error_code)


def call_report(call_sid: str, status: str, error_code: str | None) -> DeliveryReport:
    """Read a call's status callback."""
    return _report(call_sid, CALL_STATUSES.get(status), error_code)


def _report(sid: str, status: NotificationStatus | None, error_code: str | None) -> DeliveryReport:
    return DeliveryReport(
        provider_id=sid,
        status=status,
        error=f"provider error {error_code}" if error_code else None,
        unsubscribed=error_code == UNSUBSCRIBED_RECIPIENT,
    )


class TwilioNotifier:
    """Sends through Twilio's REST API (or a Twilio-compatible one at ``api_base``).

    Every message asks for status callbacks at ``public_base_url``; every call reads
    the offer inside a ``<Gather>`` whose answer comes back to ``/voice/gather``.
    """

    waits = True  # each send is an HTTP request to the provider

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        public_base_url: str,
        from_number: str,
        messaging_service_sid: str = "",
        api_base: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        self._client = Client(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout)
        )
        self._client.api.base_url = api_base.rstrip("/")
        self._public = public_base_url.rstrip("/")
        self._from = from_number
        self._messaging_service = messaging_service_sid

    def send_sms(self, to: str, body: str) -> str:
        sender = (
            {"messaging_service_sid": self._messaging_service}
            if self._messaging_service
            else {"from_": self._from}
        )
        try:
            message = self._client.messages.create(
                to=to, body=body, status_callback=self._public + STATUS_PATH, **sender
            )
        except (TwilioRestException, RequestException) as exc:
            raise _provider_error("sms", to, exc) from exc
        return str(message.sid)

    def place_call(self, to: str, script: str, goodbye: str, *, language: str = "en-US") -> str:
        try:
            call = self._client.calls.create(
                to=to,
                from_=self._from,
                twiml=str(self.call_twiml(script, goodbye, language)),
                status_callback=self._public + STATUS_PATH,
            )
        except (TwilioRestException, RequestException) as exc:
            raise _provider_error("call", to, exc) from exc
        return str(call.sid)

    def call_twiml(self, script: str, goodbye: str, language: str = "en-US") -> VoiceResponse:
        """The call: the offer read inside a one-key or spoken ``<Gather>``, in ``language``.

        The ``<Gather>`` listens in the same language the ``<Say>`` speaks; en-US,
        Twilio's default for both, is left implicit.
        """
        spoken = {} if language == TWILIO_DEFAULT_LANGUAGE else {"language": language}
        response = VoiceResponse()
        gather = response.gather(
            input="speech dtmf",
            num_digits=1,
            action=self._public + GATHER_PATH,
            method="POST",
            speech_timeout="auto",
            **spoken,
        )
        gather.say(script, **spoken)
        response.say(goodbye, **spoken)
        return response


def _provider_error(channel: str, to: str, exc: Exception) -> NotifierError:
    if isinstance(exc, TwilioRestException):
        transient = exc.status >= 500 or exc.status == 429
        code = f" {exc.code}" if exc.code else ""
        message = f"twilio {exc.status}{code}: {exc.msg}"
    else:
        transient = True
        message = f"twilio unreachable: {type(exc).__name__}"
    log.warning("%s to %s failed: %s", channel, mask(to), message)
    return NotifierError(message, transient=transient)
