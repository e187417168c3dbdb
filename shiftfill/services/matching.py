"""Reading what matching a shift takes, once per fanout, wave or look: the ranked candidates.

Everything is read before the step, in a few bulk reads (the role's reachable
caregivers, their records when the shift asks more than role and time, their
assignments, the client), so a fanout to ten thousand makes no read per
caregiver. The claim checks the same rules again inside its own step.
"""

from __future__ import annotations

from collections.abc import Iterable

from shiftfill.domain import contact, ranking
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Organization, Shift
from shiftfill.domain.ranking import Candidate
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import NotFound
from shiftfill.services.organizations import organization_of


def needs_ranking(shift: Shift, org: Organization) -> bool:
    """Whether a fanout of ``shift`` ranks its caregivers: it has a client, credentials or waves.

    Otherwise everyone qualified is texted at once in the order the store lists
    them, as before clients existed, and no caregiver record is read.
    """
    return shift.client_id is not None or bool(shift.required_credentials) or bool(org.waves)


def read_match(
    deps: Dependencies,
    shift: Shift,
    org: Organization,
    *,
    caregiver_ids: list[str] | None = None,
    skip: Iterable[str] = (),
) -> ranking.Match:
    """Rank the role's reachable caregivers (or ``caregiver_ids``, every one of them) for ``shift``.

    ``skip`` (those offered already) are left out without a reason.
    """
    client = deps.store.clients.get(shift.client_id) if shift.client_id else None
    skipped = set(skip)
    since = ranking.history_since(shift)
    if caregiver_ids is not None:
        ids = [cid for cid in caregiver_ids if cid not in skipped] if skipped else caregiver_ids
        records = {c.id: c for c in deps.store.caregivers.get_many(ids)}
        held = deps.store.shifts.assignments(ids, since)
        return ranking.match(
            shift, ids, organization=org, client=client, caregivers=records, held=held
        )
    reach = None
    if contact.needs(shift, client, org) is not None:
        # The role index's own facts: no caregiver record is read or parsed.
        reach = deps.store.caregivers.reach_of_role(shift.role_required)
        ids = list(reach)
    else:
        ids = deps.store.caregivers.qualified_ids(shift.role_required)
    if skipped:
        ids = [cid for cid in ids if cid not in skipped]
    held = deps.store.shifts.assignments(ids, since)
    return ranking.match(shift, ids, organization=org, client=client, reach=reach, held=held)


# How a left-out caregiver's reason reads in the candidates list.
_LEFT_OUT = {NotAsked.OTHER_ROLE: "role"}


def candidates(deps: Dependencies, shift_id: str) -> dict[str, object]:
    """Every caregiver for ``shift_id``: the qualified in the order they are asked, the others
    with the reason each is left out."""
    shift = deps.store.shifts.get(shift_id)
    if shift is None:
        raise NotFound(f"No shift with id {shift_id}.")
    org = organization_of(deps, shift)
    everyone = [c.id for c in deps.store.caregivers.all()]
    found = read_match(deps, shift, org, caregiver_ids=everyone)
    return {
        "shift_id": shift.id,
        "qualified": [_shown(i, c) for i, c in enumerate(found.ranked, start=1)],
        "left_out": [
            {"caregiver_id": cid, "reason": _LEFT_OUT.get(reason, str(reason))}
            for cid, reason in found.left_out.items()
        ],
    }


def _shown(rank: int, candidate: Candidate) -> dict[str, object]:
    miles = candidate.distance_miles
    return {
        "rank": rank,
        "caregiver_id": candidate.caregiver_id,
        "preferred": candidate.preferred,
        "shifts_with_client": candidate.shifts_with_client,
        "distance_miles": round(miles, 1) if miles is not None else None,
        "week_hours": candidate.week_hours,
    }
