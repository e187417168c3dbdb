"""The webhook delivery workers: one poller, and one lane (a thread) per endpoint with work.

Every ``interval`` seconds the poller turns new messages into deliveries and
asks the store for the deliveries due; each endpoint's due deliveries go to that
endpoint's lane, started for them and ended when it has sent them. A lane sends
one delivery at a time, so a receiver that hangs holds only its own lane, never
another endpoint's deliveries nor a text (the send workers are apart). Due
times live in the store, so a delivery due while every process was down is sent
by the first poll after a restart, and a delivery taken by a process that died
is due again when its lease ends.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from functools import partial

from shiftfill.adapters.store_outage import OutageLog
from shiftfill.services import webhooks
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.ports import StoreUnavailable
from shiftfill.services.webhooks import RenderShift, WebhookSender

log = logging.getLogger(__name__)

# Due deliveries looked at per poll.
DUE_BATCH = 500


class WebhookWorkers:
    """Delivers webhook messages in the background, isolated per endpoint."""

    def __init__(
        self,
        deps: Dependencies,
        sender: WebhookSender,
        render_shift: RenderShift,
        interval: float,
        *,
        outage: OutageLog | None = None,
    ) -> None:
        self._deps = deps
        self._sender = sender
        self._render = render_shift
        self._interval = interval
        self._outage = outage or OutageLog()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._lanes: dict[str, threading.Thread] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop polling; attempts under way get ``timeout`` seconds (then their lease runs)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.join(timeout)

    def poll(self) -> None:
        """Dispatch new messages and hand each endpoint's due deliveries to its lane, once."""
        webhooks.dispatch(self._deps, self._render)
        with self._lock:
            busy = set(self._lanes)
        due: dict[str, list[str]] = defaultdict(list)
        found = self._deps.store.webhooks.due(self._deps.clock(), DUE_BATCH, skip=busy)
        for webhook_id, delivery_id in found:
            due[webhook_id].append(delivery_id)
        with self._lock:
            for webhook_id, delivery_ids in due.items():
                if webhook_id in self._lanes:
                    continue  # its lane is busy: the rest waits for the next poll
                lane = threading.Thread(
                    target=self._lane,
                    args=(webhook_id, delivery_ids),
                    name=f"webhook-{webhook_id}",
                    daemon=True,
                )
                self._lanes[webhook_id] = lane
                lane.start()

    def busy(self) -> int:
        """How many endpoints have a lane at work."""
        with self._lock:
            return len(self._lanes)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._guard(self.poll)
            self._stop.wait(self._interval)

    def _lane(self, webhook_id: str, delivery_ids: list[str]) -> None:
        try:
            for delivery_id in delivery_ids:
                if self._stop.is_set():
                    return
                self._guard(
                    partial(
                        webhooks.attempt_delivery, self._deps, self._sender, webhook_id, delivery_id
                    )
                )
        finally:
            with self._lock:
                self._lanes.pop(webhook_id, None)

    def _guard(self, work: Callable[[], object]) -> None:
        """Run ``work``; a store outage or a bug is logged, never the end of the thread."""
        try:
            work()
            self._outage.reachable()
        except StoreUnavailable as exc:
            self._outage.unreachable("webhook delivery", exc)
        except Exception:
            log.exception("webhook delivery work failed")
