"""A pytest plugin that runs the suite with the wall clock 400 days ahead.

``make test-ahead`` loads it (``pytest -p tests.clock_ahead``) so that a date
written into a test cannot pass today and fail next month: every test must
build its times relative to now, or freeze its own. The clock still ticks, so
timed waits, timeouts and the scheduler behave as they do on the real clock.
Processes that tests start (gunicorn, Redis) keep the real clock: what they
are sent is a year ahead of them, which they must take as well.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from freezegun.api import _freeze_time

AHEAD = timedelta(days=400)

_freezer: _freeze_time | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Move the clock ahead before any test module is imported."""
    global _freezer
    _freezer = freeze_time(datetime.now(UTC) + AHEAD, tick=True)
    _freezer.start()


def pytest_report_header(config: pytest.Config) -> str:
    return f"clock: {AHEAD.days} days ahead, at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _freezer is not None:
        _freezer.stop()
