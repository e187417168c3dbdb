"""Request and response bodies of the clients endpoints, and the place and credential shapes
caregivers and shifts share with them."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from shiftfill.api.fields import FullMatch, Id, Trimmed
from shiftfill.domain.model import Credential, Location

# The most ids a client may prefer or exclude, and credentials a caregiver or shift may list.
LIST_MAX = 1000
CREDENTIALS_MAX = 50
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class LocationSchema(ma.Schema):
    """A place in degrees: ``lat`` in [-90, 90], ``lon`` in [-180, 180]."""

    lat = ma.fields.Float(
        required=True,
        allow_nan=False,
        validate=ma.validate.Range(-90, 90),
        metadata={"example": 41.8781},
    )
    lon = ma.fields.Float(
        required=True,
        allow_nan=False,
        validate=ma.validate.Range(-180, 180),
        metadata={"example": -87.6298},
    )

    @ma.post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Location:
        return Location(lat=data["lat"], lon=data["lon"])


class CredentialCode(ma.fields.String):
    """A credential's code (``CPR``, ``BLS``...), upper-cased: 1 to 32 letters, digits, ``_.-``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=FullMatch(
                CODE_PATTERN, error="Use 1 to 32 letters, digits or _ . - characters."
            ),
            metadata={"example": "CPR"},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return str(super()._deserialize(value, attr, data, **kwargs)).upper()


class CredentialSchema(ma.Schema):
    """A credential a caregiver holds, valid through ``expires_on`` (null: never expires)."""

    code = CredentialCode(required=True)
    expires_on = ma.fields.Date(required=True, allow_none=True, metadata={"example": "2027-03-31"})

    @ma.post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Credential:
        return Credential(code=data["code"], expires_on=data["expires_on"])


def credentials_field(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(CredentialSchema),
        validate=ma.validate.Length(max=CREDENTIALS_MAX),
        **kwargs,
    )


def codes_field(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        CredentialCode(), validate=ma.validate.Length(max=CREDENTIALS_MAX), **kwargs
    )


def travel_field(**kwargs: Any) -> ma.fields.Float:
    """How far a caregiver travels, in miles (more than 0), or null for any distance."""
    return ma.fields.Float(
        allow_none=True,
        allow_nan=False,
        validate=ma.validate.Range(min=0, max=25_000, min_inclusive=False),
        metadata={"example": 15, "description": "null: any distance"},
        **kwargs,
    )


def _ids(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(Id(), validate=ma.validate.Length(max=LIST_MAX), **kwargs)


class ClientCreateSchema(ma.Schema):
    id = Id(metadata={"description": "Made by the server when absent"})
    organization_id = Id(required=True, metadata={"description": "An existing organization"})
    name = Trimmed(required=True, max_length=100, metadata={"example": "R. Alvarez"})
    location = ma.fields.Nested(LocationSchema, allow_none=True, load_default=None)
    preferred_caregiver_ids = _ids(load_default=list)
    excluded_caregiver_ids = _ids(load_default=list)


class ClientPatchSchema(ma.Schema):
    """Any field but the id; at least one."""

    organization_id = Id()
    name = Trimmed(max_length=100)
    location = ma.fields.Nested(LocationSchema, allow_none=True)
    preferred_caregiver_ids = _ids()
    excluded_caregiver_ids = _ids()

    @ma.validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError(
                "Send at least one of organization_id, name, location, preferred_caregiver_ids, "
                "excluded_caregiver_ids.",
                field_name="_schema",
            )


class ClientSchema(ma.Schema):
    id = ma.fields.String(required=True)
    organization_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    location = ma.fields.Nested(LocationSchema, required=True, allow_none=True)
    preferred_caregiver_ids = ma.fields.List(ma.fields.String(), required=True)
    excluded_caregiver_ids = ma.fields.List(ma.fields.String(), required=True)


class ClientQuerySchema(ma.Schema):
    organization_id = Id()
