"""``/health``: is the process up, which process is it, and what does its store hold."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from shiftfill.api.blueprint import Blueprint

blp = Blueprint("health", __name__, description="Liveness")


class RecordsSchema(ma.Schema):
    caregivers = ma.fields.Integer()
    shifts = ma.fields.Integer()
    notifications = ma.fields.Integer()


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["ok"]})
    store = ma.fields.String(metadata={"enum": ["memory", "redis"]})
    started_at = ma.fields.DateTime(
        metadata={"description": "When the process that answered started"}
    )
    boot_id = ma.fields.String(metadata={"description": "Changes whenever that process restarts"})
    seeded_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "When the seed file was first loaded into this store, or null"},
    )
    records = ma.fields.Nested(
        RecordsSchema, metadata={"description": "How many records the store holds"}
    )
    scheduler = ma.fields.Dict()
    sends_pending = ma.fields.Integer()


@blp.get("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.errors(503)
def health() -> dict[str, Any]:
    """Report the process (start, boot id), its store and what it holds, poller and send queue.

    With the memory store, a ``seeded_at`` as recent as ``started_at`` and a few
    records say that a restart lost what the store held before.
    """
    runtime = current_app.extensions["shiftfill"]
    store = runtime.deps.store
    # An unreachable store raises StoreUnavailable: the app's handler answers 503.
    store.ping()
    counts = store.counts()
    seeded_at = store.seeded_at()
    depth = store.outbox.depth()
    return {
        "status": "ok",
        "store": store.kind,
        "started_at": runtime.started_at,
        "boot_id": runtime.boot_id,
        "seeded_at": seeded_at,
        "records": {
            "caregivers": counts.caregivers,
            "shifts": counts.shifts,
            "notifications": counts.notifications,
        },
        "scheduler": {"running": runtime.escalation is not None and runtime.escalation.running},
        "sends_pending": depth,
    }
