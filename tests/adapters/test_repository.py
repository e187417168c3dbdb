"""The repositories' atomic operations under real thread races."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shiftfill.adapters.repository import (
    CaregiverRepository,
    InboundLog,
    NotificationRepository,
    ShiftRepository,
)
from shiftfill.domain import rules
from shiftfill.domain.model import Caregiver, Channel, Shift
from shiftfill.domain.rules import Outcome

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
THREADS = 50
ROUNDS = 200


@pytest.fixture(autouse=True)
def eager_thread_switching() -> Iterator[None]:
    """Switch threads every microsecond so that an unguarded read-then-write really races."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def race(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` on ``n`` threads released at the same instant; return the results."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def fanned_out_shift(shift_id: str, offered: list[str]) -> Shift:
    shift = Shift(
        id=shift_id,
        organization_id="org_1",
        role_required="RN",
        start_time=NOW,
        end_time=NOW + timedelta(hours=8),
    )
    return rules.start_fanout(
        shift,
        now=NOW,
        offer_code="4821",
        qualified_ids=offered,
        escalation_delay=timedelta(minutes=10),
    ).shift


def test_fifty_concurrent_claims_have_exactly_one_winner_every_time() -> None:
    caregivers = [f"cg_{i}" for i in range(THREADS)]
    repo = ShiftRepository()
    for round_no in range(ROUNDS):
        shift_id = f"sh_{round_no}"
        repo.add(fanned_out_shift(shift_id, caregivers))
        outcomes = race(
            THREADS,
            lambda i, sid=shift_id: (
                repo.update(sid, lambda s, i=i: rules.claim(s, caregivers[i], now=NOW)).outcome
            ),
        )
        winners = [caregivers[i] for i, o in enumerate(outcomes) if o is Outcome.ASSIGNED]
        assert len(winners) == 1, f"round {round_no}: {winners}"
        assert outcomes.count(Outcome.FILLED) == THREADS - 1
        stored = repo.get(shift_id)
        assert stored is not None
        assert stored.assigned_caregiver_id == winners[0]


def test_fifty_concurrent_inserts_of_one_notification_store_exactly_one() -> None:
    repo = NotificationRepository()
    for round_no in range(ROUNDS):
        created = race(
            THREADS,
            lambda i, r=round_no: repo.add_missing(f"sh_{r}", Channel.SMS, ["cg_1"], NOW),
        )
        assert sum(len(c) for c in created) == 1  # type: ignore[arg-type]
        assert len(repo.for_shift(f"sh_{round_no}")) == 1


def test_an_sms_and_a_call_to_the_same_caregiver_are_two_notifications() -> None:
    repo = NotificationRepository()
    [sms] = repo.add_missing("sh_1", Channel.SMS, ["cg_1"], NOW)
    [call] = repo.add_missing("sh_1", Channel.CALL, ["cg_1"], NOW)
    assert repo.add_missing("sh_1", Channel.SMS, ["cg_1", "cg_1"], NOW) == []
    assert repo.for_shift("sh_1") == [sms, call]
    assert repo.get(sms.id) == sms
    assert repo.get("not-an-id") is None


def test_concurrent_deliveries_of_one_message_id_are_handled_once() -> None:
    log = InboundLog()
    calls: list[int] = []
    lock = threading.Lock()

    def handle(i: int) -> tuple[object, bool]:
        def compute() -> int:
            with lock:
                calls.append(i)
            return i

        return log.once("SM123", compute)

    results = race(THREADS, handle)
    assert len(calls) == 1
    assert {r[0] for r in results} == {calls[0]}  # type: ignore[index]
    assert sum(1 for r in results if r[1]) == 1  # type: ignore[index]


def test_a_failed_message_can_be_retried() -> None:
    log = InboundLog()

    def boom() -> int:
        raise RuntimeError("provider glitch")

    with pytest.raises(RuntimeError):
        log.once("SM1", boom)
    assert log.once("SM1", lambda: 7) == (7, True)


def test_qualified_caregivers_come_from_the_role_index_without_opted_out_ones() -> None:
    repo = CaregiverRepository()
    repo.add(Caregiver("cg_1", "Ana", "RN", "+15555550101"))
    repo.add(Caregiver("cg_2", "Ben", "LPN", "+15555550102"))
    repo.add(Caregiver("cg_3", "Chen", "RN", "+15555550103", opted_out=True))
    repo.add(Caregiver("cg_5", "Eli", "RN", "+15555550105"))
    assert repo.qualified_ids("RN") == ["cg_1", "cg_5"]
    repo.opt_out("cg_5")
    assert repo.qualified_ids("RN") == ["cg_1"]
    assert repo.qualified_ids("CNA") == []


def test_open_shifts_never_share_an_offer_code() -> None:
    codes = iter(["1111", "1111", "1111", "2222"])
    repo = ShiftRepository(code_source=lambda digits: next(codes))
    for sid in ("sh_1", "sh_2"):
        repo.add(Shift(sid, "org_1", "RN", NOW, NOW + timedelta(hours=1)))
    assert repo.reserve_offer_code("sh_1") == "1111"
    assert repo.reserve_offer_code("sh_1") == "1111"
    assert repo.reserve_offer_code("sh_2") == "2222"
