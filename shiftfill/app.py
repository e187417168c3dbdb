"""The application factory: the HTTP face of one shiftfill runtime."""

from __future__ import annotations

import logging

from flask import Flask

from config import Config, config_from_env
from shiftfill import api, seed
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.services.dependencies import Dependencies


def create_app(config: Config | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app for ``runtime`` (by default, the one ``config`` describes)."""
    config = config or config_from_env()
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config)
    configure_logging(app)
    runtime = runtime or bootstrap(config)
    app.extensions["shiftfill"] = runtime
    api.init_app(app)
    seed.init_app(app, runtime.deps)
    start_on_first_request(app, runtime)
    return app


def runtime_of(app: Flask) -> Runtime:
    """Return the runtime ``create_app`` stored on ``app``."""
    runtime: Runtime = app.extensions["shiftfill"]
    return runtime


def dependencies_of(app: Flask) -> Dependencies:
    """Return what the use cases of ``app`` receive."""
    return runtime_of(app).deps


def start_on_first_request(app: Flask, runtime: Runtime) -> None:
    """Start the runtime's threads when the first request arrives, if the server has not.

    gunicorn starts them in its worker hook; this covers any other WSGI server,
    and keeps app creation itself free of threads.
    """

    @app.before_request
    def start_runtime() -> None:
        runtime.start()


def configure_logging(app: Flask) -> None:
    """Log shiftfill's own messages at ``SHIFTFILL_LOG_LEVEL``."""
    logger = logging.getLogger("shiftfill")
    logger.setLevel(app.config["SHIFTFILL_LOG_LEVEL"])
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
