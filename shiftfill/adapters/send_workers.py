"""Threads that send what the store's outbox holds, off the request path."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from shiftfill.adapters.store_outage import OutageLog
from shiftfill.services.ports import Outbox, StoreUnavailable

log = logging.getLogger(__name__)

# How long a worker waits on an empty outbox before checking whether to stop.
POLL_SECONDS = 0.5
# How long a worker waits before trying an unreachable store again.
STORE_RETRY_SECONDS = 1.0
# The most ids taken, and outcomes recorded, in one step: about 2 ms of work on
# the memory store, so a request that arrives during a step waits little for it.
TAKE_BATCH = 64
SETTLE_BATCH = 256


class RateLimiter:
    """A token bucket shared by the workers: at most ``per_second`` sends a second.

    A provider's sender has a rate (a long code sends about one message a
    second, a short code about a hundred); going faster gets messages refused.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    @property
    def interval(self) -> float:
        """Seconds between two sends."""
        return self._interval

    def acquire(self) -> None:
        """Block until this caller may send."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


class Turns(Protocol):
    """What the send path yields to: ``wait_turn()`` returns when it may do a step, after
    ``longest`` seconds at most when given."""

    def wait_turn(self, longest: float | None = None) -> None: ...


class _Always:
    def wait_turn(self, longest: float | None = None) -> None:
        return


class Sendable(Protocol):
    """What the send workers hand from their reader to a sender: a claimed notification."""

    @property
    def id(self) -> str: ...


Claimed = TypeVar("Claimed", bound=Sendable)
Result = TypeVar("Result", bound=Sendable)


class SendWorkers(Generic[Claimed, Result]):
    """Sends what the store's outbox holds on ``workers`` threads, each send in three steps.

    ``prepare(ids)`` claims the ids that may still go out, ``send(claimed)`` makes
    one provider call (``None``: nothing to record), and ``settle(outcomes)``
    records how the calls went. Sends are mostly waiting on the provider, so the
    senders are many cheap threads that only call the provider. The store's work
    goes in batches: one reader thread takes and prepares as many ids as there
    are idle senders, and one settler thread records whatever outcomes have
    come in since its last round trip. So a thousand sends cost a handful of
    round trips to a shared store, not four thousand, and an idle process asks
    its store twice a second. Each step of the reader and the settler first
    waits for its turn (``turns``; see adapters/request_gate.py), and takes at
    most ``TAKE_BATCH`` ids or ``SETTLE_BATCH`` outcomes, so that sending goes
    on between requests rather than during them. The threads start with
    ``start()``, in the process that serves requests: nothing runs at import, in
    a pre-forking master, or in the watcher of a reloader.

    With ``inline``, for a provider whose sends never wait (the log notifier
    without a simulated latency), there are no senders: the reader sends what it
    took in its own step. Waking a sender per send costs more than the send then,
    and the request threads paid for it (docs/performance.md, "Sending yields to
    requests").
    """

    def __init__(
        self,
        outbox: Outbox,
        prepare: Callable[[list[str]], Sequence[Claimed]],
        send: Callable[[Claimed], Result | None],
        settle: Callable[[list[Result]], object],
        *,
        workers: int,
        rate_per_second: float | None = None,
        outage: OutageLog | None = None,
        turns: Turns | None = None,
        inline: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError("sending needs at least one worker")
        self._outbox = outbox
        self._prepare = prepare
        self._send = send
        self._settle = settle
        self._workers = workers
        self._inline = inline
        self._limiter = RateLimiter(rate_per_second) if rate_per_second else None
        self._outage = outage or OutageLog()
        self._turns = turns or _Always()
        self._senders: list[threading.Thread] = []
        self._started = False
        self._reader: threading.Thread | None = None
        self._settler: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        # Claimed sends the reader hands to idle senders (``None``: stop); how many are idle.
        self._handed: queue.SimpleQueue[Claimed | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(workers)
        # Outcomes for the settler (``None``: stop).
        self._outcomes: queue.SimpleQueue[Result | None] = queue.SimpleQueue()

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def inline(self) -> bool:
        """Whether the reader makes the sends itself, with no sender threads."""
        return self._inline

    @property
    def running(self) -> bool:
        return self._started and not self._stopping.is_set()

    def start(self) -> None:
        """Start the threads; calling it again does nothing."""
        with self._start_lock:
            if self._started or self._stopping.is_set():
                return
            self._started = True
            self._senders = [
                threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
                for n in range(0 if self._inline else self._workers)
            ]
            self._reader = threading.Thread(target=self._read, name="send-reader", daemon=True)
            self._settler = threading.Thread(target=self._record, name="send-settler", daemon=True)
            for thread in (*self._senders, self._reader, self._settler):
                thread.start()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the outbox has nothing waiting or being sent; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._outbox.depth():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def shutdown(self, timeout: float, *, wait_for_queue: bool = True) -> None:
        """Stop the threads; sends under way are waited for, up to ``timeout`` seconds.

        With ``wait_for_queue``, queued sends first get ``timeout`` seconds to go
        out. What is still queued after that stays in the outbox, and so do the
        ids taken for a sender that did not start them. The outcomes of the
        sends that finished are recorded before this returns.
        """
        if self._started and wait_for_queue:
            self.wait_idle(timeout)
        self._stopping.set()
        for _ in self._senders:
            self._handed.put(None)
        deadline = time.monotonic() + timeout + POLL_SECONDS
        for thread in [*self._senders, self._reader]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        still_sending = sum(thread.is_alive() for thread in self._senders)
        if still_sending:
            log.warning("%d sends were still under way at shutdown", still_sending)
        if self._inline and self._reader is not None and self._reader.is_alive():
            log.warning("a step of sends was still under way at shutdown")
        if self._settler is not None:
            self._outcomes.put(None)
            self._settler.join(max(0.0, deadline - time.monotonic()) + STORE_RETRY_SECONDS)
        self._give_back()

    def _give_back(self) -> None:
        unstarted = []
        while True:
            try:
                claimed = self._handed.get_nowait()
            except queue.Empty:
                break
            if claimed is not None:
                unstarted.append(claimed.id)
        self._requeue(unstarted)

    def _read(self) -> None:
        """Take and prepare ids for the idle senders, or send them here when ``inline``; the
        only thread that waits on the outbox."""
        while not self._stopping.is_set():
            if self._inline:
                wanted = 1 if self._limiter is not None else TAKE_BATCH
            elif self._idle.acquire(timeout=POLL_SECONDS):
                wanted = 1
                # Under a rate cap, one at a time, and only once its turn has come: an id
                # taken is claimed at once, so none waits taken but unclaimed, and none
                # is claimed that then waits for its turn.
                while (
                    self._limiter is None
                    and wanted < TAKE_BATCH
                    and self._idle.acquire(blocking=False)
                ):
                    wanted += 1
            else:
                continue
            if self._limiter is not None:
                self._limiter.acquire()
            handed = 0
            try:
                handed = self._hand_out(wanted)
            except Exception:  # the reader must outlive a bug anywhere below it
                log.exception("taking sends failed")
                self._stopping.wait(STORE_RETRY_SECONDS)
            if not self._inline:
                for _ in range(wanted - handed):
                    self._idle.release()

    def _hand_out(self, wanted: int) -> int:
        """Take up to ``wanted`` ids, prepare them and hand them to senders; how many went."""
        if self._stopping.is_set():
            return 0
        try:
            taken = self._outbox.take(POLL_SECONDS, limit=wanted)
        except StoreUnavailable as exc:
            # Queued sends wait in the store; take them once it is back. Said once an
            # outage, not at each try.
            self._outage.unreachable("sending", exc)
            self._stopping.wait(STORE_RETRY_SECONDS)
            return 0
        self._outage.reachable()
        if not taken:
            return 0
        # After the take, which may have waited for work that a request being served
        # just queued: the ids wait taken, unclaimed, until the request is answered. Under
        # a rate cap a step is one send, so it waits no longer than the cap's interval: a
        # process that always serves a request still sends at its rate.
        self._turns.wait_turn(self._limiter.interval if self._limiter else None)
        if self._stopping.is_set():
            self._requeue(taken)
            return 0
        claimed = self._claim(taken)
        if self._stopping.is_set():
            # Claimed but not started: back on the queue, where the next taker claims again.
            self._requeue([each.id for each in claimed])
            return 0
        if self._inline:
            return self._send_here(claimed)
        for each in claimed:
            self._handed.put(each)
        return len(claimed)

    def _send_here(self, claimed: list[Claimed]) -> int:
        """Send ``claimed`` one after another in this thread; a stop gives back the rest."""
        for done, each in enumerate(claimed):
            if self._stopping.is_set():
                self._requeue([rest.id for rest in claimed[done:]])
                return done
            self._send_one(each)
        return len(claimed)

    def _claim(self, taken: list[str]) -> list[Claimed]:
        """``prepare`` the ids; acknowledge those it drops, which need no send.

        A batch that fails for a reason other than the store is tried again one
        id at a time, so one bad record costs only its own send. Ids left
        unacknowledged after the store failed are taken over after the
        visibility timeout, unstarted.
        """
        try:
            claimed = list(self._prepare(taken))
        except StoreUnavailable as exc:
            log.warning("could not prepare %d sends: %s", len(taken), exc)
            return []
        except Exception:
            if len(taken) > 1:
                return [each for one in taken for each in self._claim([one])]
            log.exception("preparing send %s failed", taken[0])
            claimed = []
        ids = {each.id for each in claimed}
        self._acknowledge([i for i in taken if i not in ids])
        return claimed

    def _requeue(self, notification_ids: list[str]) -> None:
        if not notification_ids:
            return
        try:
            self._outbox.requeue(notification_ids)
        except StoreUnavailable as exc:
            # Taken over after the visibility timeout, and sent then.
            log.warning("could not give back %d unstarted sends: %s", len(notification_ids), exc)
        except Exception:
            log.exception("could not give back unstarted sends %s", " ".join(notification_ids))

    def _work(self) -> None:
        while True:
            claimed = self._handed.get()
            if claimed is None:
                return
            if self._stopping.is_set():
                # Taken but not started: given back at shutdown.
                self._handed.put(claimed)
                return
            self._send_one(claimed)
            self._idle.release()

    def _send_one(self, claimed: Claimed) -> None:
        """Make one send and pass its outcome to the settler."""
        try:
            outcome = self._send(claimed)
        except StoreUnavailable as exc:
            # Left taken: once the store is back, the visibility timeout hands it
            # to a process that settles it (see ``recover_stalled_sends``).
            log.warning("sending %s stopped, the store is unreachable: %s", claimed.id, exc)
        except Exception:
            log.exception("sending %s failed", claimed.id)
            self._acknowledge([claimed.id])
        else:
            if outcome is None:
                self._acknowledge([claimed.id])
            else:
                self._outcomes.put(outcome)

    def _record(self) -> None:
        """Settle the outcomes that came in since the last round, many in one step."""
        stop = False
        while not stop:
            first = self._outcomes.get()
            batch = [] if first is None else [first]
            stop = first is None
            if not stop:
                self._turns.wait_turn()
            while len(batch) < SETTLE_BATCH:
                try:
                    more = self._outcomes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            if batch:
                self._settle_batch(batch)

    def _settle_batch(self, outcomes: list[Result]) -> None:
        """Record the outcomes; while the store is unreachable, try again until shutdown.

        A batch that fails for another reason is recorded one outcome at a
        time, so that one bad record costs only its own.
        """
        while True:
            try:
                self._settle(outcomes)
                break
            except StoreUnavailable as exc:
                if self._stopping.is_set():
                    # Left taken: the visibility timeout marks them "outcome unknown".
                    log.warning("could not record %d sends: %s", len(outcomes), exc)
                    return
                log.warning("recording %d sends waits for the store: %s", len(outcomes), exc)
                self._stopping.wait(STORE_RETRY_SECONDS)
            except Exception:
                if len(outcomes) > 1:
                    for outcome in outcomes:
                        self._settle_batch([outcome])
                    return
                log.exception("recording send %s failed", outcomes[0].id)
                break
        self._acknowledge([o.id for o in outcomes])

    def _acknowledge(self, notification_ids: list[str]) -> None:
        if not notification_ids:
            return
        try:
            self._outbox.done(notification_ids)
        except StoreUnavailable as exc:
            log.warning("could not acknowledge %d sends: %s", len(notification_ids), exc)
        except Exception:
            log.exception("could not acknowledge sends %s", " ".join(notification_ids))
