"""The storage port's promises about clients, credentials and waves, on every store.

A claim reads the shift's client and the caregiver inside its own step, so an
exclusion or a lapsed credential stored before the claim's write is honoured;
a wave is sent once however many callers decide it at the same instant.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from typing import Any

import pytest

from bench.harness import RedisServer
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.adapters.redis_store import codec
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.domain import contact, fill
from shiftfill.domain.model import (
    Caregiver,
    Client,
    Credential,
    Event,
    EventType,
    Location,
    Organization,
    Shift,
    Waves,
)
from shiftfill.domain.rules import CaregiverChange, Outcome, ShiftChange, StepReads
from shiftfill.services.ports import ClientElsewhere, ClientHeld, DuplicateKey, Store
from tests.conftest import unique_prefix
from tests.store.conftest import NOW, redis_store
from tests.store.test_contract import (
    THREADS,
    caregiver,
    changing,
    opting_out,
    race,
    start_fanout_with,
)

ORG = Organization("org_1", "Sunrise", "America/Chicago", waves=Waves(2, 120))


@pytest.fixture(autouse=True)
def eager_thread_switching() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def client_shift(shift_id: str, client_id: str = "cl_1", **fields: object) -> Shift:
    return Shift(
        shift_id, "org_1", "RN", NOW, NOW + timedelta(hours=8), client_id=client_id, **fields
    )


def accept(store: Store, shift_id: str, caregiver_id: str) -> ShiftChange:
    received = Event(at=NOW, type=EventType.REPLY_RECEIVED, caregiver_id=caregiver_id)
    decide = partial(
        fill.answer,
        caregiver_id=caregiver_id,
        accepts=True,
        received=received,
        now=NOW,
        fallback=ORG,
    )
    return store.shifts.apply(shift_id, decide)


def fanned_out(store: Store, s: Shift, offered: list[str]) -> None:
    store.shifts.add(s)

    def decide(current: Shift, reads: StepReads) -> ShiftChange:
        return start_fanout_with(current, reads.free_code(), offered)

    store.shifts.apply(s.id, decide)


def setup(store: Store, **client_fields: object) -> None:
    store.organizations.add(ORG)
    store.caregivers.add_many([caregiver(i) for i in range(3)])
    store.clients.add(Client("cl_1", "org_1", "R. Alvarez", **client_fields))  # type: ignore[arg-type]


def test_clients_are_stored_once_listed_by_organization_and_updated(store: Store) -> None:
    place = Location(41.8781, -87.6298)
    cl = Client("cl_1", "org_1", "R. Alvarez", place, ("cg_1",), ("cg_2",))
    store.clients.add(cl)
    with pytest.raises(DuplicateKey):
        store.clients.add(replace(cl, name="Other"))
    assert store.clients.add_absent([cl, replace(cl, id="cl_2", organization_id="o2")]) == [
        replace(cl, id="cl_2", organization_id="o2")
    ]
    assert store.clients.get("cl_1") == cl
    assert [c.id for c in store.clients.all("org_1")] == ["cl_1"]
    assert [c.id for c in store.clients.all()] == ["cl_1", "cl_2"]
    changed = store.clients.update("cl_1", lambda c: replace(c, excluded_caregiver_ids=()))
    assert store.clients.get("cl_1") == changed == replace(cl, excluded_caregiver_ids=())
    with pytest.raises(KeyError):
        store.clients.update("nope", lambda c: c)


ORG_2 = Organization("org_2", "Lakeside", "America/Chicago")


def test_a_shift_is_added_only_naming_a_client_of_its_own_organization(store: Store) -> None:
    setup(store)
    store.organizations.add(ORG_2)
    elsewhere = Shift("sh_x", "org_2", "RN", NOW, NOW + timedelta(hours=8), client_id="cl_1")
    for shift in (elsewhere, client_shift("sh_y", client_id="cl_none")):
        with pytest.raises(ClientElsewhere):
            store.shifts.add(shift)
        assert store.shifts.get(shift.id) is None
    store.shifts.add(client_shift("sh_1"))
    assert [s.id for s in store.shifts.all()] == ["sh_1"]


def test_shifts_added_in_bulk_leave_out_those_naming_a_client_elsewhere(store: Store) -> None:
    """As a seed adds them on a live store, where a client may have moved since."""
    setup(store)
    store.organizations.add(ORG_2)
    elsewhere = Shift("sh_2", "org_2", "RN", NOW, NOW + timedelta(hours=8), client_id="cl_1")
    plain = Shift("sh_4", "org_2", "RN", NOW, NOW + timedelta(hours=8))
    batch = [client_shift("sh_1"), elsewhere, client_shift("sh_3", client_id="cl_none"), plain]
    assert [s.id for s in store.shifts.add_absent(batch)] == ["sh_1", "sh_4"]
    assert [s.id for s in store.shifts.all()] == ["sh_1", "sh_4"]


def test_an_open_shift_keeps_its_client_in_its_organization_until_it_closes(store: Store) -> None:
    setup(store)
    store.organizations.add(ORG_2)
    store.shifts.add(client_shift("sh_1"))
    store.shifts.add(client_shift("sh_2"))
    store.shifts.apply("sh_2", partial(fill.cancel, now=NOW))
    move = partial(replace, organization_id="org_2")
    with pytest.raises(ClientHeld) as refused:
        store.clients.update("cl_1", move)
    assert (refused.value.organization_id, refused.value.shift_ids) == ("org_1", ["sh_1"])
    assert store.clients.get("cl_1").organization_id == "org_1"  # type: ignore[union-attr]
    # An edit that stays in the organization is not held back.
    edited = store.clients.update("cl_1", partial(replace, excluded_caregiver_ids=("cg_2",)))
    assert edited.excluded_caregiver_ids == ("cg_2",)
    store.shifts.apply("sh_1", partial(fill.cancel, now=NOW))
    assert store.clients.update("cl_1", move).organization_id == "org_2"


def test_a_clients_move_and_new_shifts_naming_them_never_both_land(store: Store) -> None:
    """One thread moves the client to another organization while the others add shifts
    naming them in the old one, all at once: afterwards every open shift naming the
    client is in the client's organization, whichever landed first."""
    setup(store)
    store.organizations.add(ORG_2)
    for round_ in range(10):
        client_id = f"cl_r{round_}"
        store.clients.add(Client(client_id, "org_1", "R. Alvarez"))

        def work(i: int, client_id: str = client_id, round_: int = round_) -> str:
            try:
                if i == 0:
                    store.clients.update(client_id, partial(replace, organization_id="org_2"))
                    return "moved"
                shift_id = f"sh_{round_}_{i}"
                store.shifts.add(client_shift(shift_id, client_id=client_id))
                return "added"
            except (ClientHeld, ClientElsewhere):
                return "refused"

        results = race(8, work)
        client = store.clients.get(client_id)
        assert client is not None
        naming = [s for s in store.shifts.all() if s.client_id == client_id]
        assert {s.organization_id for s in naming} <= {client.organization_id}, results
        assert len(naming) == results.count("added")


def test_places_credentials_and_requirements_are_kept(store: Store) -> None:
    held = Caregiver(
        "cg_9",
        "N",
        "RN",
        "+15555559999",
        location=Location(1.5, -2.25),
        max_travel_miles=12.5,
        credentials=(Credential("CPR", date(2027, 3, 31)), Credential("BLS")),
    )
    store.caregivers.add_many([held])
    assert store.caregivers.get("cg_9") == held
    store.clients.add(Client("cl_1", "org_1", "R. Alvarez"))
    s = client_shift("sh_1", required_credentials=("CPR",))
    store.shifts.add(s)
    assert store.shifts.get("sh_1") == s


def test_an_exclusion_that_lands_inside_a_claims_step_is_honoured(store: Store) -> None:
    """The exclusion is stored while the claim decides: the claim never assigns on the old list.

    On a store that serialises the two (memory), the exclusion waits for the claim
    and lands after the assignment; on one that checks its reads (Redis), the claim
    decides again and is refused.
    """
    setup(store)
    fanned_out(store, client_shift("sh_1"), ["cg_1"])
    landed = threading.Event()
    serialised = isinstance(store, MemoryStore)

    def exclude() -> None:
        store.clients.update("cl_1", lambda c: replace(c, excluded_caregiver_ids=("cg_1",)))
        landed.set()

    attempts: list[bool] = []

    def decide(s: Shift, reads: StepReads) -> ShiftChange:
        reads.client("cl_1")
        if not attempts:
            threading.Thread(target=exclude).start()
            # Memory: the exclusion waits on the step's lock, so this wait runs out.
            landed.wait(0.5 if serialised else 5)
        attempts.append(landed.is_set())
        received = Event(at=NOW, type=EventType.REPLY_RECEIVED, caregiver_id="cg_1")
        return fill.answer(
            s, reads, caregiver_id="cg_1", accepts=True, received=received, now=NOW, fallback=ORG
        )

    change = store.shifts.apply("sh_1", decide)
    assert landed.wait(5)
    if serialised:  # the exclusion waited for the step: it came after the assignment
        assert attempts == [False]
        assert change.outcome is Outcome.ASSIGNED
    else:  # the exclusion was stored during the step: the claim decided again, refused
        assert attempts == [True, True]
        assert change.outcome is Outcome.NOT_ELIGIBLE
        assert store.shifts.get("sh_1").assigned_caregiver_id is None  # type: ignore[union-attr]


def test_a_stop_stored_after_the_reply_was_read_stops_its_claim_on_any_shift(
    store: Store,
) -> None:
    """A reply reads its sender, then a STOP from them is stored, then the reply's claim runs:
    the claim reads the caregiver again in its step, with or without a client, and does not
    assign a caregiver who opted out. On Redis the reply's read is the step's first guess,
    which the checked write finds stale."""
    setup(store)
    plain = Shift("sh_1", "org_1", "RN", NOW, NOW + timedelta(hours=8))
    fanned_out(store, plain, ["cg_1"])
    fanned_out(store, client_shift("sh_2"), ["cg_1"])
    sender = store.shifts.offers_by_phone(caregiver(1).phone)
    assert sender is not None and not sender[0].opted_out
    store.caregivers.update("cg_1", opting_out)
    for shift_id in ("sh_1", "sh_2"):
        assert accept(store, shift_id, "cg_1").outcome is Outcome.NO_OPEN_OFFER
        assert store.shifts.get(shift_id).assigned_caregiver_id is None  # type: ignore[union-attr]
    store.caregivers.update("cg_1", changing(lambda c: replace(c, opted_out=False)))
    assert accept(store, "sh_1", "cg_1").outcome is Outcome.ASSIGNED


def test_an_exclusion_racing_accepts_never_leaves_an_excluded_caregiver_assigned(
    store: Store,
) -> None:
    """One thread excludes the caregiver while the others accept for them, all at once.

    An accept that starts after the exclusion was stored is always refused, so the
    shift is only ever assigned by an accept that began before it.
    """
    setup(store)
    for round_ in range(10):
        shift_id = f"sh_{round_}"
        fanned_out(store, client_shift(shift_id), ["cg_1"])
        store.clients.update("cl_1", lambda c: replace(c, excluded_caregiver_ids=()))
        landed = threading.Event()

        def work(i: int, shift_id: str = shift_id, landed: threading.Event = landed) -> Any:
            if i == 0:
                store.clients.update("cl_1", lambda c: replace(c, excluded_caregiver_ids=("cg_1",)))
                landed.set()
                return ("excluded", None)
            after = landed.is_set()
            return (after, accept(store, shift_id, "cg_1").outcome)

        results = race(THREADS // 5, work)[1:]
        assert [o for _, o in results].count(Outcome.ASSIGNED) <= 1
        assert all(o is not Outcome.ASSIGNED for after, o in results if after)
        late = [o for after, o in results if after]
        shift = store.shifts.get(shift_id)
        assert shift is not None
        if shift.assigned_caregiver_id is None:
            assert all(o is Outcome.NOT_ELIGIBLE for o in late)


def test_a_lapsed_credential_is_refused_at_claim_time(store: Store) -> None:
    setup(store)
    lapsed = (Credential("CPR", date(2026, 11, 1)),)
    store.caregivers.update("cg_1", lambda c: CaregiverChange.of(c, replace(c, credentials=lapsed)))
    fanned_out(store, client_shift("sh_1", required_credentials=("CPR",)), ["cg_1", "cg_2"])
    assert accept(store, "sh_1", "cg_1").outcome is Outcome.NOT_ELIGIBLE
    assert accept(store, "sh_1", "cg_2").outcome is Outcome.NOT_ELIGIBLE  # holds no CPR


def test_a_wave_is_pending_until_sent_and_goes_out_once_when_raced(store: Store) -> None:
    store.organizations.add(ORG)
    store.caregivers.add_many([caregiver(i) for i in range(6)])
    store.clients.add(Client("cl_1", "org_1", "R. Alvarez"))
    store.shifts.add(client_shift("sh_1"))
    due = NOW + timedelta(seconds=120)

    def begin(s: Shift, reads: StepReads) -> ShiftChange:
        return fill.fan_out(
            s,
            reads,
            now=NOW,
            qualified=["cg_0", "cg_1"],
            not_offered={},
            escalation_delay=timedelta(minutes=10),
            next_wave_at=due,
            waiting=4,
        )

    store.shifts.apply("sh_1", begin)
    assert store.shifts.due_waves(due - timedelta(seconds=1)) == []
    assert store.shifts.due_waves(due) == ["sh_1"]

    def second(i: int) -> ShiftChange:
        decide = partial(
            fill.wave,
            now=due,
            number=2,
            caregiver_ids=["cg_2", "cg_3"],
            next_wave_at=due + timedelta(seconds=120),
        )
        return store.shifts.apply("sh_1", decide)

    changes = race(THREADS, second)
    assert sum(c.changed for c in changes) == 1
    shift = store.shifts.get("sh_1")
    assert shift is not None and shift.fanout is not None
    assert shift.fanout.offered_caregiver_ids == ("cg_0", "cg_1", "cg_2", "cg_3")
    assert shift.fanout.waves_sent == 2
    texts = [n.caregiver_id for n in store.notifications.for_shift("sh_1")]
    assert texts == ["cg_0", "cg_1", "cg_2", "cg_3"]
    assert [s.id for s in store.shifts.offers_for(caregiver(3))] == ["sh_1"]
    assert store.shifts.due_waves(due) == []
    assert store.shifts.due_waves(due + timedelta(seconds=120)) == ["sh_1"]
    store.shifts.apply("sh_1", partial(fill.cancel, now=due))
    assert store.shifts.due_waves(due + timedelta(days=1)) == []


def _set(store: Store, caregiver_id: str, **fields: Any) -> None:
    store.caregivers.update(
        caregiver_id, lambda c: CaregiverChange(replace(c, **fields), changed=True)
    )


def _expected_reach(store: Store, role: str) -> dict[str, contact.Reach]:
    ids = store.caregivers.qualified_ids(role)
    return {c.id: contact.reach_of(c) for c in store.caregivers.get_many(ids)}


def test_the_role_index_keeps_what_matching_asks_through_every_change(store: Store) -> None:
    cpr = (Credential("CPR", date(2027, 3, 31)), Credential("CPR", date(2026, 1, 1)))
    store.caregivers.add_many(
        [
            caregiver(1, location=Location(41.9, -87.6), max_travel_miles=10.0, credentials=cpr),
            caregiver(2),
            caregiver(3, role="CNA", credentials=(Credential("BLS"),)),
        ]
    )
    first = store.caregivers.reach_of_role("RN")
    assert list(first) == ["cg_1", "cg_2"]
    # The latest expiry of a code counts; an unknown place is no place.
    assert first["cg_1"].expiries == {"CPR": date(2027, 3, 31)}
    assert first["cg_2"].lat is None and first["cg_2"].expiries == {}
    assert first == _expected_reach(store, "RN")

    _set(store, "cg_2", location=Location(40.0, -88.0), credentials=(Credential("CPR"),))
    assert store.caregivers.reach_of_role("RN")["cg_2"].expiries == {"CPR": contact.NEVER}
    _set(store, "cg_1", credentials=(Credential("CPR", date(2026, 2, 1)),))
    assert store.caregivers.reach_of_role("RN")["cg_1"].expiries == {"CPR": date(2026, 2, 1)}
    _set(store, "cg_1", active=False)
    assert list(store.caregivers.reach_of_role("RN")) == ["cg_2"]
    store.caregivers.update("cg_2", opting_out)
    assert store.caregivers.reach_of_role("RN") == {}
    _set(store, "cg_3", role="RN")
    _set(store, "cg_1", active=True, max_travel_miles=None)
    assert list(store.caregivers.reach_of_role("RN")) == ["cg_3", "cg_1"]
    assert store.caregivers.reach_of_role("CNA") == {}
    assert store.caregivers.reach_of_role("RN") == _expected_reach(store, "RN")


def test_another_process_sees_a_change_of_what_matching_asks(redis_server: Any) -> None:
    prefix = unique_prefix()
    one = RedisStore(redis_server.url, prefix=prefix)
    other = RedisStore(redis_server.url, prefix=prefix)
    try:
        one.caregivers.add_many([caregiver(1, credentials=(Credential("CPR"),))])
        assert other.caregivers.reach_of_role("RN")["cg_1"].expiries == {"CPR": contact.NEVER}
        _set(one, "cg_1", credentials=())
        assert other.caregivers.reach_of_role("RN")["cg_1"].expiries == {}
        one.caregivers.update("cg_1", opting_out)
        assert other.caregivers.reach_of_role("RN") == {}
        one.caregivers.add_many([caregiver(2), caregiver(3, role="LPN")])
        assert other.caregivers.reach_of_role("LPN").keys() == {"cg_3"}
        _set(one, "cg_3", role="RN")
        assert other.caregivers.reach_of_role("LPN") == {}
        assert list(other.caregivers.reach_of_role("RN")) == ["cg_2", "cg_3"]
        # Past the limit of changes read one by one, the role is read whole.
        other.caregivers.CATCH_UP_LIMIT = 2  # type: ignore[attr-defined]
        one.caregivers.add_many([caregiver(i) for i in range(4, 8)])
        _set(one, "cg_2", location=Location(1.0, 2.0))
        assert other.caregivers.reach_of_role("RN") == _expected_reach(one, "RN")
        assert list(other.caregivers.reach_of_role("RN")) == [f"cg_{i}" for i in range(2, 8)]
    finally:
        one.close()
        other.close()


def test_a_role_index_written_before_its_reach_hash_is_read_from_the_records(
    redis_server: Any,
) -> None:
    prefix = unique_prefix()
    store = RedisStore(redis_server.url, prefix=prefix)
    try:
        store.caregivers.add_many([caregiver(1, location=Location(1.0, 2.0)), caregiver(2)])
        # As an earlier version left it: the role index, but no hash beside it.
        keys = store.keys
        store.client.delete(keys.reach("RN"), keys.reach_version("RN"))
        found = store.caregivers.reach_of_role("RN")
        assert found == _expected_reach(store, "RN") and list(found) == ["cg_1", "cg_2"]
        assert store.client.hlen(keys.reach("RN")) == 2
    finally:
        store.close()


def test_on_redis_a_move_stored_between_a_new_shifts_read_and_write_refuses_the_shift(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window the race test rarely hits: the shift's step has read the client, and the
    move lands before the shift is written. The step watches the client, so it runs again
    and sees the move."""
    store = redis_store(redis_server.url)
    try:
        setup(store)
        store.organizations.add(ORG_2)
        load_client = codec.load_client
        moved: list[Client] = []

        def load_then_move(raw: Any) -> Client:
            loaded = load_client(raw)
            if not moved:
                moved.append(loaded)
                store.clients.update("cl_1", partial(replace, organization_id="org_2"))
            return loaded

        monkeypatch.setattr(codec, "load_client", load_then_move)
        with pytest.raises(ClientElsewhere):
            store.shifts.add(client_shift("sh_1"))
        assert moved and store.shifts.get("sh_1") is None
        assert store.clients.get("cl_1").organization_id == "org_2"  # type: ignore[union-attr]
    finally:
        store.close()


def test_in_memory_a_move_sent_during_a_new_shifts_step_waits_for_it_and_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memory store's window: the shift's step has read the client when the move comes.
    The move waits for the step's lock, then sees the shift and is refused."""
    store = MemoryStore()
    setup(store)
    store.organizations.add(ORG_2)
    read = store.clients.get
    outcome: list[object] = []
    finished = threading.Event()

    def move() -> None:
        try:
            outcome.append(store.clients.update("cl_1", partial(replace, organization_id="org_2")))
        except ClientHeld as refused:
            outcome.append(refused)
        finished.set()

    def read_then_move(client_id: str) -> Client | None:
        client = read(client_id)
        if not outcome:
            outcome.append("started")
            threading.Thread(target=move).start()
            finished.wait(0.5)  # a move that does not wait for the step lands meanwhile
        return client

    monkeypatch.setattr(store.clients, "get", read_then_move)
    store.shifts.add(client_shift("sh_1"))
    assert finished.wait(5)
    assert outcome[0] == "started"
    result = outcome[1]
    assert isinstance(result, ClientHeld) and result.shift_ids == ["sh_1"]
    assert read("cl_1").organization_id == "org_1"  # type: ignore[union-attr]


def test_on_redis_a_move_runs_again_only_for_a_shift_naming_its_client(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shifts added for other clients while a move reads do not make it start over (a busy
    agency would starve it); one naming the client does, and the move then sees it."""
    store = redis_store(redis_server.url)
    try:
        setup(store)
        store.organizations.add(ORG_2)
        for client_id in ("cl_2", "cl_3"):
            store.clients.add(Client(client_id, "org_1", "B. Other"))
        read_shifts = store.clients._shifts_in  # type: ignore[attr-defined]
        reads: list[str] = []

        def adding(shift: Shift) -> Any:
            def read_while_added(pipe: Any) -> Any:
                reads.append(shift.id)
                shifts = read_shifts(pipe)
                if len(reads) == 1:  # lands between the move's read and its write
                    store.shifts.add(shift)
                return shifts

            return read_while_added

        move = partial(replace, organization_id="org_2")
        monkeypatch.setattr(store.clients, "_shifts_in", adding(client_shift("sh_2", "cl_2")))
        assert store.clients.update("cl_1", move).organization_id == "org_2"
        assert reads == ["sh_2"]  # one attempt

        reads.clear()
        monkeypatch.setattr(store.clients, "_shifts_in", adding(client_shift("sh_3", "cl_3")))
        with pytest.raises(ClientHeld):
            store.clients.update("cl_3", move)
        assert reads == ["sh_3", "sh_3"]  # run again, and refused
    finally:
        store.close()
