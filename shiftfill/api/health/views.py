"""``/health``: is the process up, and are its store, phone-round poller and sending working."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from shiftfill.api.blueprint import Blueprint

blp = Blueprint("health", __name__, description="Liveness")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    store = ma.fields.String(metadata={"enum": ["memory", "redis"]})
    scheduler = ma.fields.Dict()
    sends_pending = ma.fields.Integer()


@blp.get("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.errors(503)
def health() -> dict[str, Any]:
    """Report that the service is up, with its store, phone-round poller and send queue."""
    runtime = current_app.extensions["shiftfill"]
    store = runtime.deps.store
    store.ping()  # StoreUnavailable: 503 with the error body
    return {
        "status": "ok",
        "store": store.kind,
        "scheduler": {"running": runtime.escalation is not None and runtime.escalation.running},
        "sends_pending": store.outbox.depth(),
    }
