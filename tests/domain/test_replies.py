"""What caregivers read: every text about a shift names it and carries its offer code."""

from datetime import UTC, datetime, timedelta

from shiftfill.domain import replies, rules
from shiftfill.domain.model import Shift
from shiftfill.domain.rules import Outcome

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def offered(shift_id: str = "sh_1", code: str = "4821") -> Shift:
    shift = Shift(
        id=shift_id,
        organization_id="org_1",
        role_required="RN",
        start_time=datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
        end_time=datetime(2026, 11, 29, 19, 0, tzinfo=UTC),
    )
    return rules.start_fanout(
        shift,
        now=NOW,
        offer_code=code,
        qualified_ids=["cg_1"],
        escalation_delay=timedelta(minutes=10),
    ).shift


def test_offer_text_names_role_start_and_code_and_says_how_to_reply() -> None:
    text = replies.offer_sms(offered())
    assert "RN shift Sun Nov 29 07:00-19:00 UTC" in text
    assert "YES 4821" in text
    assert "NO 4821" in text


def test_call_script_explains_the_keypad() -> None:
    script = replies.offer_call_script(offered())
    assert "Press 1" in script and "Press 2" in script
    assert "RN shift" in script


def test_help_and_unrecognized_say_how_to_accept_with_the_code() -> None:
    assert "Reply YES 4821 to accept" in replies.reply_for(Outcome.HELP, offered())
    assert "Reply YES 4821 to accept" in replies.reply_for(Outcome.UNRECOGNIZED, offered())


def test_ambiguous_reply_lists_every_open_offer_code() -> None:
    text = replies.reply_for(
        Outcome.AMBIGUOUS, open_offers=[offered("sh_1", "4821"), offered("sh_2", "5532")]
    )
    assert "YES 4821" in text and "YES 5532" in text


def test_filled_reply_is_polite_and_names_the_shift() -> None:
    text = replies.reply_for(Outcome.FILLED, offered())
    assert "already been filled" in text
    assert "Thank you" in text
    assert "RN shift" in text


def test_assigned_reply_confirms_the_shift() -> None:
    assert replies.reply_for(Outcome.ASSIGNED, offered()).startswith("Confirmed")


def test_a_code_that_names_no_open_offer_gets_the_codes_of_the_open_ones() -> None:
    one = replies.unknown_code("1111", [offered()])
    assert one.startswith("No open offer has the code 1111.")
    assert "YES 4821" in one and "NO 4821" in one
    two = replies.unknown_code("1111", [offered(), offered(code="7777")])
    assert "You have 2 open offers" in two and "YES 4821" in two and "YES 7777" in two
