"""The send path asks the shift's client too: a text queued before an exclusion or a lapse
is not sent (I3 in docs/invariants.md), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bench.harness import RedisServer
from config import TestingConfig
from shiftfill.bootstrap import Runtime, bootstrap
from shiftfill.domain.model import Credential, Location, NotificationStatus
from shiftfill.services import caregivers, clients, organizations
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import start_fanout
from shiftfill.services.shifts import create_shift
from tests.conftest import tomorrow_at, unique_prefix
from tests.fakes import FakeNotifier, send_queued

HOME = Location(41.8781, -87.6298)
NEAR = Location(41.9215, -87.6298)


@pytest.fixture(params=["memory", "redis"])
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A runtime whose send workers never start: the test sends what is queued itself."""
    env = {}
    if request.param == "redis":
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        env = {"SHIFTFILL_STORE_URL": redis_server.url, "SHIFTFILL_REDIS_PREFIX": unique_prefix()}
    runtime = bootstrap(TestingConfig(env), notifier=FakeNotifier(), escalation=False)
    yield runtime
    runtime.shutdown()


def queue_texts(deps: Dependencies) -> None:
    organizations.create_organization(deps, id="org_1", name="Sunrise", time_zone="UTC")
    for n in range(3):
        caregivers.register_caregiver(
            deps,
            id=f"cg_{n}",
            name=f"RN {n}",
            role="RN",
            phone=f"+1555555{n:04d}",
            location=NEAR,
            max_travel_miles=10.0,
            credentials=(Credential("CPR"),),
        )
    clients.create_client(deps, id="cl_1", organization_id="org_1", name="R. A.", location=HOME)
    create_shift(
        deps,
        id="sh_1",
        organization_id="org_1",
        role_required="RN",
        start_time=tomorrow_at(7),
        end_time=tomorrow_at(15),
        client_id="cl_1",
        required_credentials=("CPR",),
    )
    start_fanout(deps, "sh_1")


def test_an_exclusion_or_a_lapse_after_the_fanout_stops_the_queued_text(runtime: Runtime) -> None:
    deps = runtime.deps
    queue_texts(deps)
    clients.update_client(deps, "cl_1", {"excluded_caregiver_ids": ["cg_0"]})
    # Valid today, not through the shift's day (tomorrow).
    lapsed = Credential("CPR", (tomorrow_at(0) - timedelta(days=1)).date())
    caregivers.update_caregiver(deps, "cg_1", {"credentials": [lapsed]})
    send_queued(deps)
    notifier = deps.notifier
    assert isinstance(notifier, FakeNotifier)
    assert [s.to for s in notifier.by_channel("sms")] == ["+15555550002"]
    status = {n.caregiver_id: n for n in deps.store.notifications.for_shift("sh_1")}
    assert status["cg_2"].status is NotificationStatus.SENT
    for cid, why in [
        ("cg_0", "the client asked not to have this caregiver"),
        ("cg_1", "a credential the shift requires expires before it ends"),
    ]:
        assert status[cid].status is NotificationStatus.FAILED
        assert status[cid].error is not None and why in status[cid].error
