"""marshmallow fields shared by the blueprints' schemas: ids, text, roles, phones, times, zones.

Every string that is stored, logged or put into TwiML passes one of these fields,
so each is bounded in length and refuses control characters at the edge.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time
from typing import Any

import marshmallow as ma
from flask import current_app, has_app_context

from config import DEFAULT_ROLES, time_zone_names
from shiftfill import phones

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A provider's message or call id (Twilio's are 34 characters: SM or CA and 32 hex
# digits); each one is remembered for replays, so its length is bounded.
MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The most a provider delivers in one SMS; a longer reply is kept cut to this.
REPLY_MAX_CHARS = 1600
# Ordinary white space a typed reply may carry; every other control character is refused.
REPLY_WHITESPACE = frozenset("\t\n\r")
# Controls that reorder or break lines when a log or a console shows the text.
_LAYOUT_CONTROLS = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Earliest and latest times accepted: far enough for any shift, and far from the ends of
# the calendar, where converting an offset to UTC overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class FullMatch(ma.validate.Regexp):
    """``Regexp`` over the whole value: ``$`` alone would let a trailing newline through.

    Still a ``Regexp``, so the OpenAPI document shows the pattern.
    """

    def __init__(self, regex: re.Pattern[str], *, error: str) -> None:
        super().__init__(regex, error=error)
        self.whole: re.Pattern[str] = regex

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.whole.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class Id(ma.fields.String):
    """A client-chosen id: 1 to 64 letters, digits or ``_ . : -``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=FullMatch(
                ID_PATTERN, error="Use 1 to 64 letters, digits or _ . : - characters."
            ),
            **kwargs,
        )


class MessageId(ma.fields.String):
    """A provider's message or call id: 1 to 64 letters, digits, ``_`` or ``-``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=FullMatch(
                MESSAGE_ID_PATTERN, error="Use 1 to 64 letters, digits, _ or - characters."
            ),
            **kwargs,
        )


def refuse_control_characters(text: str, allowed: frozenset[str] = frozenset()) -> None:
    """Raise a validation error if ``text`` holds a control character not in ``allowed``.

    Control characters (NUL, escape, line and paragraph separators, direction
    overrides, lone surrogates) would be written raw into logs and TwiML.
    """
    if text.isascii() and text.isprintable():
        return  # the common case, checked at C speed: printable ASCII holds no control
    for char in text:
        if char in allowed:
            continue
        if char in _LAYOUT_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            raise ma.ValidationError("Must not contain control characters.")


def has_visible_character(text: str) -> bool:
    """Whether ``text`` shows anything: not only spaces and zero-width or format characters."""
    return any(unicodedata.category(char)[0] not in "ZC" for char in text)


class ReplyText(ma.fields.String):
    """A caregiver's reply: ordinary white space allowed, kept cut to ``REPLY_MAX_CHARS``.

    Providers send at most 1,600 characters; a longer body (possible in the JSON
    shape) is read and stored cut, so the audit trail holds no more than that.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)[:REPLY_MAX_CHARS]
        refuse_control_characters(text, REPLY_WHITESPACE)
        return text


class Line(ma.fields.String):
    """A short one-line value such as a provider's ``From``: no control characters."""

    def __init__(self, max_length: int = 64, **kwargs: Any) -> None:
        self.max_length = max_length
        kwargs["metadata"] = {"maxLength": max_length, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise ma.ValidationError(f"Must be at most {self.max_length} characters.")
        refuse_control_characters(text)
        return text


class Trimmed(ma.fields.String):
    """A string with surrounding white space removed, non-empty and at most ``max_length``."""

    def __init__(self, max_length: int = 200, **kwargs: Any) -> None:
        self.max_length = max_length
        # Documented so that clients (and the API fuzzer) know what is accepted.
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "minLength": 1,
            "maxLength": max_length,
            "pattern": r"\S",
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > 4 * self.max_length:  # not worth scanning, whatever it holds
            raise ma.ValidationError(f"Must be at most {self.max_length} characters.")
        # White space around the text is trimmed; inside it, no control character.
        text = raw.strip()
        refuse_control_characters(raw, REPLY_WHITESPACE)
        refuse_control_characters(text)
        if not has_visible_character(text):
            raise ma.ValidationError("Must not be blank.")
        if len(text) > self.max_length:
            raise ma.ValidationError(f"Must be at most {self.max_length} characters.")
        return text


class Role(Trimmed):
    """A caregiver role such as ``RN``: trimmed, upper-cased, one of ``SHIFTFILL_ROLES``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        role = super()._deserialize(value, attr, data, **kwargs).upper()
        # A role is shown in every text and call: nothing invisible, nothing that
        # makes "R\u200bN" look like "RN".
        if not role.isprintable():
            raise ma.ValidationError("Use letters, digits and visible punctuation only.")
        allowed = allowed_roles()
        if role not in allowed:
            raise ma.ValidationError(f"Must be one of: {', '.join(allowed)}.")
        return role


def allowed_roles() -> tuple[str, ...]:
    """The roles caregivers and shifts may have (``SHIFTFILL_ROLES``)."""
    if has_app_context():
        return tuple(current_app.config.get("SHIFTFILL_ROLES", DEFAULT_ROLES))
    return DEFAULT_ROLES


class Phone(ma.fields.String):
    """A dialable phone number, normalised to E.164."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": r"^\+?[0-9 ().-]{7,20}$", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 64 or not text.isprintable():
            raise ma.ValidationError("Not a valid phone number.")
        try:
            return phones.normalise(text, default_region())
        except phones.InvalidPhoneNumber as exc:
            raise ma.ValidationError(str(exc)) from exc


class UtcDateTime(ma.fields.AwareDateTime):
    """An ISO-8601 time that must carry an offset; stored and shown in UTC.

    Accepted from 1970 to 9000 (UTC): ``0001-01-01T00:00:00+05:00`` is before the
    first UTC instant Python can hold, and shift arithmetic near year 9999 overflows.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "ISO-8601 with an offset, between 1970 and 9000",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(format="iso", metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        aware = super()._deserialize(value, attr, data, **kwargs)
        try:
            value = aware.astimezone(UTC)
        except OverflowError:
            value = None
        if value is None or not EARLIEST <= value < LATEST:
            raise ma.ValidationError("Must be a time between 1970 and 9000.")
        return value


def default_region() -> str:
    """The region that national phone numbers are read in (``SHIFTFILL_DEFAULT_REGION``)."""
    if has_app_context():
        return str(current_app.config.get("SHIFTFILL_DEFAULT_REGION", "US"))
    return "US"


class Ids(ma.fields.List):
    """A list of ids, dumped as is: a fanout lists thousands and each is already a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ma.fields.String(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[str] | None:
        return None if value is None else list(value)


class TimeZone(ma.fields.String):
    """An IANA time zone name such as ``America/Chicago``."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"example": "America/Chicago", "maxLength": 64, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in time_zone_names():
            raise ma.ValidationError("Not an IANA time zone name (like America/Chicago).")
        return name


CLOCK_PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class ClockTime(ma.fields.Field):
    """A wall-clock time of day written ``HH:MM`` (24-hour)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": CLOCK_PATTERN.pattern,
            "example": "22:00",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        if not isinstance(value, str) or CLOCK_PATTERN.fullmatch(value) is None:
            raise ma.ValidationError("Use HH:MM, 24-hour (like 22:00).")
        return time.fromisoformat(value)
