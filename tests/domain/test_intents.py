"""The reply parser on a table of real phrasings."""

import pytest

from shiftfill.domain.intents import Intent, parse_reply

ACCEPT, DECLINE, STOP, HELP, UNKNOWN = (
    Intent.ACCEPT,
    Intent.DECLINE,
    Intent.OPT_OUT,
    Intent.HELP,
    Intent.UNKNOWN,
)

PHRASINGS = [
    ("Yes!", ACCEPT, None),
    ("yes", ACCEPT, None),
    ("YES", ACCEPT, None),
    ("  yEs  ", ACCEPT, None),
    ("Y", ACCEPT, None),
    ("yep", ACCEPT, None),
    ("Yup!!", ACCEPT, None),
    ("yeah sure", ACCEPT, None),
    ("sure", ACCEPT, None),
    ("ok", ACCEPT, None),
    ("Okay.", ACCEPT, None),
    ("accept", ACCEPT, None),
    ("I'll take it", ACCEPT, None),
    ("I\u2019ll take it!", ACCEPT, None),
    ("ill take it", ACCEPT, None),
    ("I can do it", ACCEPT, None),
    ("I can work that shift", ACCEPT, None),
    ("Count me in", ACCEPT, None),
    ("no problem", ACCEPT, None),
    ("Absolutely, thanks", ACCEPT, None),
    ("yes 4821", ACCEPT, "4821"),
    ("4821 yes", ACCEPT, "4821"),
    ("YES4821", ACCEPT, "4821"),
    ("Yes, 4821 please", ACCEPT, "4821"),
    ("👍", ACCEPT, None),
    ("👍🏽", ACCEPT, None),
    ("✅ 4821", ACCEPT, "4821"),
    ("1", ACCEPT, None),
    ("No", DECLINE, None),
    ("n", DECLINE, None),
    ("No thanks", DECLINE, None),
    ("no thank you!", DECLINE, None),
    ("nope", DECLINE, None),
    ("nah", DECLINE, None),
    ("can't", DECLINE, None),
    ("Can\u2019t today sorry", DECLINE, None),
    ("I cannot make it", DECLINE, None),
    ("Sorry, I'm busy", DECLINE, None),
    ("not available", DECLINE, None),
    ("decline 4821", DECLINE, "4821"),
    ("pass", DECLINE, None),
    ("👎", DECLINE, None),
    ("2", DECLINE, None),
    ("STOP", STOP, None),
    ("stop", STOP, None),
    (" Stop. ", STOP, None),
    ("UNSUBSCRIBE", STOP, None),
    ("cancel", STOP, None),
    ("End", STOP, None),
    ("QUIT", STOP, None),
    ("STOPALL", STOP, None),
    ("HELP", HELP, None),
    ("help", HELP, None),
    ("?", HELP, None),
    ("not sure", UNKNOWN, None),
    ("yes... actually no", UNKNOWN, None),
    ("Yes I can't", UNKNOWN, None),
    ("maybe later", UNKNOWN, None),
    ("what time is it?", UNKNOWN, None),
    ("Stop texting me at night", UNKNOWN, None),
    ("", UNKNOWN, None),
    ("🙂", UNKNOWN, None),
]


@pytest.mark.parametrize(("text", "intent", "code"), PHRASINGS)
def test_reply_is_read_as_a_person_meant_it(text: str, intent: Intent, code: str | None) -> None:
    parsed = parse_reply(text)
    assert (parsed.intent, parsed.offer_code) == (intent, code)
