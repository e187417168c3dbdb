"""Phone numbers: one normal form (E.164) for storing, matching and masking them."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can dial."""


def normalise(raw: str, default_region: str = "US") -> str:
    """Return ``raw`` in E.164 form (``+15555550101``).

    A number without a country code is read as one of ``default_region``.
    """
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("Not a valid phone number.") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """Hide the middle of a number for logs: ``+1555•••0101``."""
    if len(phone) <= 8:
        return "•" * len(phone)
    return f"{phone[:5]}•••{phone[-4:]}"
