"""Benchmark of what a provider outage leaves in the webhook deliveries.

A fanout offers a shift to 10,000 nurses and texts them; the provider is down,
so every text fails, each in its batch's step, and each failure is a
``notification.failed`` message carrying the shift (its 10,000 offered ids,
about 110 KB as the API renders it). Two endpoints subscribe. The script
measures what turning the messages into deliveries adds to the store (Python's
allocations for the memory store, ``used_memory`` for a Redis of its own) and
how long it takes, with ``python bench/webhook_outage.py [--failed N]``.
docs/webhooks.md ("What a delivery keeps") says why it is small.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import RedisServer
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.api.shifts.schemas import ShiftSchema
from shiftfill.domain import rules, sending
from shiftfill.domain.model import Caregiver, Channel, NotificationStatus, Shift
from shiftfill.domain.rules import Outreach, ShiftChange, StepReads
from shiftfill.domain.webhooks import Webhook
from shiftfill.services.ports import Store
from shiftfill.services.webhooks import expander

OFFERED = 10_000
BATCH = 500  # the send workers' batch: its failures are settled together
NOW = datetime.now(UTC).replace(microsecond=0)


def outage(store: Store, failed: int, *, offered: int = OFFERED, now: datetime = NOW) -> None:
    """A fanout to ``offered`` nurses at ``now``, and its first ``failed`` texts failed batch
    by batch; ``wh_1`` and ``wh_2`` subscribe to ``notification.failed``."""
    for webhook_id in ("wh_1", "wh_2"):
        url = f"https://hooks.example.com/{webhook_id}"
        events = ("notification.failed",)
        store.webhooks.add(Webhook(webhook_id, "default", url, events, "whsec_QUJD", now))
    start = now + timedelta(days=1)
    store.shifts.add(Shift("sh_1", "default", "RN", start, start + timedelta(hours=8)))
    ids = [f"cg_{n:05d}" for n in range(offered)]
    store.caregivers.add_many([Caregiver(i, i, "RN", f"+1555{n:07d}") for n, i in enumerate(ids)])

    def fan_out(shift: Shift, reads: StepReads) -> ShiftChange:
        change = rules.start_fanout(
            shift,
            now=now,
            offer_code=reads.free_code(),
            qualified_ids=ids,
            escalation_delay=timedelta(minutes=10),
        )
        return change.reaching(Outreach(Channel.SMS, ids[:failed], now))

    store.shifts.apply("sh_1", fan_out)
    texts = [n.id for n in store.notifications.for_shift("sh_1")]
    for first in range(0, len(texts), BATCH):
        shift = store.shifts.get("sh_1")  # read once per batch, as the send path does
        failing = partial(
            sending.settle, status=NotificationStatus.FAILED, now=now, error="30003", shift=shift
        )
        store.notifications.update_many(texts[first : first + BATCH], failing)


def measure(store: Store, failed: int, stored: Callable[[], int]) -> tuple[float, float]:
    """MB the deliveries added, and seconds to make them."""
    outage(store, failed)
    before = stored()
    began = time.perf_counter()
    while store.webhooks.dispatch(expander(ShiftSchema().dump, NOW)):
        pass
    took = time.perf_counter() - began
    return (stored() - before) / 1e6, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failed", type=int, default=OFFERED, help="texts that fail")
    args = parser.parse_args()
    print(f"{args.failed:,} failed texts of a {OFFERED:,}-nurse fanout, 2 endpoints")

    tracemalloc.start()
    memory = MemoryStore()
    grew, took = measure(memory, args.failed, lambda: tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    print(f"  memory store: deliveries add {grew:7.1f} MB, made in {took:.1f} s")

    server = RedisServer()
    try:
        redis_store = RedisStore(server.url, prefix="bench-outage:")
        used = lambda: int(redis_store.client.info("memory")["used_memory"])  # noqa: E731
        grew, took = measure(redis_store, args.failed, used)
        redis_store.close()
    finally:
        server.close()
    print(f"  Redis store:  deliveries add {grew:7.1f} MB, made in {took:.1f} s")


if __name__ == "__main__":
    main()
