"""Processes started in any order, on ports that may be taken.

shiftfill may start before its Redis answers; `make run-redis` and `make serve` may
start on a host where something already listens on their port (Debian's own
redis-server on 6379, a first `make serve` on 8080).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_client

from bench.harness import ROOT, RedisServer, Server, free_port
from config import SAMPLE_SEED
from deploy.run_redis import wait_for_own_redis
from tests.conftest import unique_prefix

pytestmark = pytest.mark.server


class StartingServer(Server):
    """gunicorn, counted as started once it answers at all: a 503 is an answer."""

    def _ready(self) -> bool:
        try:
            self.request("GET", "/health")
        except OSError:
            return False
        return True


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def run_script(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a deploy script to its end (it should refuse at once); its group is stopped anyway."""
    process = subprocess.Popen(
        [sys.executable, script],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture
def other_redis() -> Iterator[RedisServer]:
    """A Redis that is not ours, as Debian's redis-server package runs one."""
    server = RedisServer()
    yield server
    server.close()


def test_a_server_started_before_its_redis_answers_503_then_seeds_and_serves() -> None:
    redis = RedisServer()
    redis.stop()  # its port is free, and nothing listens there yet
    try:
        server = StartingServer(
            SHIFTFILL_STORE_URL=redis.url,
            SHIFTFILL_REDIS_PREFIX=unique_prefix(),
            SHIFTFILL_SEED_FILE=SAMPLE_SEED,
            SHIFTFILL_WORKERS="2",
        )
        try:
            for path in ("/health", "/shifts"):
                status, body = server.request("GET", path)
                assert status == 503, body
                assert body["error"]["code"] == "store_unavailable"
            # A few rounds of the senders', the poller's and the seed's retries.
            time.sleep(2.5)
            redis.start()
            assert wait_for(lambda: server.request("GET", "/health")[0] == 200, 10)
            sample = json.loads(Path(SAMPLE_SEED).read_text())
            for _ in range(4):  # whichever worker answers, the seed is there
                shifts = server.request("GET", "/shifts")[1]
                assert {s["id"] for s in shifts} == {s["id"] for s in sample["shifts"]}
                caregivers = server.request("GET", "/caregivers")[1]
                assert len(caregivers) == len(sample["caregivers"])
            assert server.process.poll() is None
        finally:
            server.stop()
    finally:
        redis.close()
    assert "Traceback" not in server.log
    assert "Worker failed to boot" not in server.log
    # One line an outage in each worker process, however many retries it made.
    assert server.log.count("tries again every second") == 2


def test_run_redis_on_a_port_another_redis_holds_stops_in_one_line_and_writes_nothing(
    other_redis: RedisServer,
) -> None:
    result = run_script(
        "deploy/run_redis.py",
        {
            "SHIFTFILL_REDIS_PORT": str(other_redis.port),
            "SHIFTFILL_BIND": f"127.0.0.1:{free_port()}",
        },
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"127.0.0.1:{other_redis.port}" in result.stderr
    assert "SHIFTFILL_REDIS_PORT" in result.stderr
    assert "serving on" not in result.stderr
    assert redis_client.Redis.from_url(other_redis.url).dbsize() == 0


def test_run_redis_writes_only_to_the_redis_it_started(other_redis: RedisServer) -> None:
    # Another Redis took the port between the check and the start: it answers, but with
    # another process id than the one started here.
    started_here = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        problem = wait_for_own_redis(other_redis.port, started_here, [])
    finally:
        started_here.kill()
        started_here.wait()
    assert problem is not None
    assert f"another Redis (pid {other_redis.process.pid}) answers on port {other_redis.port}" in (
        problem
    )


class Health(http.server.BaseHTTPRequestHandler):
    """A first instance holding the port: it answers /health with 200."""

    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_serve_on_a_port_in_use_stops_in_one_line_and_never_says_serving() -> None:
    first = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    answering = threading.Thread(target=first.serve_forever, daemon=True)
    answering.start()
    try:
        port = first.server_address[1]
        result = run_script(
            "deploy/serve.py", {"SHIFTFILL_PUBLIC_PORT": str(port), "SHIFTFILL_SEED_FILE": ""}
        )
    finally:
        first.shutdown()
        first.server_close()
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "SHIFTFILL_PUBLIC_PORT" in result.stderr
    assert "serving on" not in result.stderr
