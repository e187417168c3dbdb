"""Shared by the tests that start real servers: a Redis that keeps its data, and the log's texts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from bench.harness import RedisServer


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis of this test's own that writes its data to disk, as production's does."""
    server = RedisServer(persistent=True)
    yield server
    server.close()


def sent_to(log: str, channel: str, about: str = "") -> Counter[str]:
    """Count the messages the log notifier wrote, per last four digits of the number.

    The log notifier writes a line per text or call at DEBUG: start the server with
    ``SHIFTFILL_LOG_LEVEL=DEBUG``. With ``about``, only the messages whose words hold it
    count (a shift's day and start, say, as the texts write them).
    """
    lines = re.findall(rf"{channel} to \+1555•••(\d{{4}}): (.*)", log)
    return Counter(digits for digits, words in lines if about in words)
