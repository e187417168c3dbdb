"""gunicorn settings: threaded workers; one process with the memory store, more with Redis."""

import os
import sys

from config import ConfigError, config_from_env

# A setting shiftfill cannot use stops gunicorn here, in the master, with one line
# naming the variable, instead of a traceback per worker and "Worker failed to boot".
try:
    _config = config_from_env()
except ConfigError as error:
    sys.exit(f"shiftfill: {error}")

# With the memory store the records live in the worker's memory, so there is one
# worker (the config refuses more); with Redis, SHIFTFILL_WORKERS processes share it.
workers = _config.SHIFTFILL_WORKERS
worker_class = "gthread"
threads = int(os.environ.get("SHIFTFILL_THREADS", "8"))
bind = os.environ.get("SHIFTFILL_BIND", "127.0.0.1:8000")
# Let queued sends finish on SIGTERM before the worker is killed.
graceful_timeout = 30
timeout = 30
# Off unless asked for: under load, every thread queues on the access log's lock.
accesslog = os.environ.get("SHIFTFILL_ACCESS_LOG") or None
loglevel = os.environ.get("SHIFTFILL_LOG_LEVEL", "info").lower()
# gunicorn's control socket (25.1+) sits at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn), shared by every gunicorn of that user, and can add workers: a second
# worker would hold a second copy of the in-memory store. Nothing here uses it.
control_socket_disable = True


def _runtime(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("shiftfill") if app else None


def post_worker_init(worker):
    """Start sending and polling for phone rounds in the worker, not in the master."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.start()


def worker_exit(server, worker):
    """Stop the phone-round poller and drain the send queue of the exiting worker."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.shutdown()
