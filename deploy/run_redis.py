"""`make run-redis`: shiftfill on the Redis store, with a local Redis, in the foreground.

Starts Debian's ``redis-server`` on ``127.0.0.1:SHIFTFILL_REDIS_PORT`` (6379) with the
persistence production should use (``appendonly yes``, ``appendfsync everysec``) and its
data in ``.redis/``, then gunicorn with ``SHIFTFILL_WORKERS`` (2) processes sharing it.
SIGTERM or Ctrl-C stops gunicorn (draining sends under way), then Redis. Stop it, start
it again: every caregiver, shift, fanout, pending phone round and queued text is there.
A Redis of your own: ``SHIFTFILL_STORE_URL=redis://host:6379/0 SHIFTFILL_WORKERS=4 make run``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.serve import STOP_SIGNALS, start  # noqa: E402

REDIS_MISSING = (
    "shiftfill: redis-server is missing; install Debian's package: apt-get install -y redis-server"
)


def main() -> int:
    """Run Redis and gunicorn until a stop signal or until either exits."""
    executable = shutil.which("redis-server")
    if executable is None:
        print(REDIS_MISSING, file=sys.stderr)
        return 2
    port = os.environ.get("SHIFTFILL_REDIS_PORT", "6379")
    data = ROOT / ".redis"
    data.mkdir(exist_ok=True)
    stopping: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    redis = start(
        [
            executable,
            "--port", port,
            "--bind", "127.0.0.1",
            "--dir", str(data),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
        ]
    )  # fmt: skip
    children = [redis]
    try:
        if not wait_for_redis(int(port), redis):
            print(f"shiftfill: redis-server did not start on port {port}", file=sys.stderr)
            return 1
        os.environ.setdefault("SHIFTFILL_STORE_URL", f"redis://127.0.0.1:{port}/0")
        os.environ.setdefault("SHIFTFILL_WORKERS", "2")
        gunicorn = start(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
        )
        children.append(gunicorn)
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


def wait_for_redis(port: int, redis: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and redis.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.1)
    return False


if __name__ == "__main__":
    sys.exit(main())
