"""Metrics in prometheus_client's multiprocess mode, as a gunicorn worker keeps them.

The directory goes under the running app (a tmp cleaner, an operator): no request
fails, one WARNING line says so, and counting resumes in a new directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client import values

from shiftfill.adapters import logs, metrics_files
from tests.api.test_operating import metric
from tests.conftest import add_caregiver, build_app, shift_body

WARNINGS = "shiftfill.adapters.metrics_files"


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A multiprocess directory for one app; prometheus_client is put back as it was after."""
    path = tmp_path / "metrics"
    path.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    monkeypatch.setattr(metrics_files, "_installed", None)
    # Check at every write, so the test needs no wait; gunicorn workers check every 5 s.
    monkeypatch.setattr(metrics_files, "CHECK_SECONDS", 0.0)
    yield path


def multiprocess_client(directory: Path) -> FlaskClient:
    return build_app({"PROMETHEUS_MULTIPROC_DIR": str(directory)}).test_client()


def a_working_day(client: FlaskClient, n: int) -> list[int]:
    """Add a caregiver and a shift, fan it out, accept it, scrape: the statuses answered."""
    phone = f"+1555555{n:04d}"
    add_caregiver(client, id=f"cg_{n}", name=f"RN {n}", role="RN", phone=phone)
    return [
        client.post("/shifts", json=shift_body(id=f"sh_{n}")).status_code,
        client.post(f"/shifts/sh_{n}/fanout").status_code,
        client.post("/messages/inbound", json={"from": phone, "body": "yes"}).status_code,
        client.get("/caregivers").status_code,
        client.get("/metrics").status_code,
    ]


def sent_out(client: FlaskClient) -> None:
    """Wait until the texts queued so far are sent and recorded, with their counts written:
    the send path writes them from its own thread, and could make a removed directory again."""
    assert client.application.extensions["shiftfill"].sender.wait_idle(5)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == WARNINGS and r.levelno == logging.WARNING
    ]


def test_the_directory_removed_under_a_running_app_fails_no_request(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = multiprocess_client(directory)
    assert a_working_day(client, 1) == [201, 202, 200, 200, 200]
    assert any(directory.glob("counter_*.db"))
    sent_out(client)

    shutil.rmtree(directory)
    for n in range(2, 6):
        assert a_working_day(client, n) == [201, 202, 200, 200, 200]

    assert directory.is_dir()
    text = client.get("/metrics").text
    # The counts from before the loss went with the files; those after it are all there.
    assert metric(text, "shiftfill_fanouts_total", role="RN") == 4
    assert metric(text, "shiftfill_inbound_messages_total", outcome="assigned") == 4
    [warning] = warnings_of(caplog)
    assert str(directory) in warning and "removed" in warning


def test_a_directory_that_cannot_be_made_again_skips_metrics_with_one_warning(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = multiprocess_client(directory)
    assert a_working_day(client, 1) == [201, 202, 200, 200, 200]
    sent_out(client)

    shutil.rmtree(directory)
    directory.write_text("a file where the directory was")  # makedirs now fails
    for n in range(2, 8):
        assert a_working_day(client, n) == [201, 202, 200, 200, 200]
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert metric(scrape.text, "shiftfill_open_shifts") == 0  # the gauges still answer
    [warning] = warnings_of(caplog)  # one line for the loss, not one per request
    assert "metrics are not recorded" in warning and str(directory) in warning

    directory.unlink()
    assert a_working_day(client, 9) == [201, 202, 200, 200, 200]
    text = client.get("/metrics").text
    assert metric(text, "shiftfill_fanouts_total", role="RN") == 1
    assert "metrics are recorded again" in caplog.text


def test_a_metrics_warning_names_the_request_whose_write_failed(directory: Path) -> None:
    client = multiprocess_client(directory)
    assert client.get("/health").status_code == 200
    shutil.rmtree(directory)
    seen: list[str | None] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(logs.request_id.get())  # what the log line is stamped with

    capture = Capture(logging.WARNING)
    logging.getLogger(WARNINGS).addHandler(capture)
    try:
        # The request's timing is its only metric: its write finds the files gone.
        answer = client.get("/health", headers={"X-Request-ID": "probe-4821"})
    finally:
        logging.getLogger(WARNINGS).removeHandler(capture)
    assert answer.status_code == 200
    assert seen == ["probe-4821"]


def test_a_route_first_answered_after_the_directory_is_lost_fails_no_request(
    directory: Path,
) -> None:
    client = multiprocess_client(directory)
    assert client.get("/health").status_code == 200
    shutil.rmtree(directory)
    directory.write_text("a file where the directory was")
    # Routes and statuses not timed before: their series are new, and opening one fails.
    assert client.get("/shifts/none").status_code == 404
    assert client.post("/shifts", json={}).status_code == 422
    assert client.get("/organizations").status_code == 200


def test_a_file_removed_while_a_scrape_reads_it_answers_the_gauges(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = multiprocess_client(directory)
    assert a_working_day(client, 1) == [201, 202, 200, 200, 200]

    def vanished(files: list[str]) -> None:
        raise FileNotFoundError(files[0])

    monkeypatch.setattr(
        "prometheus_client.multiprocess.MultiProcessCollector._read_metrics", vanished
    )
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert metric(scrape.text, "shiftfill_open_shifts") == 0


# --- the directory a gunicorn master makes ---


def test_the_default_directory_is_in_the_cache_directory_per_master(tmp_path: Path) -> None:
    path, warning = metrics_files.make_own_directory(lambda: tmp_path / "cache", 4242)
    assert path == tmp_path / "cache" / "shiftfill" / "metrics" / "4242"
    assert path.is_dir() and warning == ""
    assert not str(path).startswith("/tmp/shiftfill-metrics")


def test_a_master_removes_directories_of_masters_that_are_gone(tmp_path: Path) -> None:
    base = tmp_path / "shiftfill" / "metrics"
    script = "import os; print(os.getpid())"
    dead = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    gone = base / dead.stdout.strip()
    alive = base / str(os.getppid())
    for path in (gone, alive):
        path.mkdir(parents=True)
        (path / "counter_1-0.db").write_bytes(b"")
    mine, _ = metrics_files.make_own_directory(lambda: tmp_path, os.getpid())
    assert mine.is_dir()
    assert not gone.exists()
    assert alive.exists()


def test_an_unusable_cache_directory_falls_back_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path, warning = metrics_files.make_own_directory(lambda: blocker, 1)
    try:
        assert path.is_dir()
        assert "PROMETHEUS_MULTIPROC_DIR" in warning and "tmp cleaner" in warning
    finally:
        shutil.rmtree(path)


def test_a_previous_run_s_files_are_removed_from_a_given_directory(tmp_path: Path) -> None:
    (tmp_path / "counter_99-0.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")
    metrics_files.empty(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_forked_process_writes_to_files_of_its_own(tmp_path: Path) -> None:
    files = metrics_files.MetricsFiles(str(tmp_path))
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: say which files it would write, and nothing else
        try:
            os.write(write, files.identifier().encode())
        finally:
            os._exit(0)
    os.close(write)
    said = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(child, 0)
    assert said == f"{child}-0"
    assert files.identifier() == f"{os.getpid()}-0"
