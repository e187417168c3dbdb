"""The application factory: builds the services, the API and the sample data for one app."""

from __future__ import annotations

import atexit
import logging
from datetime import timedelta

from flask import Flask

from config import Config, config_from_env
from shiftfill import api, seed
from shiftfill.adapters.notifier import LogNotifier, Notifier
from shiftfill.adapters.scheduler import APSchedulerEscalation, EscalationScheduler
from shiftfill.adapters.send_pool import SendPool
from shiftfill.jobs.escalation import escalation_job
from shiftfill.services.context import Context


def create_app(
    config: Config | None = None,
    *,
    notifier: Notifier | None = None,
    scheduler: EscalationScheduler | None = None,
) -> Flask:
    """Build a shiftfill app; tests pass fakes for the notifier and the scheduler."""
    app = Flask(__name__)
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
        notifier=notifier or LogNotifier(latency_ms=settings["SHIFTFILL_NOTIFIER_LATENCY_MS"]),
        scheduler=scheduler or APSchedulerEscalation(),
        send_pool=SendPool(workers=settings["SHIFTFILL_SEND_CONCURRENCY"]),
        escalation_delay=timedelta(seconds=settings["SHIFTFILL_ESCALATION_DELAY_SECONDS"]),
        phone_region=settings["SHIFTFILL_DEFAULT_REGION"],
    )
    context.scheduler.bind(escalation_job(context))
    return context


def configure_logging(app: Flask) -> None:
    """Log shiftfill's own messages at ``SHIFTFILL_LOG_LEVEL``."""
    logger = logging.getLogger("shiftfill")
    logger.setLevel(app.config["SHIFTFILL_LOG_LEVEL"])
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
