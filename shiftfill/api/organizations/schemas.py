"""Request and response bodies of the organizations endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.fields import Id, TimeZone, Trimmed
from shiftfill.domain.model import Waves

# Hours in a week: a larger cap could never be reached.
MAX_WEEKLY_HOURS = 168


def weekly_hours_field(**kwargs: object) -> ma.fields.Float:
    """A cap on a caregiver's assigned hours per week, or ``null`` for none."""
    return ma.fields.Float(
        allow_none=True,
        allow_nan=False,
        validate=ma.validate.Range(min=0, max=MAX_WEEKLY_HOURS, min_inclusive=False),
        metadata={"example": 40, "description": "null: no cap"},
        **kwargs,  # type: ignore[arg-type]
    )


class WavesSchema(ma.Schema):
    """Text the best ``size`` first, then the next ``size`` every ``interval_seconds``."""

    size = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(1, 100_000), metadata={"example": 10}
    )
    interval_seconds = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(1, 86_400),
        metadata={"example": 120},
    )

    @ma.post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Waves:
        return Waves(size=data["size"], interval_seconds=data["interval_seconds"])


def waves_field(**kwargs: Any) -> ma.fields.Nested:
    return ma.fields.Nested(
        WavesSchema,
        allow_none=True,
        metadata={"description": "null: everyone qualified is texted at once"},
        **kwargs,
    )


class OrganizationCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    name = Trimmed(required=True, max_length=100, metadata={"example": "Sunrise Home Health"})
    time_zone = TimeZone(required=True)
    max_weekly_hours = weekly_hours_field(load_default=None)
    waves = waves_field(load_default=None)


class OrganizationPatchSchema(ma.Schema):
    name = Trimmed(max_length=100)
    time_zone = TimeZone()
    max_weekly_hours = weekly_hours_field()
    waves = waves_field()

    @ma.validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError(
                "Send at least one of name, time_zone, max_weekly_hours.", field_name="_schema"
            )


class OrganizationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    max_weekly_hours = ma.fields.Float(required=True, allow_none=True)
    waves = ma.fields.Nested(WavesSchema, required=True, allow_none=True)
