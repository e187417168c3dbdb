"""Running the work that falls due (waves, phone rounds, unfilled alarms), one shift at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")


def run_each_due(shift_ids: Iterable[str], run: Callable[[str], R], what: str) -> dict[str, R]:
    """Run ``run`` for each due shift; return what each came to.

    One shift's failure is logged (``<what> of shift <id> failed``) and keeps no other
    from running: the rest of the tick goes on, and the failed one is due again next tick.
    """
    done: dict[str, R] = {}
    for shift_id in shift_ids:
        try:
            done[shift_id] = run(shift_id)
        except Exception:
            log.exception("%s of shift %s failed", what, shift_id)
    return done
