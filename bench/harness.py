"""Start the real server under gunicorn, or a Redis server, on a free loopback port.

Used by the benchmark and by the tests that drive real servers. Each server is
started in a process group of its own and stopped by that group, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from deploy.serve import GUNICORN

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A gunicorn process running ``wsgi:app`` with the shipped config."""

    # What the error says did not start.
    NAME = "gunicorn"

    def __init__(
        self,
        port: int | None = None,
        app: str = "wsgi:app",
        args: list[str] | None = None,
        ready_seconds: float = 10,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.log = ""
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "SHIFTFILL_SEED_FILE": "", "SHIFTFILL_LOG_LEVEL": "WARNING"}
        environment.update(env)
        command = [*GUNICORN, "--bind", f"127.0.0.1:{self.port}", *(args or []), app]
        self._launch(command, environment, ready_seconds)

    def _launch(self, command: list[str], environment: dict[str, str], seconds: float) -> None:
        """Start ``command`` in a process group of its own and wait for it to be ready.

        When it is not ready in ``seconds`` (or exits, or the wait is interrupted), what
        was started is stopped before the error is raised, with the log as a note.
        """
        self._log_file = _log_file()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            start_new_session=True,
        )
        try:
            self._wait_ready(seconds)
        except BaseException as error:
            self._end_unready()
            error.add_note(f"{self.NAME}'s log:\n{self._close_log()}")
            raise

    def _wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._exited():
            if self._ready():
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.NAME} did not become ready in {seconds:g} s")
            time.sleep(0.05)
        raise RuntimeError(f"{self.NAME} exited before it was ready")

    def _ready(self) -> bool:
        """Whether the server answers ``/health`` with a 200."""
        try:
            return self.request("GET", "/health")[0] == 200
        except OSError:
            return False

    def _exited(self) -> bool:
        """Whether the first process exited. It is not reaped: until it is, its pid (the
        id of its process group) cannot go to another process, so killing that group
        afterwards cannot reach anyone else's."""
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, self.process.pid, flags) is not None

    def _end_unready(self) -> None:
        """SIGKILL to the whole process group (gunicorn's master and any worker); reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

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

    # How long a stopping server may take before it is killed.
    STOP_SECONDS = 40

    def read_log(self) -> str:
        """What the server wrote to its stderr so far."""
        self._log_file.seek(0)
        return self._log_file.read().decode("utf-8", "replace")

    def kill(self) -> str:
        """SIGKILL to the server's whole process group, as a crash would; returns its log."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        return self._close_log()

    def stop(self) -> int:
        """Send SIGTERM and wait for the server to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_log()
        return self.process.returncode

    def _close_log(self) -> str:
        if not self._log_file.closed:
            self.log = self.read_log()
            self._log_file.close()
        return self.log


def system_chromium() -> str:
    """Debian's ``chromium``, which Playwright drives: it never downloads a browser of its own."""
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("chromium is missing: `make chromium` installs Debian's package")
    return found


class RedisServer:
    """A ``redis-server`` of Debian's package on a free loopback port, in a temporary directory.

    ``persistent`` turns on the append-only file, as production should, so that a
    stop and start keep what was written.
    """

    def __init__(self, *, persistent: bool = False) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is missing: install Debian's package redis-server")
        self.executable = executable
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = tempfile.mkdtemp(prefix="shiftfill-redis-")
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the server (again, on the same port and directory) and wait for it."""
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", self.directory,
                "--save", "",
                *(persistence if self.persistent else ["--appendonly", "no"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in 10 s")

    def stop(self) -> None:
        """Stop the server's process group and wait for it (the data directory stays)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class Stack(Server):
    """The production stack of ``make serve``: nginx on a free port, gunicorn behind it.

    ``deploy/serve.py`` runs in a session of its own; its two children die with it.
    """

    NAME = "deploy/serve.py"

    def __init__(self, port: int | None = None, ready_seconds: float = 30, **env: str) -> None:
        self.port = port or free_port()
        self.log = ""
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "SHIFTFILL_SEED_FILE": "", "SHIFTFILL_LOG_LEVEL": "WARNING"}
        environment.update(SHIFTFILL_PUBLIC_HOST="127.0.0.1", SHIFTFILL_PUBLIC_PORT=str(self.port))
        environment.update(env)
        self._launch([sys.executable, "deploy/serve.py"], environment, ready_seconds)

    def _ready(self) -> bool:
        return "serving on" in self.read_log()

    def _end_unready(self) -> None:
        """SIGTERM first: serve.py stops nginx and gunicorn (in groups of their own) and
        removes its directory; then what is left of its own group is killed."""
        if not self._exited():
            # Not Popen.send_signal, which would reap a process that just exited.
            os.kill(self.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while not self._exited() and time.monotonic() < deadline:
                time.sleep(0.05)
        super()._end_unready()

    def children(self) -> list[int]:
        """The pids of nginx's master and gunicorn's master."""
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    STOP_SECONDS = 60


def _log_file() -> IO[bytes]:
    """A temporary file for a server's stderr, which the server appends to.

    A file, not a pipe: nobody reads the log while the server runs, except
    ``read_log()`` now and then. Append-only, because the server shares this file's
    offset: otherwise a line written while ``read_log()`` had moved it back to the
    start would overwrite the log there.
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop(), kill() or on a failed start
    flags = fcntl.fcntl(log.fileno(), fcntl.F_GETFL)
    fcntl.fcntl(log.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
    return log


def _die_with_parent() -> None:
    """Ask Linux to stop this child when the process that started it dies, even by kill -9."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _decode(payload: bytes, headers: Any) -> Any:
    if not payload:
        return None
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(payload)
    return payload.decode("utf-8", "replace")


class RoundTrips:
    """Counts the round trips redis-py makes while entered: a command, or a whole pipeline.

    ``of(call)`` is how many ``call`` made. Only for a process that counts nothing
    else meanwhile: the count is of every connection in the process.
    """

    def __init__(self) -> None:
        self._sent = 0

    def __enter__(self) -> RoundTrips:
        from redis.connection import Connection

        self._original = Connection.send_packed_command
        original = self._original

        def counting(connection: Any, command: Any, check_health: bool = True) -> None:
            self._sent += 1
            original(connection, command, check_health)

        Connection.send_packed_command = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from redis.connection import Connection

        Connection.send_packed_command = self._original  # type: ignore[method-assign]

    def of(self, call: Any) -> int:
        self._sent = 0
        call()
        return self._sent
