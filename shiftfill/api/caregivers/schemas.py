"""Request and response bodies of the caregivers endpoints."""

from __future__ import annotations

import marshmallow as ma

from shiftfill.api.fields import Id, Phone, Role, Trimmed


class CaregiverCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    name = Trimmed(required=True)
    role = Role(required=True, metadata={"example": "RN"})
    phone = Phone(required=True, metadata={"example": "+15555550101"})
    opted_out = ma.fields.Boolean(load_default=False)


class CaregiverBatchSchema(ma.Schema):
    caregivers = ma.fields.List(
        ma.fields.Nested(CaregiverCreateSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
    )


class CaregiverSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    phone = ma.fields.String()
    opted_out = ma.fields.Boolean()


class CaregiverQuerySchema(ma.Schema):
    role = Role()
