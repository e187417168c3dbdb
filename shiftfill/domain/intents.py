"""Reading what a caregiver meant from a free-text reply (or a keypad press).

People answer an offer in many ways: ``Yes!``, ``yep 4821``, ``I'll take it``,
``no thanks``, ``can't today``, a thumbs-up. The parser looks for known accept
and decline phrases; when a reply holds both, or negates an accept
(``not sure``), it gives up and says ``unknown`` so the caregiver is asked
again rather than being booked on a guess.

English and Spanish are understood whatever the caregiver's language (``sí``,
``lo tomo``, ``no puedo``, ``AYUDA``, ``BAJA``). Accents are dropped before
matching, so ``si`` and ``sí`` are one word and the tables are written without them.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


class Intent(enum.StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    OPT_OUT = "opt_out"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ParsedReply:
    intent: Intent
    offer_code: str | None = None


# Carrier-standard keywords; they only count as the whole message.
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
    | {"parar", "baja"}
)
HELP_WORDS = frozenset({"help", "info", "?", "ayuda"})
# A keypad press on a call, or a lone digit by text: 1 accepts, 2 declines.
KEYPAD = {"1": Intent.ACCEPT, "2": Intent.DECLINE}

ACCEPT_PHRASES = frozenset(
    {
        "yes", "y", "yeah", "yea", "yep", "yup", "ya", "yah", "yess", "yesss", "sure",
        "ok", "okay", "k", "kk", "accept", "accepted", "confirm", "confirmed",
        "i'll take it", "ill take it", "i will take it", "i'll take", "take it",
        "i'll do it", "i will do it", "i can do it", "i can", "i can work",
        "i can take it", "i can cover", "i can cover it", "i'll cover it", "count me in",
        "i'm in", "im in", "i'm available", "im available", "available",
        "absolutely", "definitely", "of course", "sounds good", "no problem",
        "no worries", "works for me", "on my way", "put me down", "book me",
        "👍", "✅", "👌", "🙋",
        # Spanish, written without accents (see _normalise).
        "si", "acepto", "lo tomo", "yo lo tomo", "lo acepto", "claro", "claro que si",
        "por supuesto", "de acuerdo", "si puedo", "lo cubro", "yo lo cubro",
        "con gusto", "cuenten conmigo", "cuente conmigo", "dale", "esta bien",
        "si gracias", "si por favor",
    }
)  # fmt: skip

DECLINE_PHRASES = frozenset(
    {
        "no", "n", "nope", "nah", "naw", "decline", "declined", "pass", "i'll pass",
        "no thanks", "no thank you", "can't", "cant", "cannot", "can not",
        "i can't", "i cant", "i cannot", "not available", "unavailable",
        "not today", "not this time", "busy", "i'm busy", "im busy", "sorry",
        "won't", "wont", "unable", "not interested", "no can do", "👎", "❌", "🚫",
        # Spanish, written without accents.
        "no puedo", "no gracias", "no lo tomo", "no acepto", "paso",
        "no estoy disponible", "no disponible", "ocupado", "ocupada", "estoy ocupado",
        "estoy ocupada", "lo siento", "imposible", "hoy no", "no me es posible",
    }
)  # fmt: skip

# A negator turns the next accept phrase into a contradiction ("not sure").
NEGATORS = frozenset({"not", "don't", "dont", "never", "nunca"})

_MAX_PHRASE_WORDS = 4
_OFFER_CODE = re.compile(r"(?<!\d)(\d{4,8})(?!\d)")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*'?|[^\w\s]", re.UNICODE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


# Replies repeat ("yes", "no", "YES 4821"): a short text is read once, not on every reply.
# Only short ones are kept, so the cache holds at most 4,096 x 64 characters.
CACHED_REPLY_CHARS = 64


def parse_reply(text: str) -> ParsedReply:
    """Read the intent and any offer code from a caregiver's reply."""
    return _parse_short(text) if len(text) <= CACHED_REPLY_CHARS else _parse(text)


@lru_cache(maxsize=4096)
def _parse_short(text: str) -> ParsedReply:
    return _parse(text)


def _parse(text: str) -> ParsedReply:
    cleaned = _normalise(text)
    bare = cleaned.strip(" .!?,;:-¡¿")
    if bare in OPT_OUT_WORDS:
        return ParsedReply(Intent.OPT_OUT)
    if bare in HELP_WORDS or cleaned == "?":
        return ParsedReply(Intent.HELP)
    if bare in KEYPAD:
        return ParsedReply(KEYPAD[bare])

    code_match = _OFFER_CODE.search(cleaned)
    offer_code = code_match.group(1) if code_match else None
    if code_match:
        cleaned = cleaned[: code_match.start()] + " " + cleaned[code_match.end() :]
    return ParsedReply(_intent_of(_tokens(cleaned)), offer_code)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    # Accents off letters (sí -> si); emoji and their modifiers are left as they are.
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not _is_accent(ch))
    text = unicodedata.normalize("NFC", text)
    # Skin tones and variation selectors ride on emoji; drop them so 👍🏽 is 👍.
    text = "".join(ch for ch in text if not _is_emoji_modifier(ch))
    return " ".join(text.split())


def _is_accent(ch: str) -> bool:
    return "\u0300" <= ch <= "\u036f"


def _is_emoji_modifier(ch: str) -> bool:
    return ch in "\ufe0f\ufe0e\u200d" or "\U0001f3fb" <= ch <= "\U0001f3ff"


def _tokens(text: str) -> list[str]:
    return [tok for tok in _TOKEN.findall(text) if tok not in {"'", "."}]


def _intent_of(tokens: list[str]) -> Intent:
    accepts = declines = contradictions = 0
    negated = False
    i = 0
    while i < len(tokens):
        phrase, width = _longest_phrase(tokens, i)
        if phrase in DECLINE_PHRASES:
            declines += 1
            negated = False
        elif phrase in ACCEPT_PHRASES:
            if negated:
                contradictions += 1
            else:
                accepts += 1
            negated = False
        elif tokens[i] in NEGATORS:
            negated = True
        i += width
    if contradictions or (accepts and declines):
        return Intent.UNKNOWN
    if accepts:
        return Intent.ACCEPT
    if declines:
        return Intent.DECLINE
    return Intent.UNKNOWN


def _longest_phrase(tokens: list[str], start: int) -> tuple[str, int]:
    for width in range(min(_MAX_PHRASE_WORDS, len(tokens) - start), 0, -1):
        phrase = " ".join(tokens[start : start + width])
        if phrase in ACCEPT_PHRASES or phrase in DECLINE_PHRASES:
            return phrase, width
    return tokens[start], 1
