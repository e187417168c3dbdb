"""A bounded pool of worker threads that runs outbound sends off the request path."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

Task = Callable[[], object]
_STOP = object()


class SendPool:
    """Runs send tasks on ``workers`` threads, started on first use.

    Queueing never blocks: a fanout request only appends to the queue. The threads
    start lazily so that nothing runs at import time, in a pre-forking master, or
    in the watcher process of a reloader.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a send pool needs at least one worker")
        self._workers = workers
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._idle = threading.Condition(self._pending_lock)
        self._stopped = False

    def submit_many(self, tasks: Iterable[Task]) -> None:
        """Queue tasks to run in order of submission."""
        tasks = list(tasks)
        if not tasks:
            return
        self._ensure_started()
        with self._pending_lock:
            self._pending += len(tasks)
        for task in tasks:
            self._queue.put(task)

    def submit(self, task: Task) -> None:
        self.submit_many([task])

    @property
    def pending(self) -> int:
        """Tasks queued or running."""
        return self._pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued task has run; returns False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Run what is queued, then stop the workers."""
        with self._start_lock:
            self._stopped = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._threads:
            return
        with self._start_lock:
            if self._stopped:
                raise RuntimeError("the send pool is shut down")
            if self._threads:
                return
            for n in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is _STOP:
                return
            try:
                task()  # type: ignore[operator]
            except Exception:
                log.exception("send task failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()
