"""A stand-in for Twilio's REST API on loopback, recording what the real client sends."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"


@dataclass
class Request:
    path: str
    params: dict[str, str]
    authorization: str


@dataclass
class FakeTwilioApi:
    """Answers ``Messages.json`` and ``Calls.json`` like Twilio; ``fail_next`` injects errors."""

    requests: list[Request] = field(default_factory=list)
    fail_for: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def start(self) -> FakeTwilioApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                status, body = api.answer(
                    Request(self.path, params, self.headers.get("Authorization", ""))
                )
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, request: Request) -> tuple[int, dict[str, object]]:
        with self._lock:
            self.requests.append(request)
            number = next(self._ids)
        failure = self.fail_for.get(request.params.get("To", ""))
        if failure:
            status, code, message = failure
            return status, {"code": code, "message": message, "status": status}
        prefix = "CA" if request.path.endswith("/Calls.json") else "SM"
        return 201, {"sid": f"{prefix}{number:032d}", "status": "queued"}

    def messages(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/Messages.json")]

    def calls(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/Calls.json")]


def basic_auth(account_sid: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> str:
    return "Basic " + base64.b64encode(f"{account_sid}:{token}".encode()).decode()
