"""gunicorn settings: threaded workers; one process with the memory store, more with Redis."""

import gc
import os
import shutil
import socket
import sys
import tempfile

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

# Metrics of every worker process add up (prometheus_client's multiprocess mode).
# The directory must be set before any worker imports prometheus_client, so it is
# set here, in the master, when gunicorn reads this file; and it must start empty.
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_own_metrics_dir = not os.environ.get(_METRICS_ENV)
if _own_metrics_dir:
    os.environ[_METRICS_ENV] = tempfile.mkdtemp(prefix="shiftfill-metrics-")
else:
    os.makedirs(os.environ[_METRICS_ENV], exist_ok=True)
    for _name in os.listdir(os.environ[_METRICS_ENV]):
        if _name.endswith(".db"):
            os.remove(os.path.join(os.environ[_METRICS_ENV], _name))

# Imported only now: prometheus_client reads the directory when it is first imported.
from shiftfill.adapters.prometheus_metrics import mark_process_dead  # noqa: E402


def on_starting(server):
    """Check the settings once in the master: a bad one stops start-up with one line.

    Then decide whether the workers listen on sockets of their own (see
    ``_listen_per_worker``); when they do, try each port here first.
    """
    try:
        config_from_env()
    except ConfigError as exc:
        print(f"shiftfill: {exc}", file=sys.stderr, flush=True)
        on_exit(server)
        sys.exit(1)
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
    inherited = os.environ.get("LISTEN_FDS") or os.environ.get("GUNICORN_FD")
    return server.cfg.workers > 1 and tcp_only and not server.LISTENERS and not inherited


def _try_listening(host, port):
    """Bind ``host:port`` as the workers will (``SO_REUSEPORT``), then let it go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, port))


def on_exit(server):
    """Remove the metrics directory this file made."""
    if _own_metrics_dir:
        shutil.rmtree(os.environ[_METRICS_ENV], ignore_errors=True)


def _runtime(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("shiftfill") if app else None


# The cyclic garbage collector's thresholds in each worker (CPython's: 700, 10, 10).
# The memory store keeps every record for the life of the process, and a full
# collection walks all of them: 0.5 s once a million texts are stored. So a full
# collection waits for 1,000 middle ones (about 20 million objects allocated and kept
# alive for a while) instead of 10, while the young and middle collections stay short
# (2,000 and 20,000 objects at most, about 0.3 and 2 ms).
GC_THRESHOLDS = (2_000, 10, 1_000)


def post_worker_init(worker):
    """Tune the collector, then start sending and polling for phone rounds, in the worker."""
    tune_collector()
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.start()


def tune_collector():
    """Once, when the worker has loaded the app and the seed: those are never garbage, so
    the collector stops walking them (``gc.freeze``), and its thresholds are raised."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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


def child_exit(server, worker):
    """Let the metrics files of a worker that exited stop counting as live."""
    mark_process_dead(worker.pid)
