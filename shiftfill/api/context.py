"""How a view reaches the services of the app it runs in."""

from __future__ import annotations

from flask import current_app

from shiftfill.services.context import Context


def services() -> Context:
    """Return the service context that ``create_app`` stored on the current app."""
    context: Context = current_app.extensions["shiftfill"]
    return context
