"""`make serve`: the production stack in the foreground.

nginx listens on ``SHIFTFILL_PUBLIC_HOST:SHIFTFILL_PUBLIC_PORT`` (127.0.0.1:8080 by
default) and buffers every request before passing it to gunicorn on a Unix socket, so
slow and idle clients tie up nginx connections, not gunicorn's threads. Everything
nginx writes (pid, temp files, the socket) lives in one temporary directory; nothing
needs root. SIGTERM or Ctrl-C stops nginx (finishing requests under way), then
gunicorn (draining queued sends), then removes the directory (a ``kill -9`` of this
script leaves the directory behind; nginx and gunicorn still stop).

It says "serving on" only for a port its own nginx holds: a port in use stops it
before anything starts, with one line naming it, and the address counts as ready
only once this nginx has written its pid file (nginx does so only after binding
every port) and answers ``/health`` there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
sys.path.insert(0, str(ROOT))

from config import Config, ConfigError, config_from_env  # noqa: E402

NGINX_MISSING = "shiftfill: nginx is missing; install Debian's package: apt-get install -y nginx"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# gunicorn with shiftfill's config, from the project's root; a --bind and the app follow.
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"]


def main() -> int:
    """Run nginx and gunicorn until a stop signal or until either exits; return the exit code."""
    try:
        config = config_from_env()
    except ConfigError as error:
        print(f"shiftfill: {error}", file=sys.stderr)
        return 2
    nginx = find_nginx()
    if nginx is None:
        print(NGINX_MISSING, file=sys.stderr)
        return 2
    host, port = config.SHIFTFILL_PUBLIC_HOST, config.SHIFTFILL_PUBLIC_PORT
    taken = in_use(host, port)
    if taken is not None:
        print(
            f"shiftfill: cannot listen on {show(host, port)}: {taken}; "
            "set SHIFTFILL_PUBLIC_PORT to a free port",
            file=sys.stderr,
        )
        return 1
    stopping: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    runtime = Path(tempfile.mkdtemp(prefix="shiftfill-"))
    if os.geteuid() == 0:
        # Started as root, nginx's workers run as nobody: they must reach the socket.
        runtime.chmod(0o711)
    children: list[subprocess.Popen[bytes]] = []
    try:
        socket_path = runtime / "gunicorn.sock"
        conf = runtime / "nginx.conf"
        conf.write_text(render(TEMPLATE.read_text(), config, runtime, socket_path))
        gunicorn = start([*GUNICORN, "--bind", f"unix:{socket_path}", "wsgi:app"])
        children.append(gunicorn)
        if not wait_for(lambda: socket_path.exists(), gunicorn, stopping):
            return 0 if stopping else 1
        front = start([nginx, "-p", str(runtime), "-c", str(conf), "-e", "stderr"])
        children.append(front)
        address = f"http://{show(host, port)}"
        # While nginx retries a port taken since the check above, the probe could
        # reach whoever holds it: only an nginx that wrote its pid file holds ours.
        pid_file = runtime / "nginx.pid"
        if not wait_for(
            lambda: wrote_pid(pid_file, front.pid) and answers(address + "/health"),
            front,
            stopping,
        ):
            return 0 if stopping else 1
        print(
            f"shiftfill: serving on {address} (nginx pid {front.pid}, gunicorn pid "
            f"{gunicorn.pid} on {socket_path}); SIGTERM or Ctrl-C stops both",
            file=sys.stderr,
            flush=True,
        )
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        if not stopping:
            gone = next(child for child in children if child.poll() is not None)
            name = "nginx" if gone is front else "gunicorn"
            print(f"shiftfill: {name} exited with {gone.returncode}", file=sys.stderr)
            return 1
        return 0
    finally:
        stop(children)
        shutil.rmtree(runtime, ignore_errors=True)


def find_nginx() -> str | None:
    """nginx on the PATH, or in /usr/sbin where Debian puts it (not on a user's PATH)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/usr/local/sbin"
    return shutil.which("nginx", path=path)


def in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on now (in use, or not an address here), or None.

    Binds as nginx and redis-server do (``SO_REUSEADDR``, so connections closing
    from an earlier run do not count), then lets go. A listener on the wildcard
    address counts too.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return str(exc.strerror or exc)
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return str(exc.strerror or exc).lower()
    return None


def show(host: str, port: int) -> str:
    """``host:port`` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def wrote_pid(pid_file: Path, pid: int) -> bool:
    """Whether ``pid_file`` names ``pid``: nginx writes it once it holds every port."""
    try:
        return pid_file.read_text().strip() == str(pid)
    except OSError:
        return False


def render(template: str, config: Config, runtime: Path, socket_path: Path) -> str:
    """Fill in the nginx template's ``@NAME@`` fields."""
    values = {
        "RUNTIME": str(runtime),
        "SOCKET": str(socket_path),
        "HOST": config.SHIFTFILL_PUBLIC_HOST,
        "PORT": str(config.SHIFTFILL_PUBLIC_PORT),
        "MAX_BODY_BYTES": str(config.MAX_CONTENT_LENGTH),
    }
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    return template


def start(command: list[str]) -> subprocess.Popen[bytes]:
    """Start a child in a process group of its own that dies with this process.

    Its own group: Ctrl-C reaches only this script, which then stops nginx before
    gunicorn. Dying with this process: a ``kill -9`` of it leaves nothing behind.
    """
    return subprocess.Popen(command, cwd=ROOT, process_group=0, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to set
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_for(ready, child: subprocess.Popen[bytes], stopping: list[int]) -> bool:  # type: ignore[no-untyped-def]
    """Wait up to 30 s for ``ready()``; False if ``child`` exited or a stop signal came."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not stopping and child.poll() is None:
        if ready():
            return True
        time.sleep(0.05)
    if child.poll() is None and not stopping:
        print(f"shiftfill: {child.args[0]} did not become ready in 30 s", file=sys.stderr)
    return False


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop nginx gracefully first (no new requests), then gunicorn (it drains its sends)."""
    for child in reversed(children):
        if child.poll() is None:
            # nginx: SIGQUIT is its graceful stop; gunicorn: SIGTERM is.
            child.send_signal(signal.SIGQUIT if child is not children[0] else signal.SIGTERM)
        try:
            child.wait(timeout=45)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
