"""The invariants on the real server: gunicorn, threads, a one-second escalation delay."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import ROOT, Server, free_port
from deploy.serve import GUNICORN
from tests.api.test_operating import metric
from tests.conftest import shift_body, tomorrow_at
from tests.server.conftest import sent_to

pytestmark = pytest.mark.server

RNS = [f"+1555555{i:04d}" for i in range(300, 330)]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    server = Server()
    yield server
    assert server.stop() == 0


def wait_for(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_thirty_concurrent_accepts_over_http_have_one_winner() -> None:
    # Its own server, stopped before the end: the sends are counted in its log, where
    # the log notifier writes a line per text and call at DEBUG.
    server = Server(SHIFTFILL_ESCALATION_DELAY_SECONDS="1", SHIFTFILL_LOG_LEVEL="DEBUG")
    try:
        race_thirty_accepts(server)
        # Whatever is still queued or being sent goes out before the count.
        assert wait_for(lambda: server.request("GET", "/health")[1]["sends_pending"] == 0)
    finally:
        exit_code = server.stop()
    assert exit_code == 0
    digits = [phone[-4:] for phone in RNS]
    # One text to each RN and none to the LPN; one call to each RN but the one who declined.
    assert sent_to(server.log, "sms") == Counter(digits)
    assert sent_to(server.log, "call") == Counter(digits[1:])


def race_thirty_accepts(server: Server) -> None:
    for i, phone in enumerate(RNS):
        status, _ = server.request(
            "POST",
            "/caregivers",
            {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": phone},
        )
        assert status == 201
    server.request("POST", "/caregivers", {"name": "Lpn", "role": "LPN", "phone": "+15555550399"})
    shift = {
        "id": "sh_race",
        "role_required": "RN",
        "start_time": tomorrow_at(7).isoformat(),
        "end_time": tomorrow_at(19).isoformat(),
    }
    assert server.request("POST", "/shifts", shift)[0] == 201

    statuses = Counter(server.request("POST", "/shifts/sh_race/fanout")[0] for _ in range(5))
    assert statuses == {202: 1, 200: 4}
    assert (
        server.request("POST", "/messages/inbound", {"from": RNS[0], "body": "no"})[1]["outcome"]
        == "declined"
    )

    def calls() -> list[dict]:  # type: ignore[type-arg]
        notes = server.request("GET", "/shifts/sh_race/notifications")[1]
        return [n for n in notes if n["channel"] == "call" and n["status"] == "sent"]

    assert wait_for(lambda: len(calls()) == len(RNS) - 1)
    assert "cg_0" not in {n["caregiver_id"] for n in calls()}

    barrier = threading.Barrier(len(RNS))
    outcomes: list[str] = []
    lock = threading.Lock()

    def accept(phone: str) -> None:
        barrier.wait()
        status, body = server.request("POST", "/messages/inbound", {"from": phone, "body": "yes"})
        assert status == 200
        with lock:
            outcomes.append(body["outcome"])

    threads = [threading.Thread(target=accept, args=(phone,)) for phone in RNS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {"assigned": 1, "filled": len(RNS) - 1}
    final = server.request("GET", "/shifts/sh_race")[1]
    assert final["status"] == "filled"
    events = server.request("GET", "/shifts/sh_race/events")[1]
    assert [e["type"] for e in events].count("escalated") == 1


def test_junk_input_never_gets_a_5xx_over_http(server: Server) -> None:
    junk = [
        ("POST", "/caregivers", b"\xff\xfe\x00", "application/json"),
        ("POST", "/caregivers", b"[]", "application/json"),
        ("POST", "/caregivers", b'{"name": null, "role": 5, "phone": []}', "application/json"),
        ("POST", "/shifts", b'{"start_time": "2026-99-99"}', "application/json"),
        ("POST", "/shifts", b"x" * 200_000, "application/json"),
        ("POST", "/messages/inbound", b"From=%ZZ&Body=\xff", "application/x-www-form-urlencoded"),
        ("POST", "/messages/inbound", b'{"from": 1, "body": {}}', "application/json"),
        ("POST", "/messages/inbound", b"yes", "text/plain"),
        ("GET", "/shifts?status=%00", None, None),
        ("POST", "/shifts/%00/fanout", b"", None),
    ]
    before = server.request("GET", "/caregivers")[1]
    for method, path, raw, content_type in junk:
        status, body = server.request(method, path, raw=raw, content_type=content_type)
        assert 400 <= status < 500, (path, status, body)
        assert set(body["error"]) == {"code", "message", "fields"}, (path, body)
    assert server.request("GET", "/caregivers")[1] == before


def post_chunked(port: int, path: str, content_type: str, body: bytes) -> tuple[int, bytes]:
    """Post ``body`` with ``Transfer-Encoding: chunked`` (8 KiB chunks): status, answer body."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + framed)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_chunked_body_over_the_cap_is_413_over_http(server: Server) -> None:
    """gunicorn ends a chunked body itself, with no length to check first: the caps hold for
    it too (1 MiB for the ops API, 16 KiB for a provider webhook), not cut it short."""
    before = server.request("GET", "/caregivers")[1]
    caregiver = b'{"name": "Chunked", "role": "RN", "phone": "+15555550398"}'
    json_over = caregiver + b" " * (1024 * 1024 + 1 - len(caregiver))
    status, answer = post_chunked(server.port, "/caregivers", "application/json", json_over)
    assert status == 413, answer
    assert b"payload_too_large" in answer
    form = b"From=%2B15555550397&Body=yes&MessageSid=SMchunked"
    form_over = form + b"+" * (16 * 1024 + 1 - len(form))
    form_type = "application/x-www-form-urlencoded"
    assert post_chunked(server.port, "/messages/inbound", form_type, form_over)[0] == 413
    assert server.request("GET", "/caregivers")[1] == before

    status, answer = post_chunked(server.port, "/messages/inbound", form_type, form)
    assert status == 200, answer  # under the cap: answered (an unknown number)


def test_a_webhook_body_with_its_length_is_read_whole_to_the_cap_and_413_past_it(
    server: Server,
) -> None:
    """A body with a Content-Length is read as gunicorn ends it, at that length: all of it
    up to the provider's cap (16 KiB), and one byte more is refused unread."""
    form_type = "application/x-www-form-urlencoded"
    head, tail = b"From=%2B15555550397&MessageSid=SMlength&Padding=", b"&Body=help"
    at_cap = head + b"x" * (16 * 1024 - len(head) - len(tail)) + tail
    status, answer = server.request("POST", "/messages/inbound", raw=at_cap, content_type=form_type)
    assert status == 200, answer
    assert "<Message>" in answer  # the reply, whose Body is the body's last bytes, was read
    past = server.request("POST", "/messages/inbound", raw=at_cap + b"x", content_type=form_type)
    assert past[0] == 413
    assert past[1]["error"]["code"] == "payload_too_large"


def test_gunicorn_opens_no_control_socket_that_could_add_workers(tmp_path: Path) -> None:
    # gunicorn 25.1+ listens on $XDG_RUNTIME_DIR/gunicorn.ctl (or ~/.gunicorn/), where
    # "worker add 1" would start a second worker with a second in-memory store.
    server = Server(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    try:
        assert server.request("GET", "/health")[0] == 200
        assert not wait_for(lambda: any(tmp_path.rglob("*.ctl")), seconds=1.0)
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHIFTFILL_THREADS", "eight"),
        ("SHIFTFILL_THREADS", "100000"),
        ("SHIFTFILL_BIND", "127.0.0.1:99999"),
        ("SHIFTFILL_ACCESS_LOG", "/no/such/directory/access.log"),
        ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "inf"),
        ("SHIFTFILL_ESCALATION_DELAY_SECONDS", "1e12"),
    ],
)
def test_a_bad_server_setting_stops_gunicorn_with_one_line_naming_it_and_its_bounds(
    name: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIFTFILL_", "TWILIO_"))}
    env[name] = value
    result = subprocess.run(
        [*GUNICORN, "wsgi:app", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"shiftfill: {name} must be ") and f"got {value!r}" in line


def a_working_day(server: Server, n: int) -> list[int]:
    """A caregiver, a shift, its fanout, the accept and a scrape: the statuses answered."""
    phone = f"+1555556{n:04d}"
    person = {"id": f"cg_m{n}", "name": f"RN {n}", "role": "RN", "phone": phone}
    return [
        server.request("POST", "/caregivers", person)[0],
        server.request("POST", "/shifts", shift_body(id=f"sh_m{n}"))[0],
        server.request("POST", f"/shifts/sh_m{n}/fanout")[0],
        server.request("POST", "/messages/inbound", {"from": phone, "body": "yes"})[0],
        server.request("GET", "/metrics")[0],
    ]


def test_the_metrics_directory_removed_under_a_running_server_fails_no_request(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    unused = free_port()
    server = Server(
        XDG_CACHE_HOME=str(cache), SHIFTFILL_BIND=f"127.0.0.1:{unused}", SHIFTFILL_THREADS="4"
    )
    try:
        # Out of a tmp cleaner's reach: in the cache directory, one per master.
        directory = cache / "shiftfill" / "metrics" / str(server.process.pid)
        assert a_working_day(server, 1) == [201, 201, 202, 200, 200]
        assert any(directory.glob("counter_*.db"))

        shutil.rmtree(directory)  # as systemd-tmpfiles would
        assert a_working_day(server, 2) == [201, 201, 202, 200, 200]
        assert a_working_day(server, 3) == [201, 201, 202, 200, 200]
        for n in range(4, 7):
            assert a_working_day(server, n) == [201, 201, 202, 200, 200]
        text = server.request("GET", "/metrics")[1]
        # Counted again from the first scrape after the loss (or sooner).
        assert 3 <= metric(text, "shiftfill_fanouts_total", role="RN") <= 5
        assert metric(text, "shiftfill_inbound_messages_total", outcome="assigned") >= 3
        assert directory.is_dir()

        # --bind on the command line won over SHIFTFILL_BIND.
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", unused)) != 0
    finally:
        assert server.stop() == 0
    warnings = [line for line in server.log.splitlines() if "metrics_files" in line]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0] and "removed" in warnings[0]
    assert not directory.exists()  # the master removed its own directory at exit


def test_without_bind_on_the_command_line_gunicorn_listens_on_shiftfill_bind() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIFTFILL_", "TWILIO_"))}
    env.update(SHIFTFILL_SEED_FILE="", SHIFTFILL_BIND=f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [*GUNICORN, "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        assert wait_for(answers, seconds=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0
