"""What a shift's state puts in the stores' indexes, and the orders lists come in.

Written once for both stores, so they cannot drift: a store computes
``index_delta(before, after)`` for every change of a shift and only persists it.
The rules: a code is in use while its shift is open; a shift is among its role's
open fanouts while open, then among the ``RECENTLY_CLOSED`` latest closed ones; a
phone round is pending while its shift is open and not yet escalated, and so is
its next wave while it has one; an unfilled alarm while the shift is open and the
alarm has not gone off; a shift enters its caregiver's assignments in the change
that assigns it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from shiftfill.domain.model import Caregiver, Fanout, Shift, ShiftStatus

# Codes stay four digits while at most this many are in use, so a random draw
# almost always finds a free one; past it they grow to six digits.
SHORT_CODE_CAPACITY = 2_000

# Late replies to this many closed shifts per role still hear "filled" or
# "cancelled"; older ones hear that there is no open offer.
RECENTLY_CLOSED = 200


def code_digits(codes_in_use: int) -> int:
    """How many digits a new offer code has when ``codes_in_use`` codes are taken."""
    return 4 if codes_in_use < SHORT_CODE_CAPACITY else 6


def random_offer_code(digits: int) -> str:
    """Draw an offer code of ``digits`` digits."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


@dataclass(frozen=True, slots=True)
class IndexDelta:
    """How one change of a shift moves the indexes; empty when nothing moves.

    ``started``: the fanout this change started (a store keeps its offered ids
    beside it). ``opened``: the offer code of a fanout now open, in use from now
    on, its shift among the role's open fanouts. ``closed``: the code of a fanout
    whose shift closed, free again, its shift among the role's recently closed.
    ``assigned_to``: the caregiver who holds the shift from now on. ``phone_round``:
    when the shift's phone round is due, or ``None`` when none is pending.
    ``wave``: the number of a wave this change sent (from 2) and the ids it offered
    (a store keeps each wave's ids beside the first). ``next_wave``: when the
    shift's next wave is due, or ``None`` when none is pending.
    ``unfilled``: when the shift's ``shift.unfilled`` alarm is due, or ``None``
    when none is pending (the shift is closed, or the alarm went).
    """

    shift_id: str
    role: str
    ends_at: datetime
    started: Fanout | None = None
    opened: str | None = None
    closed: str | None = None
    assigned_to: str | None = None
    phone_round: datetime | None = None
    wave: tuple[int, tuple[str, ...]] | None = None
    next_wave: datetime | None = None
    unfilled: datetime | None = None


def index_delta(before: Shift, after: Shift) -> IndexDelta:
    """The index changes that follow from a shift going from ``before`` to ``after``."""
    fanout = after.fanout
    started = fanout if before.fanout is None and fanout is not None else None
    pending = after.is_open and fanout is not None and fanout.escalated_at is None
    wave = None
    if (
        fanout is not None
        and before.fanout is not None
        and fanout.waves_sent > before.fanout.waves_sent
    ):
        already = len(before.fanout.offered_caregiver_ids)
        wave = (fanout.waves_sent, fanout.offered_caregiver_ids[already:])
    return IndexDelta(
        shift_id=after.id,
        role=after.role_required,
        ends_at=after.end_time,
        started=started,
        opened=started.offer_code if started is not None and after.is_open else None,
        closed=(
            fanout.offer_code
            if fanout is not None and before.is_open and not after.is_open
            else None
        ),
        assigned_to=(after.assigned_caregiver_id if before.assigned_caregiver_id is None else None),
        phone_round=fanout.escalation_due_at if pending else None,  # type: ignore[union-attr]
        wave=wave,
        next_wave=fanout.next_wave_at if pending else None,  # type: ignore[union-attr]
        unfilled=(
            fanout.unfilled_due_at
            if after.is_open and fanout is not None and fanout.unfilled_at is None
            else None
        ),
    )


def matches(shift: Shift, status: ShiftStatus | None, role: str | None) -> bool:
    """Whether a shift belongs in a list filtered by ``status`` and ``role`` (``None``: any)."""
    return (status is None or shift.status is status) and (
        role is None or shift.role_required == role
    )


def of_role(caregivers: Iterable[Caregiver], role: str | None) -> list[Caregiver]:
    """The caregivers of ``role`` (all when ``None``), in the order given."""
    return list(caregivers) if role is None else [c for c in caregivers if c.role == role]


def offered_to(caregiver_id: str, shifts: Iterable[Shift]) -> list[Shift]:
    """A caregiver's offers among ``shifts``, the most recent fanout first."""
    offers = [s for s in shifts if s.fanout is not None and s.fanout.was_offered_to(caregiver_id)]
    offers.sort(key=lambda s: s.fanout.started_at, reverse=True)  # type: ignore[union-attr]
    return offers


When = TypeVar("When", datetime, float)


def due_first(due: Iterable[tuple[When, str]], now: When) -> list[str]:
    """The shift ids whose phone round is due at ``now``, earliest first (then by id).

    A store may give the due times as timestamps.
    """
    return [shift_id for at, shift_id in sorted(due) if at <= now]
