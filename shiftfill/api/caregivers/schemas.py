"""Request and response bodies of the caregivers endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.fields import Id, Phone, Role, Trimmed


class CaregiverCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    name = Trimmed(required=True)
    role = Role(required=True, metadata={"example": "RN"})
    phone = Phone(required=True, metadata={"example": "+15555550101"})
    opted_out = ma.fields.Boolean(load_default=False)


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


class CaregiverQuerySchema(ma.Schema):
    role = Role()
