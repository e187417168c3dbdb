"""Request and response bodies of the caregivers endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.clients.schemas import (
    CredentialSchema,
    LocationSchema,
    credentials_field,
    travel_field,
)
from shiftfill.api.fields import ClockTime, Id, Phone, Role, Trimmed
from shiftfill.domain.model import QuietHours
from shiftfill.domain.replies import DEFAULT_LANGUAGE, LANGUAGES


class QuietHoursSchema(ma.Schema):
    """No calls from ``start`` to ``end``, in the organization's local time."""

    start = ClockTime(required=True)
    end = ClockTime(required=True)

    @ma.validates_schema
    def start_differs_from_end(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("start") is not None and data.get("start") == data.get("end"):
            raise ma.ValidationError("Must differ from start.", field_name="end")

    @ma.post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> QuietHours:
        return QuietHours(start=data["start"], end=data["end"])


def language_field(**kwargs: Any) -> ma.fields.String:
    """The language texts, calls and replies go out in (``en``, ``es``)."""
    return ma.fields.String(validate=ma.validate.OneOf(LANGUAGES), **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """A JSON ``true`` or ``false``, nothing else: ``"yes"``, ``1`` or ``"true"`` is refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(error_messages={"invalid": "Must be true or false."}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class QueryBoolean(ma.fields.Boolean):
    """A query parameter spelled ``true`` or ``false``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            truthy={"true"},
            falsy={"false"},
            error_messages={"invalid": "Must be true or false."},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, str) or value not in ("true", "false"):
            raise self.make_error("invalid")
        return value == "true"


class CaregiverCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    name = Trimmed(required=True)
    role = Role(required=True, metadata={"example": "RN"})
    phone = Phone(required=True, metadata={"example": "+15555550101"})
    opted_out = StrictBoolean(load_default=False)
    active = StrictBoolean(
        load_default=True, metadata={"description": "An inactive caregiver is offered nothing"}
    )
    language = language_field(load_default=DEFAULT_LANGUAGE)
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True, load_default=None)
    location = ma.fields.Nested(LocationSchema, allow_none=True, load_default=None)
    max_travel_miles = travel_field(load_default=None)
    credentials = credentials_field(load_default=list)


class CaregiverPatchSchema(ma.Schema):
    """The fields the agency may change; at least one."""

    name = Trimmed()
    role = Role(metadata={"example": "RN"})
    phone = Phone(metadata={"example": "+15555550101"})
    active = StrictBoolean()
    language = language_field()
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True)
    location = ma.fields.Nested(LocationSchema, allow_none=True)
    max_travel_miles = travel_field()
    credentials = credentials_field()
    opted_out = StrictBoolean(
        validate=ma.validate.Equal(
            False, error="Only false: the agency can opt a caregiver back in, not out."
        ),
        metadata={"enum": [False], "description": "false opts the caregiver back in"},
    )

    @ma.validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError(
                "Send at least one of name, role, phone, active, opted_out, language, "
                "quiet_hours, location, max_travel_miles, credentials.",
                field_name="_schema",
            )


BATCH_MAX = 1000


class CaregiverBatchSchema(ma.Schema):
    caregivers = ma.fields.List(
        ma.fields.Nested(CaregiverCreateSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=BATCH_MAX),
    )

    @ma.pre_load
    def at_most_a_batch(self, data: Any, **kwargs: Any) -> Any:
        # Refused before each item is validated: 10,000 phone numbers are slow to parse.
        items = data.get("caregivers") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > BATCH_MAX:
            raise ma.ValidationError(
                f"Send at most {BATCH_MAX:,} caregivers at once.", field_name="caregivers"
            )
        return data


class CaregiverSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    phone = ma.fields.String(required=True)
    opted_out = ma.fields.Boolean(required=True)
    active = ma.fields.Boolean(required=True)
    language = ma.fields.String(required=True, metadata={"enum": list(LANGUAGES)})
    quiet_hours = ma.fields.Nested(QuietHoursSchema, required=True, allow_none=True)
    location = ma.fields.Nested(LocationSchema, required=True, allow_none=True)
    max_travel_miles = ma.fields.Float(required=True, allow_none=True)
    credentials = ma.fields.List(ma.fields.Nested(CredentialSchema), required=True)


class CaregiverQuerySchema(ma.Schema):
    role = Role()
    opted_out = QueryBoolean()
    active = QueryBoolean()
