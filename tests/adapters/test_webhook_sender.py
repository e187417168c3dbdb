"""The webhook sender against receivers that misbehave on a real loopback socket."""

from __future__ import annotations

import gc
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shiftfill.adapters.webhook_sender import HttpWebhookSender
from shiftfill.domain.webhooks import Attempt, Delivery, Payload, Webhook

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
TIMEOUT = 0.5


def read_request_head(conn: socket.socket) -> None:
    """Read until the end of the request's headers (the small body comes with them)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return  # the sender hung up
        data += chunk


@pytest.fixture
def trickler() -> Iterator[socket.socket]:
    """A receiver that reads the request, then answers 200 a byte every 0.1 s (3.8 s in all)."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            read_request_head(conn)
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
    delivery = Delivery("msg_1", "wh_1", "shift.filled", Payload("{}"), datetime.now(UTC))
    sender = HttpWebhookSender(timeout=TIMEOUT, allow_private=True)
    began = time.monotonic()
    attempt = sender.send(hook_at(f"http://127.0.0.1:{port}/hooks"), delivery)
    took = time.monotonic() - began
    assert not attempt.delivered
    assert attempt.error == f"timed out after {TIMEOUT:g} s"
    assert took < TIMEOUT + 1.0, f"the attempt took {took:.1f} s"


def stalling_receiver(first: bytes) -> socket.socket:
    """A receiver that reads the request, sends ``first`` at once, then stalls for 3 s."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            read_request_head(conn)
            conn.sendall(first)
            time.sleep(3)

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.mark.parametrize(
    "first",
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"],
    ids=["status-line-then-stall", "headers-and-part-of-the-body-then-stall"],
)
def test_an_answer_cut_off_by_the_timeout_is_a_timeout_not_a_delivery(first: bytes) -> None:
    """The watchdog shuts the socket; ``http.client`` reads that as the end of the headers
    or of the body, not as an error. Before the watchdog this was ``TimeoutError``, retried;
    an attempt the watchdog ended must not count as delivered."""
    attempt = attempt_on_stalling_receiver(first)
    assert not attempt.delivered, attempt
    assert attempt.error == f"timed out after {TIMEOUT:g} s"


def attempt_on_stalling_receiver(first: bytes) -> Attempt:
    """One attempt against ``stalling_receiver(first)``."""
    server = stalling_receiver(first)
    try:
        port = server.getsockname()[1]
        delivery = Delivery("msg_1", "wh_1", "shift.filled", Payload("{}"), datetime.now(UTC))
        sender = HttpWebhookSender(timeout=TIMEOUT, allow_private=True)
        return sender.send(hook_at(f"http://127.0.0.1:{port}/hooks"), delivery)
    finally:
        server.close()


def test_a_read_timing_out_before_the_watchdog_is_the_same_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a busy machine the socket's own timer can go off before the watchdog's thread
    runs; the attempt has still run out of time, and says so in the same words."""
    monkeypatch.setattr("shiftfill.adapters.webhook_sender._Watchdog.start", lambda self: None)
    attempt = attempt_on_stalling_receiver(b"HTTP/1.1 200 OK\r\n")
    assert not attempt.delivered, attempt
    assert attempt.error == f"timed out after {TIMEOUT:g} s"


def test_a_failed_tls_handshake_closes_its_socket() -> None:
    """``wrap_socket`` closed the socket of a handshake that failed; with the handshake done
    by hand, ``connect`` raises before ``self.sock`` is set, and ``close()`` cannot reach it."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\nnot TLS")

    threading.Thread(target=serve, daemon=True).start()
    try:
        port = server.getsockname()[1]
        delivery = Delivery("msg_1", "wh_1", "shift.filled", Payload("{}"), datetime.now(UTC))
        sender = HttpWebhookSender(timeout=2, allow_private=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            attempt = sender.send(hook_at(f"https://127.0.0.1:{port}/hooks"), delivery)
            gc.collect()
        assert attempt.error is not None and "SSL" in attempt.error
        unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        assert unclosed == []
    finally:
        server.close()
