"""How a view reaches the dependencies of the app it runs in."""

from __future__ import annotations

from flask import current_app

from shiftfill.services.dependencies import Dependencies


def services() -> Dependencies:
    """Return what the use cases receive, from the runtime ``create_app`` stored on the app."""
    deps: Dependencies = current_app.extensions["shiftfill"].deps
    return deps
