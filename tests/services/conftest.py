"""The service-layer tier: use cases called directly on the memory store, without HTTP.

Time is a clock the test moves by hand; the notifier and the metrics record what
they were asked, so a test reads what a caregiver or an operator would see.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.services.caregivers import register_caregivers
from shiftfill.services.dependencies import Dependencies, Settings
from shiftfill.services.shifts import create_shift
from tests.conftest import START
from tests.fakes import Clock, FakeNotifier, RecordingMetrics


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def memory_deps(clock: Clock, notifier: FakeNotifier, metrics: RecordingMetrics) -> Dependencies:
    """A use case's dependencies on a fresh memory store; nothing runs in the background."""
    return Dependencies(
        store=MemoryStore(clock=clock),
        notifier=notifier,
        settings=Settings(send_retries=0),
        clock=clock,
        metrics=metrics,
    )


# Sunday Nov 29 07:00 UTC, the day after ``START``.
DAY = START.replace(hour=7) + timedelta(days=1)

RN = ["cg_1", "cg_2", "cg_3"]


def phone(caregiver_id: str) -> str:
    """The phone the roster gives ``cg_<n>``."""
    return f"+1555555{int(caregiver_id.split('_')[1]):04d}"


def add_roster(deps: Dependencies) -> None:
    """Three RNs (cg_1..3), an LPN (cg_4), an RN who opted out (cg_5), an inactive RN (cg_6)."""
    people = [
        *({"id": cid, "name": cid, "role": "RN"} for cid in RN),
        {"id": "cg_4", "name": "cg_4", "role": "LPN"},
        {"id": "cg_5", "name": "cg_5", "role": "RN", "opted_out": True},
        {"id": "cg_6", "name": "cg_6", "role": "RN", "active": False},
    ]
    register_caregivers(deps, [{**p, "phone": phone(p["id"])} for p in people])


def add_shift(
    deps: Dependencies,
    shift_id: str,
    *,
    start: datetime = DAY,
    hours: float = 12,
    organization_id: str = "default",
) -> None:
    create_shift(
        deps,
        id=shift_id,
        organization_id=organization_id,
        role_required="RN",
        start_time=start,
        end_time=start + timedelta(hours=hours),
    )


def trail(deps: Dependencies, shift_id: str) -> list[str]:
    """The shift's audit trail as event types."""
    return [str(e.type) for e in deps.store.events.for_shift(shift_id)]


@pytest.fixture
def staffed(memory_deps: Dependencies) -> Dependencies:
    """The dependencies with ``add_roster``'s caregivers registered."""
    add_roster(memory_deps)
    return memory_deps
