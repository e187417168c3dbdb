"""The Twilio notifier against a fake Twilio API, through real HTTP from the twilio client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shiftfill.adapters import twilio_notifier
from shiftfill.adapters.twilio_notifier import TwilioNotifier
from shiftfill.domain.model import DeliveryReport
from shiftfill.services.ports import NotifierError
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, basic_auth

PUBLIC = "https://shiftfill.example.com"
OURS = "+15555550100"
ANA = "+15555550101"


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi().start()
    yield api
    api.stop()


def notifier(twilio: FakeTwilioApi, messaging_service_sid: str = "") -> TwilioNotifier:
    return TwilioNotifier(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC,
        from_number=OURS,
        messaging_service_sid=messaging_service_sid,
        api_base=twilio.base_url,
    )


def test_sms_goes_to_the_messages_api_with_a_status_callback(twilio: FakeTwilioApi) -> None:
    sid = notifier(twilio).send_sms(ANA, "Reply YES 4821")
    [request] = twilio.messages()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorization == basic_auth()
    assert request.params == {
        "To": ANA,
        "From": OURS,
        "Body": "Reply YES 4821",
        "StatusCallback": f"{PUBLIC}/messages/status",
    }
    assert sid == "SM" + "1".rjust(32, "0")


def test_sms_uses_the_messaging_service_when_configured(twilio: FakeTwilioApi) -> None:
    notifier(twilio, messaging_service_sid="MG123").send_sms(ANA, "hi")
    [request] = twilio.messages()
    assert request.params["MessagingServiceSid"] == "MG123"
    assert "From" not in request.params


def test_call_carries_twiml_that_gathers_an_answer_to_our_endpoint(twilio: FakeTwilioApi) -> None:
    sid = notifier(twilio).place_call(
        ANA, "Open RN shift. Press 1 or say yes to accept.", "No answer heard. Goodbye."
    )
    [request] = twilio.calls()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.params["To"] == ANA
    assert request.params["From"] == OURS
    assert request.params["StatusCallback"] == f"{PUBLIC}/messages/status"
    twiml = request.params["Twiml"]
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Gather ')
    assert f'action="{PUBLIC}/voice/gather"' in twiml
    assert 'input="speech dtmf"' in twiml
    assert 'numDigits="1"' in twiml
    assert "<Say>Open RN shift. Press 1 or say yes to accept.</Say></Gather>" in twiml
    assert twiml.endswith("<Say>No answer heard. Goodbye.</Say></Response>")
    assert sid.startswith("CA")


def test_a_call_in_spanish_speaks_and_listens_in_spanish(twilio: FakeTwilioApi) -> None:
    notifier(twilio).place_call(ANA, "Turno de RN. Marque 1.", "Adiós.", language="es-US")
    twiml = twilio.calls()[0].params["Twiml"]
    gather = twiml.split("<Gather ", 1)[1].split(">", 1)[0]
    assert 'language="es-US"' in gather
    assert '<Say language="es-US">Turno de RN. Marque 1.</Say></Gather>' in twiml
    assert twiml.endswith('<Say language="es-US">Adiós.</Say></Response>')


def test_a_provider_4xx_is_a_permanent_error(twilio: FakeTwilioApi) -> None:
    twilio.fail_for[ANA] = (400, 21211, "The 'To' number is not a valid phone number.")
    with pytest.raises(NotifierError) as caught:
        notifier(twilio).send_sms(ANA, "hi")
    assert not caught.value.transient
    assert "21211" in str(caught.value)


def test_a_provider_5xx_is_a_transient_error(twilio: FakeTwilioApi) -> None:
    twilio.fail_for[ANA] = (503, 20503, "Service unavailable")
    with pytest.raises(NotifierError) as caught:
        notifier(twilio).place_call(ANA, "hi", "bye")
    assert caught.value.transient


def test_an_unreachable_provider_is_a_transient_error() -> None:
    dead = TwilioNotifier(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC,
        from_number=OURS,
        api_base="http://127.0.0.1:9",
        timeout=2,
    )
    with pytest.raises(NotifierError) as caught:
        dead.send_sms(ANA, "hi")
    assert caught.value.transient


def test_logs_never_show_a_whole_phone_number(
    twilio: FakeTwilioApi, caplog: pytest.LogCaptureFixture
) -> None:
    twilio.fail_for[ANA] = (400, 21211, "bad number")
    with pytest.raises(NotifierError):
        notifier(twilio).send_sms(ANA, "hi")
    assert "+1555•••0101" in caplog.text
    assert ANA not in caplog.text
    assert AUTH_TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("report", "status", "unsubscribed"),
    [
        (twilio_notifier.message_report("SM1", "delivered", None), "delivered", False),
        (twilio_notifier.message_report("SM1", "sending", None), None, False),
        (twilio_notifier.message_report("SM1", "undelivered", "30003"), "undelivered", False),
        (twilio_notifier.message_report("SM1", "failed", "21610"), "failed", True),
        (twilio_notifier.call_report("CA1", "no-answer", None), "undelivered", False),
        (twilio_notifier.call_report("CA1", "completed", None), "delivered", False),
        (twilio_notifier.call_report("CA1", "ringing", None), None, False),
    ],
)
def test_twilio_status_words_become_domain_terms(
    report: DeliveryReport, status: str | None, unsubscribed: bool
) -> None:
    assert report.status == status
    assert report.unsubscribed is unsubscribed
