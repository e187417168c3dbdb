"""Who may be asked about a shift, and why not: one rule for every path that contacts.

The fanout, the phone round, the claim and the send path each ask ``why_not_ask``
with the facts they hold; the stores' role index lists exactly the caregivers
``reachable`` says may be contacted at all. A new rule about who may be contacted
(a client's own list, a wave, a credential) is one more check here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Client,
    Credential,
    Location,
    Organization,
    Shift,
)


class NotAsked(enum.StrEnum):
    """Why a caregiver is not asked about a shift."""

    SHIFT_CLOSED = "shift_closed"
    SHIFT_ENDED = "shift_ended"
    OPTED_OUT = "opted_out"
    INACTIVE = "inactive"
    OTHER_ROLE = "other_role"
    DECLINED = "declined"
    CONFLICT = "conflict"
    OVER_HOURS = "over_hours"
    QUIET_HOURS = "quiet_hours"
    EXCLUDED = "excluded"
    OUT_OF_RANGE = "out_of_range"
    CREDENTIAL_MISSING = "credential_missing"
    CREDENTIAL_EXPIRED = "credential_expired"

    @property
    def unreachable(self) -> bool:
        """True for the reasons that hold on every shift of the role: opted out, inactive."""
        return self in _UNREACHABLE

    @property
    def noted(self) -> bool:
        """True for the reasons a phone round notes on the shift's trail (``call_skipped``)."""
        return self in _NOTED

    @property
    def unmatched(self) -> bool:
        """True for the reasons of a shift's client and credentials (a claim: ``not_eligible``)."""
        return self in _UNMATCHED


_UNREACHABLE = frozenset({NotAsked.OPTED_OUT, NotAsked.INACTIVE, NotAsked.OTHER_ROLE})
_UNMATCHED = frozenset(
    {
        NotAsked.EXCLUDED,
        NotAsked.OUT_OF_RANGE,
        NotAsked.CREDENTIAL_MISSING,
        NotAsked.CREDENTIAL_EXPIRED,
    }
)
_NOTED = frozenset({NotAsked.CONFLICT, NotAsked.OVER_HOURS, NotAsked.QUIET_HOURS, *_UNMATCHED})

EARTH_RADIUS_MILES = 3958.7613


def distance_miles(a: Location, b: Location) -> float:
    """The great-circle distance between two places, in miles (haversine).

    The formula ``Needs.sift`` computes in parts, from the ``Reach`` kept ready.
    """
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def last_day(shift: Shift, time_zone: str) -> date:
    """The local day a shift ends on; one that ends at midnight ends the day before."""
    end = shift.end_time - timedelta(microseconds=1)
    return end.astimezone(ZoneInfo(time_zone)).date()


# Credentials that never expire count as valid through this day.
NEVER = date.max


class Reach(NamedTuple):
    """What matching asks of one caregiver, compact: their place (radians, with the cosine of
    the latitude), the range they travel and their latest expiry per credential code.

    The stores keep one per reachable caregiver beside the role index, so a fanout
    checks ten thousand caregivers without reading or parsing their records.
    """

    lat: float | None
    lon: float
    cos_lat: float
    max_miles: float | None
    # A haversine value a little under that of ``max_miles``: below it, surely in range.
    max_h: float | None
    expiries: Mapping[str, date]


# The ``Reach`` of a caregiver with no place, no range and no credentials.
NOWHERE = Reach(None, 0.0, 0.0, None, None, MappingProxyType({}))


def reach(
    location: Location | None,
    max_travel_miles: float | None,
    credentials: Iterable[Credential],
) -> Reach:
    """The ``Reach`` of a caregiver with these facts."""
    expiries: dict[str, date] = {}
    for credential in credentials:
        expires = credential.expires_on or NEVER
        if expires > expiries.get(credential.code, date.min):
            expiries[credential.code] = expires
    lat, lon = (location.lat, location.lon) if location is not None else (None, 0.0)
    return reach_from(lat, lon, max_travel_miles, expiries)


def reach_from(
    lat: float | None, lon: float, max_travel_miles: float | None, expiries: Mapping[str, date]
) -> Reach:
    """The ``Reach`` of a place in degrees (``lat`` ``None``: unknown), a range and the
    latest expiry per credential code (``NEVER``: one that never expires)."""
    if lat is None and max_travel_miles is None and not expiries:
        # Most rosters: one shared value, so the role index costs them nothing more.
        return NOWHERE
    max_h = None
    if max_travel_miles is not None:
        angle = max_travel_miles / (2 * EARTH_RADIUS_MILES)
        max_h = math.sin(angle) ** 2 * (1 - 1e-9) if angle < math.pi / 2 else 2.0
    if lat is None:
        return Reach(None, 0.0, 0.0, max_travel_miles, max_h, expiries)
    rad = math.radians(lat)
    return Reach(rad, math.radians(lon), math.cos(rad), max_travel_miles, max_h, expiries)


def reach_of(caregiver: Caregiver) -> Reach:
    """The ``Reach`` of ``caregiver``."""
    return reach(caregiver.location, caregiver.max_travel_miles, caregiver.credentials)


def miles_of(h: float) -> float:
    """The distance, in miles, of a haversine value ``h`` (see ``Needs.sift``)."""
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Needs:
    """What a shift asks of a caregiver beyond role and time: its client's lists and place,
    and credentials valid through its last day. Made once per shift (``needs``), then
    asked of each caregiver, so ten thousand checks share one set of look-ups.
    """

    excluded: frozenset[str]
    place: Location | None
    codes: tuple[str, ...]
    through: date
    # The place in radians and the cosine of its latitude, for ``sift``.
    _lat: float = field(init=False, repr=False, compare=False)
    _lon: float = field(init=False, repr=False, compare=False)
    _cos_lat: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lat = math.radians(self.place.lat) if self.place else 0.0
        object.__setattr__(self, "_lat", lat)
        object.__setattr__(self, "_lon", math.radians(self.place.lon) if self.place else 0.0)
        object.__setattr__(self, "_cos_lat", math.cos(lat))

    def why_not(self, caregiver: Caregiver) -> NotAsked | None:
        """Why the shift's client or credentials keep ``caregiver`` from it, or ``None``."""
        left_out: dict[str, NotAsked] = {}
        self.sift([caregiver.id], {caregiver.id: reach_of(caregiver)}, left_out)
        return left_out.get(caregiver.id)

    def sift(
        self,
        caregiver_ids: Iterable[str],
        reach: Mapping[str, Reach],
        left_out: dict[str, NotAsked],
    ) -> list[tuple[str, float | None]]:
        """Those of ``caregiver_ids`` the client and credentials allow, each with the haversine
        value of their distance to the client (``None``: a place is unknown); why each other
        is not, into ``left_out`` (one ``reach`` lacks: inactive).

        The one place these rules are written, for one caregiver (``why_not``) or ten
        thousand (a fanout): a loop with no call per caregiver but the two sines. The
        haversine value orders as the distance does and ``miles_of`` turns it into miles;
        the square root and arc sine are left for those near their range or shown.
        """
        excluded, codes, through = self.excluded, self.codes, self.through
        placed = self.place is not None
        lat0, lon0, cos0 = self._lat, self._lon, self._cos_lat
        sin = math.sin
        passed: list[tuple[str, float | None]] = []
        for cid in caregiver_ids:
            facts = reach.get(cid)
            if facts is None:
                left_out[cid] = NotAsked.INACTIVE
                continue
            if cid in excluded:
                left_out[cid] = NotAsked.EXCLUDED
                continue
            lat, lon, cos_lat, max_miles, max_h, expiries = facts
            h = None
            if placed and lat is not None:
                a, b = sin((lat - lat0) * 0.5), sin((lon - lon0) * 0.5)
                h = a * a + cos_lat * cos0 * b * b
                if max_h is not None and h > max_h and miles_of(h) > max_miles:  # type: ignore[operator]
                    left_out[cid] = NotAsked.OUT_OF_RANGE
                    continue
            reason = None
            for code in codes:
                expires = expiries.get(code)
                if expires is None:
                    reason = NotAsked.CREDENTIAL_MISSING
                    break
                if expires < through:
                    reason = NotAsked.CREDENTIAL_EXPIRED
                    break
            if reason is not None:
                left_out[cid] = reason
                continue
            passed.append((cid, h))
        return passed


def needs(shift: Shift, client: Client | None, organization: Organization | None) -> Needs | None:
    """What ``shift`` asks beyond role and time, or ``None`` when it asks nothing more.

    ``client`` is the shift's client as read (``None``: it has none, or it is gone).
    """
    if client is None and not shift.required_credentials:
        return None
    zone = organization.time_zone if organization is not None else "UTC"
    return Needs(
        excluded=frozenset(client.excluded_caregiver_ids) if client else frozenset(),
        place=client.location if client else None,
        codes=shift.required_credentials,
        through=last_day(shift, zone),
    )


# Further back than the Monday that starts a shift's week, in any time zone.
ELIGIBILITY_LOOKBACK = timedelta(days=8)


def reachable(caregiver: Caregiver) -> bool:
    """Whether a caregiver may be contacted at all: not opted out and active.

    The stores' role index holds exactly these, so a fanout finds them without
    reading every caregiver of the role.
    """
    return not caregiver.opted_out and caregiver.active


def why_not_ask(
    shift: Shift,
    caregiver_id: str,
    *,
    caregiver: Caregiver | None = None,
    channel: Channel = Channel.SMS,
    at: datetime | None = None,
    organization: Organization | None = None,
    assigned: Iterable[Shift] | None = None,
    wants: Needs | None = None,
) -> NotAsked | None:
    """Say why ``caregiver_id`` may not be asked about ``shift`` now, or ``None`` if they may.

    The shift must be open. Each fact a caller holds adds the checks it allows:
    ``caregiver``, that they are reachable and of the shift's role; a call, that
    they have not declined; ``assigned`` (their shifts) with ``organization``,
    that the shift neither overlaps one nor passes the weekly cap; ``at`` with
    ``organization`` on a call, that it is not inside their quiet hours;
    ``wants`` with ``caregiver``, that the shift's client and credentials allow them;
    ``at``, that the shift has not ended by then (nobody could work it any more).
    """
    if not shift.is_open:
        return NotAsked.SHIFT_CLOSED
    if at is not None and shift.has_ended(at):
        return NotAsked.SHIFT_ENDED
    if caregiver is not None:
        if caregiver.opted_out:
            return NotAsked.OPTED_OUT
        if not caregiver.active:
            return NotAsked.INACTIVE
        if caregiver.role != shift.role_required:
            return NotAsked.OTHER_ROLE
        if wants is not None:
            unmatched = wants.why_not(caregiver)
            if unmatched is not None:
                return unmatched
    calling = channel is Channel.CALL
    if calling and shift.fanout is not None and shift.fanout.has_declined(caregiver_id):
        return NotAsked.DECLINED
    if assigned is not None and organization is not None:
        refused = why_ineligible(shift, assigned, organization)
        if refused is not None:
            return refused
    if (
        calling
        and at is not None
        and organization is not None
        and caregiver is not None
        and in_quiet_hours(caregiver, at, organization)
    ):
        return NotAsked.QUIET_HOURS
    return None


def askable(shift: Shift, caregiver_ids: Iterable[str], channel: Channel) -> list[str]:
    """Those of ``caregiver_ids`` the shift's own state still lets ``why_not_ask`` pass.

    The checks of ``why_not_ask`` that read the shift alone (open; on a call, not
    declined), over many caregivers at once: what a phone round asks again inside
    its step, of reasons it found before, since a decline may land in between.
    """
    if not shift.is_open:
        return []
    fanout = shift.fanout
    if channel is Channel.CALL and fanout is not None and fanout.declined_caregiver_ids:
        declined = set(fanout.declined_caregiver_ids)
        return [cid for cid in caregiver_ids if cid not in declined]
    return list(caregiver_ids)


def explain(reason: NotAsked, shift: Shift) -> str:
    """The words that say why a queued message was not sent."""
    if reason is NotAsked.SHIFT_CLOSED:
        return f"the shift is {shift.status}"
    return _EXPLAINED[reason]


_EXPLAINED = {
    NotAsked.SHIFT_ENDED: "the shift has ended",
    NotAsked.OPTED_OUT: "the caregiver opted out",
    NotAsked.INACTIVE: "the caregiver is inactive",
    NotAsked.OTHER_ROLE: "the caregiver's role differs",
    NotAsked.DECLINED: "the caregiver declined",
    NotAsked.CONFLICT: "the caregiver holds an overlapping shift",
    NotAsked.OVER_HOURS: "the shift would pass the caregiver's weekly hours",
    NotAsked.QUIET_HOURS: "it is inside the caregiver's quiet hours",
    NotAsked.EXCLUDED: "the client asked not to have this caregiver",
    NotAsked.OUT_OF_RANGE: "the client lives beyond the caregiver's travel range",
    NotAsked.CREDENTIAL_MISSING: "the caregiver lacks a credential the shift requires",
    NotAsked.CREDENTIAL_EXPIRED: "a credential the shift requires expires before it ends",
}


def in_quiet_hours(caregiver: Caregiver, at: datetime, organization: Organization) -> bool:
    """Tell whether ``at`` falls in the caregiver's quiet hours, in the organization's zone."""
    if caregiver.quiet_hours is None:
        return False
    local = at.astimezone(ZoneInfo(organization.time_zone)).time()
    return caregiver.quiet_hours.contains(local)


def overlaps(a: Shift, b: Shift) -> bool:
    """Tell whether two shifts share any instant; back-to-back shifts do not."""
    return a.start_time < b.end_time and b.start_time < a.end_time


def week_start(at: datetime, time_zone: str) -> datetime:
    """Monday 00:00 of the week holding ``at``, in ``time_zone``, as an aware time."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=zone)


def _next_week(start: datetime) -> datetime:
    # Wall-clock arithmetic: a week across a daylight-saving change is 167 or 169 hours.
    return datetime.combine(start.date() + timedelta(days=7), time(0), tzinfo=start.tzinfo)


def _hours_between(shift: Shift, start: datetime, end: datetime) -> float:
    first, last = max(shift.start_time, start), min(shift.end_time, end)
    return max(0.0, (last - first).total_seconds() / 3600)


def weeks_of(shift: Shift, time_zone: str) -> list[tuple[datetime, datetime]]:
    """The local weeks (Monday 00:00 to the next) that a shift has hours in."""
    weeks = []
    start = week_start(shift.start_time, time_zone)
    while start < shift.end_time:
        end = _next_week(start)
        weeks.append((start, end))
        start = end
    return weeks


def why_ineligible(
    shift: Shift, assigned: Iterable[Shift], organization: Organization
) -> NotAsked | None:
    """Say why a caregiver holding ``assigned`` may not take ``shift``, or ``None`` if they may.

    ``conflict``: another of their shifts overlaps this one. ``over_hours``: in a
    week (Monday 00:00 in the organization's zone) this shift has hours in, their
    hours there plus this shift's would pass the organization's cap. A shift across
    two weeks counts in each week for the hours it has in it.
    """
    others = [s for s in assigned if s.id != shift.id]
    if any(overlaps(shift, other) for other in others):
        return NotAsked.CONFLICT
    cap = organization.max_weekly_hours
    if cap is None:
        return None
    for start, end in weeks_of(shift, organization.time_zone):
        hours = sum(_hours_between(s, start, end) for s in (shift, *others))
        if hours > cap + 1e-9:
            return NotAsked.OVER_HOURS
    return None


def eligibility_since(shift: Shift) -> datetime:
    """An end before which no assignment can matter to ``why_ineligible`` for ``shift``.

    Eight days before the shift starts: earlier than the start of its week in any
    time zone, so it needs no organization, and ``why_ineligible`` counts only the
    hours inside each week. Those that end earlier neither overlap nor count.
    """
    return shift.start_time - ELIGIBILITY_LOOKBACK
