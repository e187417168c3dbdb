"""The composition root: builds every dependency of one shiftfill process, once.

``bootstrap(config)`` picks the store, the notifier, the send workers and the
phone-round poller that the configuration names and hands them out as one
frozen ``Runtime``. A test that wants a fake notifier or a fixed clock builds
its own runtime with ``bootstrap(config, notifier=..., clock=...)``; nothing is
changed on a live one. The server owns the lifecycle: gunicorn's worker hooks
call ``start()`` and ``shutdown()``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from config import Config
from shiftfill.adapters.escalation_poller import EscalationPoller
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.adapters.notifier import LogNotifier
from shiftfill.adapters.prometheus_metrics import PrometheusMetrics
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.adapters.request_gate import RequestGate
from shiftfill.adapters.send_workers import SendWorkers
from shiftfill.adapters.store_outage import OutageLog, StartupWork
from shiftfill.adapters.twilio_notifier import TwilioNotifier
from shiftfill.adapters.webhook_sender import HttpWebhookSender
from shiftfill.adapters.webhook_workers import WebhookWorkers
from shiftfill.api.shifts.schemas import ShiftSchema
from shiftfill.services.delivery import (
    SHUTTING_DOWN,
    Outcome,
    Ready,
    abandon,
    attempt_send,
    prepare_sends,
    record_sends,
)
from shiftfill.services.dependencies import Clock, Dependencies, Settings, Sleep, system_clock
from shiftfill.services.ports import Notifier, Store
from shiftfill.services.upkeep import upkeep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """One shiftfill process: the use cases' dependencies and the threads that work for them."""

    deps: Dependencies
    sender: SendWorkers[Ready, Outcome]
    escalation: EscalationPoller | None
    webhooks: WebhookWorkers | None
    shutdown_drain_seconds: float
    metrics: PrometheusMetrics
    started_at: datetime
    # Start-up work the store did not answer for yet (the seed file), done once it does.
    startup: StartupWork = field(default_factory=StartupWork)
    # Counts the requests being served; the send path waits its turn on it.
    requests: RequestGate = field(default_factory=RequestGate)
    # Tells one process from another, and from itself before a restart.
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _started: threading.Event = field(default_factory=threading.Event, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self) -> None:
        """Start sending, polling for phone rounds and retrying start-up work; once only."""
        if self._started.is_set() or self._stopped.is_set():
            return
        self._started.set()
        self.startup.start()
        self.sender.start()
        if self.escalation is not None:
            self.escalation.start()
        if self.webhooks is not None:
            self.webhooks.start()

    def shutdown(self) -> None:
        """Stop polling, let queued sends go out for a moment, then record what is left.

        With the memory store, what is still queued is lost with the process, so
        each such notification is marked failed and listed in the log; a durable
        store keeps it for the next process, and only sends under way are waited
        for. Safe to call more than once.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.startup.shutdown()
        if self.escalation is not None:
            self.escalation.shutdown()
        if self.webhooks is not None:
            self.webhooks.shutdown()
        self.sender.shutdown(
            self.shutdown_drain_seconds, wait_for_queue=not self.deps.store.durable
        )
        abandon(self.deps, self.deps.store.outbox.drain(), SHUTTING_DOWN)
        self.deps.store.close()


def bootstrap(
    config: Config,
    *,
    store: Store | None = None,
    notifier: Notifier | None = None,
    clock: Clock = system_clock,
    sleep: Sleep = time.sleep,
    escalation: bool = True,
) -> Runtime:
    """Build a runtime from ``config``; keyword arguments replace the part they name.

    ``escalation=False`` leaves out the poller and the webhook workers, for tests
    that run the phone rounds and deliveries themselves at a frozen time.
    """
    store = store or build_store(config, clock)
    # One log line when the store stops answering, whichever thread notices first.
    outage = OutageLog()
    metrics = PrometheusMetrics(store, config.PROMETHEUS_MULTIPROC_DIR)
    requests = RequestGate()
    notifier = notifier or build_notifier(config)
    deps = Dependencies(
        store=store,
        notifier=notifier,
        settings=Settings(
            escalation_delay=timedelta(seconds=config.SHIFTFILL_ESCALATION_DELAY_SECONDS),
            phone_region=config.SHIFTFILL_DEFAULT_REGION,
            time_zone=config.SHIFTFILL_TIME_ZONE,
            send_retries=config.SHIFTFILL_SEND_RETRIES,
            retry_backoff_seconds=config.SHIFTFILL_SEND_RETRY_BACKOFF_MS / 1000,
            send_visibility=timedelta(seconds=config.SHIFTFILL_SEND_VISIBILITY_SECONDS),
            unfilled_after=timedelta(seconds=config.SHIFTFILL_UNFILLED_AFTER_SECONDS),
            webhook_retry_seconds=config.SHIFTFILL_WEBHOOK_RETRY_SECONDS,
            webhook_allow_private=config.SHIFTFILL_WEBHOOK_ALLOW_PRIVATE,
            webhook_deliveries_kept=config.SHIFTFILL_WEBHOOK_DELIVERIES_KEPT,
        ),
        clock=clock,
        sleep=sleep,
        metrics=metrics,
    )
    sender = SendWorkers(
        deps.store.outbox,
        partial(prepare_sends, deps),
        partial(attempt_send, deps),
        partial(record_sends, deps),
        workers=config.SHIFTFILL_SEND_CONCURRENCY,
        rate_per_second=config.SHIFTFILL_SEND_RATE_PER_SECOND,
        outage=outage,
        turns=requests,
        inline=not notifier.waits,
    )
    poller = (
        EscalationPoller(
            partial(upkeep, deps), config.SHIFTFILL_ESCALATION_POLL_SECONDS, outage=outage
        )
        if escalation
        else None
    )
    hooks = WebhookWorkers(
        deps,
        HttpWebhookSender(
            timeout=config.SHIFTFILL_WEBHOOK_TIMEOUT_SECONDS,
            allow_private=config.SHIFTFILL_WEBHOOK_ALLOW_PRIVATE,
        ),
        ShiftSchema().dump,
        config.SHIFTFILL_WEBHOOK_POLL_SECONDS,
        outage=outage,
    )
    return Runtime(
        deps,
        sender,
        poller,
        hooks if escalation else None,
        config.SHIFTFILL_SHUTDOWN_DRAIN_SECONDS,
        metrics=metrics,
        started_at=clock(),
        startup=StartupWork(outage),
        requests=requests,
    )


def describe_config(config: Config, store: Store, *, inline_sends: bool) -> dict[str, object]:
    """The effective settings an operator needs to see at start, and never a secret.

    With ``inline_sends`` the send path's reader makes the sends itself, and
    ``SHIFTFILL_SEND_CONCURRENCY`` is not used: the line says ``inline``.
    """
    return {
        "store": store.kind,
        "notifier": config.SHIFTFILL_NOTIFIER,
        "escalation_delay_seconds": config.SHIFTFILL_ESCALATION_DELAY_SECONDS,
        "send_concurrency": "inline" if inline_sends else config.SHIFTFILL_SEND_CONCURRENCY,
        "auth": "on" if config.SHIFTFILL_API_TOKENS else "off",
        "signatures": "on" if config.TWILIO_AUTH_TOKEN else "off",
        "public_base_url": config.SHIFTFILL_PUBLIC_BASE_URL or None,
        "roles": ",".join(config.SHIFTFILL_ROLES),
        "seed_file": config.SHIFTFILL_SEED_FILE or None,
        "log_format": config.SHIFTFILL_LOG_FORMAT,
    }


def build_store(config: Config, clock: Clock = system_clock) -> Store:
    """Make the store ``SHIFTFILL_STORE_URL`` names (memory when unset)."""
    dedupe_window = timedelta(hours=config.SHIFTFILL_INBOUND_DEDUPE_HOURS)
    if config.SHIFTFILL_STORE_URL.startswith(("redis://", "rediss://")):
        return RedisStore(
            config.SHIFTFILL_STORE_URL,
            prefix=config.SHIFTFILL_REDIS_PREFIX,
            dedupe_window=dedupe_window,
        )
    return MemoryStore(dedupe_window=dedupe_window, clock=clock)


def build_notifier(config: Config) -> Notifier:
    """Make the notifier ``SHIFTFILL_NOTIFIER`` names."""
    if config.SHIFTFILL_NOTIFIER == "twilio":
        return TwilioNotifier(
            account_sid=config.TWILIO_ACCOUNT_SID,
            auth_token=config.TWILIO_AUTH_TOKEN,
            public_base_url=config.SHIFTFILL_PUBLIC_BASE_URL,
            from_number=config.SHIFTFILL_TWILIO_FROM,
            messaging_service_sid=config.SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID,
            api_base=config.SHIFTFILL_TWILIO_API_BASE,
        )
    return LogNotifier(latency_ms=config.SHIFTFILL_NOTIFIER_LATENCY_MS)
