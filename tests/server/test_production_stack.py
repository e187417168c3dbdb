"""The production stack of `make serve`: nginx in front of gunicorn on a Unix socket.

The slow-client check here uses smaller numbers than `make hostile` (50/50/500 for a
minute), but more slow clients than gunicorn has threads: enough to stop bare gunicorn.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import ROOT, Stack, free_port
from bench.hostile import Attack, add_caregiver, probe
from deploy.serve import answers

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        add_caregiver(stack)
        yield stack
    finally:
        exit_code = stack.stop()
    assert exit_code == 0


def raw(stack: Stack, request: bytes) -> tuple[int, bytes, bytes]:
    """Send ``request`` as is; return the status, the headers and the body."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(request)
        # Read the answer, not until the close: after a 413 nginx keeps the connection
        # a while, to read the body it refused, or resets it.
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
        while len(body) < length:
            body += sock.recv(65536)
    return int(head.split()[1]), head, body


def socket_path_of(stack: Stack) -> str:
    """gunicorn's socket, as ``serve.py``'s ready line names it."""
    return stack.read_log().split(" on ", 2)[2].split(")")[0]


def started_at(pid: int) -> str | None:
    """When process ``pid`` started (in clock ticks since boot), or None if there is none.

    With its pid, it names one process: a pid alone may be given to another once freed.
    """
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still has a pid: it is gone all the same.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def test_health_and_webhooks_answer_within_a_second_while_slow_and_idle_clients_hold_on(
    stack: Stack,
) -> None:
    # 12 + 12 slow clients are more than gunicorn's 8 threads: bare gunicorn answers none.
    with Attack(
        stack.port,
        header_dribblers=12,
        body_dribblers=12,
        idle=100,
        header_every=1.0,
        body_every=0.5,
    ) as attack:
        time.sleep(1.0)
        # A probe waits up to 5 s for its answer: one a loaded machine holds past the
        # second is counted slow, not lost. Against bare gunicorn each probe waits 5 s.
        results = probe(stack.port, seconds=6.0, timeout=1.0, wait=5.0)
    for path, stats in results.items():
        slow = [failure for failure in stats.failures if failure.startswith("took ")]
        # Every probe got its 200 ...
        assert stats.failures == slow, (path, stats.failures)
        # ... and all but a few (at most one in ten) within a second.
        assert len(stats.latencies) >= 20, path
        assert len(slow) <= len(stats.latencies) // 10, (path, slow)
    # The attackers were there throughout: nginx held their connections.
    assert attack.stats.open_at_end == {"header": 12, "body": 12, "idle": 100}


def test_errors_nginx_answers_itself_carry_the_error_body(stack: Stack) -> None:
    too_long_url = b"GET /caregivers/" + b"x" * 5000 + b" HTTP/1.1\r\nHost: s\r\n\r\n"
    too_long_header = b"GET /health HTTP/1.1\r\nHost: s\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    too_large_body = (
        b"POST /caregivers HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2000000\r\n\r\n"
    )
    for request, status, code in [
        (too_long_url, 414, b"uri_too_long"),
        (too_long_header, 431, b"request_header_fields_too_large"),
        (too_large_body, 413, b"payload_too_large"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, b"bad_request"),
        # nginx's own 505 and 501: a client's junk, so a 400, never a 5xx page in HTML.
        (b"GET /health HTTP/2.0\r\nHost: s\r\n\r\n", 400, b"bad_request"),
        (
            b"POST /shifts HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
            b"bad_request",
        ),
    ]:
        answered, head, body = raw(stack, request)
        assert answered == status, head
        assert b"Content-Type: application/json" in head
        assert b'"code": "' + code + b'"' in body
        assert b'"fields": {}' in body


def test_requests_reach_the_app_through_nginx(stack: Stack) -> None:
    status, body = stack.request(
        "POST", "/messages/inbound", form={"From": "+15555550181", "Body": "help"}
    )
    assert status == 200
    assert body.startswith("<?xml")
    assert stack.request("GET", "/caregivers?role=RN")[1][0]["phone"] == "+15555550181"


def test_sigterm_stops_nginx_then_gunicorn_and_leaves_nothing_behind() -> None:
    stack = Stack()
    try:
        children = stack.children()
        assert len(children) == 2
        socket_path = socket_path_of(stack)
        assert Path(socket_path).exists()
    finally:
        assert stack.stop() == 0
    assert all(gone(pid) for pid in children)
    assert not Path(socket_path).parent.exists()


def test_a_kill_of_the_stack_script_takes_nginx_and_gunicorn_with_it() -> None:
    stack = Stack()
    children: dict[int, str | None] = {}
    runtime: Path | None = None
    try:
        children = {pid: started_at(pid) for pid in stack.children()}
        runtime = Path(socket_path_of(stack)).parent
        stack.kill()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not all(gone(pid) for pid in children):
            time.sleep(0.1)
        assert all(gone(pid) for pid in children)
    finally:
        stack.kill()  # done already, unless a step before it failed
        for pid, start in children.items():
            # Each child leads a process group of its own (nginx's or gunicorn's workers
            # with it). One still running is the failure under test: stop its group here,
            # if that pid is still the same process (a freed pid may be another's).
            if not gone(pid) and started_at(pid) == start:
                os.killpg(pid, signal.SIGKILL)
        if runtime is not None:
            # A killed serve.py cannot remove its temporary directory; the test does.
            shutil.rmtree(runtime, ignore_errors=True)


def test_make_serve_runs_the_stack_and_stops_it_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "SHIFTFILL_PUBLIC_PORT": str(port), "SHIFTFILL_SEED_FILE": ""}
    make = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        health = f"http://127.0.0.1:{port}/health"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not answers(health):
            time.sleep(0.1)
        assert answers(health)
        serve = [
            int(p) for p in Path(f"/proc/{make.pid}/task/{make.pid}/children").read_text().split()
        ]
        assert len(serve) == 1
        children = [
            int(p) for p in Path(f"/proc/{serve[0]}/task/{serve[0]}/children").read_text().split()
        ]
        make.send_signal(signal.SIGTERM)
        _, errors = make.communicate(timeout=60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    assert make.returncode != 0  # make reports the signal it got
    assert b"Shutting down: Master" in errors  # gunicorn's own graceful stop
    assert gone(serve[0])
    assert all(gone(pid) for pid in children)


def test_a_setting_it_cannot_use_stops_the_stack_with_one_line_naming_it() -> None:
    env = {**os.environ, "SHIFTFILL_PUBLIC_PORT": "70000"}
    result = subprocess.run(
        [sys.executable, "deploy/serve.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "SHIFTFILL_PUBLIC_PORT" in result.stderr
