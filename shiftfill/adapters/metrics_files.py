"""The directory of prometheus_client's multiprocess files: where it is, and losing it.

Under gunicorn every worker writes its counts to files of its own in one
directory (``PROMETHEUS_MULTIPROC_DIR``) and a scrape adds them all up. That
directory can disappear under a running server: a tmp cleaner (systemd-tmpfiles,
tmpreaper) removes what looks old, an operator clears a cache. prometheus_client
then fails every metric it has to open a file for, and every scrape; left alone,
each of those would fail its request. Here:

* the server's own directory is made where no tmp cleaner looks: the user's
  cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``), ``shiftfill/metrics/<the
  master's pid>``, removed when the master exits (``default_directory``);
* each process notices within ``CHECK_SECONDS`` that the directory or its files
  went, makes the directory again and writes to new files from then on (the
  counts of before are gone with the old files: Prometheus reads that as a
  counter reset), and logs that with one WARNING line;
* a metric that still cannot be written is skipped, never raised to the request,
  with one WARNING line until writing works again.

Writing to new files is done the one way prometheus_client offers: the process
identifier its values are built with (``values.MultiProcessValue``, set as
``values.ValueClass``; prometheus_client's own tests set it the same way). When it
changes, as after a fork, each value opens its file again. Here it is the pid
and a generation that a loss moves on.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import values

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How often a process checks that its files are still there: a loss is noticed
# (and counting resumes) within this many seconds, at the cost of a few stats.
CHECK_SECONDS = 5.0

# This process's id, read once and again in a forked child: prometheus_client asks
# for the identifier on every write, and ``os.getpid`` is a system call each time.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


class MetricsFiles:
    """This process's multiprocess files in ``directory``: written safely, renewed when lost.

    One per process (see ``install``): prometheus_client keeps one set of open
    files per process, whatever the number of registries. A loss is logged once,
    with what came of it, until a write works again.
    """

    def __init__(self, directory: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self._monotonic = monotonic
        self._generation = 0
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._seen: tuple[int, int] | None = None  # the directory's (device, inode)
        self._own: set[str] = set()  # this process's files found at the last check
        self._troubled = False  # a loss was logged; cleared by the next write that works
        self._broken = False  # writes fail: skipped until ``_retry_at``
        self._retry_at = 0.0

    def identifier(self) -> str:
        """Names this process's files; prometheus_client calls it on every write."""
        return f"{_pid}-{self._generation}"

    def record(self, write: Callable[[], None]) -> None:
        """Run one metric update; a failure is logged once and skipped, never raised."""
        now = self._monotonic()
        if now >= self._next_check:
            self.check(now)
        if self._broken and now < self._retry_at:
            return
        try:
            write()
        except Exception as exc:  # OSError, or ValueError from a file closed under it
            self._renew()
            try:
                write()
            except Exception as again:
                self._fail(again)
                return
            self._warn(f"a metric could not be written ({exc})")
        if self._troubled or self._broken:
            self._recovered()

    def check(self, now: float | None = None, *, force: bool = False) -> None:
        """Renew the files if the directory, or a file of this process, was removed."""
        now = self._monotonic() if now is None else now
        with self._lock:
            if now < self._next_check and not force:
                return
            self._next_check = now + CHECK_SECONDS
            lost = self._lost()
        if lost:
            error = self._renew()
            if error is None:
                self._warn(lost)
            else:
                self._fail(error)

    def ready(self) -> bool:
        """Make sure the directory exists, for a scrape; False when it cannot be made."""
        self.check(force=True)
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def _lost(self) -> str:
        """Why this process's files must be opened again, or ``""`` (called under the lock)."""
        try:
            stat = os.stat(self.directory)
            names = set(os.listdir(self.directory))
        except OSError:
            return f"the metrics directory {self.directory} was removed"
        identity = (stat.st_dev, stat.st_ino)
        if self._seen is not None and identity != self._seen:
            return f"the metrics directory {self.directory} was replaced"
        self._seen = identity
        if self._own - names:
            return f"metrics files in {self.directory} were removed"
        suffix = f"_{self.identifier()}.db"
        self._own = {name for name in names if name.endswith(suffix)}
        return ""

    def _renew(self) -> OSError | None:
        """Make the directory again and move to new files; the error if it cannot be made."""
        with self._lock:
            # prometheus_client sees a new identifier at its next write and opens
            # every value of this process again, in new files, from zero.
            self._generation += 1
            self._own = set()
            try:
                os.makedirs(self.directory, exist_ok=True)
                stat = os.stat(self.directory)
            except OSError as exc:
                self._seen = None
                return exc
            self._seen = (stat.st_dev, stat.st_ino)
            return None

    def _warn(self, reason: str) -> None:
        if self._first_trouble():
            log.warning(
                "%s: counting again from zero in new files (the counts before are lost)", reason
            )

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self._broken = True
            self._retry_at = self._monotonic() + CHECK_SECONDS
        if self._first_trouble():
            log.warning(
                "metrics are not recorded until %s can be written again: %s", self.directory, exc
            )

    def _first_trouble(self) -> bool:
        with self._lock:
            first, self._troubled = not self._troubled, True
            return first

    def _recovered(self) -> None:
        with self._lock:
            was_broken = self._broken
            self._troubled = self._broken = False
        if was_broken:
            log.info("metrics are recorded again in %s", self.directory)


_installed: MetricsFiles | None = None


def install(directory: str) -> MetricsFiles:
    """Make prometheus_client write this process's values through ``MetricsFiles``.

    Called before the app's metrics get their first value. prometheus_client
    reads the directory from the environment when it opens a file, so it is set
    there too (gunicorn's config set it already, before the workers forked).
    """
    global _installed
    if _installed is None or _installed.directory != directory:
        files = MetricsFiles(directory)
        os.environ[MULTIPROC_ENV] = directory
        values.ValueClass = values.MultiProcessValue(process_identifier=files.identifier)
        _installed = files
    return _installed


# --- the gunicorn master's side: choosing and cleaning the directory ---


def default_directory(cache_home: Path, pid: int) -> Path:
    """The directory of the server whose master is ``pid``, in the user's cache directory.

    Not under /tmp: a tmp cleaner removes files there that look old, and a server
    that ran quietly for ten days has files that look old.
    """
    return cache_home / "shiftfill" / "metrics" / str(pid)


def make_own_directory(cache_home: Callable[[], Path], pid: int) -> tuple[Path, str]:
    """Make the master's own directory; when the cache cannot take it, one under /tmp.

    Returns the directory and a warning to log ("" when none). Directories of
    masters that are gone (killed before they could remove theirs) are removed.
    """
    try:
        path = default_directory(cache_home(), pid)
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError, KeyError) as exc:  # no home, or one we cannot write
        fallback = Path(tempfile.mkdtemp(prefix="shiftfill-metrics-"))
        return fallback, (
            f"metrics are kept in {fallback}, where a tmp cleaner may remove them (they are "
            f"then started again): the cache directory cannot be used ({exc}); set "
            f"{MULTIPROC_ENV} to a directory of your own"
        )
    remove_stale(path.parent, keep=pid)
    empty(path)
    return path, ""


def empty(path: Path) -> None:
    """Make ``path`` if missing and remove the metrics files of a previous run."""
    path.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            (path / name).unlink(missing_ok=True)


def remove_stale(parent: Path, *, keep: int) -> None:
    """Remove directories of masters no longer running (named by their pid)."""
    for child in parent.iterdir():
        if child.name.isdigit() and int(child.name) != keep and not _running(int(child.name)):
            shutil.rmtree(child, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
