"""Who is asked first: the qualified caregivers of a shift, best first, and why others are not.

``match`` sorts every caregiver of the shift's role into the qualified (ranked) and
the left out (with the reason ``contact.why_not_ask`` gives). The fanout texts the
ranked list (in waves when the organization has them) and ``GET
/shifts/<id>/candidates`` shows it. The ranking, best first:

1. the client's preferred caregivers;
2. continuity: more shifts of this client assigned to the caregiver in the
   ``CONTINUITY_DAYS`` before this shift's start;
3. nearer first (an unknown distance after every known one);
4. fewer hours assigned in the shift's week (Monday 00:00, organization's zone);
5. caregiver id.

Cost: one pass over the role's reachable caregivers (a set look-up, a distance and
the credential codes each), and one sort, so O(n log n) in the role's size; the
client, the credential day and the caregivers' assignments are read once per match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shiftfill.domain import contact
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Caregiver, Client, Organization, Shift

# How far back assignments with the same client count toward continuity.
CONTINUITY_DAYS = 90


@dataclass(frozen=True, slots=True)
class Candidate:
    """A qualified caregiver with what ranks them."""

    caregiver_id: str
    preferred: bool
    shifts_with_client: int
    distance_miles: float | None
    week_hours: float

    def key(self) -> tuple[bool, int, bool, float, float, str]:
        """Sort key, best first."""
        miles = self.distance_miles
        return (
            not self.preferred,
            -self.shifts_with_client,
            miles is None,
            miles if miles is not None else 0.0,
            self.week_hours,
            self.caregiver_id,
        )


@dataclass(frozen=True, slots=True)
class Match:
    """The qualified caregivers of a shift, best first, and the others with their reason."""

    ranked: list[Candidate]
    left_out: dict[str, NotAsked]

    @property
    def ranked_ids(self) -> list[str]:
        return [c.caregiver_id for c in self.ranked]


def history_since(shift: Shift) -> datetime:
    """The end after which a caregiver's assignments matter to matching and ranking."""
    return min(contact.eligibility_since(shift), shift.start_time - timedelta(days=CONTINUITY_DAYS))


def match(
    shift: Shift,
    caregiver_ids: Sequence[str],
    *,
    organization: Organization,
    client: Client | None,
    caregivers: Mapping[str, Caregiver] | None,
    held: Mapping[str, Sequence[Shift]],
    skip: Iterable[str] = (),
) -> Match:
    """Rank ``caregiver_ids`` for ``shift``; those not free to take it are left out, with why.

    ``caregivers`` are their records (``None`` when the shift asks nothing of them
    beyond role and time, and the ids are the role's reachable ones); one not found
    is left out as inactive. ``held`` are the assignments (ending after
    ``history_since``) of those who hold any. ``skip`` are left out without a reason
    (those offered already).
    """
    wants = contact.needs(shift, client, organization)
    skipped = set(skip)
    preferred = frozenset(client.preferred_caregiver_ids) if client else frozenset()
    week = contact.weeks_of(shift, organization.time_zone)[0]
    continuity_from = shift.start_time - timedelta(days=CONTINUITY_DAYS)
    ranked: list[Candidate] = []
    left_out: dict[str, NotAsked] = {}
    for cid in caregiver_ids:
        if cid in skipped:
            continue
        caregiver = caregivers.get(cid) if caregivers is not None else None
        if caregivers is not None and caregiver is None:
            left_out[cid] = NotAsked.INACTIVE
            continue
        assigned = held.get(cid, ())
        reason = contact.why_not_ask(
            shift,
            cid,
            caregiver=caregiver,
            organization=organization,
            assigned=assigned if assigned else None,
            wants=wants,
        )
        if reason is not None:
            left_out[cid] = reason
            continue
        ranked.append(
            Candidate(
                caregiver_id=cid,
                preferred=cid in preferred,
                shifts_with_client=_with_client(assigned, client, continuity_from, shift),
                distance_miles=(
                    wants.distance(caregiver) if wants is not None and caregiver else None
                ),
                week_hours=_hours_in(assigned, *week),
            )
        )
    ranked.sort(key=Candidate.key)
    return Match(ranked, left_out)


def _with_client(
    assigned: Sequence[Shift], client: Client | None, since: datetime, shift: Shift
) -> int:
    if client is None or not assigned:
        return 0
    return sum(
        1 for s in assigned if s.client_id == client.id and since <= s.start_time < shift.start_time
    )


def _hours_in(assigned: Sequence[Shift], start: datetime, end: datetime) -> float:
    total = 0.0
    for s in assigned:
        first, last = max(s.start_time, start), min(s.end_time, end)
        if last > first:
            total += (last - first).total_seconds() / 3600
    return round(total, 2)
