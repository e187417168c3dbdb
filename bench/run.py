"""shiftfill benchmark: the real server under gunicorn, data loaded through the API.

Prints four measurements (fanout latency, fanout completion, inbound throughput
next to a bare Flask endpoint, memory) as a table. Run with ``make bench``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Server

CAREGIVERS = 100_000
QUALIFIED = {"Q10": 10, "Q1K": 1_000, "Q10K": 10_000}
SHIFTS_PER_SIZE = 100
MEMORY_SHIFTS = 10_000
LATENCY_MS = 50
CONCURRENCY = 8
INBOUND_CLIENTS = 32
CLIENT_PROCESSES = 4
INBOUND_REQUESTS = 6_000
INBOUND_FANOUT = 10_000
INBOUND_REPLIERS = 500
RATE_PER_SECOND = 100

SHIFT_TIMES = {"start_time": "2026-12-01T07:00:00+00:00", "end_time": "2026-12-01T19:00:00+00:00"}


def phone(n: int) -> str:
    return f"+1202{n:07d}"


def roster(start: int, count: int, role: str) -> Iterator[dict[str, str]]:
    for n in range(start, start + count):
        yield {"id": f"cg_{n}", "name": f"Caregiver {n}", "role": role, "phone": phone(n)}


def load_caregivers(server: Server, people: list[dict[str, str]]) -> None:
    """Load caregivers through ``POST /caregivers/batch``, a thousand at a time."""
    for i in range(0, len(people), 1000):
        status, body = server.request(
            "POST", "/caregivers/batch", {"caregivers": people[i : i + 1000]}
        )
        if status != 201:
            raise RuntimeError(f"loading caregivers failed: {status} {body}")


def create_shift(server: Server, shift_id: str, role: str) -> None:
    body = {"id": shift_id, "role_required": role, **SHIFT_TIMES}
    status, answer = server.request("POST", "/shifts", body)
    if status != 201:
        raise RuntimeError(f"creating shift failed: {status} {answer}")


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


@contextmanager
def running(**env: str) -> Iterator[Server]:
    server = Server(SHIFTFILL_LOG_LEVEL="WARNING", **env)
    try:
        yield server
    finally:
        server.kill()


def measure_fanout_latency_and_memory() -> dict[str, Any]:
    """Fanout latency with 100,000 caregivers stored; memory per caregiver and notification."""
    out: dict[str, Any] = {}
    with running(SHIFTFILL_NOTIFIER_LATENCY_MS=str(LATENCY_MS)) as server:
        rss_empty = server.rss_bytes()
        people: list[dict[str, str]] = []
        for role, count in QUALIFIED.items():
            people.extend(roster(len(people), count, role))
        people.extend(roster(len(people), CAREGIVERS - len(people), "CNA"))
        seconds, _ = timed(lambda: load_caregivers(server, people))
        out["load_seconds"] = seconds
        rss_loaded = server.rss_bytes()
        out["rss_empty"] = rss_empty
        out["rss_caregivers"] = rss_loaded
        out["bytes_per_caregiver"] = (rss_loaded - rss_empty) / CAREGIVERS

        latency: dict[str, list[float]] = {}
        for role in QUALIFIED:
            samples = []
            for n in range(SHIFTS_PER_SIZE):
                shift_id = f"lat_{role}_{n}"
                create_shift(server, shift_id, role)
                seconds, (status, _) = timed(
                    lambda sid=shift_id: server.request("POST", f"/shifts/{sid}/fanout")
                )
                assert status == 202, status
                samples.append(seconds)
            latency[role] = samples
        out["latency"] = latency

        rss_before = server.rss_bytes()
        for n in range(MEMORY_SHIFTS):
            create_shift(server, f"mem_{n}", "Q10")
            server.request("POST", f"/shifts/mem_{n}/fanout")
        rss_after = server.rss_bytes()
        notifications = MEMORY_SHIFTS * QUALIFIED["Q10"]
        out["rss_shifts"] = rss_after
        out["bytes_per_notification"] = (rss_after - rss_before) / notifications
    return out


def wait_until_sent(server: Server, limit: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if server.request("GET", "/health")[1]["sends_pending"] == 0:
            return time.perf_counter() - start
        time.sleep(0.01)
    raise RuntimeError("sends did not finish")


def measure_completion(count: int, rate: float | None = None) -> dict[str, float]:
    """Time from the fanout request until every text is sent, next to the bound."""
    env = {
        "SHIFTFILL_NOTIFIER_LATENCY_MS": str(LATENCY_MS),
        "SHIFTFILL_SEND_CONCURRENCY": str(CONCURRENCY),
    }
    if rate:
        env["SHIFTFILL_SEND_RATE_PER_SECOND"] = str(rate)
    with running(**env) as server:
        load_caregivers(server, list(roster(0, count, "RN")))
        create_shift(server, "done", "RN")
        start = time.perf_counter()
        status, _ = server.request("POST", "/shifts/done/fanout")
        assert status == 202
        wait_until_sent(server)
        seconds = time.perf_counter() - start
        notes = server.request("GET", "/shifts/done/notifications")[1]
        assert len(notes) == count and {n["status"] for n in notes} == {"sent"}
    bound = math.ceil(count / CONCURRENCY) * LATENCY_MS / 1000
    if rate:
        bound = max(bound, (count - 1) / rate)
    return {"count": count, "seconds": seconds, "bound": bound, "rate": rate or 0}


def inbound_requests(code: str) -> list[bytes]:
    """Realistic replies: accepts, declines, offer codes, and a quarter of replays."""
    rng = random.Random(7)
    bodies = ["yes", "Yes!", f"YES {code}", "no", "No thanks", "can't", "y", "nope"]
    requests: list[bytes] = []
    for n in range(INBOUND_REQUESTS):
        if requests and rng.random() < 0.25:
            requests.append(rng.choice(requests))
            continue
        params = {
            "From": phone(rng.randrange(INBOUND_REPLIERS)),
            "Body": rng.choice(bodies),
            "MessageSid": f"SM{n:032d}",
            "AccountSid": "AC" + "0" * 32,
            "To": "+12025550100",
            "NumMedia": "0",
        }
        requests.append(urlencode(params).encode())
    return requests


def drive(port: int, bodies: list[bytes]) -> dict[str, float]:
    """Send ``bodies`` from ``INBOUND_CLIENTS`` keep-alive clients; throughput and latency.

    The clients run in ``CLIENT_PROCESSES`` processes, so that the load generator's
    own interpreter lock does not show up as server latency.
    """
    per_process = INBOUND_CLIENTS // CLIENT_PROCESSES
    shares = [bodies[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
        start = time.perf_counter()
        results = pool.starmap(_client_process, [(port, share, per_process) for share in shares])
        wall = time.perf_counter() - start
    latencies = [latency for process in results for latency in process[0]]
    errors = [status for process in results for status in process[1]]
    if errors:
        raise RuntimeError(f"{len(errors)} inbound requests failed, e.g. {errors[0]}")
    return {
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 99),
    }


def _client_process(port: int, bodies: list[bytes], clients: int) -> tuple[list[float], list[int]]:
    """One load-generating process: ``clients`` threads on keep-alive raw sockets.

    Requests are encoded up front and responses read by their Content-Length, so
    the client spends as little of the machine's two cores as it can.
    """
    requests = [
        b"POST /messages/inbound HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        for body in bodies
    ]
    queue = iter(requests)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[int] = []

    def client() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        buffer = b""
        while True:
            with lock:
                request = next(queue, None)
            if request is None:
                break
            start = time.perf_counter()
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]
            elapsed = time.perf_counter() - start
            status = int(head.split(b" ", 2)[1])
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors.append(status)
        sock.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def measure_inbound() -> dict[str, Any]:
    """Inbound webhook under load while a 10,000-text fanout is sending, twice.

    The replies answer an LPN shift offered to 500 caregivers, whose texts have
    gone out; meanwhile an RN shift fans out to 10,000 others and keeps sending
    for the whole run (nobody answers it, so it never stops early).
    """
    out: dict[str, Any] = {}
    with running(SHIFTFILL_NOTIFIER_LATENCY_MS=str(LATENCY_MS)) as server:
        load_caregivers(server, list(roster(0, INBOUND_REPLIERS, "LPN")))
        load_caregivers(server, list(roster(INBOUND_REPLIERS, INBOUND_FANOUT, "RN")))
        create_shift(server, "answered", "LPN")
        fanout = server.request("POST", "/shifts/answered/fanout")[1]
        wait_until_sent(server)
        bodies = inbound_requests(fanout["fanout"]["offer_code"])
        create_shift(server, "sending", "RN")
        server.request("POST", "/shifts/sending/fanout")
        out["first"] = drive(server.port, bodies)
        out["sends_pending"] = server.request("GET", "/health")[1]["sends_pending"]
        rss_first = server.rss_bytes()
        out["second"] = drive(server.port, bodies)
        out["rss_growth_second_run"] = server.rss_bytes() - rss_first
    with running(app="bench.bare_app:app") as bare:
        out["bare"] = drive(bare.port, bodies)
    return out


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def report(
    fan: dict[str, Any], completion: list[dict[str, float]], inbound: dict[str, Any]
) -> None:
    print(f"\nshiftfill benchmark - {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("gunicorn: config/gunicorn.conf.py (1 worker, gthread)\n")

    print(f"1. Fanout request latency, {CAREGIVERS:,} caregivers stored, {SHIFTS_PER_SIZE} shifts")
    print(f"   {'qualified':>10} {'p50':>10} {'p99':>10}   target: p99 < 50 ms at 10,000")
    for role, count in QUALIFIED.items():
        samples = fan["latency"][role]
        p50, p99 = ms(statistics.median(samples)), ms(percentile(samples, 99))
        print(f"   {count:>10,} {p50:>10} {p99:>10}")

    print(f"\n2. Fanout completion, provider latency {LATENCY_MS} ms, {CONCURRENCY} send workers")
    head = f"{'texts':>7} {'rate cap':>9} {'took':>9} {'bound':>9} {'ratio':>6}"
    print(f"   {head}   target: ratio <= 1.3")
    for row in completion:
        cap = f"{row['rate']:.0f}/s" if row["rate"] else "none"
        took, bound = f"{row['seconds']:.2f}s", f"{row['bound']:.2f}s"
        ratio = row["seconds"] / row["bound"]
        print(f"   {row['count']:>7,} {cap:>9} {took:>9} {bound:>9} {ratio:>6.2f}")

    print(
        f"\n3. Inbound webhook, {INBOUND_CLIENTS} clients, {INBOUND_REQUESTS:,} replies "
        f"(accepts, declines, 25% replays) while a {INBOUND_FANOUT:,}-text fanout sends"
    )
    print(f"   {'endpoint':<28} {'req/s':>8} {'p50':>9} {'p99':>9}")
    for label, key in [
        ("shiftfill, first run", "first"),
        ("shiftfill, replayed run", "second"),
        ("bare Flask endpoint", "bare"),
    ]:
        row = inbound[key]
        print(f"   {label:<28} {row['rps']:>8,.0f} {ms(row['p50']):>9} {ms(row['p99']):>9}")
    ratio = inbound["first"]["rps"] / inbound["bare"]["rps"]
    print(f"   ratio shiftfill / bare: {ratio:.2f}   target: >= 0.5, p99 < 100 ms")
    print(f"   texts still queued when the first run ended: {inbound['sends_pending']:,}")

    print("\n4. Memory (resident set size of the worker)")
    rows = [
        ("empty server", mib(fan["rss_empty"])),
        (f"after {CAREGIVERS:,} caregivers", mib(fan["rss_caregivers"])),
        (f"after {MEMORY_SHIFTS:,} more fanned-out shifts", mib(fan["rss_shifts"])),
        ("per caregiver", f"{fan['bytes_per_caregiver']:,.0f} bytes"),
        ("per notification (with its shift)", f"{fan['bytes_per_notification']:,.0f} bytes"),
        ("growth during the replayed run", mib(inbound["rss_growth_second_run"])),
    ]
    for label, value in rows:
        print(f"   {label:<40} {value:>14}")
    print(
        f"\n   (loading {CAREGIVERS:,} caregivers through the API took {fan['load_seconds']:.1f} s)"
    )


def main() -> None:
    started = time.perf_counter()
    fan = measure_fanout_latency_and_memory()
    completion = [measure_completion(200), measure_completion(1_000)]
    completion.append(measure_completion(500, rate=RATE_PER_SECOND))
    inbound = measure_inbound()
    report(fan, completion, inbound)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
