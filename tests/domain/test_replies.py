"""What caregivers read: every text about a shift names it in local time and carries its code."""

from datetime import UTC, datetime, timedelta

import pytest

from shiftfill.domain import replies, rules
from shiftfill.domain.model import Organization, Shift
from shiftfill.domain.rules import Outcome

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
SUNRISE = Organization("org_1", "Sunrise Home Health", "America/Chicago", 40)
ORGS = {"org_1": SUNRISE}


def offered(
    shift_id: str = "sh_1",
    code: str = "4821",
    start: datetime = datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
    hours: float = 12,
) -> Shift:
    shift = Shift(
        id=shift_id,
        organization_id="org_1",
        role_required="RN",
        start_time=start,
        end_time=start + timedelta(hours=hours),
    )
    return rules.start_fanout(
        shift,
        now=min(NOW, start),  # fanned out before it starts, as a fanout must be
        offer_code=code,
        qualified_ids=["cg_1"],
        escalation_delay=timedelta(minutes=10),
    ).shift


def test_offer_text_names_the_organization_and_the_shift_in_its_local_time() -> None:
    assert replies.offer_sms(offered(), SUNRISE) == (
        "Sunrise Home Health: RN shift Sun Nov 29, 1:00 AM - 1:00 PM CST. "
        "Reply YES 4821 to take it or NO to pass."
    )


def test_offer_text_in_spanish() -> None:
    assert replies.offer_sms(offered(), SUNRISE, "es") == (
        "Sunrise Home Health: turno de RN dom 29 nov, 1:00 a. m. - 1:00 p. m. CST. "
        "Responda SÍ 4821 para tomarlo o NO para pasar."
    )


def test_an_overnight_shift_names_the_day_it_ends() -> None:
    night = offered(start=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # Sun 7:00 PM CST
    assert "RN shift Sun Nov 29, 7:00 PM - Mon 7:00 AM CST" in replies.offer_sms(night, SUNRISE)
    assert "dom 29 nov, 7:00 p. m. - lun 7:00 a. m. CST" in replies.offer_sms(night, SUNRISE, "es")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", "Sun Nov 29, 2:00 AM - 2:00 PM EST"),
        ("America/Los_Angeles", "Sat Nov 28, 11:00 PM - Sun 11:00 AM PST"),
        ("UTC", "Sun Nov 29, 7:00 AM - 7:00 PM UTC"),
    ],
)
def test_the_same_shift_reads_in_each_organizations_zone(zone: str, expected: str) -> None:
    org = Organization("org_1", "Agency", zone)
    assert expected in replies.offer_sms(offered(), org)


def test_a_shift_across_the_november_change_names_both_zones() -> None:
    # 2026-11-01 02:00 CDT falls back to 01:00 CST: midnight to 8 AM local is 9 hours.
    start = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 00:00 CDT
    text = replies.offer_sms(offered(start=start, hours=9), SUNRISE)
    assert "RN shift Sun Nov 1, 12:00 AM CDT - 8:00 AM CST" in text
    spring = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 00:00 CST, clocks jump to CDT at 2:00
    assert "Sun Mar 8, 12:00 AM CST - 8:00 AM CDT" in replies.offer_sms(
        offered(start=spring, hours=7), SUNRISE
    )


def test_call_script_names_the_organization_and_explains_the_keypad_in_each_language() -> None:
    script = replies.offer_call_script(offered(), SUNRISE)
    assert "Sunrise Home Health" in script and "Press 1" in script and "Press 2" in script
    assert "RN shift Sun Nov 29, 1:00 AM - 1:00 PM CST" in script
    spanish = replies.offer_call_script(offered(), SUNRISE, "es")
    assert "Marque 1" in spanish and "Marque 2" in spanish and "turno de RN" in spanish
    assert replies.speech_locale("es") == "es-US"
    assert replies.speech_locale("en") == "en-US"


def test_help_and_unrecognized_say_how_to_accept_with_the_code() -> None:
    assert "Reply YES 4821 to accept" in replies.reply_for(Outcome.HELP, offered(), orgs=ORGS)
    assert "Reply YES 4821 to accept" in replies.reply_for(Outcome.UNRECOGNIZED, offered())
    spanish = replies.reply_for(Outcome.HELP, offered(), language="es", orgs=ORGS)
    assert "Responda SÍ 4821 para aceptar" in spanish


def test_ambiguous_reply_lists_every_open_offer_code() -> None:
    text = replies.reply_for(
        Outcome.AMBIGUOUS,
        open_offers=[offered("sh_1", "4821"), offered("sh_2", "5532")],
        orgs=ORGS,
    )
    assert "YES 4821" in text and "YES 5532" in text
    assert "1:00 AM - 1:00 PM CST" in text


def test_filled_reply_is_polite_and_names_the_shift() -> None:
    text = replies.reply_for(Outcome.FILLED, offered(), orgs=ORGS)
    assert "already been filled" in text
    assert "Thank you" in text
    assert "RN shift Sun Nov 29" in text


def test_assigned_reply_confirms_the_shift() -> None:
    assert replies.reply_for(Outcome.ASSIGNED, offered()).startswith("Confirmed")
    assert replies.reply_for(Outcome.ASSIGNED, offered(), language="es").startswith("Confirmado")


def test_refused_claims_say_why_politely() -> None:
    conflict = replies.reply_for(Outcome.CONFLICT, offered(), orgs=ORGS)
    assert "overlaps a shift you are already booked for" in conflict
    assert conflict.startswith("Thank you")
    over = replies.reply_for(Outcome.OVER_HOURS, offered(), orgs=ORGS)
    assert "over 40 hours that week" in over
    assert "pasaría de 40 horas" in replies.reply_for(
        Outcome.OVER_HOURS, offered(), language="es", orgs=ORGS
    )


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("language", replies.LANGUAGES)
def test_every_outcome_has_a_reply_in_every_language(outcome: Outcome, language: str) -> None:
    text = replies.reply_for(outcome, offered(), [offered()], language=language, orgs=ORGS)
    assert text and "{" not in text
    assert replies.no_answer_on_call(offered(), SUNRISE, language)
    assert replies.no_answer_on_call(None, None, language)


def test_every_phrasebook_has_every_text_of_the_english_one() -> None:
    for book in replies.PHRASEBOOKS.values():
        assert set(book.texts) == set(replies.ENGLISH.texts)


def test_a_code_that_names_no_open_offer_gets_the_codes_of_the_open_ones() -> None:
    one = replies.unknown_code("1111", [offered()], orgs=ORGS)
    assert one.startswith("No open offer has the code 1111.")
    assert "YES 4821" in one and "NO 4821" in one
    two = replies.unknown_code("1111", [offered(), offered(code="7777")], orgs=ORGS)
    assert "You have 2 open offers" in two and "YES 4821" in two and "YES 7777" in two
    spanish = replies.unknown_code("1111", [offered()], language="es", orgs=ORGS)
    assert spanish.startswith("Ninguna oferta abierta tiene el código 1111.")
