"""The HTTP API: one flask-smorest blueprint per resource, the OpenAPI document and its page."""

from __future__ import annotations

from flask import Flask

from shiftfill.api import auth
from shiftfill.api.blueprint import Api
from shiftfill.api.caregivers.views import blp as caregivers_blp
from shiftfill.api.clients.views import blp as clients_blp
from shiftfill.api.docs.views import blp as docs_blp
from shiftfill.api.errors import register_error_handlers
from shiftfill.api.health.views import blp as health_blp
from shiftfill.api.messages.views import blp as messages_blp
from shiftfill.api.metrics.views import blp as metrics_blp
from shiftfill.api.openapi import OPENAPI_SETTINGS, SharedErrors, document_roles
from shiftfill.api.organizations.views import blp as organizations_blp
from shiftfill.api.shifts.views import blp as shifts_blp
from shiftfill.api.voice.views import blp as voice_blp
from shiftfill.api.webhooks.views import blp as webhooks_blp


def init_app(app: Flask) -> Api:
    """Register the blueprints, authentication, error handlers, ``/openapi.json`` and ``/docs``."""
    for key, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(key, value)
    api = Api(app, spec_kwargs={"extra_plugins": [SharedErrors()]})
    document_roles(api, tuple(app.config["SHIFTFILL_ROLES"]))
    for blp in (
        health_blp,
        metrics_blp,
        organizations_blp,
        webhooks_blp,
        caregivers_blp,
        clients_blp,
        shifts_blp,
        messages_blp,
        voice_blp,
    ):
        api.register_blueprint(blp)
    # A plain Flask blueprint: the page is not an operation of the API it shows.
    app.register_blueprint(docs_blp)
    register_error_handlers(app)
    auth.init_app(app)
    return api
