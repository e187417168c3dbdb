"""The harness that starts real servers leaves nothing running when a start fails."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Server, Stack

pytestmark = pytest.mark.server


def record_starts(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every process the harness starts during the test, as it starts it."""
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    return started


def live_members(group: int) -> list[int]:
    """The processes of process group ``group`` that are not zombies."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def group_is_gone(group: int, seconds: float = 10) -> bool:
    """Whether no live process is left in ``group``, waiting a little for the kernel.

    Killed processes whose parent died wait as zombies until init reaps them: they
    are gone all the same, but signal 0 still reaches them until then.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        if not live_members(group) or time.monotonic() >= deadline:
            return not live_members(group)
        time.sleep(0.05)


def test_a_gunicorn_not_ready_in_time_is_killed_and_its_log_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = record_starts(monkeypatch)
    with pytest.raises(RuntimeError, match=re.escape("gunicorn did not become ready in 0.01 s")):
        Server(ready_seconds=0.01)
    [process] = started
    assert process.returncode is not None  # reaped
    assert group_is_gone(process.pid)


def test_a_gunicorn_whose_workers_run_but_never_counts_as_ready_is_killed_with_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = record_starts(monkeypatch)
    workers: list[int] = []

    class NeverReady(Server):
        """Answers, so its worker runs; never counted as ready all the same."""

        def _ready(self) -> bool:
            deadline = time.monotonic() + 20
            while not super()._ready() and time.monotonic() < deadline:
                time.sleep(0.05)
            workers.append(self.worker_pid())
            return False

    with pytest.raises(RuntimeError, match="did not become ready") as raised:
        NeverReady(ready_seconds=0.01)
    [process] = started
    assert process.returncode is not None
    assert len(workers) == 1  # a worker ran, in the master's group
    assert group_is_gone(process.pid)
    # The log came with the error, and the file is closed.
    assert any("gunicorn's log:" in note for note in raised.value.__notes__)


def test_a_gunicorn_that_exits_before_it_is_ready_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = record_starts(monkeypatch)
    with pytest.raises(RuntimeError, match="gunicorn exited before it was ready") as raised:
        Server(app="no_such_module:app")
    [process] = started
    assert process.returncode not in (None, 0)
    assert group_is_gone(process.pid)
    assert any("no_such_module" in note for note in raised.value.__notes__)


def test_a_stack_not_ready_in_time_is_stopped_with_its_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = record_starts(monkeypatch)
    not_ready = re.escape("deploy/serve.py did not become ready in 0.01 s")
    with pytest.raises(RuntimeError, match=not_ready):
        Stack(ready_seconds=0.01)
    serve = started[0]
    assert serve.returncode is not None
    assert group_is_gone(serve.pid)
