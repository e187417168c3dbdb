"""The scheduled phone round: what the escalation job runs for one shift."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shiftfill.services.context import Context
from shiftfill.services.fanout import run_phone_round

log = logging.getLogger(__name__)


def escalation_job(ctx: Context) -> Callable[[str], None]:
    """Build the job the scheduler runs when a shift's escalation delay has passed."""

    def escalate(shift_id: str) -> None:
        calls = run_phone_round(ctx, shift_id)
        log.info("phone round for shift %s: %d calls queued", shift_id, calls)

    return escalate
