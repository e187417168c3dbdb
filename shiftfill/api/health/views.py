"""``/health``: is the process up, and are its scheduler and send pool working."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.context import services

blp = Blueprint("health", __name__, description="Liveness")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    scheduler = ma.fields.Dict()
    sends_pending = ma.fields.Integer()


@blp.get("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def health() -> dict[str, Any]:
    """Report that the service is up, with its scheduler and send queue."""
    ctx = services()
    return {
        "status": "ok",
        "scheduler": ctx.scheduler.describe(),
        "sends_pending": ctx.send_pool.pending,
    }
