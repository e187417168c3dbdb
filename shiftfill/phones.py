"""Phone numbers: one normal form (E.164) for storing, matching and masking them."""

from __future__ import annotations

import phonenumbers

_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE
_LOCAL_ONLY = phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can dial."""


def normalise(raw: str, default_region: str = "US") -> str:
    """Return ``raw`` in E.164 form (``+15555550101``).

    A number without a country code is read as one of ``default_region`` and
    must be complete there: ``555-0143`` has no area code, and ``+15550143``
    made of it could not be dialled. A number written with ``+`` is taken at
    its word, as long as its length is possible for its country. A number with an
    extension (``ext. 12``, ``x9``) is refused: a text cannot reach an extension.
    """
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("Not a valid phone number.") from exc
    if number.extension:
        # E.164 has no extension: it would be dropped, and the text or call would go to
        # the main line, never reaching the person behind the extension.
        raise InvalidPhoneNumber(
            "A number with an extension cannot be texted: give the caregiver's own number."
        )
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == _LOCAL_ONLY and not raw.strip().startswith("+"):
        raise InvalidPhoneNumber(
            "A local number: write it with its area code, like (312) 555-0142, or in +1... form."
        )
    if reason not in (_POSSIBLE, _LOCAL_ONLY):
        raise InvalidPhoneNumber("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """Hide the middle of a number for logs: ``+1555•••0101``."""
    if len(phone) <= 8:
        return "•" * len(phone)
    return f"{phone[:5]}•••{phone[-4:]}"
