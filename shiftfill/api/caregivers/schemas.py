"""Request and response bodies of the caregivers endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

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


class CaregiverCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    name = Trimmed(required=True)
    role = Role(required=True, metadata={"example": "RN"})
    phone = Phone(required=True, metadata={"example": "+15555550101"})
    opted_out = ma.fields.Boolean(load_default=False)
    language = language_field(load_default=DEFAULT_LANGUAGE)
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True, load_default=None)


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
    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    phone = ma.fields.String()
    opted_out = ma.fields.Boolean()
    language = ma.fields.String(metadata={"enum": list(LANGUAGES)})
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True)


class CaregiverQuerySchema(ma.Schema):
    role = Role()
