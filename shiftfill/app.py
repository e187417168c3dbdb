"""The application factory: the HTTP face of one shiftfill runtime."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from types import FunctionType
from typing import Any

from flask import Flask, request

from config import Config, ConfigError, config_from_env
from shiftfill import api, board, request_scope, seed
from shiftfill.adapters import logs
from shiftfill.api.blueprint import answers_without_store
from shiftfill.bootstrap import Runtime, bootstrap, describe_config
from shiftfill.seed import SeedError

log = logging.getLogger(__name__)


class App(Flask):
    """Flask, with a cheaper answer to "is this view or hook a coroutine function?".

    Flask asks it before every hook and view it calls, five times for a provider's
    reply, through ``inspect.iscoroutinefunction``: about a microsecond each
    (docs/performance.md, "The reply path"). For a plain function the answer is its
    code's flag, or the mark ``inspect.markcoroutinefunction`` leaves; anything else
    is asked as Flask asks.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if (
            type(func) is FunctionType
            and not func.__code__.co_flags & inspect.CO_COROUTINE
            and "_is_coroutine_marker" not in func.__dict__
        ):
            return func
        return super().ensure_sync(func)


def create_app(config: Config | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app for ``runtime`` (by default, the one ``config`` describes).

    Without ``config`` it reads the environment, as ``flask --app shiftfill.app run``
    does: a setting or seed file that cannot be used then ends the process with
    one line naming it, not a traceback.
    """
    if config is None:
        try:
            return create_app(config_from_env(), runtime)
        except (ConfigError, SeedError) as exc:
            raise SystemExit(f"shiftfill: {exc}") from None
    app = App(__name__, static_folder=None)
    app.config.from_object(config)
    configure_logging(app)
    runtime = runtime or bootstrap(config)
    app.extensions["shiftfill"] = runtime
    request_scope.init_app(app, runtime.metrics.observe_request)
    api.init_app(app)
    board.init_app(app)
    seed.init_app(app, runtime.deps, runtime.startup)
    start_before_requests(app, runtime)
    log_configuration(config, runtime)
    return app


def start_before_requests(app: Flask, runtime: Runtime) -> None:
    """Before a request: start the runtime's threads, and finish its start-up work.

    gunicorn starts the threads in its worker hook; this covers any other WSGI
    server, and keeps app creation itself free of threads. Start-up work the
    store did not answer for (the seed file) runs first, so no request sees a
    store without it; while the store is down, that is a 503 like any other.
    A view marked ``without_store`` (``/metrics``) reads no record and answers anyway.
    """

    ready = False

    @app.before_request
    def start_runtime() -> None:
        nonlocal ready
        if ready:  # every request after the first ones: nothing left to do
            return
        runtime.start()
        if not answers_without_store(app.view_functions.get(request.endpoint or "")):
            runtime.startup.run()
            ready = not runtime.startup.pending


def configure_logging(app: Flask) -> None:
    """Log shiftfill's own messages at ``SHIFTFILL_LOG_LEVEL``, as text or JSON lines.

    When the process already routes logs somewhere (a root handler, as under
    pytest), shiftfill's records go there and no handler is added.
    """
    logger = logging.getLogger("shiftfill")
    logger.setLevel(app.config["SHIFTFILL_LOG_LEVEL"])
    for handler in [h for h in logger.handlers if getattr(h, "shiftfill", False)]:
        logger.removeHandler(handler)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logs.make_handler(app.config["SHIFTFILL_LOG_FORMAT"])
        handler.shiftfill = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def log_configuration(config: Config, runtime: Runtime) -> None:
    """Write the one start-up line an operator reads first: what this process runs with."""
    settings = describe_config(config, runtime.deps.store, inline_sends=runtime.sender.inline)
    log.info(
        "shiftfill started: %s",
        " ".join(f"{key}={value}" for key, value in settings.items()),
        extra={"event": "config", "boot_id": runtime.boot_id, **settings},
    )
