"""What a delivery keeps, on both stores: its whole payload while pending, the shift's part
of it once for every delivery that carries it, and nothing once settled."""

from __future__ import annotations

import itertools
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis

from bench.webhook_outage import outage as bench_outage
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.domain.model import Shift
from shiftfill.domain.webhooks import Attempt, Delivery, after_attempt
from shiftfill.services.ports import Store
from shiftfill.services.webhooks import expander
from tests.store.test_webhook_outbox import NOW, hook

LEASE = timedelta(seconds=90)
OFFERED = 5_000  # about 60 KB of offered ids in every message's shift
FAILED_TEXTS = 200
RACES = 300


def render(shift: Shift) -> dict[str, object]:
    offered = list(shift.fanout.offered_caregiver_ids) if shift.fanout else []
    return {"id": shift.id, "status": str(shift.status), "offered_caregiver_ids": offered}


def outage(store: Store, failed: int = FAILED_TEXTS) -> None:
    """``make bench-webhooks``' outage at a smaller scale: ``OFFERED`` nurses, the first
    ``failed`` texts failed, ``wh_1`` and ``wh_2`` subscribed to ``notification.failed``."""
    bench_outage(store, failed, offered=OFFERED, now=NOW)
    assert store.webhooks.waiting() == failed


def stored_bytes(store: Store) -> int:
    """What the store holds now: Redis's memory, or the bytes Python has allocated."""
    if isinstance(store, RedisStore):
        return int(store.client.info("memory")["used_memory"])
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def test_a_provider_outage_stores_the_shift_once_not_once_per_failed_text(
    store: Store, traced: None
) -> None:
    outage(store)
    before = stored_bytes(store)
    while store.webhooks.dispatch(expander(render, NOW)):
        pass
    grew = stored_bytes(store) - before
    # 400 deliveries of a 60 KB shift: 24 MB if each kept its own, one shift part here.
    assert grew < 3_000_000, f"{grew / 1e6:.1f} MB for {2 * FAILED_TEXTS} deliveries"
    assert len(store.webhooks.due(NOW, limit=1_000)) == 2 * FAILED_TEXTS


def claim(store: Store, webhook_id: str, delivery_id: str, at: datetime = NOW) -> Delivery:
    taken = store.webhooks.claim(webhook_id, delivery_id, at, at + LEASE)
    assert taken is not None
    return taken


def test_every_attempt_sends_the_whole_payload_the_same_bytes(store: Store) -> None:
    outage(store, failed=3)
    store.webhooks.dispatch(expander(render, NOW))
    wid, did = store.webhooks.due(NOW)[0]
    first = claim(store, wid, did)
    body = json.loads(first.body)
    assert body["type"] == "notification.failed"
    assert body["data"]["shift"] == json.loads(json.dumps(render(store.shifts.get("sh_1"))))
    assert body["data"]["notification"]["status"] == "failed"
    store.webhooks.settle(after_attempt(first, Attempt(status_code=500), now=NOW, schedule=[5]))
    later = NOW + timedelta(seconds=5)
    assert claim(store, wid, did, later).body == first.body


def test_an_attempt_that_outlived_its_lease_still_sends_the_whole_payload_on_its_retry(
    store: Store,
) -> None:
    """A second taker delivers it and lets go of the payload; the first taker's late 500
    makes it pending again, and the retry sends what the first attempts sent, after the
    other endpoint's delivery, which shared the payload, was delivered."""
    outage(store, failed=1)
    store.webhooks.dispatch(expander(render, NOW))
    (_, did), _ = store.webhooks.due(NOW)
    slow = claim(store, "wh_1", did)
    later = NOW + LEASE
    retaken = claim(store, "wh_1", did, later)
    ok, refused = Attempt(status_code=200), Attempt(status_code=500)
    store.webhooks.settle(after_attempt(retaken, ok, now=later, schedule=[5]))
    store.webhooks.settle(after_attempt(slow, refused, now=later, schedule=[5]))
    other = claim(store, "wh_2", did, later)
    store.webhooks.settle(after_attempt(other, ok, now=later, schedule=[5]))
    again = later + timedelta(seconds=5)
    assert claim(store, "wh_1", did, again).body == slow.body


def test_a_listing_and_a_settled_delivery_carry_no_payload(store: Store) -> None:
    outage(store, failed=2)
    store.webhooks.dispatch(expander(render, NOW))
    assert {d.body for d in store.webhooks.deliveries("wh_1")} == {""}
    (wid, did), *_ = store.webhooks.due(NOW)
    delivered = after_attempt(
        claim(store, wid, did), Attempt(status_code=200), now=NOW, schedule=[5]
    )
    store.webhooks.settle(delivered)
    if isinstance(store, RedisStore):
        kept = json.loads(store.client.get(store.keys.webhook_delivery(wid, did)) or "{}")
        assert kept["status"] == "delivered"
        assert not {"head", "shift_digest", "tail", "body"} & kept.keys(), kept
    else:
        (kept_in_memory,) = [d for d in store.webhooks.deliveries(wid) if d.id == did]
        assert (kept_in_memory.status, kept_in_memory.body) == ("delivered", "")


def shift_parts(store: RedisStore) -> tuple[int, dict[bytes, bytes]]:
    """How many ``webhook-body:*`` keys the store holds, and its reference counts."""
    pattern = store.keys.webhook_body("*")
    held = sum(1 for _ in store.client.scan_iter(match=pattern))
    return held, store.client.hgetall(store.keys.webhook_body_refs)


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_the_last_delivery_to_settle_or_go_deletes_the_shift_part(store: Store) -> None:
    assert isinstance(store, RedisStore)
    outage(store, failed=3)
    store.webhooks.dispatch(expander(render, NOW))
    held, refs = shift_parts(store)
    assert held == 1 and list(refs.values()) == [b"6"]  # three messages, two endpoints

    assert store.webhooks.remove("wh_2")
    held, refs = shift_parts(store)
    assert held == 1 and list(refs.values()) == [b"3"]

    for wid, did in store.webhooks.due(NOW):
        failed = after_attempt(
            claim(store, wid, did), Attempt(status_code=500), now=NOW, schedule=[]
        )
        store.webhooks.settle(failed)
    assert shift_parts(store) == (0, {})


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_a_delivery_whose_payload_is_lost_fails_rather_than_send_a_part(
    store: Store,
) -> None:
    assert isinstance(store, RedisStore)
    outage(store, failed=1)
    store.webhooks.dispatch(expander(render, NOW))
    for key in store.client.scan_iter(match=store.keys.webhook_body("*")):
        store.client.delete(key)
    (wid, did), _ = store.webhooks.due(NOW)
    assert store.webhooks.claim(wid, did, NOW, NOW + LEASE) is None
    (lost,) = store.webhooks.deliveries(wid)
    assert (lost.status, lost.last_error) == ("failed", "not sent: its payload was lost")
    assert store.webhooks.due(NOW + timedelta(days=1)) == [("wh_2", did)]


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_racing_takers_and_a_removal_keep_the_count_of_a_shared_part_right(
    store: Store,
) -> None:
    """Every delivery has two takers (the first one's lease ran out), who settle at once, one
    delivered and one to be retried, while another thread removes ``wh_2``. The count must
    end equal to the pending deliveries that refer to the part: one too few deletes a part
    that a retry still needs; one too many keeps it for good."""
    assert isinstance(store, RedisStore)
    outage(store, failed=40)
    store.webhooks.dispatch(expander(render, NOW))
    later = NOW + LEASE
    pairs = []
    for wid, did in store.webhooks.due(NOW, limit=1_000):
        first = claim(store, wid, did)
        pairs.append((first, claim(store, wid, did, later)))
    start = threading.Barrier(5)

    def settle(takers: list[tuple[Delivery, Attempt]]) -> None:
        start.wait()
        for delivery, answer in takers:
            store.webhooks.settle(after_attempt(delivery, answer, now=later, schedule=[5]))

    def remove() -> None:
        start.wait()
        store.webhooks.remove("wh_2")

    ok, retry = Attempt(status_code=200), Attempt(status_code=500)
    threads = [
        threading.Thread(target=settle, args=([(a, ok) for a, _ in pairs[0::2]],)),
        threading.Thread(target=settle, args=([(b, retry) for _, b in pairs[0::2]],)),
        threading.Thread(target=settle, args=([(a, retry) for a, _ in pairs[1::2]],)),
        threading.Thread(target=settle, args=([(b, ok) for _, b in pairs[1::2]],)),
        threading.Thread(target=remove),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    pending = store.webhooks.due(later + timedelta(days=1), limit=1_000)
    held, refs = shift_parts(store)
    assert (held, [int(n) for n in refs.values()]) == ((1, [len(pending)]) if pending else (0, []))
    for wid, did in pending:
        taken = claim(store, wid, did, later + timedelta(seconds=5))
        assert json.loads(taken.body)["data"]["notification"]["status"] == "failed"
        store.webhooks.settle(after_attempt(taken, ok, now=later, schedule=[5]))
    assert shift_parts(store) == (0, {})


def settle_and_claim_at_once(
    store: Store, slow: Delivery, later: datetime, claim_after: float
) -> Delivery | None:
    """``slow``'s taker settles it delivered at ``later`` as another claims it, ``claim_after``
    seconds later: what the other got."""
    start = threading.Barrier(2)
    taken: list[Delivery | None] = []

    def deliver() -> None:
        start.wait()
        ok = Attempt(status_code=200)
        store.webhooks.settle(after_attempt(slow, ok, now=later, schedule=[5]))

    def re_claim() -> None:
        start.wait()
        time.sleep(claim_after)
        taken.append(store.webhooks.claim(slow.webhook_id, slow.id, later, later + LEASE))

    threads = [threading.Thread(target=deliver), threading.Thread(target=re_claim)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return taken[0]


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_a_re_claim_racing_a_late_settle_sends_all_or_nothing_and_undoes_nothing(
    store: Store,
) -> None:
    """The first taker's lease ran out; as another process claims the delivery again, the
    first taker's 200 lands. The new taker gets nothing (it was delivered) or the whole
    payload (it claimed first), never an empty body, and the delivery stays delivered."""
    assert isinstance(store, RedisStore)
    outage(store, failed=RACES)
    while store.webhooks.dispatch(expander(render, NOW)):
        pass
    assert store.webhooks.remove("wh_2")
    for n, (_, did) in enumerate(store.webhooks.due(NOW, limit=1_000)):
        slow = claim(store, "wh_1", did)
        # The claim starts from 0 to 1.5 ms after the settle, across the settle's round trips.
        taken = settle_and_claim_at_once(store, slow, NOW + LEASE, n % 30 * 0.00005)
        assert taken is None or taken.body == slow.body
    statuses = {(d.status, d.last_error) for d in store.webhooks.deliveries("wh_1")}
    assert statuses == {("delivered", None)}


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_a_settle_right_after_the_claim_took_it_cannot_take_its_part_away(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only reference to a part: the first taker's late 200 lands just after the claim's
    first round trip. The claim has the whole payload by then, and the delivery stays
    delivered (not failed for a lost part)."""
    assert isinstance(store, RedisStore)
    outage(store, failed=1)
    store.webhooks.dispatch(expander(render, NOW))
    assert store.webhooks.remove("wh_2")  # the part now has one reference
    ((_, did),) = store.webhooks.due(NOW)
    slow = claim(store, "wh_1", did)
    later = NOW + LEASE
    read = redis.connection.Connection.read_response
    calls = 0

    def settle_after_the_first_answer(connection: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        answer = read(connection, *args, **kwargs)
        calls += 1
        if calls == 1:
            ok = Attempt(status_code=200)
            store.webhooks.settle(after_attempt(slow, ok, now=later, schedule=[5]))
        return answer

    monkeypatch.setattr(redis.connection.Connection, "read_response", settle_after_the_first_answer)
    taken = store.webhooks.claim("wh_1", did, later, later + LEASE)
    monkeypatch.undo()
    assert taken is not None and taken.body == slow.body
    ((listed),) = store.webhooks.deliveries("wh_1")
    assert (listed.status, listed.last_error) == ("delivered", None)


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_a_delivery_stored_whole_by_an_older_version_is_sent_and_removed(
    store: Store,
) -> None:
    """Before payloads were kept in parts a pending delivery held its ``body`` whole and no
    digest: it is sent whole, retried whole, and its removal lets go of no part."""
    assert isinstance(store, RedisStore)
    outage(store, failed=1)
    store.webhooks.dispatch(expander(render, NOW))
    store.webhooks.add(hook("wh_3", ("notification.failed",)))
    body = json.dumps({"type": "notification.failed", "data": {"shift": {"id": "sh_1"}}})
    record = {
        "id": "msg_old",
        "webhook_id": "wh_3",
        "event": "notification.failed",
        "body": body,
        "created_at": NOW.isoformat(),
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "next_attempt_at": NOW.isoformat(),
    }
    keys = store.keys
    store.client.set(keys.webhook_delivery("wh_3", "msg_old"), json.dumps(record))
    store.client.lpush(keys.webhook_deliveries("wh_3"), "msg_old")
    store.client.zadd(keys.webhook_due, {"wh_3 msg_old": NOW.timestamp()})
    before = shift_parts(store)

    first = claim(store, "wh_3", "msg_old")
    assert first.body == body
    store.webhooks.settle(after_attempt(first, Attempt(status_code=500), now=NOW, schedule=[5]))
    assert claim(store, "wh_3", "msg_old", NOW + timedelta(seconds=5)).body == body
    assert store.webhooks.remove("wh_3")
    assert shift_parts(store) == before


@pytest.mark.parametrize("make_store", ["redis"], indirect=True)
def test_redis_an_endpoint_is_removed_however_often_its_deliveries_settle_meanwhile(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an outage an endpoint's retries settle all the time, and that is when an
    operator deletes it. Another process settles one of its deliveries before every
    command the removal sends: the removal still ends, and lets go of what they held."""
    assert isinstance(store, RedisStore)
    outage(store, failed=20)
    store.webhooks.dispatch(expander(render, NOW))
    taken = [claim(store, w, d) for w, d in store.webhooks.due(NOW, limit=1_000) if w == "wh_2"]
    retries = itertools.cycle(taken)
    send = redis.connection.Connection.send_packed_command
    inside = threading.local()
    settled_meanwhile = 0

    def settle_first(connection: redis.connection.Connection, *args: Any, **kwargs: Any) -> None:
        nonlocal settled_meanwhile
        if not getattr(inside, "settling", False):
            settled_meanwhile += 1
            assert settled_meanwhile < 100, "the removal never ends while retries settle"
            inside.settling = True
            try:
                refused = Attempt(status_code=500)
                store.webhooks.settle(after_attempt(next(retries), refused, now=NOW, schedule=[5]))
            finally:
                inside.settling = False
        send(connection, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", settle_first)
    assert store.webhooks.remove("wh_2")
    monkeypatch.undo()
    assert store.webhooks.deliveries("wh_2") == []
    held, refs = shift_parts(store)
    assert (held, [int(n) for n in refs.values()]) == (1, [20])
