"""The storage port's promises, held against every store: atomic steps, unique records.

Each compare-and-set operation is raced on many threads released at one instant,
with the interpreter switching threads every microsecond, so an unguarded
read-then-write really interleaves.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest

from shiftfill.domain import fill, rules, sending
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Event,
    EventType,
    Notification,
    Organization,
    QuietHours,
    Shift,
    ShiftStatus,
)
from shiftfill.domain.rules import CaregiverChange, Outcome, Outreach, ShiftChange, StepReads
from shiftfill.domain.sending import NotificationChange
from shiftfill.services.dependencies import system_clock
from shiftfill.services.ports import DuplicateKey, Store
from tests.store.conftest import NOW, MakeStore

THREADS = 50
ROUNDS = int(os.environ.get("SHIFTFILL_CONTRACT_ROUNDS", "30"))
LATER = NOW + timedelta(days=365)


@pytest.fixture(autouse=True)
def eager_thread_switching() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def opting_out(caregiver: Caregiver) -> CaregiverChange:
    """The opt-out decision (STOP), with no open offers to announce."""
    return rules.opt_out(caregiver, now=NOW)


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads released at the same instant; return the results."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def caregiver(i: int, role: str = "RN", **fields: Any) -> Caregiver:
    return Caregiver(f"cg_{i}", f"Caregiver {i}", role, f"+1555555{i:04d}", **fields)


def shift(shift_id: str, role: str = "RN") -> Shift:
    return Shift(shift_id, "org_1", role, NOW, NOW + timedelta(hours=8))


def start(store: Store, shift_id: str, offered: list[str]) -> ShiftChange:
    """Start the fanout of a stored shift, texting ``offered``, as the fanout use case does."""

    def decide(s: Shift, reads: StepReads) -> ShiftChange:
        change = start_fanout_with(s, reads.free_code(), offered)
        if not change.changed:
            return change
        started = change.noting(Event(at=NOW, type=EventType.FANOUT_STARTED))
        return started.reaching(Outreach(Channel.SMS, offered, NOW))

    return store.shifts.apply(shift_id, decide)


def start_fanout_with(s: Shift, code: str, offered: list[str], now: datetime = NOW) -> ShiftChange:
    return rules.start_fanout(
        s, now=now, offer_code=code, qualified_ids=offered, escalation_delay=timedelta(minutes=10)
    )


def update(store: Store, shift_id: str, decide: Callable[[Shift], ShiftChange]) -> ShiftChange:
    """Apply a decision that reads nothing but the shift."""
    return store.shifts.apply(shift_id, lambda s, reads: decide(s))


def claim(store: Store, shift_id: str, caregiver_id: str) -> ShiftChange:
    def decide(s: Shift) -> ShiftChange:
        change = rules.claim(s, caregiver_id, now=NOW)
        won = change.outcome is Outcome.ASSIGNED
        return change.noting(
            Event(at=NOW, type=EventType.ASSIGNED if won else EventType.CLAIM_LOST)
        )

    return update(store, shift_id, decide)


def fanned_out(store: Store, shift_id: str, offered: list[str]) -> Shift:
    store.shifts.add(shift(shift_id))
    return start(store, shift_id, offered).shift


# --- caregivers ---


def test_a_roster_is_stored_whole_or_not_at_all(store: Store) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    for clash in (
        [caregiver(3), caregiver(1)],  # id taken
        [caregiver(4), replace(caregiver(5), phone=caregiver(2).phone)],  # phone taken
        [caregiver(6), replace(caregiver(7), id="cg_6")],  # id repeated in the batch
    ):
        with pytest.raises(DuplicateKey):
            store.caregivers.add_many(clash)
    assert [c.id for c in store.caregivers.all()] == ["cg_1", "cg_2"]
    assert store.caregivers.by_phone(caregiver(2).phone) == caregiver(2)
    assert store.caregivers.get("cg_3") is None


def test_adding_absent_caregivers_keeps_the_stored_ones_as_they_are(store: Store) -> None:
    store.caregivers.add_many([caregiver(1)])
    store.caregivers.update("cg_1", opting_out)
    added = store.caregivers.add_absent([caregiver(1), caregiver(2)])
    assert added == [caregiver(2)]
    assert store.caregivers.get("cg_1").opted_out  # type: ignore[union-attr]


def test_qualified_caregivers_are_those_of_the_role_not_opted_out_in_joining_order(
    store: Store,
) -> None:
    store.caregivers.add_many(
        [caregiver(1), caregiver(2, "LPN"), caregiver(3, opted_out=True), caregiver(5)]
    )
    assert store.caregivers.qualified_ids("RN") == ["cg_1", "cg_5"]
    assert store.caregivers.all(role="RN") == [
        caregiver(1),
        caregiver(3, opted_out=True),
        caregiver(5),
    ]
    assert store.caregivers.get_many(["cg_5", "nobody", "cg_1"]) == [caregiver(5), caregiver(1)]
    store.caregivers.update("cg_5", opting_out)
    assert store.caregivers.qualified_ids("RN") == ["cg_1"]
    assert store.caregivers.qualified_ids("CNA") == []


def test_racing_opt_outs_change_the_caregiver_once(store: Store) -> None:
    store.caregivers.add_many([caregiver(1)])
    results = race(THREADS, lambda i: store.caregivers.update("cg_1", opting_out))
    assert sum(r.changed for r in results) == 1
    assert all(r.caregiver.opted_out for r in results)


# --- shifts ---


def test_a_shift_id_is_stored_once(store: Store) -> None:
    store.shifts.add(shift("sh_1"))
    with pytest.raises(DuplicateKey):
        store.shifts.add(shift("sh_1", role="LPN"))
    assert store.shifts.add_absent([shift("sh_1", role="LPN"), shift("sh_2")]) == [shift("sh_2")]
    assert store.shifts.get("sh_1") == shift("sh_1")
    assert [s.id for s in store.shifts.all(role="RN")] == ["sh_1", "sh_2"]
    with pytest.raises(KeyError):
        claim(store, "nope", "cg_1")


def test_concurrent_claims_have_exactly_one_winner_every_time(store: Store) -> None:
    offered = [f"cg_{i}" for i in range(THREADS)]
    for round_no in range(ROUNDS):
        shift_id = f"sh_{round_no}"
        fanned_out(store, shift_id, offered)
        decisions = race(THREADS, lambda i, sid=shift_id: claim(store, sid, offered[i]))
        winners = [offered[i] for i, d in enumerate(decisions) if d.outcome is Outcome.ASSIGNED]
        assert len(winners) == 1, f"round {round_no}: {winners}"
        stored = store.shifts.get(shift_id)
        assert stored is not None and stored.assigned_caregiver_id == winners[0]
        trail = [e.type for e in store.events.for_shift(shift_id)]
        # The audit trail lists racing decisions in the order they took effect.
        assert trail == ["fanout_started", "assigned"] + ["claim_lost"] * (THREADS - 1)


def test_concurrent_fanouts_of_one_shift_start_it_once_and_text_each_caregiver_once(
    store: Store,
) -> None:
    offered = [f"cg_{i}" for i in range(20)]
    for round_no in range(ROUNDS):
        shift_id = f"sh_{round_no}"
        store.shifts.add(shift(shift_id))
        decisions = race(THREADS, lambda i, sid=shift_id: start(store, sid, offered))
        assert sum(d.changed for d in decisions) == 1
        assert len({d.shift.fanout.offer_code for d in decisions}) == 1
        texts = store.notifications.for_shift(shift_id)
        assert texts == [Notification.queued(shift_id, cid, Channel.SMS, NOW) for cid in offered]


def test_open_shifts_never_share_an_offer_code_even_when_fanned_out_at_once(
    make_store: MakeStore,
) -> None:
    # Seven codes for seven shifts: random draws collide unless the store checks each one.
    store = make_store(code_source=lambda digits: f"{random.randrange(7):04d}")
    for i in range(7):
        store.shifts.add(shift(f"sh_{i}"))
    decisions = race(7, lambda i: start(store, f"sh_{i}", []))
    codes = [d.shift.fanout.offer_code for d in decisions]
    assert len(set(codes)) == 7


def test_a_code_is_free_again_once_its_shift_closes_and_a_refused_fanout_takes_none(
    make_store: MakeStore,
) -> None:
    codes = iter(["1111", "1111", "1111", "2222", "1111"])
    store = make_store(code_source=lambda digits: next(codes))
    for sid in ("sh_cancelled", "sh_1", "sh_2", "sh_3"):
        store.shifts.add(shift(sid))
    update(store, "sh_cancelled", lambda s: rules.cancel(s, now=NOW))
    with pytest.raises(rules.ShiftConflict):
        start(store, "sh_cancelled", ["cg_1"])
    assert start(store, "sh_1", ["cg_1"]).shift.fanout.offer_code == "1111"
    assert start(store, "sh_2", ["cg_1"]).shift.fanout.offer_code == "2222"
    claim(store, "sh_1", "cg_1")
    assert start(store, "sh_3", ["cg_1"]).shift.fanout.offer_code == "1111"


def test_a_phone_round_is_pending_from_the_fanout_until_it_runs_or_the_shift_closes(
    store: Store,
) -> None:
    for sid in ("sh_claimed", "sh_cancelled", "sh_escalated", "sh_open"):
        fanned_out(store, sid, ["cg_1"])
    assert store.shifts.due_phone_rounds(NOW) == []
    due = NOW + timedelta(minutes=10)
    assert sorted(store.shifts.due_phone_rounds(due)) == [
        "sh_cancelled",
        "sh_claimed",
        "sh_escalated",
        "sh_open",
    ]
    claim(store, "sh_claimed", "cg_1")
    update(store, "sh_cancelled", lambda s: rules.cancel(s, now=NOW))
    update(store, "sh_escalated", lambda s: rules.begin_phone_round(s, now=due))
    assert store.shifts.due_phone_rounds(LATER) == ["sh_open"]


def test_racing_phone_rounds_start_once_and_call_each_caregiver_once(store: Store) -> None:
    offered = [f"cg_{i}" for i in range(10)]
    due = NOW + timedelta(minutes=10)
    for round_no in range(ROUNDS):
        shift_id = f"sh_{round_no}"
        fanned_out(store, shift_id, offered)
        decisions = race(
            THREADS,
            lambda i, sid=shift_id: update(
                store,
                sid,
                lambda s: rules.begin_phone_round(s, now=due).reaching(
                    Outreach(Channel.CALL, offered, due)
                ),
            ),
        )
        assert sum(d.changed for d in decisions) == 1
        calls = [n for n in store.notifications.for_shift(shift_id) if n.channel is Channel.CALL]
        assert sorted(n.caregiver_id for n in calls) == sorted(offered)


def test_a_phone_rounds_step_reads_and_calls_those_offered_after_its_reasons(
    store: Store,
) -> None:
    """The round's reasons come from a read before its step; a wave another process sent
    in between offered cg_2 and cg_3. The step reads them itself: cg_2 is called, cg_3
    (opted out) is not, and cg_4, who holds an overlapping shift, is noted."""
    store.caregivers.add_many(
        [caregiver(1), caregiver(2), caregiver(3, opted_out=True), caregiver(4)]
    )
    fanned_out(store, "sh_other", ["cg_4"])  # the same hours as sh_1
    claim(store, "sh_other", "cg_4")
    fanned_out(store, "sh_1", ["cg_1", "cg_2", "cg_3", "cg_4"])
    due = NOW + timedelta(minutes=10)
    org = Organization("org_1", "Sunrise", "UTC")
    change = store.shifts.apply(
        "sh_1",
        lambda s, reads: fill.phone_round(
            s, reads, at=due, reasons={"cg_1": None}, organization=org
        ),
    )
    assert change.outreach is not None
    assert list(change.outreach.caregiver_ids) == ["cg_1", "cg_2"]
    calls = [n for n in store.notifications.for_shift("sh_1") if n.channel is Channel.CALL]
    assert sorted(n.caregiver_id for n in calls) == ["cg_1", "cg_2"]
    skipped = [e for e in store.events.for_shift("sh_1") if e.type == "call_skipped"]
    assert [(e.caregiver_id, e.detail) for e in skipped] == [("cg_4", {"reason": "conflict"})]


def test_offers_are_found_through_the_role_most_recent_first(store: Store) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    fanned_out(store, "sh_old", ["cg_1", "cg_2"])
    store.shifts.add(shift("sh_new"))
    store.shifts.apply(
        "sh_new",
        lambda s, reads: start_fanout_with(
            s, reads.free_code(), ["cg_1"], now=NOW + timedelta(minutes=1)
        ),
    )
    assert [s.id for s in store.shifts.offers_for(caregiver(1))] == ["sh_new", "sh_old"]
    assert [s.id for s in store.shifts.offers_for(caregiver(2))] == ["sh_old"]
    claim(store, "sh_old", "cg_2")
    assert [s.status for s in store.shifts.offers_for(caregiver(1))] == [
        ShiftStatus.OPEN,
        ShiftStatus.FILLED,
    ]
    found = store.shifts.offers_by_phone(caregiver(1).phone)
    assert found is not None
    assert found[0] == caregiver(1)
    assert [s.id for s in found[1]] == ["sh_new", "sh_old"]
    assert store.shifts.offers_by_phone("+15550009999") is None


# --- organizations ---

SUNRISE = Organization("org_1", "Sunrise Home Health", "America/Chicago", 40)


def test_an_organization_id_is_stored_once_and_updated_in_one_step(store: Store) -> None:
    store.organizations.add(SUNRISE)
    with pytest.raises(DuplicateKey):
        store.organizations.add(replace(SUNRISE, name="Other"))
    harbor = Organization("org_2", "Harbor", "America/New_York")
    assert store.organizations.add_absent([replace(SUNRISE, name="Other"), harbor]) == [harbor]
    assert store.organizations.all() == [SUNRISE, harbor]
    assert store.organizations.get("org_1") == SUNRISE
    assert store.organizations.get("nope") is None
    race(
        THREADS,
        lambda i: store.organizations.update(
            "org_1", lambda o: replace(o, max_weekly_hours=(o.max_weekly_hours or 0) + 1)
        ),
    )
    assert store.organizations.get("org_1").max_weekly_hours == 40 + THREADS  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        store.organizations.update("nope", lambda o: o)
    built_in = Organization("default", "shiftfill", "UTC")
    renamed = store.organizations.update(
        "default", lambda o: replace(o, name="Agency"), absent=built_in
    )
    assert renamed == replace(built_in, name="Agency")
    assert store.organizations.get("default") == renamed
    assert [o.id for o in store.organizations.all()] == ["org_1", "org_2", "default"]


def test_a_caregivers_language_and_quiet_hours_are_kept(store: Store) -> None:
    quiet = QuietHours(clock(22, 0), clock(7, 30))
    store.caregivers.add_many([caregiver(1, language="es", quiet_hours=quiet), caregiver(2)])
    assert store.caregivers.get("cg_1") == caregiver(1, language="es", quiet_hours=quiet)
    assert store.caregivers.get("cg_2").language == "en"  # type: ignore[union-attr]


# --- assignments: overlapping shifts and the weekly cap (I7 in docs/invariants.md) ---


def timed(shift_id: str, start: datetime, hours: float) -> Shift:
    return Shift(shift_id, "org_1", "RN", start, start + timedelta(hours=hours))


def claim_for(
    store: Store,
    shift_id: str,
    caregiver_id: str,
    since: datetime,
    organization: Organization = SUNRISE,
) -> ShiftChange:
    """Claim as the inbound use case does: the caregiver's assignments read in the same step."""
    return store.shifts.apply(
        shift_id,
        lambda s, reads: rules.claim(
            s,
            caregiver_id,
            now=NOW,
            assigned=reads.assignments(caregiver_id, since),
            organization=organization,
        ),
    )


def test_a_claim_meets_the_hours_cap_its_organization_has_when_it_runs(store: Store) -> None:
    def claim_as_stored(shift_id: str) -> ShiftChange:
        return store.shifts.apply(
            shift_id,
            lambda s, reads: rules.claim(
                s,
                "cg_1",
                now=NOW,
                assigned=reads.assignments("cg_1", NOW),
                organization=reads.organization(s.organization_id),
            ),
        )

    store.organizations.add(replace(SUNRISE, max_weekly_hours=8))
    store.shifts.add(timed("sh_long", NOW + timedelta(days=1), 10))
    start_fanout_of(store, "sh_long", ["cg_1"])
    assert claim_as_stored("sh_long").outcome is Outcome.OVER_HOURS
    store.organizations.update("org_1", lambda o: replace(o, max_weekly_hours=None))
    assert claim_as_stored("sh_long").outcome is Outcome.ASSIGNED


def test_a_claim_on_a_shift_of_an_organization_not_stored_gets_none(store: Store) -> None:
    def decide(s: Shift, reads: StepReads) -> ShiftChange:
        held, stored = reads.assignments_and_organization("cg_1", NOW, s.organization_id)
        change = rules.claim(s, "cg_1", now=NOW, assigned=held)
        return change if stored is None else change.reading(stored)

    store.shifts.add(timed("sh_1", NOW + timedelta(days=1), 8))
    start_fanout_of(store, "sh_1", ["cg_1"])
    change = store.shifts.apply("sh_1", decide)
    assert change.changed and change.organization is None


def test_a_claim_sees_the_caregivers_assignments_that_end_after_since(store: Store) -> None:
    day = NOW + timedelta(days=1)
    for sid, start in (
        ("sh_a", day),
        ("sh_b", day + timedelta(hours=4)),
        ("sh_c", day + timedelta(hours=8)),
    ):
        store.shifts.add(timed(sid, start, 8))
        start_fanout_of(store, sid, ["cg_1", "cg_2"])
    assert claim_for(store, "sh_a", "cg_1", NOW).outcome is Outcome.ASSIGNED
    assert claim_for(store, "sh_b", "cg_1", NOW).outcome is Outcome.CONFLICT
    assert store.shifts.get("sh_b").status is ShiftStatus.OPEN  # type: ignore[union-attr]
    assert claim_for(store, "sh_c", "cg_1", NOW).outcome is Outcome.ASSIGNED  # back to back
    assert claim_for(store, "sh_b", "cg_2", NOW).outcome is Outcome.ASSIGNED
    held = store.shifts.assignments(["cg_1", "cg_2", "cg_3"], NOW)
    assert {cid: sorted(s.id for s in shifts) for cid, shifts in held.items()} == {
        "cg_1": ["sh_a", "sh_c"],
        "cg_2": ["sh_b"],
    }
    # Only assignments ending after ``since`` are read.
    later = day + timedelta(hours=8)
    assert [s.id for s in store.shifts.assignments(["cg_1"], later)["cg_1"]] == ["sh_c"]


def start_fanout_of(store: Store, shift_id: str, offered: list[str]) -> ShiftChange:
    return store.shifts.apply(
        shift_id, lambda s, reads: start_fanout_with(s, reads.free_code(), offered)
    )


UNCAPPED = replace(SUNRISE, max_weekly_hours=None)
RACE_ROUNDS = int(os.environ.get("SHIFTFILL_CONTRACT_ROUNDS_OVERLAP", "100"))


def test_one_caregiver_accepting_two_overlapping_shifts_at_once_gets_at_most_one(
    store: Store,
) -> None:
    for round_no in range(RACE_ROUNDS):
        # Each round a day later, so earlier rounds' assignments do not overlap this one's.
        start = NOW + timedelta(days=round_no + 1)
        pair = [f"sh_{round_no}_a", f"sh_{round_no}_b"]
        store.shifts.add(timed(pair[0], start, 8))
        store.shifts.add(timed(pair[1], start + timedelta(hours=4), 8))
        for sid in pair:
            start_fanout_of(store, sid, ["cg_1"])
        decisions = race(
            10,
            lambda i, pair=pair, since=start - timedelta(days=7): claim_for(
                store, pair[i % 2], "cg_1", since, UNCAPPED
            ),
        )
        won = {pair[i % 2] for i, d in enumerate(decisions) if d.outcome is Outcome.ASSIGNED}
        assert len(won) == 1, f"round {round_no}: {won}"
        holders = [store.shifts.get(sid).assigned_caregiver_id for sid in pair]  # type: ignore[union-attr]
        assert sorted(holders, key=str) == sorted(["cg_1", None], key=str)


# --- notifications and the outbox ---


def bump(n: Notification) -> NotificationChange:
    return NotificationChange.of(n, n._replace(attempts=n.attempts + 1))


def test_a_notification_update_is_atomic_and_indexes_the_provider_id(store: Store) -> None:
    fanned_out(store, "sh_1", ["cg_1"])
    [text] = store.notifications.for_shift("sh_1")
    race(THREADS, lambda i: store.notifications.update(text.id, bump))
    assert store.notifications.get(text.id).attempts == THREADS  # type: ignore[union-attr]
    noted = Event(at=NOW, type=EventType.SMS_SENT, caregiver_id="cg_1")
    change = store.notifications.update(
        text.id, lambda n: NotificationChange.of(n, n._replace(provider_id="SM1"), noted)
    )
    sent = change.notification
    assert change.changed and store.notifications.by_provider_id("SM1") == sent
    kept = store.notifications.update(text.id, lambda n: NotificationChange.of(n, None))
    assert (kept.notification, kept.changed) == (sent, False)
    assert [e.type for e in store.events.for_shift("sh_1")][-1] == "sms_sent"
    assert store.notifications.get("not-an-id") is None
    assert store.notifications.by_provider_id("SM2") is None


def test_many_notification_updates_each_apply_once_beside_single_ones(store: Store) -> None:
    offered = [f"cg_{i}" for i in range(40)]
    fanned_out(store, "sh_1", offered)
    ids = [n.id for n in store.notifications.for_shift("sh_1")]

    # Half the threads update all forty in one call, half one at a time: no step
    # may apply on a value another changed meanwhile, so no increment is lost.
    def work(i: int) -> object:
        if i % 2:
            return store.notifications.update_many([*ids, "sh_1~cg_x~sms", "junk"], bump)
        return [store.notifications.update(nid, bump) for nid in ids]

    results = race(10, work)
    assert {n.attempts for n in store.notifications.for_shift("sh_1")} == {10}
    assert all(set(r) == set(ids) for r in results[1::2])  # unknown ids are left out


def test_a_claim_in_many_updates_goes_to_exactly_one_caller(store: Store) -> None:
    """The send workers' claim: of callers who saw the same attempt count, one moves it on."""
    fanned_out(store, "sh_1", [f"cg_{i}" for i in range(30)])
    ids = [n.id for n in store.notifications.for_shift("sh_1")]

    def work(i: int) -> list[str]:
        updated = store.notifications.update_many(
            ids, lambda n: sending.start_attempt(n, seen_attempts=0)
        )
        return [nid for nid, change in updated.items() if change.changed]

    claimed = [nid for mine in race(8, work) for nid in mine]
    assert sorted(claimed) == sorted(ids)


def test_outgoing_reads_each_notification_with_its_shift_caregiver_and_organization(
    store: Store,
) -> None:
    store.organizations.add(Organization("org_1", "Sunrise Home Care"))
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    fanned_out(store, "sh_1", ["cg_1", "cg_2"])
    first, second = (n.id for n in store.notifications.for_shift("sh_1"))
    found = store.outgoing([second, "sh_1~cg_9~sms", "junk", first])
    assert [o.notification.id for o in found] == [second, first]
    assert [o.caregiver.id for o in found if o.caregiver] == ["cg_2", "cg_1"]
    assert {o.shift.id for o in found if o.shift} == {"sh_1"}
    assert {o.organization.name for o in found if o.organization} == {"Sunrise Home Care"}
    assert store.outgoing([]) == []


def test_every_queued_notification_is_taken_exactly_once(store: Store) -> None:
    offered = [f"cg_{i}" for i in range(300)]
    fanned_out(store, "sh_1", offered)
    assert store.outbox.depth() == 300

    def take_all(i: int) -> list[str]:
        mine: list[str] = []
        while taken := store.outbox.take(0.05):
            mine += taken
            store.outbox.done(taken)
        return mine

    taken = [nid for batch in race(10, take_all) for nid in batch]
    assert sorted(taken) == sorted(
        Notification.queued("sh_1", cid, Channel.SMS, NOW).id for cid in offered
    )
    assert store.outbox.depth() == 0


# --- inbound message ids ---


SENDER = caregiver(1)


def once(
    store: Store, message_id: str, compute: Callable[[], int], sender: str = SENDER.phone
) -> tuple[int, bool] | None:
    """Handle a message from ``sender``, whose outcome is what ``compute`` answers."""
    return store.inbound.once(message_id, sender, lambda *_: compute(), encode=str, decode=int)


@pytest.fixture
def sender(store: Store) -> Caregiver:
    """The caregiver the messages of these tests come from."""
    store.caregivers.add_many([SENDER])
    return SENDER


def test_a_message_is_handled_with_its_sender_and_their_offers(store: Store) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    fanned_out(store, "sh_1", ["cg_1"])
    fanned_out(store, "sh_2", ["cg_2"])
    seen: list[tuple[str, list[str]]] = []

    def compute(caregiver: Caregiver, offers: list[Shift]) -> int:
        seen.append((caregiver.id, [s.id for s in offers]))
        return 1

    assert store.inbound.once("SM1", SENDER.phone, compute, encode=str, decode=int) == (1, True)
    assert seen == [("cg_1", ["sh_1"])]


def test_a_message_from_a_number_no_caregiver_has_is_not_remembered(store: Store) -> None:
    computed: list[int] = []
    assert once(store, "SM1", lambda: computed.append(1) or 1) is None
    assert computed == []
    # Had the id been kept, the caregiver's own message with it would get that outcome.
    store.caregivers.add_many([SENDER])
    assert once(store, "SM1", lambda: 2) == (2, True)
    assert once(store, "SM1", lambda: 3) == (2, False)


def test_a_remembered_id_does_not_answer_a_number_no_caregiver_has(
    store: Store, sender: Caregiver
) -> None:
    assert once(store, "SM1", lambda: 1) == (1, True)
    # The caregiver's outcome is theirs: another number re-using the id does not read it.
    assert once(store, "SM1", lambda: 2, sender="+15550000000") is None
    assert once(store, "SM1", lambda: 3) == (1, False)


def test_concurrent_deliveries_of_one_message_id_are_handled_once(
    store: Store, sender: Caregiver
) -> None:
    computed: list[int] = []
    lock = threading.Lock()

    def deliver(i: int) -> tuple[object, bool]:
        def compute() -> int:
            with lock:
                computed.append(i)
            return i

        return once(store, "SM123", compute)

    results = race(THREADS, deliver)
    assert len(computed) == 1
    assert {r[0] for r in results} == {computed[0]}
    assert sum(1 for r in results if r[1]) == 1


def test_a_failed_message_is_not_remembered(store: Store, sender: Caregiver) -> None:
    def boom() -> int:
        raise RuntimeError("provider glitch")

    with pytest.raises(RuntimeError):
        once(store, "SM1", boom)
    assert once(store, "SM1", lambda: 7) == (7, True)


def test_a_copy_waiting_on_a_delivery_that_fails_then_handles_the_message_itself(
    store: Store, sender: Caregiver
) -> None:
    started, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def failing() -> int:
        started.set()
        release.wait(5)
        raise RuntimeError("provider glitch")

    def first() -> None:
        try:
            once(store, "SM9", failing)
        except RuntimeError as exc:
            outcomes["first"] = exc

    def copy() -> None:
        # Computed only once the first delivery has failed, never beside it.
        outcomes["copy"] = once(store, "SM9", lambda: 9 if release.is_set() else -1)

    threads = [threading.Thread(target=first), threading.Thread(target=copy)]
    threads[0].start()
    assert started.wait(5)
    threads[1].start()
    time.sleep(0.05)
    assert "copy" not in outcomes, "the copy waited for the first delivery"
    release.set()
    for thread in threads:
        thread.join(5)
    assert isinstance(outcomes["first"], RuntimeError)
    assert outcomes["copy"] == (9, True)


def test_a_message_id_is_forgotten_after_the_dedupe_window(make_store: MakeStore) -> None:
    store = make_store(clock=system_clock, dedupe_window=timedelta(seconds=1))
    store.caregivers.add_many([SENDER])
    assert once(store, "SM1", lambda: 1) == (1, True)
    assert once(store, "SM1", lambda: 2) == (1, False)
    time.sleep(1.2)
    assert once(store, "SM1", lambda: 3) == (3, True)


# --- caregiver changes ---


def changing(
    edit: Callable[[Caregiver], Caregiver | None], *events: Event
) -> Callable[[Caregiver], CaregiverChange]:
    """A caregiver change that applies ``edit`` and notes ``events`` when it changes anything."""
    return lambda c: CaregiverChange.of(c, edit(c), *events)


def rename_phone(phone: str) -> Callable[[Caregiver], CaregiverChange]:
    return changing(lambda c: replace(c, phone=phone))


def test_a_caregiver_update_moves_the_phone_and_role_indexes_in_one_step(store: Store) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2), caregiver(3, "LPN")])
    noted = Event(at=NOW, type=EventType.CAREGIVER_CHANGED, caregiver_id="cg_1")
    change = store.caregivers.update(
        "cg_1", changing(lambda c: replace(c, phone="+15555559999", role="LPN"), noted)
    )
    moved = change.caregiver
    assert change.changed and moved.phone == "+15555559999" and moved.role == "LPN"
    assert store.caregivers.get("cg_1") == moved
    assert store.caregivers.by_phone("+15555559999") == moved
    assert store.caregivers.by_phone(caregiver(1).phone) is None
    assert store.caregivers.qualified_ids("RN") == ["cg_2"]
    assert sorted(store.caregivers.qualified_ids("LPN")) == ["cg_1", "cg_3"]
    assert [e.type for e in store.caregivers.events("cg_1")] == ["caregiver_changed"]
    # The freed number can be taken by another caregiver.
    store.caregivers.update("cg_2", rename_phone(caregiver(1).phone))
    assert store.caregivers.by_phone(caregiver(1).phone).id == "cg_2"  # type: ignore[union-attr]


def test_a_caregiver_update_to_a_taken_phone_changes_nothing(store: Store) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    with pytest.raises(DuplicateKey):
        store.caregivers.update(
            "cg_1",
            changing(
                lambda c: replace(c, phone=caregiver(2).phone, name="Renamed"),
                Event(at=NOW, type=EventType.CAREGIVER_CHANGED),
            ),
        )
    assert store.caregivers.get("cg_1") == caregiver(1)
    assert store.caregivers.by_phone(caregiver(2).phone) == caregiver(2)
    assert store.caregivers.events("cg_1") == []
    with pytest.raises(KeyError):
        store.caregivers.update("nobody", changing(lambda c: c))


def test_a_caregiver_update_that_changes_nothing_records_nothing(store: Store) -> None:
    store.caregivers.add_many([caregiver(1)])
    noted = Event(at=NOW, type=EventType.CAREGIVER_CHANGED)
    for edit in (lambda c: None, lambda c: c):
        change = store.caregivers.update("cg_1", changing(edit, noted))
        assert (change.caregiver, change.changed) == (caregiver(1), False)
    assert store.caregivers.events("cg_1") == []


def test_deactivated_or_opted_out_caregivers_leave_the_role_index_and_can_come_back(
    store: Store,
) -> None:
    store.caregivers.add_many([caregiver(1), caregiver(2), caregiver(3, active=False)])
    assert store.caregivers.qualified_ids("RN") == ["cg_1", "cg_2"]
    store.caregivers.update("cg_1", changing(lambda c: replace(c, active=False)))
    assert store.caregivers.qualified_ids("RN") == ["cg_2"]
    store.caregivers.update("cg_2", opting_out)
    assert store.caregivers.qualified_ids("RN") == []
    store.caregivers.update("cg_2", changing(lambda c: replace(c, opted_out=False)))
    store.caregivers.update("cg_3", changing(lambda c: replace(c, active=True)))
    assert sorted(store.caregivers.qualified_ids("RN")) == ["cg_2", "cg_3"]


def test_two_racing_updates_to_one_new_phone_give_it_to_one_caregiver(store: Store) -> None:
    for round_no in range(ROUNDS):
        first, second = 2 * round_no, 2 * round_no + 1
        store.caregivers.add_many([caregiver(first), caregiver(second)])
        wanted = f"+1666555{round_no:04d}"

        def move(i: int, ids: tuple[int, int] = (first, second), phone: str = wanted) -> str:
            try:
                store.caregivers.update(f"cg_{ids[i % 2]}", rename_phone(phone))
            except DuplicateKey:
                return "taken"
            return "moved"

        results = race(2, move)
        assert sorted(results) == ["moved", "taken"], round_no
        owner = store.caregivers.by_phone(wanted)
        assert owner is not None and owner.phone == wanted
        loser = f"cg_{second}" if owner.id == f"cg_{first}" else f"cg_{first}"
        assert store.caregivers.get(loser).phone != wanted  # type: ignore[union-attr]


def test_racing_updates_of_one_caregiver_all_take_effect(store: Store) -> None:
    store.caregivers.add_many([caregiver(1)])
    race(
        THREADS,
        lambda i: store.caregivers.update(
            "cg_1", changing(lambda c: replace(c, name=c.name + "x"))
        ),
    )
    assert store.caregivers.get("cg_1").name == caregiver(1).name + "x" * THREADS  # type: ignore[union-attr]


# --- what health reports ---


def test_the_store_counts_its_records_and_remembers_when_it_was_first_seeded(
    store: Store,
) -> None:
    assert store.seeded_at() is None
    empty = store.counts()
    assert (empty.caregivers, empty.shifts, empty.notifications) == (0, 0, 0)
    store.caregivers.add_many([caregiver(1), caregiver(2)])
    fanned_out(store, "sh_1", ["cg_1", "cg_2"])
    store.shifts.add(shift("sh_2"))
    counts = store.counts()
    assert (counts.caregivers, counts.shifts, counts.notifications) == (2, 2, 2)
    assert store.mark_seeded(NOW) == NOW
    assert store.mark_seeded(LATER) == NOW
    assert store.seeded_at() == NOW
