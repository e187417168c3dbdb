"""The work every shiftfill process does on each tick of its scheduler."""

from __future__ import annotations

import logging

from shiftfill.services.delivery import recover_stalled_sends
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.fanout import run_due_phone_rounds
from shiftfill.services.waves import run_due_waves
from shiftfill.services.webhooks import run_due_unfilled

log = logging.getLogger(__name__)


def upkeep(deps: Dependencies) -> None:
    """Send the waves, run the phone rounds and unfilled alarms that are due; take over
    sends a dead process left behind.

    Any number of processes may run this at once; each phone round and each
    stalled send is taken by one of them.
    """
    # Waves first: a phone round due at the same tick then calls that wave too.
    run_due_waves(deps)
    run_due_phone_rounds(deps)
    run_due_unfilled(deps)
    requeued, unknown = recover_stalled_sends(deps)
    if requeued or unknown:
        log.warning(
            "took over the sends of a stopped process: %d queued again, %d with unknown outcome",
            requeued,
            unknown,
        )
