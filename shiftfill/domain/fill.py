"""The decisions of a whole step: a shift's change, the events it notes, the messages it asks.

Each takes the shift as the step read it and the step's ``StepReads``, and returns
the ``ShiftChange`` a store persists as it is. The use cases pass these (with the
facts they read before the step) to ``ShiftRepository.apply``; no other code runs
inside a step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from shiftfill.domain import contact, rules, webhooks
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Caregiver, Channel, Event, EventType, Organization, Shift
from shiftfill.domain.rules import Outcome, Outreach, ShiftChange, StepReads


def fan_out(
    shift: Shift,
    reads: StepReads,
    *,
    now: datetime,
    qualified: Sequence[str],
    not_offered: Mapping[str, NotAsked],
    escalation_delay: timedelta,
    next_wave_at: datetime | None = None,
    waiting: int = 0,
) -> ShiftChange:
    """Start the fanout with a free code, texting ``qualified``; note who was left out and why.

    ``not_offered`` are the caregivers of the role whom ``contact.why_not_ask``
    refused; they get no text, and the ``fanout_started`` event counts them by reason.
    With waves, ``qualified`` is the first wave, ``waiting`` how many qualified wait
    for later ones, and ``next_wave_at`` when the second is due.
    """
    change = rules.start_fanout(
        shift,
        now=now,
        offer_code=reads.free_code(),
        qualified_ids=qualified,
        escalation_delay=escalation_delay,
        next_wave_at=next_wave_at,
    )
    if not change.changed:
        return change
    code = change.shift.fanout.offer_code if change.shift.fanout else None
    detail: dict[str, object] = {"offered": len(qualified), "offer_code": code}
    if waiting:
        detail["waiting"] = waiting
    if not_offered:
        # How ops learns who was left out and why; those caregivers get no text.
        detail["not_offered"] = dict(Counter(map(str, not_offered.values())))
    change = change.noting(Event(at=now, type=EventType.FANOUT_STARTED, detail=detail))
    if not qualified and not waiting:
        change = change.noting(
            Event(at=now, type=EventType.NO_ONE_QUALIFIED, detail={"role": shift.role_required})
        )
    announced = webhooks.about(change.shift, webhooks.SHIFT_FANOUT_STARTED, now)
    return change.reaching(Outreach(Channel.SMS, qualified, now)).announcing(announced)


def wave(
    shift: Shift,
    reads: StepReads,
    *,
    now: datetime,
    number: int,
    caregiver_ids: Sequence[str],
    next_wave_at: datetime | None,
) -> ShiftChange:
    """Send wave ``number`` of the fanout to ``caregiver_ids`` if it is due and not sent yet.

    ``caregiver_ids`` are the best of those qualified and not yet offered, as
    ranked before the step; the step texts only those not offered meanwhile.
    """
    change = rules.send_wave(
        shift, now=now, wave=number, caregiver_ids=caregiver_ids, next_wave_at=next_wave_at
    )
    if not change.changed or change.indexes is None or change.indexes.wave is None:
        return change
    _, sent = change.indexes.wave
    event = Event(at=now, type=EventType.WAVE_SENT, detail={"wave": number, "offered": len(sent)})
    return change.noting(event).reaching(Outreach(Channel.SMS, sent, now))


def why_not_called(
    shift: Shift,
    caregivers: Mapping[str, Caregiver],
    held: Mapping[str, Sequence[Shift]],
    *,
    at: datetime,
    organization: Organization,
    wants: contact.Needs | None = None,
) -> dict[str, NotAsked | None]:
    """Each offered caregiver, in the order offered, with why they get no call (``None``: called).

    ``caregivers`` are the offered ones as read before the step (one not found
    gets no call), ``held`` the assignments of those who hold any.
    """
    fanout = shift.fanout
    if fanout is None:
        return {}
    return {
        cid: contact.why_not_ask(
            shift,
            cid,
            caregiver=caregivers[cid],
            channel=Channel.CALL,
            at=at,
            organization=organization,
            assigned=held.get(cid),
            wants=wants,
        )
        for cid in fanout.offered_caregiver_ids
        if cid in caregivers
    }


def phone_round(
    shift: Shift,
    reads: StepReads,
    *,
    at: datetime,
    reasons: Mapping[str, NotAsked | None],
    organization: Organization,
    wants: contact.Needs | None = None,
    unfilled_after: timedelta | None = None,
) -> ShiftChange:
    """Start the phone round if it is due: call everyone ``contact.why_not_ask`` allows.

    ``reasons`` is ``why_not_called`` of the shift as read before the step, with
    the caregivers, assignments and organization read then; inside the step the
    shift's own state is asked again (``contact.askable``), so a decline that
    landed a moment before is honoured. A caregiver offered since that read (a
    wave another process sent meanwhile) is read and asked here, in the step, so
    the round calls every caregiver texted by then. A caregiver kept from the
    shift by their assignments or quiet hours is noted with a ``call_skipped``
    event saying why. ``unfilled_after``: how long after the round the
    ``shift.unfilled`` alarm goes.
    """
    change = rules.begin_phone_round(shift, now=at, unfilled_after=unfilled_after)
    if not change.changed:
        return change
    reasons = {
        **reasons,
        **_newly_offered(change.shift, reads, reasons, at, organization, wants),
    }
    still = set(contact.askable(change.shift, reasons, Channel.CALL))
    callees = [cid for cid, reason in reasons.items() if reason is None and cid in still]
    skipped = [
        Event(at=at, type=EventType.CALL_SKIPPED, caregiver_id=cid, detail={"reason": str(reason)})
        for cid, reason in reasons.items()
        if reason is not None and reason.noted and cid in still
    ]
    escalated = Event(at=at, type=EventType.ESCALATED, detail={"calls": len(callees)})
    announced = webhooks.about(change.shift, webhooks.SHIFT_ESCALATED, at, called=len(callees))
    return (
        change.noting(escalated, *skipped)
        .reaching(Outreach(Channel.CALL, callees, at))
        .announcing(announced)
    )


def _newly_offered(
    shift: Shift,
    reads: StepReads,
    known: Mapping[str, NotAsked | None],
    at: datetime,
    organization: Organization,
    wants: contact.Needs | None,
) -> dict[str, NotAsked | None]:
    """``why_not_called`` of those the shift was offered to since ``known`` was worked out."""
    fanout = shift.fanout
    if fanout is None or len(fanout.offered_caregiver_ids) == len(known):
        return {}  # the common case: nobody was offered in between
    since = contact.eligibility_since(shift)
    caregivers: dict[str, Caregiver] = {}
    held: dict[str, list[Shift]] = {}
    for cid in fanout.offered_caregiver_ids:
        if cid in known:
            continue
        caregiver = reads.caregiver(cid)
        if caregiver is None:
            continue
        caregivers[cid] = caregiver
        if contact.reachable(caregiver):
            held[cid] = reads.assignments(cid, since)
    return (
        why_not_called(shift, caregivers, held, at=at, organization=organization, wants=wants)
        if caregivers
        else {}
    )


def answer(
    shift: Shift,
    reads: StepReads,
    *,
    caregiver_id: str,
    accepts: bool,
    received: Event,
    now: datetime,
    fallback: Organization,
) -> ShiftChange:
    """Decide a caregiver's accepting or declining reply, noting the reply and what it came to.

    A claim reads the caregiver's assignments and the shift's organization in its
    own step (I7 in docs/invariants.md); ``fallback`` stands for an organization not stored.
    """
    organization: Organization | None = None
    if accepts:
        assigned, stored = reads.assignments_and_organization(
            caregiver_id, contact.eligibility_since(shift), shift.organization_id
        )
        organization = stored or fallback
        # The caregiver as they are now, in this step: a STOP or a deactivation that
        # lands first is honoured, as are the client's lists and the credentials.
        caregiver = reads.caregiver(caregiver_id)
        wants = None
        if shift.client_id is not None or shift.required_credentials:
            client = reads.client(shift.client_id) if shift.client_id else None
            wants = contact.needs(shift, client, organization)
        change = rules.claim(
            shift,
            caregiver_id,
            now=now,
            assigned=assigned,
            organization=organization,
            caregiver=caregiver,
            wants=wants,
        )
    else:
        change = rules.decline(shift, caregiver_id)
    # One change built whole: every reply runs this, on the inbound path.
    change = ShiftChange(
        change.shift,
        change.changed,
        change.outcome,
        (received, *_outcome_events(change, caregiver_id, now)),
        None,
        change.indexes,
        organization,
    )
    if change.changed and change.outcome is Outcome.ASSIGNED and shift.fanout is not None:
        round = str(shift.fanout.round)
        filled = webhooks.about(
            change.shift, webhooks.SHIFT_FILLED, now, caregiver_id=caregiver_id, round=round
        )
        change = change.announcing(filled)
    return change


_OUTCOME_EVENTS = {
    Outcome.ASSIGNED: EventType.ASSIGNED,
    Outcome.FILLED: EventType.CLAIM_LOST,
    Outcome.DECLINED: EventType.DECLINED,
    Outcome.CONFLICT: EventType.CLAIM_REFUSED,
    Outcome.OVER_HOURS: EventType.CLAIM_REFUSED,
    Outcome.NOT_ELIGIBLE: EventType.CLAIM_REFUSED,
}


def _outcome_events(change: ShiftChange, caregiver_id: str, now: datetime) -> list[Event]:
    kind = _OUTCOME_EVENTS.get(change.outcome)  # type: ignore[arg-type]
    if kind is None or (kind is EventType.DECLINED and not change.changed):
        return []
    detail = {"reason": str(change.outcome)} if kind is EventType.CLAIM_REFUSED else {}
    return [Event(at=now, type=kind, caregiver_id=caregiver_id, detail=detail)]


def cancel(shift: Shift, reads: StepReads, *, now: datetime) -> ShiftChange:
    """Cancel an open shift, noting it; its phone round and offer code go with it."""
    change = rules.cancel(shift, now=now)
    if not change.changed:
        return change
    announced = webhooks.about(change.shift, webhooks.SHIFT_CANCELLED, now)
    return change.noting(Event(at=now, type=EventType.CANCELLED)).announcing(announced)


def unfilled(shift: Shift, reads: StepReads, *, now: datetime) -> ShiftChange:
    """Raise the unfilled alarm of an open shift whose time for it has come, once."""
    change = rules.mark_unfilled(shift, now=now)
    if not change.changed:
        return change
    announced = webhooks.about(change.shift, webhooks.SHIFT_UNFILLED, now)
    return change.noting(Event(at=now, type=EventType.UNFILLED)).announcing(announced)
