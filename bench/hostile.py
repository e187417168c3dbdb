"""`make hostile`: slow clients and floods against the production stack, with the figures.

While 50 connections dribble a request header (one line every 5 s), 50 dribble a body
(one byte every 2 s) and 500 sit idle, a probe asks ``/health`` and posts a webhook to
``/messages/inbound`` in turn, each on a new connection as the provider would, and
times the answers: each must come within 1 s (Twilio gives up on a webhook at 15 s).
Closed attack connections are opened again, so the pressure lasts the whole run.

The same attack against bare gunicorn (as `make run` serves it) is run for comparison.
Traffic goes to 127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import resource
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Server, Stack

PHONE = "+15555550181"
HEADER_START = b"GET /health HTTP/1.1\r\nHost: shiftfill\r\n"
BODY_START = (
    b"POST /messages/inbound HTTP/1.1\r\nHost: shiftfill\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n"
)


@dataclass
class _Conn:
    kind: str
    sock: socket.socket
    due: float
    sent: int = 0


@dataclass
class AttackStats:
    opened: dict[str, int] = field(default_factory=dict)
    closed_by_server: dict[str, int] = field(default_factory=dict)
    open_at_end: dict[str, int] = field(default_factory=dict)


class Attack:
    """Slow and idle clients held open from one thread, each reopened when closed."""

    def __init__(
        self,
        port: int,
        *,
        header_dribblers: int,
        body_dribblers: int,
        idle: int,
        header_every: float = 5.0,
        body_every: float = 2.0,
    ) -> None:
        self.address = ("127.0.0.1", port)
        self.plan = {"header": header_dribblers, "body": body_dribblers, "idle": idle}
        self.every = {"header": header_every, "body": body_every, "idle": 3600.0}
        self.stats = AttackStats()
        self._conns: list[_Conn] = []
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attack", daemon=True)

    def __enter__(self) -> Attack:
        for kind, count in self.plan.items():
            for _ in range(count):
                self._open(kind)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for kind in self.plan:
            self.stats.open_at_end[kind] = sum(1 for c in self._conns if c.kind == kind)
        for conn in self._conns:
            conn.sock.close()
        self._selector.close()

    def _open(self, kind: str) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        start = {"header": HEADER_START, "body": BODY_START, "idle": b""}[kind]
        if start:
            sock.sendall(start)
        conn = _Conn(kind, sock, time.monotonic() + self.every[kind])
        self._conns.append(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self.stats.opened[kind] = self.stats.opened.get(kind, 0) + 1

    def _close(self, conn: _Conn) -> None:
        self._selector.unregister(conn.sock)
        conn.sock.close()
        self._conns.remove(conn)
        self.stats.closed_by_server[conn.kind] = self.stats.closed_by_server.get(conn.kind, 0) + 1

    def _run(self) -> None:
        while not self._stop.is_set():
            # Whatever the server says (a 408, a close) ends that connection; open another.
            for key, _ in self._selector.select(timeout=0.05):
                conn: _Conn = key.data
                try:
                    data = conn.sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data or data.startswith(b"HTTP/"):
                    self._close(conn)
                    self._reopen(conn.kind)
            now = time.monotonic()
            for conn in [c for c in self._conns if c.due <= now]:
                conn.sent += 1
                chunk = b"x" if conn.kind == "body" else b"X-Dribble-%d: 1\r\n" % conn.sent
                try:
                    conn.sock.send(chunk)
                    conn.due = now + self.every[conn.kind]
                except OSError:
                    self._close(conn)
                    self._reopen(conn.kind)

    def _reopen(self, kind: str) -> None:
        # When the server is not accepting, the probes show it.
        with contextlib.suppress(OSError):
            self._open(kind)


@dataclass
class ProbeStats:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        done = sorted(self.latencies)
        total = len(done) + len(self.failures)
        if not done:
            return f"{label:<22} {0:>5} of {total:<5} answered within 1 s"
        p50 = done[len(done) // 2] * 1000
        p99 = done[min(len(done) - 1, int(len(done) * 0.99))] * 1000
        return (
            f"{label:<22} {len(done):>5} of {total:<5} answered within 1 s"
            f"   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   max {done[-1] * 1000:6.1f} ms"
        )


def probe(
    port: int, seconds: float, *, timeout: float = 1.0, wait: float | None = None
) -> dict[str, ProbeStats]:
    """Ask ``/health`` and post a webhook in turn for ``seconds``; time each answer.

    An answer later than ``timeout`` is a failure (``took ... s``); a probe waits for
    its answer up to ``wait`` seconds (``timeout`` unless given) before it gives up.
    """
    stats = {"/health": ProbeStats(), "/messages/inbound": ProbeStats()}
    deadline = time.monotonic() + seconds
    for n in itertools.count():
        if time.monotonic() >= deadline:
            break
        path = "/health" if n % 2 == 0 else "/messages/inbound"
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=wait or timeout)
            if path == "/health":
                connection.request("GET", path)
            else:
                form = {"From": PHONE, "Body": "help", "MessageSid": f"SM{n:032d}"}
                connection.request(
                    "POST",
                    path,
                    body=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            response = connection.getresponse()
            response.read()
            connection.close()
            elapsed = time.monotonic() - started
            if response.status != 200:
                stats[path].failures.append(f"status {response.status}")
            elif elapsed > timeout:
                stats[path].failures.append(f"took {elapsed:.2f} s")
            else:
                stats[path].latencies.append(elapsed)
        except OSError as error:
            stats[path].failures.append(type(error).__name__)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    return stats


def add_caregiver(server: Server) -> None:
    """The webhook probe's sender: a caregiver asking for help, which changes nothing."""
    body = {"name": "Probe", "role": "RN", "phone": PHONE}
    status, answer = server.request("POST", "/caregivers", body)
    assert status == 201, answer


def run(server: Server, label: str, args: argparse.Namespace, seconds: float) -> bool:
    add_caregiver(server)
    with Attack(
        server.port,
        header_dribblers=args.headers,
        body_dribblers=args.bodies,
        idle=args.idle,
        header_every=args.header_every,
        body_every=args.body_every,
    ) as attack:
        time.sleep(1.0)  # let every attacker connect and start dribbling
        results = probe(server.port, seconds)
    print(f"\n{label}, {seconds:.0f} s under attack")
    for path, stats in results.items():
        print("  " + stats.line(path))
    for kind in ("header", "body", "idle"):
        print(
            f"  {kind:<7} attackers: {attack.stats.opened.get(kind, 0):>5} connections opened, "
            f"{attack.stats.closed_by_server.get(kind, 0):>5} closed by the server, "
            f"{attack.stats.open_at_end.get(kind, 0):>4} open at the end"
        )
    return all(not stats.failures and stats.latencies for stats in results.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--headers", type=int, default=50)
    parser.add_argument("--bodies", type=int, default=50)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--header-every", type=float, default=5.0)
    parser.add_argument("--body-every", type=float, default=2.0)
    parser.add_argument("--bare-seconds", type=float, default=20.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    print(
        f"shiftfill hostile run: {args.headers} header dribblers (a line every "
        f"{args.header_every:g} s), {args.bodies} body dribblers (a byte every "
        f"{args.body_every:g} s), {args.idle} idle sockets"
    )
    stack = Stack()
    try:
        passed = run(stack, "production stack (make serve: nginx -> gunicorn)", args, args.seconds)
    finally:
        stack.stop()
    if args.bare_seconds > 0:
        bare = Server()
        try:
            run(bare, "for comparison, bare gunicorn (make run)", args, args.bare_seconds)
        finally:
            bare.kill()
    print(f"\nproduction stack: {'PASS' if passed else 'FAIL'} (every probe within 1 s)")
    print(f"hostile run took {time.monotonic() - started:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
