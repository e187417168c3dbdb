"""Who is asked first: the qualified caregivers of a shift, best first, and why others are not.

``match`` sorts every caregiver of the shift's role into the qualified (ranked) and
the left out (with the reason the rules of ``contact`` give: ``Needs.sift`` for the
client and credentials, ``why_ineligible`` for the caregiver's other shifts, as
``contact.why_not_ask`` asks them). The fanout texts the
ranked list (in waves when the organization has them) and ``GET
/shifts/<id>/candidates`` shows it. The ranking, best first:

1. the client's preferred caregivers;
2. continuity: more shifts of this client assigned to the caregiver in the
   ``CONTINUITY_DAYS`` before this shift's start;
3. nearer first (an unknown distance after every known one);
4. fewer hours assigned in the shift's week (Monday 00:00, organization's zone);
5. caregiver id.

Cost: one pass over the role's reachable caregivers, each a set look-up, a
haversine value on place facts kept ready in the role index (radians, cosine of
the latitude; no square root or arc sine unless near their range) and one dict
look-up per required credential; the rules of the caregiver's other shifts only
for those who hold any; then one sort of plain tuples. O(n log n) in the role's
size, never in the store's; the client, the credential day and the assignments
are read once per match.
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


# A qualified caregiver's sort key, best first: not preferred, minus the shifts with the
# client, distance unknown, the distance's haversine value, week hours, caregiver id.
Key = tuple[bool, int, bool, float, float, str]


class Match:
    """The qualified caregivers of a shift, best first, and the others with their reason.

    Holds the sort keys; a fanout takes only the ids (``ranked_ids``), and the
    ``Candidate`` records are made for those who look (``ranked``).
    """

    __slots__ = ("_keys", "left_out")

    def __init__(self, keys: list[Key], left_out: dict[str, NotAsked]) -> None:
        self._keys = keys
        self.left_out = left_out

    @property
    def ranked_ids(self) -> list[str]:
        return [key[5] for key in self._keys]

    @property
    def ranked(self) -> list[Candidate]:
        return [
            Candidate(
                caregiver_id=cid,
                preferred=not other,
                shifts_with_client=-with_client,
                distance_miles=None if unknown else contact.miles_of(h),
                week_hours=hours,
            )
            for other, with_client, unknown, h, hours, cid in self._keys
        ]


def history_since(shift: Shift) -> datetime:
    """The end after which a caregiver's assignments matter to matching and ranking."""
    return min(contact.eligibility_since(shift), shift.start_time - timedelta(days=CONTINUITY_DAYS))


def match(
    shift: Shift,
    caregiver_ids: Sequence[str],
    *,
    organization: Organization,
    client: Client | None,
    held: Mapping[str, Sequence[Shift]],
    caregivers: Mapping[str, Caregiver] | None = None,
    reach: Mapping[str, contact.Reach] | None = None,
    skip: Iterable[str] = (),
) -> Match:
    """Rank ``caregiver_ids`` for ``shift``; those not free to take it are left out, with why.

    What is known of each caregiver is one of: ``caregivers``, their records (any
    caregiver: each is checked to be reachable and of the role); ``reach``, the
    stores' ``Reach`` of the role's reachable caregivers; or neither, when the shift
    asks nothing of them beyond role and time and the ids are the role's reachable
    ones. One not found is left out as inactive. ``held`` are the assignments
    (ending after ``history_since``) of those who hold any. ``skip`` are left out
    without a reason (those offered already).

    Cheapest checks first, with no Python call per caregiver but where a check needs
    one: this runs over every caregiver of the role on each fanout.
    """
    skipped = set(skip)
    if not shift.is_open:
        # A closed shift asks nobody.
        closed = NotAsked.SHIFT_CLOSED
        return Match([], {cid: closed for cid in caregiver_ids if cid not in skipped})
    wants = contact.needs(shift, client, organization)
    if caregivers is not None:
        reach, records_left_out = _reach_of_records(shift, caregiver_ids, caregivers, wants)
    else:
        records_left_out = {}
    preferred = frozenset(client.preferred_caregiver_ids) if client else frozenset()
    week = contact.weeks_of(shift, organization.time_zone)[0]
    continuity_from = shift.start_time - timedelta(days=CONTINUITY_DAYS)
    keys: list[Key] = []
    left_out: dict[str, NotAsked] = {}
    ids = [cid for cid in caregiver_ids if cid not in skipped] if skipped else caregiver_ids
    if records_left_out:
        left_out.update((cid, records_left_out[cid]) for cid in ids if cid in records_left_out)
        ids = [cid for cid in ids if cid not in records_left_out]
    passed: Iterable[tuple[str, float | None]]
    if reach is None:
        passed = ((cid, None) for cid in ids)
    elif wants is None:
        for cid in ids:
            if cid not in reach:
                left_out[cid] = NotAsked.INACTIVE
        passed = ((cid, None) for cid in ids if cid in reach)
    else:
        passed = wants.sift(ids, reach, left_out)
    for cid, h in passed:
        assigned = held.get(cid)
        if assigned:
            reason = contact.why_ineligible(shift, assigned, organization)
            if reason is not None:
                left_out[cid] = reason
                continue
            keys.append(
                (
                    cid not in preferred,
                    -_with_client(assigned, client, continuity_from, shift),
                    h is None,
                    h or 0.0,
                    _hours_in(assigned, *week),
                    cid,
                )
            )
        else:
            keys.append((cid not in preferred, 0, h is None, h or 0.0, 0.0, cid))
    keys.sort()
    if left_out:
        # In the order the caregivers were listed, whichever check left each out.
        left_out = {cid: left_out[cid] for cid in caregiver_ids if cid in left_out}
    return Match(keys, left_out)


def _reach_of_records(
    shift: Shift,
    caregiver_ids: Sequence[str],
    caregivers: Mapping[str, Caregiver],
    wants: contact.Needs | None,
) -> tuple[dict[str, contact.Reach], dict[str, NotAsked]]:
    """The ``Reach`` of those of ``caregiver_ids`` who are reachable and of the shift's role,
    and why each other is left out."""
    reach: dict[str, contact.Reach] = {}
    left_out: dict[str, NotAsked] = {}
    for cid in caregiver_ids:
        caregiver = caregivers.get(cid)
        if caregiver is None:
            continue
        reason = contact.why_not_ask(shift, cid, caregiver=caregiver)
        if reason is not None:
            left_out[cid] = reason
        else:
            reach[cid] = contact.reach_of(caregiver)
    return reach, left_out


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
