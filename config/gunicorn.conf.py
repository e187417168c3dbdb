"""gunicorn settings: threaded workers; one process with the memory store, more with Redis.

Every value comes from the config object (``config/__init__.py`` declares and
checks each variable); a command-line option such as ``--bind`` wins over it.
"""

import math
import os
import shutil
import socket
import sys
from pathlib import Path

from config import ConfigError, config_from_env
from shiftfill.adapters import metrics_files
from shiftfill.adapters.collector import tune_collector

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
threads = _config.SHIFTFILL_THREADS
bind = list(_config.SHIFTFILL_BIND)
# Let queued sends finish on SIGTERM before the worker is killed: the drain, and a
# few seconds for the rest of the shutdown.
graceful_timeout = max(30, math.ceil(_config.SHIFTFILL_SHUTDOWN_DRAIN_SECONDS) + 5)
timeout = 30
# Off unless asked for: under load, every thread queues on the access log's lock.
accesslog = _config.SHIFTFILL_ACCESS_LOG or None
loglevel = _config.SHIFTFILL_LOG_LEVEL.lower()
# gunicorn's control socket (25.1+) sits at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn), shared by every gunicorn of that user, and can add workers: a second
# worker would hold a second copy of the in-memory store. Nothing here uses it.
control_socket_disable = True


def on_starting(server):
    """Choose the metrics directory, then decide how the workers listen.

    Once per master (a SIGHUP reload reads this file again, but does not come
    here): the workers' files of a previous run are removed only now, never
    under workers that are running.
    """
    _prepare_metrics_directory(server)
    server.cfg.set("reuse_port", _listen_per_worker(server))
    if server.cfg.reuse_port:
        # The workers bind, not this process: a port in use would make them fail
        # and be restarted forever. Try each address here first, and stop with
        # one line, as gunicorn does when it binds itself.
        for host, port in server.cfg.address:
            try:
                _try_listening(host, port)
            except OSError as exc:
                shown = f"[{host}]" if ":" in host else host
                print(f"shiftfill: cannot listen on {shown}:{port}: {exc}", file=sys.stderr)
                on_exit(server)
                sys.exit(1)


def _prepare_metrics_directory(server):
    """Metrics of every worker process add up (prometheus_client's multiprocess mode).

    The directory is set in the environment here, in the master, before any
    worker forks; each worker's config reads it from there. Without
    PROMETHEUS_MULTIPROC_DIR the server makes its own in the user's cache
    directory, out of a tmp cleaner's reach, and removes it at exit.
    """
    given = _config.PROMETHEUS_MULTIPROC_DIR
    try:
        if given:
            metrics_files.empty(Path(given))
            directory = Path(given)
        else:
            directory, warning = metrics_files.make_own_directory(_config.cache_home, os.getpid())
            server.shiftfill_metrics_dir = directory  # removed by on_exit
            if warning:
                server.log.warning("shiftfill: %s", warning)
    except OSError as exc:
        print(f"shiftfill: PROMETHEUS_MULTIPROC_DIR cannot be used: {exc}", file=sys.stderr)
        sys.exit(1)
    os.environ[metrics_files.MULTIPROC_ENV] = str(directory)


def on_reload(server):
    """A HUP reads this file again into fresh settings: decide again before the new workers."""
    server.cfg.set("reuse_port", _listen_per_worker(server))


def _listen_per_worker(server):
    """Whether each worker should listen on a socket of its own (``SO_REUSEPORT``).

    With several workers on one shared socket, whichever wakes first accepts, and
    keep-alive clients (a proxy, the provider) can pile onto one worker while the
    other idles: 25 of 32 connections in a benchmark run, with a third less
    throughput. With sockets of their own the kernel spreads new connections.
    Only for TCP binds (``--bind`` included): a Unix socket is one path that each
    worker would replace with its own. Not when the master already holds the
    sockets (a HUP that changed the bind) or inherits them (systemd, a re-exec).
    """
    tcp_only = all(isinstance(address, tuple) for address in server.cfg.address)
    inherited = _config.LISTEN_FDS or _config.GUNICORN_FD
    return server.cfg.workers > 1 and tcp_only and not server.LISTENERS and not inherited


def _try_listening(host, port):
    """Bind ``host:port`` as the workers will (``SO_REUSEPORT``), then let it go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, port))


def on_exit(server):
    """Remove the metrics directory the server made (never one it was given)."""
    own = getattr(server, "shiftfill_metrics_dir", None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)


def _runtime(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("shiftfill") if app else None


def post_worker_init(worker):
    """Tune the collector, then start sending and polling for phone rounds, in the worker."""
    tune_collector()
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.start()


def pre_request(worker, req):
    """Count the request as served: the send path waits its turn meanwhile (see
    shiftfill/adapters/request_gate.py). From here, once the request is parsed, until
    post_request, once its response is written."""
    worker.log.debug("%s %s", req.method, req.path)  # what gunicorn's own hook does
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.requests.enter()


def post_request(worker, req, environ, resp):
    """The request's response is written (or it failed): it no longer counts."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.requests.leave()


def worker_exit(server, worker):
    """Stop the phone-round poller and drain the send queue of the exiting worker."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.shutdown()
