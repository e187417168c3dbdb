"""The README's recipes, run verbatim against the real server, with authentication off and on.

Blocks fenced as ```` ```sh recipe ```` run in bash, in the README's order, against one
gunicorn server with the sample data for each setting of authentication (only
``localhost:8000`` is pointed at the test's port); the recipes touch different shifts.
The block fenced as ```` ```sh server ```` must start a server that answers ``/health``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import ROOT, Server, free_port
from config import SAMPLE_SEED

pytestmark = pytest.mark.server

README = (ROOT / "README.md").read_text(encoding="utf-8")
TOKEN = "readme-token"


def blocks(kind: str) -> list[str]:
    """The bodies of the README's code blocks fenced as ```` ```sh <kind> ````."""
    return re.findall(rf"^ *```sh {kind}\n(.*?)^ *```", README, flags=re.S | re.M)


RECIPES = blocks("recipe")


def test_the_readme_marks_its_recipes() -> None:
    assert len(RECIPES) >= 2
    assert len(blocks("server")) == 1


@pytest.fixture(scope="module", params=["auth off", "auth on"])
def token(request: pytest.FixtureRequest) -> str:
    return TOKEN if request.param == "auth on" else ""


@pytest.fixture(scope="module")
def server(token: str) -> Iterator[Server]:
    env = {"SHIFTFILL_SEED_FILE": SAMPLE_SEED, "SHIFTFILL_ESCALATION_DELAY_SECONDS": "2"}
    if token:
        env["SHIFTFILL_API_TOKEN"] = token
        env["SHIFTFILL_SECRET_KEY"] = "board-signing-key-0123456789"
    server = Server(SHIFTFILL_ESCALATION_POLL_SECONDS="0.1", **env)
    yield server
    assert server.stop() == 0


def run_recipe(recipe: str, server: Server, token: str) -> str:
    script = recipe.replace("localhost:8000", f"localhost:{server.port}")
    env = {**os.environ, "SHIFTFILL_API_TOKEN": token}
    if not token:
        env.pop("SHIFTFILL_API_TOKEN")
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "unauthorized" not in result.stdout, result.stdout
    assert '"code":"' not in result.stdout.replace(" ", ""), result.stdout  # no error body
    return result.stdout


def get(server: Server, path: str, token: str) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, body = server.request("GET", path, headers=headers)
    assert status == 200, body
    return body


def test_the_whole_fill_recipe(server: Server, token: str) -> None:
    out = run_recipe(RECIPES[0], server, token)
    assert "200" in out.splitlines()  # the repeated fanout
    shift = get(server, "/shifts/sh_1", token)
    assert shift["status"] == "filled" and shift["assigned_caregiver_id"] == "cg_1"  # type: ignore[index]
    types = [e["type"] for e in get(server, "/shifts/sh_1/events", token)]  # type: ignore[union-attr, index]
    assert types.count("assigned") == 1 and types.count("declined") == 1
    assert types.count("claim_lost") == 1
    hana = get(server, "/caregivers/cg_8", token)
    assert hana["opted_out"] is False and hana["phone"] == "+15555550188"  # type: ignore[index]
    assert "shiftfill_shifts_filled_total" in out
    assert '"boot_id"' in out


def test_the_phone_round_recipe(server: Server, token: str) -> None:
    out = run_recipe(RECIPES[1], server, token)
    assert "<Say>Confirmed" in out
    shift = get(server, "/shifts/sh_4", token)
    assert shift["assigned_caregiver_id"] == "cg_5"  # type: ignore[index]
    assert shift["fanout"]["round"] == "phone"  # type: ignore[index]


def test_the_waves_recipe(server: Server, token: str) -> None:
    out = run_recipe(RECIPES[2], server, token)
    assert '"offered_caregiver_ids":["cg_5"]' in out.replace(" ", "")
    shift = get(server, "/shifts/sh_w", token)
    fanout = shift["fanout"]  # type: ignore[index]
    assert fanout["offered_caregiver_ids"] == ["cg_5", "cg_3"]
    assert fanout["waves_sent"] == 2
    # Nobody is left, not even Hana, whom the first recipe opted back in: no wave is due.
    assert fanout["next_wave_at"] is None
    texts = [n for n in get(server, "/shifts/sh_w/notifications", token) if n["channel"] == "sms"]  # type: ignore[union-attr, index]
    first, second = sorted(texts, key=lambda n: n["queued_at"])
    assert (first["caregiver_id"], second["caregiver_id"]) == ("cg_5", "cg_3")


def test_the_server_recipe_starts_a_server(tmp_path: Path) -> None:
    [line] = [line for line in blocks("server")[0].splitlines() if line.strip()]
    port = free_port()
    command = shlex.split(line.replace("127.0.0.1:9000", f"127.0.0.1:{port}"))
    env = {**os.environ, "SHIFTFILL_SEED_FILE": "", "SHIFTFILL_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the server recipe's command exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "no answer from the server recipe"
                time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=40) == 0
