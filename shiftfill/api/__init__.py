"""The HTTP API: one flask-smorest blueprint per resource, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask

from shiftfill.api import auth, limits
from shiftfill.api.blueprint import Api
from shiftfill.api.caregivers.views import blp as caregivers_blp
from shiftfill.api.errors import register_error_handlers
from shiftfill.api.fields import Role
from shiftfill.api.health.views import blp as health_blp
from shiftfill.api.messages.views import blp as messages_blp
from shiftfill.api.metrics.views import blp as metrics_blp
from shiftfill.api.organizations.views import blp as organizations_blp
from shiftfill.api.shifts.views import blp as shifts_blp
from shiftfill.api.voice.views import blp as voice_blp

OPENAPI_SETTINGS = {
    "API_TITLE": "shiftfill",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "twilioSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Twilio-Signature",
                },
            }
        },
    },
}


def init_app(app: Flask) -> Api:
    """Register the blueprints, authentication, error handlers and ``/openapi.json``."""
    for key, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(key, value)
    api = Api(app)
    document_roles(api, tuple(app.config["SHIFTFILL_ROLES"]))
    for blp in (
        health_blp,
        metrics_blp,
        organizations_blp,
        caregivers_blp,
        shifts_blp,
        messages_blp,
        voice_blp,
    ):
        api.register_blueprint(blp)
    register_error_handlers(app)
    limits.init_app(app)
    auth.init_app(app)
    return api


def document_roles(api: Api, roles: tuple[str, ...]) -> None:
    """List the roles this app accepts (``SHIFTFILL_ROLES``) as the enum of every role field."""

    # apispec binds attribute functions to its converter, hence the first argument.
    def role_enum(converter: object, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
        return {"enum": list(roles)} if isinstance(field, Role) else {}

    api.ma_plugin.converter.add_attribute_function(role_enum)
