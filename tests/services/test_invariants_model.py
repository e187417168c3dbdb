"""Model-based test: random sequences of operations, the rules I1 to I5 and I7 of
docs/invariants.md checked after every step against a simple reference model, on the
memory store and on Redis (I6, bad input, is the fuzz's and the bounds tests'; I8, across
processes and crashes, the server tests').

Shifts start at one of ten times four hours apart and last eight, so some overlap, some
are back to back, and some cross the start of a week (Monday 00:00 in Chicago); the
organization ``org`` caps a caregiver's week at 12 hours, ``default`` has no cap, and
``wav`` texts its fanouts in waves of two, two minutes apart.

Shifts of ``org`` and ``wav`` may be for a client (who excludes caregivers as the run
goes on) and may need CPR. Caregivers live near the client, far beyond their 20-mile
range, or nowhere known; they hold a CPR credential that is valid, lapsed (the
``credential`` rule switches it either way) or none. Whoever is excluded, out of range
or without valid CPR is never texted, called or assigned (I3, I7).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from bench.harness import RedisServer
from shiftfill.adapters.memory_store import MemoryStore
from shiftfill.adapters.redis_store.store import RedisStore
from shiftfill.domain.model import Channel, Credential, Location, ShiftStatus, Waves
from shiftfill.services import caregivers, clients, organizations, shifts
from shiftfill.services.dependencies import Dependencies, Settings
from shiftfill.services.errors import Conflict
from shiftfill.services.fanout import run_due_phone_rounds, run_phone_round, start_fanout
from shiftfill.services.inbound import InboundMessage, InboundResult, handle_inbound
from shiftfill.services.ports import Store
from shiftfill.services.waves import run_due_waves
from tests.conftest import unique_prefix
from tests.fakes import FakeNotifier, send_queued

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
DELAY = timedelta(minutes=10)
ROLES = ["RN", "LPN"]
ACCEPTS = ["yes", "Y", "I'll take it", "yes please", "sí", "lo tomo"]
DECLINES = ["no", "can't", "No thanks", "no puedo"]
# Shift starts: Sunday Nov 29 00:00 UTC and every 4 hours after, for 8 hours each.
FIRST_SLOT = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
SLOTS = 10
SHIFT_HOURS = 8
CAP = 12
# Monday Nov 30 00:00 in America/Chicago (CST, UTC-6): where org's second week begins.
WEEK_TWO = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
WEEKS = [(EARLIEST, WEEK_TWO), (WEEK_TWO, LATEST)]
ORGS = ["org", "default", "wav"]
# Each organization's client (``default`` has none).
CLIENT_OF = {"org": "cl_org", "wav": "cl_wav"}
WAVE_SIZE, WAVE_SECONDS = 2, 120
HOME = Location(41.8781, -87.6298)
# A mile or so from the client, and about 140 miles away; both travel 20 miles at most.
PLACES = {"near": Location(41.89, -87.62), "far": Location(43.9, -87.6), "none": None}
RANGE_MILES = 20.0
VALID_CPR = Credential("CPR", date(2027, 1, 1))
# Lapsed the day before the first shift's start: before every shift's last day.
LAPSED_CPR = Credential("CPR", date(2026, 11, 28))


@dataclass
class ModelShift:
    role: str
    org: str = "default"
    start: datetime = FIRST_SLOT
    end: datetime = FIRST_SLOT
    offered: set[str] = field(default_factory=set)
    declined: set[str] = field(default_factory=set)
    fanned_out: bool = False
    due: datetime | None = None
    escalated: bool = False
    winner: str | None = None
    cancelled: bool = False
    client: str | None = None
    cpr: bool = False
    next_wave: datetime | None = None

    @property
    def open(self) -> bool:
        return self.winner is None and not self.cancelled

    def hours_in(self, lo: datetime, hi: datetime) -> float:
        first, last = max(self.start, lo), min(self.end, hi)
        return max(0.0, (last - first).total_seconds() / 3600)


class ShiftFillMachine(RuleBasedStateMachine):
    caregiver_ids = Bundle("caregivers")
    shift_ids = Bundle("shifts")
    message_ids = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        self.start()

    def make_store(self) -> Store:
        return MemoryStore(clock=lambda: self.now)

    def start(self) -> None:
        self.now = START
        self.notifier = FakeNotifier()
        self.deps = Dependencies(
            store=self.make_store(),
            notifier=self.notifier,
            settings=Settings(escalation_delay=DELAY, send_retries=0),
            clock=lambda: self.now,
        )
        organizations.create_organization(
            self.deps, id="org", name="Org", time_zone="America/Chicago", max_weekly_hours=CAP
        )
        organizations.create_organization(
            self.deps,
            id="wav",
            name="Waves",
            time_zone="America/Chicago",
            waves=Waves(WAVE_SIZE, WAVE_SECONDS),
        )
        for org, client_id in CLIENT_OF.items():
            clients.create_client(
                self.deps, id=client_id, organization_id=org, name=client_id, location=HOME
            )
        self.excluded: dict[str, set[str]] = {c: set() for c in CLIENT_OF.values()}
        self.places: dict[str, str] = {}
        self.cpr: dict[str, bool] = {}
        self.roles: dict[str, str] = {}
        self.phones: dict[str, str] = {}
        self.opted_out: set[str] = set()
        self.shifts: dict[str, ModelShift] = {}
        self.messages: dict[str, tuple[InboundMessage, InboundResult]] = {}
        self.counter = 0
        self.seeded = [
            self.create_caregiver(role, False, "near", True) for role in ["RN", "RN", "RN", "LPN"]
        ]

    @initialize(target=caregiver_ids)
    def seed_caregivers(self) -> MultipleResults[str]:
        """Start with three RNs and an LPN, so that claims race from the first steps.

        They are registered when the machine starts, so the seeded shifts are
        offered to them whichever of the two initial rules runs first.
        """
        return multiple(*self.seeded)

    @initialize(target=shift_ids)
    def seed_shifts(self) -> MultipleResults[str]:
        """RN shifts of ``org``, fanned out: 00-08, 04-12 (overlapping), 08-16 and 16-24 UTC."""
        seeded = [self.create_shift("RN", slot, "org", False, False) for slot in (0, 1, 2, 4)]
        for sid in seeded:
            self.fanout(sid)
        return multiple(*seeded, self.create_shift("RN", 3, "default", False, False))

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _sends(self, channel: str) -> list[str]:
        send_queued(self.deps)
        return [s.to for s in self.notifier.by_channel(channel)]

    def _texted(self, sid: str) -> set[str]:
        """The caregivers the store has queued a text for about ``sid``."""
        notes = self.deps.store.notifications.for_shift(sid)
        return {n.caregiver_id for n in notes if n.channel is Channel.SMS}

    # --- operations -------------------------------------------------------

    @rule(
        target=caregiver_ids,
        role=st.sampled_from(ROLES),
        opted_out=st.booleans(),
        place=st.sampled_from(list(PLACES)),
        cpr=st.booleans(),
    )
    def create_caregiver(self, role: str, opted_out: bool, place: str, cpr: bool) -> str:
        cid = self._next("cg")
        phone = f"+1555555{self.counter:04d}"
        location = PLACES[place]
        caregivers.register_caregiver(
            self.deps,
            id=cid,
            name=cid,
            role=role,
            phone=phone,
            opted_out=opted_out,
            location=location,
            max_travel_miles=RANGE_MILES if location is not None else None,
            credentials=(VALID_CPR,) if cpr else (),
        )
        self.roles[cid], self.phones[cid] = role, phone
        self.places[cid], self.cpr[cid] = place, cpr
        if opted_out:
            self.opted_out.add(cid)
        return cid

    @rule(
        target=shift_ids,
        role=st.sampled_from(ROLES),
        slot=st.integers(min_value=0, max_value=SLOTS - 1),
        org=st.sampled_from(ORGS),
        for_client=st.booleans(),
        cpr=st.booleans(),
    )
    def create_shift(self, role: str, slot: int, org: str, for_client: bool, cpr: bool) -> str:
        sid = self._next("sh")
        start = FIRST_SLOT + timedelta(hours=4 * slot)
        end = start + timedelta(hours=SHIFT_HOURS)
        client_id = CLIENT_OF.get(org) if for_client else None
        shifts.create_shift(
            self.deps,
            id=sid,
            organization_id=org,
            role_required=role,
            start_time=start,
            end_time=end,
            client_id=client_id,
            required_credentials=("CPR",) if cpr else (),
        )
        self.shifts[sid] = ModelShift(role, org, start, end, client=client_id, cpr=cpr)
        return sid

    @rule(cid=caregiver_ids, org=st.sampled_from(list(CLIENT_OF)))
    def exclude(self, cid: str, org: str) -> None:
        """The organization's client asks not to have ``cid`` any more."""
        client_id = CLIENT_OF[org]
        listed = sorted(self.excluded[client_id] | {cid})
        clients.update_client(self.deps, client_id, {"excluded_caregiver_ids": listed})
        self.excluded[client_id].add(cid)

    @rule(cid=caregiver_ids, valid=st.booleans())
    def credential(self, cid: str, valid: bool) -> None:
        """``cid``'s CPR lapses, or is renewed."""
        cpr = VALID_CPR if valid else LAPSED_CPR
        caregivers.update_caregiver(self.deps, cid, {"credentials": [cpr]})
        self.cpr[cid] = valid

    def _qualified(self, sid: str) -> set[str]:
        """Who may be texted about ``sid`` now: of its role, not opted out, free to take it."""
        role = self.shifts[sid].role
        return {
            c
            for c, r in self.roles.items()
            if r == role and c not in self.opted_out and self._why_not(c, sid) is None
        }

    def _unmatched(self, cid: str, sid: str) -> str | None:
        """Why the shift's client or credentials keep ``cid`` from ``sid``, or ``None``."""
        shift = self.shifts[sid]
        if shift.client is not None:
            if cid in self.excluded[shift.client]:
                return "excluded"
            if self.places[cid] == "far":
                return "out_of_range"
        if shift.cpr and not self.cpr[cid]:
            return "credential"
        return None

    def _why_not(self, cid: str, sid: str) -> str | None:
        """Why ``cid`` may not take ``sid`` now, by the model's own arithmetic."""
        shift = self.shifts[sid]
        unmatched = self._unmatched(cid, sid)
        if unmatched is not None:
            return unmatched
        held = [m for s, m in self.shifts.items() if m.winner == cid and s != sid]
        if any(m.start < shift.end and shift.start < m.end for m in held):
            return "conflict"
        if shift.org == "org":
            for lo, hi in WEEKS:
                hours = sum(m.hours_in(lo, hi) for m in [shift, *held])
                if shift.hours_in(lo, hi) and hours > CAP:
                    return "over_hours"
        return None

    @rule(sid=shift_ids)
    def fanout(self, sid: str) -> None:
        model = self.shifts[sid]
        before = self._sends("sms")
        try:
            _, started = start_fanout(self.deps, sid)
        except Conflict:
            assert model.cancelled
            assert self._sends("sms") == before
            return
        assert started == (not model.fanned_out)
        new = self._sends("sms")[len(before) :]
        if started:
            model.fanned_out = True
            model.due = self.now + DELAY
            qualified = self._qualified(sid)
            if model.org == "wav" and len(qualified) > WAVE_SIZE:
                # The best two first: who they are is the ranking's to say, but only of these.
                model.offered = self._texted(sid)
                assert len(model.offered) == WAVE_SIZE and model.offered <= qualified  # I3
                model.next_wave = self.now + timedelta(seconds=WAVE_SECONDS)
            else:
                model.offered = qualified
            assert sorted(new) == sorted(self.phones[c] for c in model.offered)  # I3
        else:
            assert new == []  # I2: a repeat sends nothing

    @rule(
        target=message_ids,
        cid=caregiver_ids,
        sid=shift_ids,
        accept=st.booleans(),
        explicit=st.booleans(),
        data=st.data(),
    )
    def reply(self, cid: str, sid: str, accept: bool, explicit: bool, data: st.DataObject) -> str:
        body = data.draw(st.sampled_from(ACCEPTS if accept else DECLINES))
        message = InboundMessage(
            sender=self.phones[cid],
            body=body,
            shift_id=sid if explicit else None,
            message_id=self._next("SM"),
        )
        open_offers = [s for s, m in self.shifts.items() if cid in m.offered and m.open]
        result = handle_inbound(self.deps, message)
        self.messages[message.message_id] = (message, result)  # type: ignore[index]
        if cid in self.opted_out:  # who opted out has no offers left: nothing changes (I3)
            assert result.outcome == "no_open_offer"
            return message.message_id  # type: ignore[return-value]
        target = sid if explicit else (open_offers[0] if len(open_offers) == 1 else None)
        if not explicit and len(open_offers) > 1:
            assert result.outcome == "ambiguous"
            return message.message_id  # type: ignore[return-value]
        if target is None:
            return message.message_id  # type: ignore[return-value]
        model = self.shifts[target]
        if cid not in model.offered:
            assert result.outcome == "no_open_offer"
        elif accept:
            if model.cancelled:
                assert result.outcome == "unavailable"
            elif model.winner is None:
                refused = self._why_not(cid, target)
                if self._unmatched(cid, target) is not None:
                    refused = "not_eligible"
                assert result.outcome == (refused or "assigned")  # I7
                if refused is None:
                    model.winner = cid
            else:
                assert result.outcome == ("already_assigned" if model.winner == cid else "filled")
        elif model.open:
            assert result.outcome == "declined"
            model.declined.add(cid)
        return message.message_id  # type: ignore[return-value]

    @rule(mid=message_ids)
    def replay(self, mid: str) -> None:
        message, first = self.messages[mid]
        state = self._snapshot()
        assert handle_inbound(self.deps, message) == first  # I5
        assert self._snapshot() == state

    @rule(cid=caregiver_ids, roll=st.integers(min_value=0, max_value=7))
    def stop(self, cid: str, roll: int) -> None:
        if roll:  # STOP is rare in life; without this it would crowd out the replies
            return
        result = handle_inbound(self.deps, InboundMessage(sender=self.phones[cid], body="STOP"))
        assert result.outcome == "opted_out"
        self.opted_out.add(cid)

    @rule(sid=shift_ids)
    def cancel(self, sid: str) -> None:
        model = self.shifts[sid]
        try:
            shifts.cancel_shift(self.deps, sid)
        except Conflict:
            assert model.winner is not None
            return
        assert model.winner is None
        model.cancelled = True

    def _waves_fall_due(self) -> None:
        """Run the waves due now, as each tick does before the phone rounds; check each."""
        due = [
            sid
            for sid, m in self.shifts.items()
            if m.open and not m.escalated and m.next_wave and m.next_wave <= self.now
        ]
        left = {sid: self._qualified(sid) - self.shifts[sid].offered for sid in due}
        before = self._sends("sms")
        run_due_waves(self.deps)
        for sid in due:
            model = self.shifts[sid]
            offered = self._texted(sid)
            new = offered - model.offered
            # The next best of those qualified now and not texted yet, two at most (I3).
            assert new <= left[sid] and len(new) == min(WAVE_SIZE, len(left[sid]))
            model.offered = offered
            more = len(left[sid]) > WAVE_SIZE
            assert model.next_wave is not None
            model.next_wave = model.next_wave + timedelta(seconds=WAVE_SECONDS) if more else None
        assert len(self._sends("sms")) - len(before) == sum(
            min(WAVE_SIZE, len(ids)) for ids in left.values()
        )  # I2: nobody twice

    @rule(minutes=st.integers(min_value=1, max_value=12))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self._waves_fall_due()
        before = len(self._sends("call"))
        due = [
            sid
            for sid, m in self.shifts.items()
            if m.fanned_out and m.open and not m.escalated and m.due and m.due <= self.now
        ]
        expected = self._callees(due)
        run_due_phone_rounds(self.deps)
        for sid in due:
            self.shifts[sid].escalated = True
        assert sorted(self._sends("call")[before:]) == expected  # I4

    @rule(sid=shift_ids)
    def job_fires_again(self, sid: str) -> None:
        """A late or duplicate run of the escalation job."""
        model = self.shifts[sid]
        before = len(self._sends("call"))
        should_run = model.fanned_out and model.open and not model.escalated
        should_run = should_run and model.due is not None and model.due <= self.now
        expected = self._callees([sid]) if should_run else []
        run_phone_round(self.deps, sid)
        if should_run:
            model.escalated = True
        assert sorted(self._sends("call")[before:]) == expected  # I4

    def _callees(self, sids: list[str]) -> list[str]:
        return sorted(
            self.phones[c]
            for sid in sids
            for c in self.shifts[sid].offered
            if c not in self.shifts[sid].declined
            and c not in self.opted_out
            and self._why_not(c, sid) is None
        )

    def _snapshot(self) -> object:
        return (
            [self.deps.store.shifts.get(sid) for sid in self.shifts],
            [len(self.deps.store.events.for_shift(sid)) for sid in self.shifts],
            len(self.notifier.sent),
        )

    # --- invariants after every step ----------------------------------------

    @invariant()
    def one_winner_and_it_is_the_first_valid_accept(self) -> None:
        for sid, model in getattr(self, "shifts", {}).items():
            shift = self.deps.store.shifts.get(sid)
            assert shift is not None
            assigned = [e for e in self.deps.store.events.for_shift(sid) if e.type == "assigned"]
            assert len(assigned) <= 1  # I1
            assert shift.assigned_caregiver_id == model.winner
            assert (shift.status is ShiftStatus.FILLED) == (model.winner is not None)
            assert (shift.status is ShiftStatus.CANCELLED) == model.cancelled

    @invariant()
    def nobody_holds_overlapping_shifts_or_more_than_the_cap(self) -> None:
        if not hasattr(self, "deps"):
            return
        held: dict[str, list[ModelShift]] = {}
        for sid, model in self.shifts.items():
            shift = self.deps.store.shifts.get(sid)
            assert shift is not None
            if shift.assigned_caregiver_id is not None:
                held.setdefault(shift.assigned_caregiver_id, []).append(model)
        for mine in held.values():
            for i, a in enumerate(mine):
                for b in mine[i + 1 :]:
                    assert not (a.start < b.end and b.start < a.end)  # I7
            for lo, hi in WEEKS:
                assert sum(m.hours_in(lo, hi) for m in mine if m.org == "org") <= CAP

    @invariant()
    def one_text_per_offer_and_one_record_per_caregiver_channel_and_shift(self) -> None:
        if not hasattr(self, "notifier"):
            return
        texts = Counter(self._sends("sms"))
        offers = Counter(self.phones[c] for m in self.shifts.values() for c in m.offered)
        assert texts == offers  # I2 and I3
        for sid in self.shifts:
            keys = [
                (n.caregiver_id, n.channel) for n in self.deps.store.notifications.for_shift(sid)
            ]
            assert len(keys) == len(set(keys))

    def teardown(self) -> None:
        self.deps.store.close()


SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"


def machine_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        stateful_step_count=50,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


ShiftFillMachine.TestCase.settings = machine_settings(1500 if SOAK else 150)
TestShiftFillInvariants = ShiftFillMachine.TestCase


class RedisShiftFillMachine(ShiftFillMachine):
    """The same machine on the Redis store; every run starts under a key prefix of its own."""

    url = ""

    def make_store(self) -> Store:
        return RedisStore(self.url, prefix=unique_prefix())


def test_the_invariants_hold_on_the_redis_store(redis_server: RedisServer) -> None:
    RedisShiftFillMachine.url = redis_server.url
    run_state_machine_as_test(
        RedisShiftFillMachine, settings=machine_settings(1000 if SOAK else 50)
    )
