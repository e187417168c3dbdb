"""`make run-redis`: shiftfill on the Redis store, with a local Redis, in the foreground.

Starts Debian's ``redis-server`` on ``127.0.0.1:SHIFTFILL_REDIS_PORT`` (6379) with the
persistence production should use (``appendonly yes``, ``appendfsync everysec``) and its
data in ``.redis/``, then gunicorn with ``SHIFTFILL_WORKERS`` (2) processes sharing it.
SIGTERM or Ctrl-C stops gunicorn (draining sends under way), then Redis. Stop it, start
it again: every caregiver, shift, fanout, pending phone round and queued text is there.
A Redis of your own: ``SHIFTFILL_STORE_URL=redis://host:6379/0 SHIFTFILL_WORKERS=4 make run``.

It writes only to the Redis it started. A host with Debian's ``redis-server`` package
usually runs one on 6379 already: a port in use stops this script before anything
starts, with one line naming it; and gunicorn starts only once the Redis answering
on the port reports the process id of the one started here (``INFO server``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import Config, ConfigError, config_from_env  # noqa: E402
from deploy.serve import (  # noqa: E402
    GUNICORN,
    STOP_SIGNALS,
    answers,
    in_use,
    show,
    start,
    wait_for,
)

REDIS_MISSING = (
    "shiftfill: redis-server is missing; install Debian's package: apt-get install -y redis-server"
)
HOST = "127.0.0.1"
# How long Redis may take to answer: loading a large append-only file takes a while.
REDIS_READY_SECONDS = 60


def main() -> int:
    """Run Redis and gunicorn until a stop signal or until either exits."""
    executable = shutil.which("redis-server")
    if executable is None:
        print(REDIS_MISSING, file=sys.stderr)
        return 2
    config = settings()
    if config is None:
        return 2
    port = config.SHIFTFILL_REDIS_PORT
    bind = config.SHIFTFILL_BIND[0]
    wanted = [((HOST, port), "SHIFTFILL_REDIS_PORT")]
    wanted += [(tcp(each), "SHIFTFILL_BIND") for each in config.SHIFTFILL_BIND]
    for address, setting in wanted:
        if address is None:
            continue
        taken = in_use(*address)
        if taken is not None:
            print(
                f"shiftfill: cannot listen on {show(*address)}: {taken}; "
                f"set {setting} to a free port",
                file=sys.stderr,
            )
            return 1
    data = ROOT / ".redis"
    data.mkdir(exist_ok=True)
    stopping: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    redis_server = start(
        [
            executable,
            "--port", str(port),
            "--bind", HOST,
            "--dir", str(data),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
        ]
    )  # fmt: skip
    children = [redis_server]
    try:
        problem = wait_for_own_redis(port, redis_server, stopping)
        if problem is not None:
            print(f"shiftfill: {problem}", file=sys.stderr)
            return 1
        if stopping:
            return 0
        # This Redis, whatever the shell exports: it is the one checked above.
        os.environ["SHIFTFILL_STORE_URL"] = f"redis://{HOST}:{port}/0"
        os.environ.setdefault("SHIFTFILL_WORKERS", "2")
        gunicorn = start([*GUNICORN, "wsgi:app"])
        children.append(gunicorn)
        if bind.startswith("unix:"):
            ready = wait_for(lambda: Path(bind.removeprefix("unix:")).exists(), gunicorn, stopping)
            serving = bind
        else:
            serving = f"http://{bind}"
            ready = wait_for(lambda: answers(serving + "/health"), gunicorn, stopping)
        if not ready:
            return 0 if stopping else 1
        print(
            f"shiftfill: serving on {serving} (gunicorn pid {gunicorn.pid}) with Redis on "
            f"{HOST}:{port} (pid {redis_server.pid}, data in .redis/); "
            "SIGTERM or Ctrl-C stops both",
            file=sys.stderr,
            flush=True,
        )
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        return 0 if stopping else 1
    finally:
        for child in reversed(children):  # gunicorn first: it may still write to Redis
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=45)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def settings() -> Config | None:
    """The settings gunicorn will run with, or None after saying in one line what is wrong.

    Read as gunicorn will read them, on this Redis and by default with 2 workers.
    """
    env = {**os.environ, "SHIFTFILL_STORE_URL": f"redis://{HOST}:6379/0"}
    env.setdefault("SHIFTFILL_WORKERS", "2")
    try:
        return config_from_env(env)
    except ConfigError as exc:
        print(f"shiftfill: {exc}", file=sys.stderr)
        return None


def tcp(bind: str) -> tuple[str, int] | None:
    """The host and port of a gunicorn bind ``host:port``; None for a Unix socket."""
    if bind.startswith("unix:") or ":" not in bind:
        return None
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port) if port.isdigit() else 0


def wait_for_own_redis(
    port: int, server: subprocess.Popen[bytes], stopping: list[int]
) -> str | None:
    """Wait until ``server`` answers on ``port``; else say what answers, or why not.

    The Redis that answers must report ``server``'s process id: another one that
    took the port meanwhile is never written to.
    """
    client = redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=1)
    deadline = time.monotonic() + REDIS_READY_SECONDS
    try:
        while time.monotonic() < deadline and not stopping:
            try:
                answering = int(client.info("server")["process_id"])
            except redis.BusyLoadingError:
                pass  # ours or not, it says once it has loaded its data
            except redis.RedisError:
                if server.poll() is not None:
                    code = server.returncode
                    return f"redis-server exited with {code} before answering on port {port}"
            else:
                if answering != server.pid:
                    return (
                        f"another Redis (pid {answering}) answers on port {port}, not the one "
                        "started here; set SHIFTFILL_REDIS_PORT to a free port"
                    )
                return None
            time.sleep(0.1)
    finally:
        client.close()
    if stopping:
        return None
    return f"redis-server did not answer on port {port} in {REDIS_READY_SECONDS} s"


if __name__ == "__main__":
    sys.exit(main())
