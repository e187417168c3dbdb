"""A pending webhook delivery on Redis outlives kill -9 of every shiftfill process.

The agency's receiver fails the first attempt, so the delivery waits in Redis for
its retry; gunicorn's master and workers are killed (SIGKILL to the process
group, as a crash would) before it is due. A new server then delivers it: the same
message, with the same ``webhook-id``, signed as the Standard Webhooks library checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from bench.harness import RedisServer, Server
from tests.conftest import shift_body, unique_prefix
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.server

# The first retry comes 3 s after the failed attempt: time to kill every process
# while the delivery is pending and no attempt is under way. Later retries are quick.
RETRIES = "3,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5"


@pytest.fixture
def healthy() -> threading.Event:
    """The agency's endpoint answers 500 until this is set, then 200."""
    return threading.Event()


@pytest.fixture
def receiver(healthy: threading.Event) -> Iterator[Receiver]:
    made = Receiver(lambda: 200 if healthy.is_set() else 500)
    yield made
    made.close()


def wait_for(condition: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    return condition()


def processes_of(server: Server) -> list[int]:
    """The gunicorn master and its workers, while they run."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_kill_9_of_every_process_leaves_a_pending_delivery_that_a_new_server_sends(
    redis_server: RedisServer, receiver: Receiver, healthy: threading.Event
) -> None:
    env = {
        "SHIFTFILL_STORE_URL": redis_server.url,
        "SHIFTFILL_REDIS_PREFIX": unique_prefix(),
        "SHIFTFILL_WORKERS": "2",
        "SHIFTFILL_WEBHOOK_ALLOW_PRIVATE": "1",
        "SHIFTFILL_WEBHOOK_RETRY_SECONDS": RETRIES,
        "SHIFTFILL_WEBHOOK_TIMEOUT_SECONDS": "2",
        "SHIFTFILL_WEBHOOK_POLL_SECONDS": "0.1",
    }
    hooks = "/organizations/default/webhooks"
    first = Server(**env)
    try:
        status, hook = first.request(
            "POST", hooks, {"url": receiver.url, "events": ["shift.cancelled"]}
        )
        assert status == 201, hook
        assert first.request("POST", "/shifts", shift_body(id="sh_1"))[0] == 201
        assert first.request("POST", "/shifts/sh_1/cancel")[0] == 200

        def failed_once() -> dict[str, Any] | None:
            listed = first.request("GET", f"{hooks}/{hook['id']}/deliveries")[1]
            return listed[0] if len(listed) == 1 and listed[0]["attempts"] == 1 else None

        delivery = wait_for(failed_once, 10)
        assert delivery is not None, "the first attempt was made and answered 500"
        assert delivery["status"] == "pending" and delivery["last_status_code"] == 500
        pids = processes_of(first)
        assert len(pids) == 3, "a master and two workers"
    finally:
        first.kill()
    # SIGKILL is delivered at once, but a worker takes a moment to finish dying.
    gone = wait_for(lambda: not any(alive(pid) for pid in pids) or None, 5)
    assert gone, "every shiftfill process is gone"
    assert [r.status for r in receiver.requests] == [500]

    healthy.set()
    second = Server(**env)
    try:
        assert wait_for(lambda: any(r.status == 200 for r in receiver.requests), 20), (
            "the new server delivered the pending message"
        )
        listed = wait_for(
            lambda: [
                d
                for d in second.request("GET", f"{hooks}/{hook['id']}/deliveries")[1]
                if d["status"] == "delivered"
            ],
            5,
        )
    finally:
        second.stop()

    assert [d["id"] for d in listed] == [delivery["id"]]
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {delivery["id"]}, "every attempt carries the same webhook-id"
    verifier = Verifier(hook["secret"])
    payloads = [verifier.verify(r.body, r.headers) for r in receiver.requests]
    assert all(p == payloads[0] for p in payloads), "every attempt sends the same message"
    assert payloads[0]["type"] == "shift.cancelled"
    assert payloads[0]["data"]["shift"]["id"] == "sh_1"
    assert payloads[0]["data"]["shift"]["status"] == "cancelled"
