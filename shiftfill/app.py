"""The application factory: the HTTP face of one shiftfill runtime."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from config import Config, ConfigError, config_from_env
from shiftfill import api, seed
from shiftfill.adapters import logs
from shiftfill.bootstrap import Runtime, bootstrap, describe_config
from shiftfill.seed import SeedError
from shiftfill.services.dependencies import Dependencies

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is used as given only when it is short and plain.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config)
    configure_logging(app)
    runtime = runtime or bootstrap(config)
    app.extensions["shiftfill"] = runtime
    register_request_ids(app)
    register_request_timing(app, runtime)
    api.init_app(app)
    seed.init_app(app, runtime.deps)
    start_on_first_request(app, runtime)
    log_configuration(config, runtime)
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


def register_request_ids(app: Flask) -> None:
    """Give every request an id: the client's ``X-Request-ID`` if plain, else a new one.

    The id is echoed on the response and stamped on every log line of the request.
    Registered before authentication, so a refused token is logged with it too.
    """

    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex
        g.request_id = rid
        g.request_id_token = logs.request_id.set(rid)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        return response

    @app.teardown_request
    def forget_request_id(_: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            logs.request_id.reset(token)


def register_request_timing(app: Flask, runtime: Runtime) -> None:
    """Time every answered request by method, route (never the raw path) and status."""

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            rule = request.url_rule
            method = request.method if request.method in HTTP_METHODS else "OTHER"
            runtime.metrics.observe_request(
                method,
                rule.rule if rule is not None else "unmatched",
                response.status_code,
                time.perf_counter() - started,
            )
        return response


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
    settings = describe_config(config, runtime.deps.store)
    log.info(
        "shiftfill started: %s",
        " ".join(f"{key}={value}" for key, value in settings.items()),
        extra={"event": "config", "boot_id": runtime.boot_id, **settings},
    )
