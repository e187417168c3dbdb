"""The live board: open shifts, fanouts and fills at a glance, for the people who fill shifts."""

from __future__ import annotations

from flask import Flask

from shiftfill.board import access
from shiftfill.board.views import blp


def init_app(app: Flask) -> None:
    """Register ``/board``, its session cookie and its CSRF check."""
    access.init_app(app)
    app.register_blueprint(blp)
