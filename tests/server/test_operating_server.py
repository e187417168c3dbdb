"""Operating the real server: one-line configuration errors, metrics across processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bench.harness import ROOT, RedisServer, Server, free_port
from deploy.serve import GUNICORN
from tests.api.test_operating import metric
from tests.conftest import shift_body, tomorrow_at, unique_prefix

pytestmark = pytest.mark.server


def start_up(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SHIFTFILL_SEED_FILE": "", **env}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def shiftfill_lines(stderr: str) -> list[str]:
    """The lines shiftfill itself wrote (gunicorn's own are stamped ``[date] [pid]``)."""
    return [line for line in stderr.splitlines() if line and not line.startswith("[")]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SHIFTFILL_SEND_CONCURRENCY": "0"}, "SHIFTFILL_SEND_CONCURRENCY"),
        ({"SHIFTFILL_ROLES": "RN,Home Health Aide"}, "SHIFTFILL_ROLES"),
        ({"SHIFTFILL_API_TOKEN": "ops"}, "SHIFTFILL_SECRET_KEY"),
        # Signatures on, the ops API left open: refused, naming the token it needs.
        (
            {"TWILIO_AUTH_TOKEN": "secret", "SHIFTFILL_PUBLIC_BASE_URL": "https://x.example.com"},
            "SHIFTFILL_API_TOKEN",
        ),
        (
            {
                "SHIFTFILL_NOTIFIER": "twilio",
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_AUTH_TOKEN": "secret",
                "SHIFTFILL_API_TOKEN": "ops",
                "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
                "SHIFTFILL_TWILIO_FROM": "+15555550100",
                "SHIFTFILL_PUBLIC_BASE_URL": "http://shiftfill.example.com",
            },
            "SHIFTFILL_PUBLIC_BASE_URL",
        ),
    ],
)
def test_a_bad_setting_stops_gunicorn_with_one_line_and_no_traceback(
    env: dict[str, str], named: str
) -> None:
    result = start_up([*GUNICORN, "--bind", f"127.0.0.1:{free_port()}", "wsgi:app"], **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = shiftfill_lines(result.stderr)
    assert line.startswith("shiftfill: ") and named in line
    assert "secret" not in result.stderr


def test_a_port_in_use_stops_several_workers_with_one_line(redis_server: RedisServer) -> None:
    """Each worker binds the port itself: without a check first they would fail forever."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start_up(
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            SHIFTFILL_STORE_URL=redis_server.url,
            SHIFTFILL_WORKERS="2",
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = shiftfill_lines(result.stderr)
    assert line.startswith(f"shiftfill: cannot listen on 127.0.0.1:{port}")


def test_a_bad_seed_file_stops_gunicorn_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"shifts": [{"id": "sh_1", "start_in_hours": "soon"}]}')
    result = start_up(
        [*GUNICORN, "--bind", f"127.0.0.1:{free_port()}", "wsgi:app"],
        SHIFTFILL_SEED_FILE=str(seed),
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = shiftfill_lines(result.stderr)
    assert str(seed) in line and "start_in_hours" in line


def test_the_flask_factory_stops_with_one_line_and_no_traceback() -> None:
    script = "from shiftfill.app import create_app; create_app()"
    result = start_up([sys.executable, "-c", script], SHIFTFILL_SEND_CONCURRENCY="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "shiftfill: SHIFTFILL_SEND_CONCURRENCY must be a whole number from 1 to 2000, got '0'."
    ]


# --- metrics from several processes ---

RECORD = textwrap.dedent(
    """
    from config import config_from_env
    from shiftfill.adapters.memory_store import MemoryStore
    from shiftfill.adapters.prometheus_metrics import PrometheusMetrics

    directory = config_from_env().PROMETHEUS_MULTIPROC_DIR
    metrics = PrometheusMetrics(MemoryStore(), directory)
    metrics.fanout_started("RN", 3)
    metrics.notifications("sms", "sent", 3)
    metrics.shift_filled("sms", 42.0)
    metrics.observe_request("GET", "/health", 200, 0.01)
    """
)
SCRAPE = textwrap.dedent(
    """
    from config import config_from_env
    from shiftfill.adapters.memory_store import MemoryStore
    from shiftfill.adapters.prometheus_metrics import PrometheusMetrics

    directory = config_from_env().PROMETHEUS_MULTIPROC_DIR
    print(PrometheusMetrics(MemoryStore(), directory).exposition()[0].decode())
    """
)


def test_counts_written_by_two_processes_add_up_in_one_scrape(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", RECORD], cwd=ROOT, env=env) for _ in range(2)
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    text = subprocess.run(
        [sys.executable, "-c", SCRAPE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert metric(text, "shiftfill_fanouts_total", role="RN") == 2
    assert metric(text, "shiftfill_notifications_total", channel="sms", status="sent") == 6
    assert metric(text, "shiftfill_shifts_filled_total", round="sms") == 2
    assert metric(text, "shiftfill_time_to_fill_seconds_sum", round="sms") == 84
    assert (
        metric(
            text,
            "shiftfill_http_request_duration_seconds_count",
            method="GET",
            endpoint="/health",
            status="200",
        )
        == 2
    )
    # The gauges are read from the scraping process's store, once, never summed.
    assert text.count("# TYPE shiftfill_open_shifts gauge") == 1
    assert metric(text, "shiftfill_open_shifts") == 0


@pytest.fixture
def two_workers(redis_server: RedisServer) -> Iterator[Server]:
    """Two gunicorn worker processes sharing one Redis store."""
    server = Server(
        SHIFTFILL_STORE_URL=redis_server.url,
        SHIFTFILL_REDIS_PREFIX=unique_prefix(),
        SHIFTFILL_WORKERS="2",
    )
    yield server
    assert server.stop() == 0


def test_gunicorn_workers_share_one_metrics_view(two_workers: Server) -> None:
    # Which worker accepts a connection is up to the kernel: send bursts of concurrent
    # requests until both workers have answered some.
    boots: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(100):
            answers = list(pool.map(lambda _: two_workers.request("GET", "/health"), range(16)))
            assert all(status == 200 for status, _ in answers)
            boots.update(body["boot_id"] for _, body in answers)
            if len(boots) == 2:
                break
        assert len(boots) == 2, "both workers should have answered"
        people = [
            {"id": f"cg_{i}", "name": f"RN {i}", "role": "RN", "phone": f"+1555555{i + 900:04d}"}
            for i in range(20)
        ]
        assert two_workers.request("POST", "/caregivers/batch", {"caregivers": people})[0] == 201
        for n in range(4):
            # A day apart: one caregiver may win several of them (I7 in docs/invariants.md).
            start, end = tomorrow_at(7) + timedelta(days=n), tomorrow_at(19) + timedelta(days=n)
            shift = shift_body(id=f"m_{n}", start_time=start.isoformat(), end_time=end.isoformat())
            assert two_workers.request("POST", "/shifts", shift)[0] == 201
            assert two_workers.request("POST", f"/shifts/m_{n}/fanout")[0] == 202
        assert two_workers.request("POST", "/shifts", shift_body(id="m_open"))[0] == 201
        # Replies spread over both workers: one accept per shift wins, the rest hear "filled".
        replies = [
            {"from": people[i]["phone"], "body": "yes", "shift_id": f"m_{n}"}
            for n in range(4)
            for i in range(5)
        ]
        outcomes = list(
            pool.map(lambda r: two_workers.request("POST", "/messages/inbound", r), replies)
        )
    assert Counter(body["outcome"] for _, body in outcomes) == {"assigned": 4, "filled": 16}
    for _ in range(4):  # whichever worker answers the scrape, it sees both workers' work
        status, text = two_workers.request("GET", "/metrics")
        assert status == 200
        served = metric(
            text,
            "shiftfill_http_request_duration_seconds_count",
            method="GET",
            endpoint="/health",
            status="200",
        )
        assert served >= boots.total()
        assert metric(text, "shiftfill_fanouts_total", role="RN") == 4
        assert metric(text, "shiftfill_inbound_messages_total", outcome="assigned") == 4
        assert metric(text, "shiftfill_inbound_messages_total", outcome="filled") == 16
        assert metric(text, "shiftfill_shifts_filled_total", round="sms") == 4
        # The gauges come from the shared store, so every worker reports the same.
        assert metric(text, "shiftfill_open_shifts") == 1


def listening_sockets(pid: int, port: int) -> set[str]:
    """The inodes of the TCP sockets process ``pid`` holds that listen on ``port``."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            listening.add(fields[9])
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[len("socket:[") : -1])
    return held & listening


def workers_of(server: Server) -> set[int]:
    pid = server.process.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def assert_each_listens_on_its_own_socket(server: Server, workers: set[int]) -> None:
    own = [listening_sockets(worker, server.port) for worker in workers]
    assert all(len(sockets) == 1 for sockets in own), own
    assert len(set().union(*own)) == len(workers)


def test_several_workers_on_a_tcp_port_each_listen_on_their_own_socket(
    two_workers: Server,
) -> None:
    """So the kernel spreads keep-alive clients over the workers, not the first to wake."""
    workers = workers_of(two_workers)
    assert len(workers) == 2
    assert_each_listens_on_its_own_socket(two_workers, workers)


def test_a_reload_keeps_several_workers_listening(two_workers: Server) -> None:
    """SIGHUP reads the settings again and replaces the workers: the new ones must listen too."""
    before = workers_of(two_workers)
    os.kill(two_workers.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        after = workers_of(two_workers)
        if len(after) == 2 and not after & before:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the workers were not replaced: {before} -> {workers_of(two_workers)}")
    statuses = {two_workers.request("GET", "/health")[0] for _ in range(8)}
    assert statuses == {200}
    assert_each_listens_on_its_own_socket(two_workers, after)


def unix_request(path: str, target: str) -> tuple[int, dict[str, object]]:
    """GET ``target`` over the Unix socket at ``path``, as nginx in front would."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: shiftfill\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_several_workers_on_a_unix_socket_all_answer_on_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Each worker taking a socket of its own would replace the path: only the last would answer."""
    path = str(tmp_path / "shiftfill.sock")
    server = Server(
        args=["--bind", f"unix:{path}"],
        SHIFTFILL_STORE_URL=redis_server.url,
        SHIFTFILL_REDIS_PREFIX=unique_prefix(),
        SHIFTFILL_WORKERS="2",
    )
    try:
        boots: Counter[str] = Counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for _ in range(100):
                answers = list(pool.map(lambda _: unix_request(path, "/health"), range(16)))
                assert all(status == 200 for status, _ in answers)
                boots.update(str(body["boot_id"]) for _, body in answers)
                if len(boots) == 2:
                    break
        assert len(boots) == 2, "both workers should answer on the Unix socket"
    finally:
        assert server.stop() == 0
