"""The benchmark's client side: phone numbers, percentiles, and inbound replies driven at
the server from several processes on raw keep-alive sockets."""

from __future__ import annotations

import gc
import math
import multiprocessing
import random
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

INBOUND_CLIENTS = 32
CLIENT_PROCESSES = 4
INBOUND_REQUESTS = 6_000
# The replies come from the caregivers numbered 0 to 499 (see ``phone``).
INBOUND_REPLIERS = 500


@contextmanager
def collector_paused() -> Iterator[None]:
    """This process's garbage collector off while it times the server (and in the client
    processes it forks meanwhile): a full collection over what earlier sections left
    alive here would show up as server latency, 50 ms with a million objects."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def phone(n: int) -> str:
    return f"+1202{n:07d}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


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
    with collector_paused(), multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
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
