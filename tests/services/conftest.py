"""The service-layer tier: use cases called directly on the memory store, without HTTP.

Time is a clock the test moves by hand; the notifier and the metrics record what
they were asked, so a test reads what a caregiver or an operator would see.
"""

from __future__ import annotations

import pytest

from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.services.dependencies import Dependencies, Settings
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
