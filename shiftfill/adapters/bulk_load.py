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
from collections.abc import Iterator
from contextlib import contextmanager

# Below this many new records a pause is not worth it; small writes add little.
BULK = 1_000

_lock = threading.Lock()
_inserting = 0
_was_enabled = True


@contextmanager
def bulk_insert(records: int) -> Iterator[None]:
    """Store ``records`` long-lived records with the collector paused, then freeze them."""
    global _inserting, _was_enabled
    if records < BULK:
        yield
        return
    with _lock:
        if _inserting == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _inserting += 1
    try:
        yield
    finally:
        with _lock:
            _inserting -= 1
            if _inserting == 0:
                gc.freeze()
                if _was_enabled:
                    gc.enable()
