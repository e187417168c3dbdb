"""Prometheus metrics: the use cases' counts, request timings, and gauges read from the store.

Counters and histograms are written by whichever process saw the event. Under
gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by
``config/gunicorn.conf.py`` before the workers fork) makes prometheus_client
keep them in files that every worker writes its own of, and a scrape, whichever
worker answers it, adds them all up. The two gauges are not kept at all: they
are read from the store at scrape time, so they are right whichever process
answers and whatever process changed them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shiftfill.domain.model import ShiftStatus
from shiftfill.services.ports import Store

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# From a reply within seconds to a phone round that ends an hour later.
FILL_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, float("inf"))


def multiprocess_mode() -> bool:
    """Whether prometheus_client writes to ``PROMETHEUS_MULTIPROC_DIR`` (read at its import)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class StoreGauges(Collector):
    """``shiftfill_send_queue_depth`` and ``shiftfill_open_shifts``, read from the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def describe(self) -> Iterator[Metric]:
        """The gauges without their values: registering them then asks the store nothing.

        Without it the registry collects once to learn the names, and a process
        that starts before its Redis answers would stop right there.
        """
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        depth, open_shifts = self._families()
        depth.add_metric([], self._store.outbox.depth())
        yield depth
        open_shifts.add_metric([], len(self._store.shifts.all(status=ShiftStatus.OPEN)))
        yield open_shifts

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "shiftfill_send_queue_depth", "Notifications waiting to be sent or being sent."
            ),
            GaugeMetricFamily(
                "shiftfill_open_shifts", "Shifts that are open (not filled, not cancelled)."
            ),
        )


class PrometheusMetrics:
    """The ``Metrics`` port in Prometheus series, plus HTTP timings and the exposition.

    Each instance has its own registry, so tests can build many apps in one process.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._fanouts = Counter(
            "shiftfill_fanouts", "Fanouts started, by the shift's role.", ["role"], registry=r
        )
        self._notifications = Counter(
            "shiftfill_notifications",
            "Notifications that reached a status (queued, sent, delivered, undelivered, failed, "
            "skipped: not sent because the shift or caregiver changed).",
            ["channel", "status"],
            registry=r,
        )
        self._inbound = Counter(
            "shiftfill_inbound_messages",
            "Inbound messages handled (replays excluded), by outcome.",
            ["outcome"],
            registry=r,
        )
        self._filled = Counter(
            "shiftfill_shifts_filled",
            "Shifts filled, by the round they were filled in.",
            ["round"],
            registry=r,
        )
        self._time_to_fill = Histogram(
            "shiftfill_time_to_fill_seconds",
            "Seconds from the start of a fanout to the winning accept.",
            ["round"],
            buckets=FILL_BUCKETS,
            registry=r,
        )
        self._requests = Histogram(
            "shiftfill_http_request_duration_seconds",
            "Time to answer an HTTP request; endpoint is the route, not the path.",
            ["method", "endpoint", "status"],
            registry=r,
        )
        if not multiprocess_mode():
            r.register(StoreGauges(store))

    # --- the Metrics port ---

    def fanout_started(self, role: str, offered: int) -> None:
        self._fanouts.labels(role=role).inc()

    def notifications(self, channel: str, status: str, count: int = 1) -> None:
        if count:
            self._notifications.labels(channel=channel, status=status).inc(count)

    def inbound_handled(self, outcome: str) -> None:
        self._inbound.labels(outcome=outcome).inc()

    def shift_filled(self, round: str, seconds: float) -> None:
        self._filled.labels(round=round).inc()
        self._time_to_fill.labels(round=round).observe(seconds)

    # --- the web layer ---

    def observe_request(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Time one answered request."""
        self._requests.labels(method=method, endpoint=endpoint, status=str(status)).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape answers, and its content type.

        In multiprocess mode, what every process wrote is added up here, and the
        gauges are read from the store on the side.
        """
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(StoreGauges(self._store))
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Let the files of a worker that exited stop counting for its live-only series."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)
