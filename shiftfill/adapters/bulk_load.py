"""Keeping Python's cyclic garbage collector off the data the store keeps for good.

Every full collection walks every tracked object, so with hundreds of thousands
of stored caregivers and notifications a full collection pauses the process for
a few hundred milliseconds, whichever request happens to trigger it; and a bulk
insert of ten thousand records sets off dozens of young collections on its own.
Stored records are acyclic and live until the process ends, so a bulk insert
runs with the collector paused and then moves what is alive to the collector's
permanent generation (``gc.freeze``). Reference counting still frees every
record that is replaced; only garbage *cycles* alive at that instant would be
kept, and request handling creates few.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Below this many new records a pause is not worth it; small writes add little.
BULK = 1_000

_lock = threading.Lock()
_inserting = 0
_was_enabled = True
_freeze = False


@contextmanager
def bulk_insert(records: int) -> Iterator[None]:
    """Store ``records`` long-lived records with the collector paused, then freeze them."""
    with bulk_insert_counted(lambda: records):
        yield


@contextmanager
def bulk_insert_counted(stored: Callable[[], int]) -> Iterator[None]:
    """As ``bulk_insert``, for work that learns only at its end how much it stored.

    The collector is paused throughout; what is alive is frozen only if
    ``stored()`` reaches ``BULK``, so a small request freezes nothing (a garbage
    cycle alive at a freeze is never collected).
    """
    global _inserting, _was_enabled, _freeze
    with _lock:
        if _inserting == 0:
            _was_enabled = gc.isenabled()
            _freeze = False
            gc.disable()
        _inserting += 1
    try:
        yield
    finally:
        with _lock:
            _freeze = _freeze or stored() >= BULK
            _inserting -= 1
            if _inserting == 0:
                if _freeze:
                    gc.freeze()
                if _was_enabled:
                    gc.enable()
