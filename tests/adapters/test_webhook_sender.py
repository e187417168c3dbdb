"""The webhook sender against receivers that misbehave on a real loopback socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shiftfill.adapters.webhook_sender import HttpWebhookSender
from shiftfill.domain.webhooks import Delivery, Webhook

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
TIMEOUT = 0.5


@pytest.fixture
def trickler() -> Iterator[socket.socket]:
    """A receiver that reads the request, then answers 200 a byte every 0.1 s (3.8 s in all)."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            for byte in ANSWER:
                if done.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the sender hung up
                time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server
    done.set()
    server.close()
    thread.join(5)


def hook_at(url: str) -> Webhook:
    return Webhook(
        "wh_1", "default", url, ("shift.filled",), "whsec_" + "A" * 32, datetime.now(UTC)
    )


def test_an_answer_trickled_past_the_timeout_fails_at_the_timeout(
    trickler: socket.socket,
) -> None:
    """The timeout bounds the attempt, not each read: a receiver sending its answer a byte at
    a time would otherwise hold the attempt past the delivery's lease, and another process
    would send the same delivery meanwhile."""
    port = trickler.getsockname()[1]
    delivery = Delivery("msg_1", "wh_1", "shift.filled", "{}", datetime.now(UTC))
    sender = HttpWebhookSender(timeout=TIMEOUT, allow_private=True)
    began = time.monotonic()
    attempt = sender.send(hook_at(f"http://127.0.0.1:{port}/hooks"), delivery)
    took = time.monotonic() - began
    assert not attempt.delivered
    assert attempt.error == f"timed out after {TIMEOUT:g} s"
    assert took < TIMEOUT + 1.0, f"the attempt took {took:.1f} s"
