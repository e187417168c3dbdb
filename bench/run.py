"""shiftfill benchmark: the real server under gunicorn, data loaded through the API.

Prints five measurements, each on the memory store and on Redis (fanout latency,
fanout completion, inbound throughput next to a bare Flask endpoint, memory, and
Redis round trips per accepted reply) as tables, then a sixth at scale (a 100,000-
caregiver seed file, texts sent as fast as the process can; bench/scale.py). Run
with ``make bench``.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import scale
from bench.harness import RedisServer, RoundTrips, Server
from bench.load import (
    INBOUND_CLIENTS,
    INBOUND_REPLIERS,
    INBOUND_REQUESTS,
    collector_paused,
    drive,
    inbound_requests,
    percentile,
    phone,
)

CAREGIVERS = 100_000
QUALIFIED = {"Q10": 10, "Q1K": 1_000, "Q10K": 10_000}
SHIFTS_PER_SIZE = 100
REDIS_SHIFTS_PER_SIZE = 30
MEMORY_SHIFTS = 10_000
REDIS_MEMORY_SHIFTS = 2_000
LATENCY_MS = 50
CONCURRENCY = 8
SENDERS = 500  # the default SHIFTFILL_SEND_CONCURRENCY
INBOUND_FANOUT = 10_000
RATE_PER_SECOND = 100

# Tomorrow, whenever the benchmark runs: a shift that has ended cannot be fanned out.
_TOMORROW = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1)
SHIFT_TIMES = {
    "start_time": _TOMORROW.isoformat(),
    "end_time": (_TOMORROW + timedelta(hours=12)).isoformat(),
}
# The benchmark's own roles (named after how many qualify), besides the usual ones.
ROLES = ",".join(["RN", "LPN", "CNA", *QUALIFIED])


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


@contextmanager
def running(**env: str) -> Iterator[Server]:
    server = Server(SHIFTFILL_LOG_LEVEL="WARNING", SHIFTFILL_ROLES=ROLES, **env)
    try:
        yield server
    finally:
        server.kill()


class Store:
    """Where a benchmarked server keeps its records: memory, or a Redis of its own."""

    def __init__(self, redis: RedisServer | None = None) -> None:
        self.redis = redis
        self.name = "redis" if redis else "memory"
        self._runs = 0

    def env(self, workers: int = 1) -> dict[str, str]:
        if self.redis is None:
            return {}
        self._runs += 1
        return {
            "SHIFTFILL_STORE_URL": self.redis.url,
            "SHIFTFILL_REDIS_PREFIX": f"bench{self._runs}:",
            "SHIFTFILL_WORKERS": str(workers),
        }

    def used_bytes(self, server: Server) -> int:
        """The worker's resident set, or Redis's own count of the memory it uses."""
        if self.redis is None:
            return server.rss_bytes()
        info = redis_client(self.redis).info("memory")
        return int(info["used_memory"])


def redis_client(redis: RedisServer) -> Any:
    import redis as redis_py  # the benchmark's own client, only for INFO

    return redis_py.Redis.from_url(redis.url)


def measure_fanout_latency_and_memory(store: Store) -> dict[str, Any]:
    """Fanout latency with 100,000 caregivers stored; memory per caregiver and notification."""
    out: dict[str, Any] = {}
    per_size = REDIS_SHIFTS_PER_SIZE if store.redis else SHIFTS_PER_SIZE
    memory_shifts = REDIS_MEMORY_SHIFTS if store.redis else MEMORY_SHIFTS
    # Eight senders, as in the completion figures: the fanouts measured here queue
    # over a million texts, and this measures the request, not the sending.
    env = {
        "SHIFTFILL_NOTIFIER_LATENCY_MS": str(LATENCY_MS),
        "SHIFTFILL_SEND_CONCURRENCY": str(CONCURRENCY),
        **store.env(),
    }
    with running(**env) as server:
        rss_empty = store.used_bytes(server)
        people: list[dict[str, str]] = []
        for role, count in QUALIFIED.items():
            people.extend(roster(len(people), count, role))
        people.extend(roster(len(people), CAREGIVERS - len(people), "CNA"))
        seconds, _ = timed(lambda: load_caregivers(server, people))
        out["load_seconds"] = seconds
        rss_loaded = store.used_bytes(server)
        out["rss_empty"] = rss_empty
        out["rss_caregivers"] = rss_loaded
        out["bytes_per_caregiver"] = (rss_loaded - rss_empty) / CAREGIVERS

        latency: dict[str, list[float]] = {}
        with collector_paused():
            for role in QUALIFIED:
                samples = []
                for n in range(per_size):
                    shift_id = f"lat_{role}_{n}"
                    create_shift(server, shift_id, role)
                    seconds, (status, _) = timed(
                        lambda sid=shift_id: server.request("POST", f"/shifts/{sid}/fanout")
                    )
                    assert status == 202, status
                    samples.append(seconds)
                latency[role] = samples
        out["latency"] = latency

        rss_before = store.used_bytes(server)
        for n in range(memory_shifts):
            create_shift(server, f"mem_{n}", "Q10")
            server.request("POST", f"/shifts/mem_{n}/fanout")
        rss_after = store.used_bytes(server)
        notifications = memory_shifts * QUALIFIED["Q10"]
        out["rss_shifts"] = rss_after
        out["bytes_per_notification"] = (rss_after - rss_before) / notifications
    return out


def wait_until_sent(server: Server, limit: float = 120) -> float:
    """Poll ``/health`` until nothing is pending; 50 ms between polls, so that the
    measuring (four store reads a poll) does not compete with the sending it measures."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if server.request("GET", "/health")[1]["sends_pending"] == 0:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError("sends did not finish")


def measure_completion(
    store: Store,
    count: int,
    rate: float | None = None,
    latency_ms: int = LATENCY_MS,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    """Time from the fanout request until every text is sent, next to the bound."""
    env = {
        "SHIFTFILL_NOTIFIER_LATENCY_MS": str(latency_ms),
        "SHIFTFILL_SEND_CONCURRENCY": str(concurrency),
        **store.env(),
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
    bound = math.ceil(count / concurrency) * latency_ms / 1000
    if rate:
        bound = max(bound, (count - 1) / rate)
    return {
        "store": store.name,
        "count": count,
        "seconds": seconds,
        "bound": bound,
        "rate": rate or 0,
        "latency_ms": latency_ms,
        "workers": concurrency,
    }


def measure_inbound(store: Store, workers: int = 1) -> dict[str, Any]:
    """Inbound webhook under load while a 10,000-text fanout is sending, twice.

    The replies answer an LPN shift offered to 500 caregivers, whose texts have
    gone out; meanwhile an RN shift fans out to 10,000 others and keeps sending
    for the whole run (nobody answers it, so it never stops early).
    """
    out: dict[str, Any] = {}
    env = {
        "SHIFTFILL_NOTIFIER_LATENCY_MS": str(LATENCY_MS),
        # The same sending beside the replies whatever the worker count: eight in
        # flight in all (the setting is per process).
        "SHIFTFILL_SEND_CONCURRENCY": str(CONCURRENCY // workers),
        **store.env(workers),
    }
    with running(**env) as server:
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
        rss_first = store.used_bytes(server)
        out["second"] = drive(server.port, bodies)
        out["rss_growth_second_run"] = store.used_bytes(server) - rss_first
    return out


def measure_bare() -> dict[str, float]:
    """The same replies against a bare Flask endpoint under the same gunicorn settings."""
    with running(app="bench.bare_app:app") as bare:
        return drive(bare.port, inbound_requests("0000"))


def count_round_trips(redis: RedisServer) -> dict[str, int]:
    """Round trips to Redis of the inbound use case, counted on a warm connection.

    Runs the use cases in this process, with no send worker or poller started, so
    that every command counted is the reply's own.
    """
    from config import TestingConfig
    from shiftfill.bootstrap import bootstrap
    from shiftfill.services.caregivers import register_caregivers
    from shiftfill.services.fanout import start_fanout
    from shiftfill.services.inbound import InboundMessage, handle_inbound
    from shiftfill.services.shifts import create_shift

    config = TestingConfig({"SHIFTFILL_STORE_URL": redis.url, "SHIFTFILL_REDIS_PREFIX": "trips:"})
    deps = bootstrap(config, escalation=False).deps
    people = [{"name": f"RN {n}", "role": "RN", "phone": phone(n)} for n in range(3)]
    register_caregivers(deps, people)
    times = {key: datetime.fromisoformat(value) for key, value in SHIFT_TIMES.items()}
    create_shift(deps, id="trips", organization_id="default", role_required="RN", **times)
    start_fanout(deps, "trips")
    # Warm up: the connection is open and the read scripts are loaded, as in a running server.
    handle_inbound(deps, InboundMessage(sender=phone(2), body="help", message_id="SM0"))
    out = {}
    with RoundTrips() as trips:
        for label, sender, message_id in (
            ("accepted reply", phone(0), "SM1"),
            ("the same reply replayed", phone(0), "SM1"),
            ("a later reply (filled)", phone(1), "SM2"),
        ):
            message = InboundMessage(sender=sender, body="yes", message_id=message_id)
            out[label] = trips.of(lambda m=message: handle_inbound(deps, m))
    deps.store.close()
    return out


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def report(
    fans: dict[str, dict[str, Any]],
    completion: list[dict[str, Any]],
    inbound: dict[str, dict[str, Any]],
    bare: dict[str, float],
    trips: dict[str, int],
) -> None:
    print(f"\nshiftfill benchmark - {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("gunicorn: config/gunicorn.conf.py (gthread); Redis: Debian's redis-server on loopback\n")

    print(f"1. Fanout request latency, {CAREGIVERS:,} caregivers stored")
    print(f"   {'store':<8} {'qualified':>10} {'shifts':>7} {'p50':>10} {'p99':>10}")
    for name, fan in fans.items():
        for role, count in QUALIFIED.items():
            samples = fan["latency"][role]
            p50, p99 = ms(statistics.median(samples)), ms(percentile(samples, 99))
            print(f"   {name:<8} {count:>10,} {len(samples):>7} {p50:>10} {p99:>10}")
    print("   targets: p99 < 50 ms (memory) and < 150 ms (Redis) at 10,000")

    print("\n2. Fanout completion: from the request until every text is sent")
    head = (
        f"{'store':<8} {'texts':>6} {'latency':>8} {'senders':>8} {'rate cap':>9} "
        f"{'took':>8} {'bound':>8} {'ratio':>6}"
    )
    print(f"   {head}")
    for row in completion:
        cap = f"{row['rate']:.0f}/s" if row["rate"] else "none"
        took, bound = f"{row['seconds']:.2f}s", f"{row['bound']:.2f}s"
        ratio = row["seconds"] / row["bound"]
        print(
            f"   {row['store']:<8} {row['count']:>6,} {row['latency_ms']:>6}ms "
            f"{row['workers']:>8} {cap:>9} {took:>8} {bound:>8} {ratio:>6.2f}"
        )
    print("   targets: ratio <= 1.3; 1,000 texts at 1 s provider latency within 5 s")

    print(
        f"\n3. Inbound webhook, {INBOUND_CLIENTS} clients, {INBOUND_REQUESTS:,} replies "
        f"(accepts, declines, 25% replays) while a {INBOUND_FANOUT:,}-text fanout sends"
    )
    print(f"   {'server':<34} {'req/s':>8} {'p50':>9} {'p99':>9}")
    rows = [(f"{label}, first run", run["first"]) for label, run in inbound.items()]
    rows += [(f"{label}, replayed run", run["second"]) for label, run in inbound.items()]
    rows.append(("bare Flask endpoint", bare))
    for label, row in rows:
        print(f"   {label:<34} {row['rps']:>8,.0f} {ms(row['p50']):>9} {ms(row['p99']):>9}")
    memory_rps = inbound["memory, 1 worker"]["first"]["rps"]
    redis_rps = inbound["redis, 2 workers"]["first"]["rps"]
    print(f"   ratio memory / bare: {memory_rps / bare['rps']:.2f}   target: >= 0.5")
    print(f"   ratio redis (2 workers) / memory: {redis_rps / memory_rps:.2f}   target: >= 0.8")

    print("\n4. Memory: the worker's resident set (memory store), Redis's used_memory (Redis)")
    for name, fan in fans.items():
        shifts = REDIS_MEMORY_SHIFTS if name == "redis" else MEMORY_SHIFTS
        print(
            f"   {name:<8} per caregiver {fan['bytes_per_caregiver']:>7,.0f} bytes"
            f"   per notification (with its shift, {shifts:,} shifts) "
            f"{fan['bytes_per_notification']:>6,.0f} bytes"
        )
    for label, run in inbound.items():
        print(f"   growth during the replayed run, {label}: {mib(run['rss_growth_second_run'])}")

    print("\n5. Redis round trips (client sends) per inbound reply, in process")
    for label, count in trips.items():
        print(f"   {label:<28} {count:>3}")
    print("   target: an accepted reply in at most 3")


def main() -> None:
    started = time.perf_counter()
    memory = Store()
    redis_server = RedisServer()
    try:
        redis = Store(redis_server)
        fans = {
            "memory": measure_fanout_latency_and_memory(memory),
            "redis": measure_fanout_latency_and_memory(redis),
        }
        completion = [
            measure_completion(memory, 200),
            measure_completion(memory, 1_000),
            measure_completion(memory, 500, rate=RATE_PER_SECOND),
        ]
        for store in (memory, redis):
            completion.append(
                measure_completion(store, 1_000, latency_ms=1_000, concurrency=SENDERS)
            )
        completion.append(measure_completion(redis, 500, rate=RATE_PER_SECOND))
        inbound = {
            "memory, 1 worker": measure_inbound(memory),
            "redis, 1 worker": measure_inbound(redis, workers=1),
            "redis, 2 workers": measure_inbound(redis, workers=2),
        }
        bare = measure_bare()
        trips = count_round_trips(redis_server)
        at_scale = scale.measure()
    finally:
        redis_server.close()
    report(fans, completion, inbound, bare, trips)
    scale.report(at_scale)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
