"""Use cases of the waves: text the next best caregivers of a fanout when their wave is due.

A wave's due time lives in the store beside the phone round's, so it survives a
restart of every process, and each wave is one shift step that only one process
wins: the step sends wave ``n`` only while the fanout has sent ``n - 1``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from shiftfill.domain import fill, rules
from shiftfill.domain.model import Channel
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.due import run_each_due
from shiftfill.services.matching import read_match
from shiftfill.services.organizations import organization_of

log = logging.getLogger(__name__)


def run_due_waves(deps: Dependencies) -> dict[str, int]:
    """Send every wave that is due now; return the texts queued per shift."""
    now = deps.clock()
    due = deps.store.shifts.due_waves(now)
    return run_each_due(due, lambda shift_id: run_wave(deps, shift_id, now=now), "wave")


def run_wave(deps: Dependencies, shift_id: str, *, now: datetime | None = None) -> int:
    """Text the next wave of a fanout if it is due: the best of those qualified now and
    not offered yet (one who qualified since the last wave is among them).

    Returns the number of texts queued. Safe to run late, twice or in several
    processes at once: only one run sends a given wave.
    """
    at = now or deps.clock()
    shift = deps.store.shifts.get(shift_id)
    if shift is None or shift.fanout is None or not rules.wave_due(shift, at):
        return 0
    fanout = shift.fanout
    org = organization_of(deps, shift)
    found = read_match(deps, shift, org, skip=fanout.offered_caregiver_ids)
    ranked = found.ranked_ids
    # Waves switched off meanwhile: everyone left goes in this one.
    size = org.waves.size if org.waves is not None else len(ranked)
    batch = ranked[:size]
    next_wave_at = None
    if len(ranked) > len(batch) and fanout.next_wave_at is not None and org.waves is not None:
        next_wave_at = fanout.next_wave_at + timedelta(seconds=org.waves.interval_seconds)
    decide = partial(
        fill.wave,
        now=at,
        number=fanout.waves_sent + 1,
        caregiver_ids=batch,
        next_wave_at=next_wave_at,
    )
    change = deps.store.shifts.apply(shift_id, decide)
    if not change.changed or change.outreach is None:
        return 0
    texts = len(change.outreach.caregiver_ids)
    deps.metrics.notifications(str(Channel.SMS), "queued", texts)
    log.info(
        "wave %d for shift %s: %d texts queued, %d qualified wait",
        fanout.waves_sent + 1,
        shift_id,
        texts,
        len(ranked) - len(batch),
        extra={"event": "wave_sent", "shift_id": shift_id, "texts": texts},
    )
    return texts
