"""marshmallow fields shared by the blueprints' schemas: ids, roles, phones, UTC times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import current_app, has_app_context

from config import DEFAULT_ROLES
from shiftfill import phones

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Id(ma.fields.String):
    """A client-chosen id: 1 to 64 letters, digits or ``_ . : -``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=ma.validate.Regexp(
                ID_PATTERN, error="Use 1 to 64 letters, digits or _ . : - characters."
            ),
            **kwargs,
        )


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
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
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
        try:
            return phones.normalise(text, default_region())
        except phones.InvalidPhoneNumber as exc:
            raise ma.ValidationError(str(exc)) from exc


class UtcDateTime(ma.fields.AwareDateTime):
    """An ISO-8601 time that must carry an offset; stored and shown in UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


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
