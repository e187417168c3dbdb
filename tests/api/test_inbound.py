"""``/messages/inbound``: both request shapes, replays, offer codes, STOP and HELP."""

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.bootstrap import Runtime
from tests.conftest import (
    RN_PHONES,
    add_caregiver,
    add_shift,
    pending_phone_rounds,
    reply,
    tomorrow_at,
)
from tests.fakes import FakeNotifier

FORM = "application/x-www-form-urlencoded"


def webhook(client: FlaskClient, **params: str) -> Any:
    return client.post("/messages/inbound", data=params, content_type=FORM)


def refused_fields(response: Any) -> Any:
    """The fields a 422 names."""
    assert response.status_code == 422
    return response.json["error"]["fields"]


def test_sms_webhook_answers_twiml_with_the_reply(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    response = webhook(client, From=RN_PHONES[0], Body="Yes!", MessageSid="SM1", AccountSid="AC1")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    xml = response.get_data(as_text=True)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Confirmed')
    assert xml.endswith("</Message></Response>")
    assert client.get("/shifts/sh_1").json["assigned_caregiver_id"] == "cg_1"


def test_call_webhook_with_digit_one_accepts_and_answers_with_say(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    response = webhook(client, From=RN_PHONES[1], CallSid="CA1", Digits="1")
    assert response.status_code == 200
    assert "<Response><Say>Confirmed" in response.get_data(as_text=True)
    assert client.get("/shifts/sh_1").json["assigned_caregiver_id"] == "cg_3"


def test_call_webhook_with_digit_two_declines(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    webhook(client, From=RN_PHONES[1], CallSid="CA1", Digits="2")
    assert client.get("/shifts/sh_1").json["fanout"]["declined_caregiver_ids"] == ["cg_3"]


def test_spoken_yes_on_a_call_accepts(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    response = webhook(client, From=RN_PHONES[2], CallSid="CA9", SpeechResult="Yes, I'll take it.")
    assert "<Say>Confirmed" in response.get_data(as_text=True)


def test_json_reply_answers_json(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    day = f"{tomorrow_at(7):%a %b} {tomorrow_at(7).day}"
    assert reply(client, RN_PHONES[0], "yes") == {
        "outcome": "assigned",
        "shift_id": "sh_1",
        "caregiver_id": "cg_1",
        "reply": f"Confirmed: the RN shift {day}, 7:00 AM - 7:00 PM UTC is yours. Thank you!",
    }


def test_second_accept_gets_filled_reply(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    reply(client, RN_PHONES[0], "yes")
    second = reply(client, RN_PHONES[1], "I'll take it")
    assert second["outcome"] == "filled"
    assert "already been filled" in second["reply"]
    assert reply(client, RN_PHONES[0], "yes again")["outcome"] == "already_assigned"


def test_replayed_message_returns_the_same_outcome_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    first = webhook(client, From=RN_PHONES[0], Body="yes", MessageSid="SM42")
    events_after_first = client.get("/shifts/sh_1/events").json
    replay = webhook(client, From=RN_PHONES[0], Body="yes", MessageSid="SM42")
    assert replay.get_data() == first.get_data()
    assert "Confirmed" in replay.get_data(as_text=True)
    assert client.get("/shifts/sh_1/events").json == events_after_first

    json_first = reply(client, RN_PHONES[1], "no", message_id="m-7")
    events_after_json = client.get("/shifts/sh_1/events").json
    json_replay = reply(client, RN_PHONES[1], "no", message_id="m-7")
    assert json_first == json_replay
    # Handled again, the reply would be on the trail twice.
    assert client.get("/shifts/sh_1/events").json == events_after_json


def test_replay_of_an_accept_after_another_claim_still_says_assigned(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    reply(client, RN_PHONES[0], "yes", message_id="SM1")
    reply(client, RN_PHONES[1], "yes", message_id="SM2")
    assert reply(client, RN_PHONES[0], "yes", message_id="SM1")["outcome"] == "assigned"
    assert reply(client, RN_PHONES[1], "yes", message_id="SM2")["outcome"] == "filled"


def test_two_open_offers_and_no_code_is_ambiguous_and_lists_the_codes(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    add_shift(client, id="sh_2")
    second = client.post("/shifts/sh_2/fanout").json
    answer = reply(client, RN_PHONES[0], "yes")
    assert answer["outcome"] == "ambiguous"
    assert answer["shift_id"] is None
    assert f"YES {fanned_out['fanout']['offer_code']}" in answer["reply"]
    assert f"YES {second['fanout']['offer_code']}" in answer["reply"]
    assert client.get("/shifts/sh_1").json["status"] == "open"
    assert client.get("/shifts/sh_2").json["status"] == "open"


def test_offer_code_picks_the_shift(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    add_shift(client, id="sh_2")
    code = client.post("/shifts/sh_2/fanout").json["fanout"]["offer_code"]
    answer = reply(client, RN_PHONES[0], f"YES {code}")
    assert (answer["outcome"], answer["shift_id"]) == ("assigned", "sh_2")
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_explicit_shift_id_picks_the_shift(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any]
) -> None:
    add_shift(client, id="sh_2")
    client.post("/shifts/sh_2/fanout")
    answer = reply(client, RN_PHONES[0], "yes", shift_id="sh_1")
    assert (answer["outcome"], answer["shift_id"]) == ("assigned", "sh_1")


def test_wrong_role_cannot_claim_even_with_the_shift_id(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    answer = reply(client, "+15555550102", "yes", shift_id="sh_1")
    assert answer["outcome"] == "no_open_offer"
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_unknown_sender(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    answer = reply(client, "+15555559999", "yes")
    assert answer == {
        "outcome": "unknown_sender",
        "shift_id": None,
        "caregiver_id": None,
        "reply": "This number is not registered with your agency's shift line. "
        "Please call the office.",
    }
    assert reply(client, "not a number", "yes")["outcome"] == "unknown_sender"


def test_stop_opts_out_for_good(
    client: FlaskClient, runtime: Runtime, fanned_out: dict[str, Any], notifier: FakeNotifier
) -> None:
    answer = reply(client, RN_PHONES[2], "STOP")
    assert answer["outcome"] == "opted_out"
    assert client.get("/caregivers/cg_5").json["opted_out"] is True
    events = client.get("/shifts/sh_1/events").json
    assert any(e["type"] == "opted_out" and e["caregiver_id"] == "cg_5" for e in events)

    add_shift(client, id="sh_2")
    client.post("/shifts/sh_2/fanout")
    assert runtime.sender.wait_idle(5)
    assert len(notifier.to(RN_PHONES[2])) == 1  # only the text sent before STOP


def test_help_says_how_to_answer_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    code = fanned_out["fanout"]["offer_code"]
    answer = reply(client, RN_PHONES[0], "HELP")
    assert answer["outcome"] == "help"
    assert f"Reply YES {code} to accept" in answer["reply"]
    unclear = reply(client, RN_PHONES[0], "what hospital is it?")
    assert unclear["outcome"] == "unrecognized"
    assert f"Reply YES {code} to accept" in unclear["reply"]
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_no_open_offer(client: FlaskClient, roster: Any) -> None:
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "no_open_offer"


def test_accept_wins_and_cancels_the_phone_round(
    client: FlaskClient, fanned_out: dict[str, Any], runtime: Runtime
) -> None:
    assert pending_phone_rounds(runtime) == ["sh_1"]
    reply(client, RN_PHONES[0], "yes")
    assert pending_phone_rounds(runtime) == []


def test_missing_from_or_body_is_422_and_changes_nothing(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    no_body = client.post("/messages/inbound", json={"from": RN_PHONES[0]})
    assert refused_fields(no_body) == {"body": ["Missing data for required field."]}
    assert "From" in refused_fields(webhook(client, Body="yes", MessageSid="SM1"))
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_a_provider_form_without_a_reply_is_422_naming_both_shapes(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    either = ["Missing data for required field (or CallSid with Digits or SpeechResult)."]
    neither = webhook(client, From=RN_PHONES[0], MessageSid="SM1")
    assert refused_fields(neither) == {"Body": either}
    call_without_answer = webhook(client, From=RN_PHONES[0], CallSid="CA1")
    assert refused_fields(call_without_answer) == {"Body": either}
    bad_keys = webhook(client, From=RN_PHONES[0], CallSid="CA1", Digits="1; DROP")
    assert "Digits" in refused_fields(bad_keys)
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_a_text_is_read_as_a_text_whatever_call_parameters_it_also_carries(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    """With a ``Body`` the form is a text's reply; a call's parameters are then ignored,
    as are Twilio's other parameters."""
    response = webhook(
        client, From=RN_PHONES[0], Body="yes", MessageSid="SM1", CallSid="?", Digits="x"
    )
    assert response.status_code == 200
    assert "<Message>Confirmed" in response.get_data(as_text=True)
    assert client.get("/shifts/sh_1").json["assigned_caregiver_id"] == "cg_1"


def test_bad_shapes_are_4xx(client: FlaskClient, fanned_out: dict[str, Any]) -> None:
    assert (
        client.post("/messages/inbound", data="yes", content_type="text/plain").status_code == 400
    )
    bad_json = client.post("/messages/inbound", data="{", content_type="application/json")
    assert bad_json.status_code == 400
    array = client.post("/messages/inbound", json=["yes"])
    assert array.status_code == 422
    wrong_channel = client.post(
        "/messages/inbound", json={"from": RN_PHONES[0], "body": "yes", "channel": "fax"}
    )
    assert wrong_channel.status_code == 422
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_a_caregiver_added_later_is_not_offered_a_running_fanout(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    add_caregiver(client, id="cg_new", name="New", role="RN", phone="+15555550150")
    assert reply(client, "+15555550150", "yes")["outcome"] == "no_open_offer"


def test_a_stale_code_from_a_caregiver_with_an_open_offer_gets_that_offers_instructions(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    code = fanned_out["fanout"]["offer_code"]
    stale = "0000" if code != "0000" else "1111"
    answer = reply(client, RN_PHONES[0], f"YES {stale}")
    assert answer["outcome"] == "no_open_offer"
    assert "open shift offers right now" not in answer["reply"]
    assert f"No open offer has the code {stale}" in answer["reply"]
    assert f"YES {code}" in answer["reply"]
    assert client.get("/shifts/sh_1").json["status"] == "open"


def test_a_stale_code_with_two_open_offers_lists_both_codes(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    add_shift(client, id="sh_2")
    second = client.post("/shifts/sh_2/fanout").json["fanout"]["offer_code"]
    first = fanned_out["fanout"]["offer_code"]
    stale = next(c for c in ("0000", "1111", "2222") if c not in (first, second))
    answer = reply(client, RN_PHONES[0], f"no {stale}")
    assert answer["outcome"] == "no_open_offer"
    assert f"YES {first}" in answer["reply"] and f"YES {second}" in answer["reply"]
    assert client.get("/shifts/sh_1").json["fanout"]["declined_caregiver_ids"] == []


def test_business_events_are_logged_once_each_with_masked_numbers(
    client: FlaskClient, fanned_out: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="shiftfill"):
        reply(client, RN_PHONES[1], "no")
        reply(client, RN_PHONES[0], "yes")
        reply(client, "+15555550999", "yes")
        reply(client, RN_PHONES[2], "STOP")
    events = [getattr(r, "event", None) for r in caplog.records]
    assert events.count("declined") == 1
    assert events.count("assigned") == 1
    assert events.count("unknown_sender") == 1
    assert events.count("opted_out") == 1
    [assigned] = [r for r in caplog.records if getattr(r, "event", None) == "assigned"]
    assert (assigned.shift_id, assigned.caregiver_id) == ("sh_1", "cg_1")  # type: ignore[attr-defined]
    for record in caplog.records:
        for phone in [*RN_PHONES, "+15555550999"]:
            assert phone not in record.getMessage()
