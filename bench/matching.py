"""Benchmark of matching: the fanout of a client's shift that needs a credential.

100,000 caregivers, each with a place, a travel range and a CPR credential;
11,000 of them are nurses, and of those 1,000 are kept out by the shift's client
and credentials (too far, CPR lapsed before the shift ends, or excluded by the
client), so about 10,000 qualify. Twenty shifts, each of a client of its own
(a place, three preferred caregivers, a few excluded) and needing CPR, are fanned
out one after another; the time of each ``POST /shifts/<id>/fanout`` through
Flask's test client is measured: the whole request (reading the roster, matching
and ranking, the one shift step that queues the texts, the answer's JSON) without
a network hop, and with the send workers not started, so nothing competes for the
CPU. A second series does the same with one nurse's travel range changed (a ``PATCH``,
not timed) before each fanout, as an agency editing its roster meanwhile. Run on
the memory store and on a Redis of its own (Debian's redis-server), with
``python bench/matching.py`` (``--profile`` prints where the time goes).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient

from bench.harness import RedisServer
from config import TestingConfig
from shiftfill.adapters.collector import tune_collector
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.domain.model import Caregiver, Client, Credential, Location, Shift

CAREGIVERS = 100_000
ROLE = "RN"
FANOUTS = 20
WARM_UP = 2
CENTRE = Location(40.75, -73.98)
_TOMORROW = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1)


def caregivers(rng: random.Random) -> list[Caregiver]:
    """The roster: 11 in 100 are nurses; of those, 1 in 11 is kept out by place or CPR."""
    valid = (_TOMORROW + timedelta(days=365)).date()
    lapsed = _TOMORROW.date() - timedelta(days=1)
    people = []
    for n in range(CAREGIVERS):
        nurse = n % 100 < 11
        kept_out = nurse and n % 100 == 10
        far = kept_out and n % 200 < 100
        place = Location(
            CENTRE.lat + rng.uniform(-0.15, 0.15) + (2.0 if far else 0.0),
            CENTRE.lon + rng.uniform(-0.15, 0.15),
        )
        expires: date = lapsed if kept_out and not far else valid
        people.append(
            Caregiver(
                id=f"cg_{n}",
                name=f"Caregiver {n}",
                role=ROLE if nurse else ("CNA" if n % 2 else "LPN"),
                phone=f"+1202{n:07d}",
                location=place,
                max_travel_miles=float(rng.randint(20, 50)),
                credentials=(Credential("CPR", expires), Credential("BLS", None)),
            )
        )
    return people


def clients(rng: random.Random, count: int) -> list[Client]:
    """A client per shift near the centre, each preferring three nurses and refusing five."""
    nurses = [f"cg_{n}" for n in range(CAREGIVERS) if n % 100 < 10]
    return [
        Client(
            id=f"client_{i}",
            organization_id="default",
            name=f"Client {i}",
            location=Location(
                CENTRE.lat + rng.uniform(-0.05, 0.05), CENTRE.lon + rng.uniform(-0.05, 0.05)
            ),
            preferred_caregiver_ids=tuple(rng.sample(nurses, 3)),
            excluded_caregiver_ids=tuple(rng.sample(nurses, 5)),
        )
        for i in range(count)
    ]


def load(runtime: Runtime, seed: int) -> list[str]:
    """Load the roster, the clients and the shifts; return the shift ids."""
    rng = random.Random(seed)
    store = runtime.deps.store
    people = caregivers(rng)
    for i in range(0, len(people), 5_000):
        store.caregivers.add_many(people[i : i + 5_000])
    shift_ids = []
    # Two series: as they are, then with a caregiver of the role edited before each.
    for client in clients(rng, 2 * (FANOUTS + WARM_UP)):
        store.clients.add(client)
        shift = Shift(
            id=f"shift_{client.id}",
            organization_id="default",
            role_required=ROLE,
            start_time=_TOMORROW,
            end_time=_TOMORROW + timedelta(hours=8),
            client_id=client.id,
            required_credentials=("CPR",),
        )
        store.shifts.add(shift)
        shift_ids.append(shift.id)
    return shift_ids


def measure(
    client: FlaskClient, shift_ids: list[str], *, edit: bool = False, profile: bool = False
) -> dict[str, float]:
    """Fan out each shift; the first ``WARM_UP`` are not counted.

    ``edit``: before each, untimed, a ``PATCH`` of one nurse's travel range, as an
    agency editing its roster between fanouts (on Redis, each process then reads
    what changed in the role again).
    """
    times, offered = [], []
    profiler = cProfile.Profile() if profile else None
    for i, shift_id in enumerate(shift_ids):
        if edit:
            nurse = f"cg_{100 * i + 1}"
            patched = client.patch(f"/caregivers/{nurse}", json={"max_travel_miles": 40 + i})
            assert patched.status_code == 200, patched.json
        if profiler is not None and i >= WARM_UP:
            profiler.enable()
        began = time.perf_counter()
        response = client.post(f"/shifts/{shift_id}/fanout")
        elapsed = time.perf_counter() - began
        if profiler is not None:
            profiler.disable()
        assert response.status_code == 202, response.json
        if i >= WARM_UP:
            times.append(elapsed * 1000)
            offered.append(len(response.json["fanout"]["offered_caregiver_ids"]))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    times.sort()
    return {
        "offered": statistics.mean(offered),
        "min": times[0],
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "max": times[-1],
        "stdev": statistics.stdev(times),
    }


def run(store_url: str, seed: int, profile: bool = False) -> list[dict[str, float]]:
    """The two series on one store: fanouts back to back, then each after an edit."""
    env = {"SHIFTFILL_STORE_URL": store_url, "SHIFTFILL_LOG_LEVEL": "WARNING"}
    config = TestingConfig(env)
    runtime = bootstrap(config, escalation=False)
    try:
        shift_ids = load(runtime, seed)
        # As each gunicorn worker does once it has loaded the app and the seed.
        tune_collector()
        client = create_app(config, runtime).test_client()
        # The app starts its runtime on the first request; marked started here, its send
        # workers never run, and the texts queued wait in the outbox.
        runtime._started.set()
        half = len(shift_ids) // 2
        return [
            measure(client, shift_ids[:half], profile=profile),
            measure(client, shift_ids[half:], edit=True, profile=profile),
        ]
    finally:
        runtime.deps.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the measured fanouts")
    parser.add_argument("--store", choices=["memory", "redis", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"POST /shifts/<id>/fanout (Flask test client, send workers not started): {FANOUTS} shifts "
        f"needing CPR, one after another, after {WARM_UP} not counted;\n"
        f"{CAREGIVERS:,} caregivers with a place, a travel range and credentials, "
        f"11,000 nurses of whom about 10,000 qualify;\n"
        f"'edits': one nurse's travel range changed (PATCH, not timed) before each fanout."
    )
    print(f"{'store':<16}{'offered':>9}{'min ms':>9}{'p50 ms':>9}{'p99 ms':>9}{'stdev':>8}")
    results: dict[str, list[dict[str, float]]] = {}
    if args.store in ("memory", "both"):
        results["memory"] = run("memory://", args.seed, args.profile)
    if args.store in ("redis", "both"):
        server = RedisServer()
        try:
            results["redis"] = run(server.url, args.seed, args.profile)
        finally:
            server.close()
    for name, series in results.items():
        for label, r in zip([name, f"{name}, edits"], series, strict=True):
            print(
                f"{label:<16}{r['offered']:>9.0f}{r['min']:>9.1f}{r['p50']:>9.1f}"
                f"{r['p99']:>9.1f}{r['stdev']:>8.1f}"
            )


if __name__ == "__main__":
    main()
