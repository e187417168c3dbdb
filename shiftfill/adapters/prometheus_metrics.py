"""Prometheus metrics: the use cases' counts, request timings, and gauges read from the store.

Counters and histograms are written by whichever process saw the event. Under
gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (chosen by ``config/gunicorn.conf.py``
before the workers fork, and handed here from the config) makes prometheus_client
keep them in files that every worker writes its own of, and a scrape, whichever
worker answers it, adds them all up. The store's gauges are not kept at all: they
are read from the store at scrape time, so they are right whichever process
answers and whatever process changed them (so no gauge lives in the files, and a
worker that exits leaves nothing to mark dead).

Metrics never fail a request: in multiprocess mode every write goes through
``MetricsFiles.record``, which survives the directory being removed (see
``metrics_files``), and a scrape that cannot read the files answers the gauges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

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

from shiftfill.adapters import metrics_files
from shiftfill.adapters.metrics_files import MetricsFiles
from shiftfill.domain.model import ShiftStatus
from shiftfill.services.ports import Store, StoreUnavailable

log = logging.getLogger(__name__)

# From a reply within seconds to a phone round that ends an hour later.
FILL_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, float("inf"))


def _write_directly(write: Callable[[], None]) -> None:
    write()


class StoreGauges(Collector):
    """``shiftfill_send_queue_depth`` and ``shiftfill_open_shifts``, read from the store, and
    ``shiftfill_store_up``: 0 when the store did not answer the scrape, which then still
    answers with every count (an outage is when an operator reads them most)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def describe(self) -> Iterator[Metric]:
        """The gauges without their values: registering them then asks the store nothing.

        Without it the registry collects once to learn the names, and a process
        that starts before its Redis answers would stop right there.
        """
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        depth, open_shifts, up = self._families()
        try:
            queued = self._store.outbox.depth()
            still_open = len(self._store.shifts.all(status=ShiftStatus.OPEN))
        except StoreUnavailable:
            up.add_metric([], 0)
            yield up
            return
        depth.add_metric([], queued)
        open_shifts.add_metric([], still_open)
        up.add_metric([], 1)
        yield from (depth, open_shifts, up)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "shiftfill_send_queue_depth", "Notifications waiting to be sent or being sent."
            ),
            GaugeMetricFamily(
                "shiftfill_open_shifts", "Shifts that are open (not filled, not cancelled)."
            ),
            GaugeMetricFamily(
                "shiftfill_store_up", "1 if the store answered this scrape, 0 if it did not."
            ),
        )


class PrometheusMetrics:
    """The ``Metrics`` port in Prometheus series, plus HTTP timings and the exposition.

    Each instance has its own registry, so tests can build many apps in one process.
    With ``multiprocess_dir`` the values live in prometheus_client's files there
    (one set per process, whatever the number of instances).
    """

    def __init__(self, store: Store, multiprocess_dir: str = "") -> None:
        self._store = store
        self._files: MetricsFiles | None = (
            metrics_files.install(multiprocess_dir) if multiprocess_dir else None
        )
        self._record = self._files.record if self._files else _write_directly
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
        self._webhook_deliveries = Counter(
            "shiftfill_webhook_deliveries",
            "Attempts to deliver a webhook message, by event and what they came to "
            "(delivered, retrying, failed, disabled).",
            ["event", "status"],
            registry=r,
        )
        self._requests = Histogram(
            "shiftfill_http_request_duration_seconds",
            "Time to answer an HTTP request; endpoint is the route, not the path.",
            ["method", "endpoint", "status"],
            registry=r,
        )
        self._children: dict[tuple[Any, tuple[object, ...]], Any] = {}
        if self._files is None:
            r.register(StoreGauges(store))

    # --- the Metrics port ---

    def fanout_started(self, role: str, offered: int) -> None:
        self._record(lambda: self._series(self._fanouts, role).inc())

    def notifications(self, channel: str, status: str, count: int = 1) -> None:
        if count:
            self._record(lambda: self._series(self._notifications, channel, status).inc(count))

    def inbound_handled(self, outcome: str) -> None:
        self._record(lambda: self._series(self._inbound, outcome).inc())

    def shift_filled(self, round: str, seconds: float) -> None:
        self._record(lambda: self._series(self._filled, round).inc())
        self._record(lambda: self._series(self._time_to_fill, round).observe(seconds))

    def webhook_delivery(self, event: str, status: str) -> None:
        self._record(lambda: self._series(self._webhook_deliveries, event, status).inc())

    # --- the web layer ---

    def observe_request(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Time one answered request."""
        self._record(
            lambda: self._series(self._requests, method, endpoint, status).observe(seconds)
        )

    def _series(self, metric: Any, *values: object) -> Any:
        """The series of ``metric`` with label ``values`` (in its labels' order; ``labels``
        makes each a string), looked up once. prometheus_client's ``labels`` checks the
        values and takes a lock on every call: a microsecond and more off every reply
        (docs/performance.md, "The reply path"). Every label here has a few known values,
        so this holds as many entries as prometheus_client keeps series. Called inside
        ``_record``: a new series opens a file, which may fail."""
        key = (metric, values)
        series = self._children.get(key)
        if series is None:
            series = self._children.setdefault(key, metric.labels(*values))
        return series

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape answers, and its content type.

        In multiprocess mode, what every process wrote is added up here, and the
        gauges are read from the store on the side. Files that cannot be read (a
        tmp cleaner took them while they were read) leave the gauges only.
        """
        if self._files is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        registry.register(StoreGauges(self._store))
        if self._files.ready():
            try:
                multiprocess.MultiProcessCollector(registry, path=self._files.directory)
                return generate_latest(registry), CONTENT_TYPE_LATEST
            except Exception as exc:  # a file removed between listing and reading it
                log.warning("metrics files could not be read, answering the gauges only: %s", exc)
                registry = CollectorRegistry()
                registry.register(StoreGauges(self._store))
        return generate_latest(registry), CONTENT_TYPE_LATEST
