"""``/health``: is the process up, which process is it, and what does its store hold."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from shiftfill.api.blueprint import Blueprint

blp = Blueprint("health", __name__, description="Liveness")


class RecordsSchema(ma.Schema):
    caregivers = ma.fields.Integer(required=True)
    shifts = ma.fields.Integer(required=True)
    notifications = ma.fields.Integer(required=True)


class SchedulerSchema(ma.Schema):
    running = ma.fields.Boolean(
        required=True, metadata={"description": "Whether this process runs the phone-round poller"}
    )


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"]})
    store = ma.fields.String(required=True, metadata={"enum": ["memory", "redis"]})
    started_at = ma.fields.DateTime(
        required=True, metadata={"description": "When the process that answered started"}
    )
    boot_id = ma.fields.String(
        required=True, metadata={"description": "Changes whenever that process restarts"}
    )
    seeded_at = ma.fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "When the seed file was first loaded into this store, or null"},
    )
    records = ma.fields.Nested(
        RecordsSchema, required=True, metadata={"description": "How many records the store holds"}
    )
    scheduler = ma.fields.Nested(SchedulerSchema, required=True)
    sends_pending = ma.fields.Integer(required=True)


@blp.get("/health")
@blp.doc(operationId="getHealth", security=[])
@blp.response(200, HealthSchema)
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
