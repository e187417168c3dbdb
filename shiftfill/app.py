"""The application factory: builds the services, the API and the sample data for one app."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from flask import Flask

from config import Config, config_from_env
from shiftfill import api, seed
from shiftfill.adapters.notifier import LogNotifier, Notifier
from shiftfill.adapters.scheduler import APSchedulerEscalation, EscalationScheduler
from shiftfill.adapters.send_pool import SendPool
from shiftfill.adapters.twilio_notifier import TwilioNotifier
from shiftfill.jobs.escalation import escalation_job
from shiftfill.services.context import Context
from shiftfill.services.delivery import deliver


def create_app(
    config: Config | None = None,
    *,
    notifier: Notifier | None = None,
    scheduler: EscalationScheduler | None = None,
) -> Flask:
    """Build a shiftfill app; tests pass fakes for the notifier and the scheduler."""
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config or config_from_env())
    configure_logging(app)
    context = build_context(app, notifier=notifier, scheduler=scheduler)
    app.extensions["shiftfill"] = context
    api.init_app(app)
    seed.init_app(app, context)
    atexit.register(context.shutdown)
    return app


def build_context(
    app: Flask,
    *,
    notifier: Notifier | None = None,
    scheduler: EscalationScheduler | None = None,
) -> Context:
    """Wire the repositories to the notifier, the send pool and the escalation scheduler."""
    settings = app.config
    context = Context(
        notifier=notifier or build_notifier(settings),
        scheduler=scheduler or APSchedulerEscalation(),
        send_pool=SendPool(
            workers=settings["SHIFTFILL_SEND_CONCURRENCY"],
            rate_per_second=settings["SHIFTFILL_SEND_RATE_PER_SECOND"],
        ),
        escalation_delay=timedelta(seconds=settings["SHIFTFILL_ESCALATION_DELAY_SECONDS"]),
        phone_region=settings["SHIFTFILL_DEFAULT_REGION"],
        send_retries=settings["SHIFTFILL_SEND_RETRIES"],
        retry_backoff_seconds=settings["SHIFTFILL_SEND_RETRY_BACKOFF_MS"] / 1000,
        shutdown_drain_seconds=settings["SHIFTFILL_SHUTDOWN_DRAIN_SECONDS"],
    )
    context.scheduler.bind(escalation_job(context))
    context.send_pool.bind(partial(deliver, context))
    return context


def build_notifier(settings: Mapping[str, Any]) -> Notifier:
    """Make the notifier ``SHIFTFILL_NOTIFIER`` names."""
    if settings["SHIFTFILL_NOTIFIER"] == "twilio":
        return TwilioNotifier(
            account_sid=settings["TWILIO_ACCOUNT_SID"],
            auth_token=settings["TWILIO_AUTH_TOKEN"],
            public_base_url=settings["SHIFTFILL_PUBLIC_BASE_URL"],
            from_number=settings["SHIFTFILL_TWILIO_FROM"],
            messaging_service_sid=settings["SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID"],
            api_base=settings["SHIFTFILL_TWILIO_API_BASE"],
        )
    return LogNotifier(latency_ms=settings["SHIFTFILL_NOTIFIER_LATENCY_MS"])


def configure_logging(app: Flask) -> None:
    """Log shiftfill's own messages at ``SHIFTFILL_LOG_LEVEL``."""
    logger = logging.getLogger("shiftfill")
    logger.setLevel(app.config["SHIFTFILL_LOG_LEVEL"])
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
