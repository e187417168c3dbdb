"""``/metrics``: counters, histograms and gauges in the Prometheus text format."""

from __future__ import annotations

from flask import Response, current_app

from shiftfill.api.blueprint import Blueprint

blp = Blueprint("metrics", __name__, description="Prometheus metrics")


@blp.get("/metrics")
@blp.without_store()
@blp.doc(
    operationId="getMetrics",
    responses={
        "200": {
            "description": "The Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics() -> Response:
    """Expose fanouts, notifications, replies, fills, request timings and the store's gauges.

    While the store is down it still answers, with every count and ``shiftfill_store_up 0``.
    """
    body, content_type = current_app.extensions["shiftfill"].metrics.exposition()
    return Response(body, content_type=content_type)
