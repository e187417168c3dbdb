"""The webhook outbox on both stores: a message is written in its change's step, made into
deliveries once, claimed by one taker, and (Redis) outlives the process that wrote it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

from bench.harness import RedisServer
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.domain import fill, rules, sending
from shiftfill.domain.model import Caregiver, Channel, NotificationStatus, Shift
from shiftfill.domain.rules import Outreach, ShiftChange, StepReads
from shiftfill.domain.webhooks import FORGET_WINDOW, Attempt, Delivery, Webhook, after_attempt
from shiftfill.services.ports import Store
from shiftfill.services.webhooks import expander

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def render(shift: Shift) -> dict[str, str]:
    return {"id": shift.id, "status": str(shift.status)}


def hook(webhook_id: str = "wh_1", events: tuple[str, ...] = ("shift.cancelled",)) -> Webhook:
    return Webhook(webhook_id, "default", "https://hooks.example.com/", events, "whsec_QUJD", NOW)


def open_shift(store: Store, shift_id: str = "sh_1") -> None:
    store.shifts.add(
        Shift(shift_id, "default", "RN", NOW + timedelta(days=1), NOW + timedelta(days=1, hours=8))
    )


def test_a_change_writes_its_message_and_dispatch_makes_one_delivery_per_wanting_endpoint(
    store: Store,
) -> None:
    store.webhooks.add(hook())
    store.webhooks.add(hook("wh_2", ("shift.filled",)))
    open_shift(store)
    store.shifts.apply("sh_1", partial(fill.cancel, now=NOW))
    store.shifts.apply("sh_1", partial(fill.cancel, now=NOW))  # a repeat writes no message
    assert store.webhooks.waiting() == 1
    assert store.webhooks.dispatch(expander(render, NOW)) == 1
    assert store.webhooks.dispatch(expander(render, NOW)) == 0
    (listed,) = store.webhooks.deliveries("wh_1")
    assert store.webhooks.deliveries("wh_2") == []
    assert store.webhooks.due(NOW) == [("wh_1", listed.id)]
    delivery = store.webhooks.claim("wh_1", listed.id, NOW, NOW + timedelta(seconds=90))
    assert delivery is not None
    assert delivery.event == "shift.cancelled" and '"status": "cancelled"' in delivery.body


def test_of_many_takers_one_claims_a_due_delivery_and_a_retry_is_due_on_schedule(
    store: Store,
) -> None:
    store.webhooks.add(hook())
    open_shift(store)
    store.shifts.apply("sh_1", partial(fill.cancel, now=NOW))
    store.webhooks.dispatch(expander(render, NOW))
    ((wid, did),) = store.webhooks.due(NOW)
    taken: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: taken.append(
                store.webhooks.claim(wid, did, NOW, NOW + timedelta(seconds=90))
            )
        )
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [d for d in taken if d is not None]
    assert len(claimed) == 1
    assert store.webhooks.due(NOW + timedelta(seconds=89)) == []
    # While held, the list shows when it is tried again should its attempt never report.
    (held,) = store.webhooks.deliveries(wid)
    assert (held.attempts, held.next_attempt_at) == (0, NOW + timedelta(seconds=90))
    retry = after_attempt(claimed[0], Attempt(status_code=500), now=NOW, schedule=[5])  # type: ignore[arg-type]
    store.webhooks.settle(retry)
    assert store.webhooks.due(NOW + timedelta(seconds=5)) == [(wid, did)]
    assert store.webhooks.deliveries(wid)[0].next_attempt_at == NOW + timedelta(seconds=5)
    gone = after_attempt(retry, Attempt(status_code=410), now=NOW, schedule=[5])
    store.webhooks.settle(gone, disable=True)
    assert store.webhooks.due(NOW + timedelta(days=1)) == []
    assert store.webhooks.get(wid).enabled is False  # type: ignore[union-attr]
    assert store.webhooks.deliveries(wid)[0].status == "failed"


def test_redis_a_message_and_a_taken_delivery_outlive_the_process_that_held_them(
    redis_server: RedisServer,
) -> None:
    prefix = f"test-outbox-{NOW.timestamp():.0f}-{id(object())}:"
    first = RedisStore(redis_server.url, prefix=prefix)
    first.webhooks.add(hook())
    open_shift(first)
    first.shifts.apply("sh_1", partial(fill.cancel, now=NOW))
    first.client.close()  # the process dies with the message still in the outbox
    second = RedisStore(redis_server.url, prefix=prefix)
    assert second.webhooks.dispatch(expander(render, NOW)) == 1
    ((wid, did),) = second.webhooks.due(NOW)
    assert second.webhooks.claim(wid, did, NOW, NOW + timedelta(seconds=90)) is not None
    second.client.close()  # dies mid-attempt
    third = RedisStore(redis_server.url, prefix=prefix)
    assert third.webhooks.due(NOW + timedelta(seconds=60)) == []
    assert third.webhooks.due(NOW + timedelta(seconds=90)) == [(wid, did)]
    assert third.webhooks.claim(wid, did, NOW + timedelta(seconds=90), NOW + timedelta(seconds=180))
    third.close()


def test_a_notification_and_an_opt_out_write_their_messages_in_their_own_step_once(
    store: Store,
) -> None:
    store.webhooks.add(hook(events=("notification.failed", "caregiver.opted_out")))
    open_shift(store)
    store.caregivers.add_many([Caregiver("cg_1", "Ann", "RN", "+15555550001")])

    def text_cg_1(shift: Shift, reads: StepReads) -> ShiftChange:
        change = rules.start_fanout(
            shift,
            now=NOW,
            offer_code=reads.free_code(),
            qualified_ids=["cg_1"],
            escalation_delay=timedelta(minutes=10),
        )
        return change.reaching(Outreach(Channel.SMS, ["cg_1"], NOW))

    fanned = store.shifts.apply("sh_1", text_cg_1).shift
    [text] = store.notifications.for_shift("sh_1")
    failing = partial(
        sending.settle, status=NotificationStatus.FAILED, now=NOW, error="30003", shift=fanned
    )
    assert store.notifications.update_many([text.id], failing)[text.id].changed
    assert not store.notifications.update(text.id, failing).changed  # final: no second message
    assert store.webhooks.waiting() == 1

    opting_out = partial(rules.opt_out, now=NOW, offers=[fanned])
    assert store.caregivers.update("cg_1", opting_out).changed
    assert not store.caregivers.update("cg_1", opting_out).changed  # a repeated STOP
    assert store.webhooks.waiting() == 2

    assert store.webhooks.dispatch(expander(render, NOW)) == 2
    events = sorted(d.event for d in store.webhooks.deliveries("wh_1"))
    assert events == ["caregiver.opted_out", "notification.failed"]


def test_an_endpoint_keeps_its_newest_deliveries_and_every_pending_one(store: Store) -> None:
    store.webhooks.add(hook())
    for n in range(1, 5):
        open_shift(store, f"sh_{n}")
        store.shifts.apply(f"sh_{n}", partial(fill.cancel, now=NOW + timedelta(minutes=n)))
        store.webhooks.dispatch(expander(render, NOW))
    oldest_first = list(reversed(store.webhooks.deliveries("wh_1")))
    assert len(oldest_first) == 4
    delivered = {
        d.id: after_attempt(d, Attempt(status_code=200), now=NOW, schedule=[5])
        for d in oldest_first
    }
    first, second, third, fourth = (d.id for d in oldest_first)
    for delivery_id in (first, third, fourth):  # the second is still being tried
        store.webhooks.settle(delivered[delivery_id])

    assert store.webhooks.forget_settled("wh_1", keep=2) == 1  # the first; the second pends
    assert [d.id for d in store.webhooks.deliveries("wh_1")] == [fourth, third, second]
    assert store.webhooks.due(NOW) == [("wh_1", second)]

    store.webhooks.settle(delivered[second])
    assert store.webhooks.forget_settled("wh_1", keep=2) == 1
    assert [d.id for d in store.webhooks.deliveries("wh_1")] == [fourth, third]
    assert store.webhooks.forget_settled("wh_1", keep=2) == 0
    assert store.webhooks.forget_settled("wh_1", keep=100) == 0
    assert store.webhooks.forget_settled("wh_unknown", keep=2) == 0


def cancelled_shifts(store: Store, count: int, dispatched_at: datetime = NOW) -> list[str]:
    """``count`` shifts cancelled a second apart, each made into a delivery to wh_1 at
    ``dispatched_at``; their ids, oldest first."""
    for n in range(1, count + 1):
        open_shift(store, f"sh_{n}")
        store.shifts.apply(f"sh_{n}", partial(fill.cancel, now=NOW + timedelta(seconds=n)))
    while store.webhooks.dispatch(expander(render, dispatched_at)):
        pass
    return [d.id for d in reversed(store.webhooks.deliveries("wh_1"))]


def forgotten_while_first_taker_waits(store: Store) -> tuple[list[str], Delivery, datetime]:
    """Three deliveries to wh_1; the oldest is taken, its lease runs out, a second taker
    delivers it and it is forgotten (two kept) while the first taker still holds it.
    The ids oldest first, the first taker's copy, and the time."""
    store.webhooks.add(hook())
    ids = cancelled_shifts(store, 3)
    slow = store.webhooks.claim("wh_1", ids[0], NOW, NOW + timedelta(seconds=90))
    later = NOW + timedelta(seconds=90)
    retaken = store.webhooks.claim("wh_1", ids[0], later, later + timedelta(seconds=90))
    assert slow is not None and retaken is not None  # the first taker's lease ran out
    store.webhooks.settle(after_attempt(retaken, Attempt(status_code=200), now=later, schedule=[5]))
    assert store.webhooks.forget_settled("wh_1", keep=2) == 1
    return ids, slow, later


def test_an_attempt_that_outlived_its_lease_does_not_bring_back_a_forgotten_delivery(
    store: Store,
) -> None:
    ids, slow, later = forgotten_while_first_taker_waits(store)
    # The first taker's answer comes in at last: a 500, which would be retried.
    store.webhooks.settle(after_attempt(slow, Attempt(status_code=500), now=later, schedule=[5]))
    assert [d.id for d in store.webhooks.deliveries("wh_1")] == ids[:0:-1]
    assert ids[0] not in {did for _, did in store.webhooks.due(later + timedelta(days=1))}


def test_an_attempt_forgets_at_most_a_window_of_the_oldest(store: Store) -> None:
    store.webhooks.add(hook())
    count = FORGET_WINDOW + 20
    ids = cancelled_shifts(store, count)
    for delivery in reversed(store.webhooks.deliveries("wh_1")):
        store.webhooks.settle(
            after_attempt(delivery, Attempt(status_code=200), now=NOW, schedule=[5])
        )
    assert store.webhooks.forget_settled("wh_1", keep=1) == FORGET_WINDOW
    assert store.webhooks.forget_settled("wh_1", keep=1) == count - 1 - FORGET_WINDOW
    assert [d.id for d in store.webhooks.deliveries("wh_1")] == [ids[-1]]


def test_deliveries_made_together_are_due_in_the_order_of_their_events(store: Store) -> None:
    store.webhooks.add(hook())
    later = NOW + timedelta(hours=1)
    ids = cancelled_shifts(store, 12, dispatched_at=later)  # message ids are random
    assert [did for _, did in store.webhooks.due(later)] == ids


def test_a_late_410_of_a_forgotten_delivery_still_disables_the_endpoint(store: Store) -> None:
    _, slow, later = forgotten_while_first_taker_waits(store)
    gone = after_attempt(slow, Attempt(status_code=410), now=later, schedule=[5])
    store.webhooks.settle(gone, disable=True)
    assert store.webhooks.get("wh_1").enabled is False  # type: ignore[union-attr]
    assert len(store.webhooks.deliveries("wh_1")) == 2


def dispatch_all(store: Store, started: threading.Event) -> None:
    """Dispatch the outbox one message at a time until it is empty."""
    while store.webhooks.dispatch(expander(render, NOW), limit=1):
        started.set()
    started.set()


def test_no_delivery_of_a_removed_endpoint_stays_due_while_others_dispatch(store: Store) -> None:
    """Dispatchers add deliveries while the endpoint is removed; nothing of it is left due."""
    for round_ in range(20):
        webhook_id = f"wh_{round_}"
        store.webhooks.add(hook(webhook_id))
        for n in range(10):
            shift_id = f"sh_{round_}_{n}"
            open_shift(store, shift_id)
            store.shifts.apply(shift_id, partial(fill.cancel, now=NOW))
        dispatching = threading.Event()
        threads = [
            threading.Thread(target=dispatch_all, args=(store, dispatching)) for _ in range(2)
        ]
        for t in threads:
            t.start()
        dispatching.wait(5)
        assert store.webhooks.remove(webhook_id)
        for t in threads:
            t.join()
        due = store.webhooks.due(NOW + timedelta(days=1), limit=10_000)
        assert [did for wid, did in due if wid == webhook_id] == []


def test_due_deliveries_of_busy_endpoints_are_skipped_past(store: Store) -> None:
    store.webhooks.add(hook())
    backlog = cancelled_shifts(store, 5, dispatched_at=NOW + timedelta(hours=1))
    store.webhooks.add(hook("wh_2"))
    open_shift(store, "sh_later")
    store.shifts.apply("sh_later", partial(fill.cancel, now=NOW + timedelta(minutes=1)))
    store.webhooks.dispatch(expander(render, NOW + timedelta(hours=1)))
    later = NOW + timedelta(hours=1)
    assert store.webhooks.due(later, limit=2) == [("wh_1", backlog[0]), ("wh_1", backlog[1])]
    ((webhook_id, _),) = store.webhooks.due(later, limit=2, skip={"wh_1"})
    assert webhook_id == "wh_2"
