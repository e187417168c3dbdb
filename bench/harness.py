"""Start the real server under gunicorn on a free loopback port and talk to it over HTTP.

Used by the benchmark and by the tests that drive the real server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A gunicorn process running ``wsgi:app`` with the shipped config."""

    def __init__(
        self,
        port: int | None = None,
        app: str = "wsgi:app",
        args: list[str] | None = None,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.log = ""
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "SHIFTFILL_SEED_FILE": "", "SHIFTFILL_LOG_LEVEL": "WARNING"}
        environment.update(env)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                *(args or []),
                app,
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not become ready in 10 s")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; returns the status and the decoded JSON (or text) body."""
        data, extra = raw, dict(headers or {})
        headers = {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, _decode(response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read(), error.headers)

    def worker_pid(self) -> int:
        """The pid of gunicorn's single worker process."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(children[0])

    def rss_bytes(self) -> int:
        """Resident set size of the worker process."""
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def kill(self) -> None:
        """Stop at once, queued sends and all (for benchmarks)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()

    def stop(self) -> int:
        """Send SIGTERM and wait for gunicorn to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, errors = self.process.communicate(timeout=40)
            self.log = errors.decode("utf-8", "replace")
            return self.process.returncode
        finally:
            if self.process.stderr:
                self.process.stderr.close()


def _decode(payload: bytes, headers: Any) -> Any:
    if not payload:
        return None
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(payload)
    return payload.decode("utf-8", "replace")
