"""Tuning Python's cyclic garbage collector once per worker, never on the request path.

The memory store keeps every record for the life of the process, and a full
collection walks all of them: 0.5 s once a million texts are stored. So each
worker, once it has loaded the app and the seed (never garbage), freezes what it
holds and raises the thresholds: a full collection waits for 1,000 middle ones
(about 20 million objects allocated and kept alive for a while) instead of 10,
while the young and middle collections stay short (2,000 and 20,000 objects at
most, about 0.3 and 2 ms). See docs/performance.md.
"""

from __future__ import annotations

import gc

# CPython's defaults are (700, 10, 10).
GC_THRESHOLDS = (2_000, 10, 1_000)


def tune_collector() -> None:
    """Collect once, stop walking what is alive now (``gc.freeze``), raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
