"""An agency's webhook endpoint for the tests: a real HTTP server on a loopback port.

Each request is kept with its path, headers, body and the status it was answered,
so a test can check every signature with the ``standardwebhooks`` library, as an
agency's system would.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from standardwebhooks.webhooks import Webhook as Verifier


class Received(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """Answers each request with ``answers``: a list of statuses in turn (the last one
    repeats), or a function asked at each request; ``hang`` waits before answering."""

    def __init__(
        self, answers: list[int] | Callable[[], int] | None = None, hang: float = 0.0
    ) -> None:
        self.answers = answers or [200]
        self.hang = hang
        self.requests: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver._status()
                receiver.requests.append(Received(self.path, dict(self.headers), body, status))
                if receiver.hang:
                    time.sleep(receiver.hang)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _status(self) -> int:
        if callable(self.answers):
            return self.answers()
        return self.answers[min(len(self.requests), len(self.answers) - 1)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request's body, each checked with the Standard Webhooks library."""
        return [Verifier(secret).verify(r.body, r.headers) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
