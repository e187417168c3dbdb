"""The inbound use case: read a caregiver's reply and act on it (docs/behaviour.md, Replies)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from shiftfill import phones
from shiftfill.domain import contact, fill, replies
from shiftfill.domain.intents import Intent, ParsedReply, parse_reply
from shiftfill.domain.model import Caregiver, Channel, Event, EventType, Shift
from shiftfill.domain.rules import Outcome, ShiftChange
from shiftfill.services.caregivers import opt_out_caregiver
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.organizations import as_stored, organization_of, organizations_of
from shiftfill.services.ports import Sender

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One reply, from either the provider's webhook or the JSON API."""

    sender: str
    body: str
    channel: Channel = Channel.SMS
    shift_id: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What a message came to, and the text answered to the caregiver, in their language."""

    outcome: Outcome
    reply: str
    shift_id: str | None = None
    caregiver_id: str | None = None
    language: str = replies.DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class _Target:
    """The shift a reply is about, or the offers it could be about."""

    shift: Shift | None
    candidates: Sequence[Shift] = ()
    # An offer code that names none of the caregiver's offers.
    unknown_code: str | None = None


def handle_inbound(deps: Dependencies, message: InboundMessage) -> InboundResult:
    """Act on one inbound message; a replayed message id gets the first outcome again.

    Nothing is remembered of a sender who is no caregiver.
    """
    if not message.message_id:
        found = _sender(deps, message.sender)
        if found is None:
            return _unknown_sender(deps, message.sender, message.channel)
        return _handle(deps, *found, message)
    for phone in _phones(deps, message.sender):
        # The lease on the message id and the sender's offers are read together.
        answered = deps.store.inbound.once(
            message.message_id,
            phone,
            lambda caregiver, offers: _handle(deps, caregiver, offers, message),
            encode=_encode,
            decode=_decode,
        )
        if answered is not None:
            return answered[0]
    return _unknown_sender(deps, message.sender, message.channel)


def _encode(result: InboundResult) -> str:
    return json.dumps(
        {
            "outcome": result.outcome.value,
            "reply": result.reply,
            "shift_id": result.shift_id,
            "caregiver_id": result.caregiver_id,
            "language": result.language,
        }
    )


def _decode(raw: str) -> InboundResult:
    data = json.loads(raw)
    return InboundResult(
        outcome=Outcome(data["outcome"]),
        reply=data["reply"],
        shift_id=data["shift_id"],
        caregiver_id=data["caregiver_id"],
        language=data.get("language", replies.DEFAULT_LANGUAGE),
    )


def handle_call_reply(
    deps: Dependencies, *, call_sid: str, said: str, fallback_phone: str | None
) -> InboundResult:
    """Act on a keypad press or spoken answer gathered on a call.

    On a call shiftfill placed, the provider's ``From`` is shiftfill's own number,
    so the caregiver and the shift come from the call's id; ``fallback_phone``
    (the called number) is used only for a call shiftfill has no record of.
    """
    call = deps.store.notifications.by_provider_id(call_sid)
    if call is not None and call.channel is not Channel.CALL:
        call = None  # a text's id: no call shiftfill placed
    if call is not None:
        caregiver = deps.store.caregivers.get(call.caregiver_id)
        shift_id: str | None = call.shift_id
    else:
        found = _sender(deps, fallback_phone) if fallback_phone else None
        caregiver = found[0] if found else None
        shift_id = None
    if caregiver is None:
        return _unknown_sender(deps, fallback_phone or "", Channel.CALL)
    if not said.strip():
        shift = deps.store.shifts.get(shift_id) if shift_id else None
        deps.metrics.inbound_handled(str(Outcome.UNRECOGNIZED))
        org = organization_of(deps, shift) if shift else None
        return InboundResult(
            Outcome.UNRECOGNIZED,
            replies.no_answer_on_call(shift, org, caregiver.language),
            shift_id=shift_id,
            caregiver_id=caregiver.id,
            language=caregiver.language,
        )
    message = InboundMessage(
        sender=caregiver.phone,
        body=said,
        channel=Channel.CALL,
        shift_id=shift_id,
        # One call can gather more than once; a re-delivery repeats the same input.
        message_id=f"{call_sid}:{said}",
    )
    return handle_inbound(deps, message)


def _handle(
    deps: Dependencies, caregiver: Caregiver, offers: Sequence[Shift], message: InboundMessage
) -> InboundResult:
    result = _act(deps, caregiver, offers, message)
    deps.metrics.inbound_handled(str(result.outcome))
    return result


def _act(
    deps: Dependencies, caregiver: Caregiver, offers: Sequence[Shift], message: InboundMessage
) -> InboundResult:
    parsed = parse_reply(message.body)
    if parsed.intent is Intent.OPT_OUT:
        return _opt_out(deps, caregiver, message)

    target = _find_target(caregiver, offers, message.shift_id, parsed.offer_code)
    if parsed.intent in (Intent.HELP, Intent.UNKNOWN):
        outcome = Outcome.HELP if parsed.intent is Intent.HELP else Outcome.UNRECOGNIZED
        return _instructions(deps, outcome, caregiver, target)
    if target.shift is None:
        if target.unknown_code is not None and target.candidates:
            # A stale or mistyped code: the caregiver still has offers to answer.
            reply = replies.unknown_code(
                target.unknown_code,
                target.candidates,
                language=caregiver.language,
                orgs=organizations_of(deps, target.candidates),
            )
            return InboundResult(
                Outcome.NO_OPEN_OFFER, reply, caregiver_id=caregiver.id, language=caregiver.language
            )
        outcome = Outcome.AMBIGUOUS if target.candidates else Outcome.NO_OPEN_OFFER
        return InboundResult(
            outcome,
            replies.reply_for(
                outcome,
                open_offers=target.candidates,
                language=caregiver.language,
                orgs=organizations_of(deps, target.candidates),
            ),
            caregiver_id=caregiver.id,
            language=caregiver.language,
        )
    return _decide(deps, caregiver, target.shift, parsed, message)


def _unknown_sender(deps: Dependencies, sender: str, channel: Channel) -> InboundResult:
    """Answer a sender who is no caregiver, counted the same on a text and on a call."""
    deps.metrics.inbound_handled(str(Outcome.UNKNOWN_SENDER))
    log.info(
        "%s from unknown number %s",
        "call reply" if channel is Channel.CALL else "message",
        phones.mask(sender.strip()),
        extra={"event": "unknown_sender", "channel": str(channel)},
    )
    return InboundResult(Outcome.UNKNOWN_SENDER, replies.reply_for(Outcome.UNKNOWN_SENDER))


def _sender(deps: Dependencies, raw: str) -> Sender | None:
    """The caregiver who sent a message and their recent offers, or ``None``."""
    for phone in _phones(deps, raw):
        found = deps.store.shifts.offers_by_phone(phone)
        if found is not None:
            return found
    return None


def _phones(deps: Dependencies, raw: str) -> Iterator[str]:
    """The numbers a sender may be stored under: as sent, then in E.164 if that differs.

    Providers send E.164 already: the first try is a direct hit, without the (slow)
    full parse, which runs only when it missed.
    """
    sent = raw.strip()
    yield sent
    try:
        phone = phones.normalise(raw, deps.settings.phone_region)
    except phones.InvalidPhoneNumber:
        return
    if phone != sent:
        yield phone


def _find_target(
    caregiver: Caregiver,
    offers: Sequence[Shift],
    shift_id: str | None,
    offer_code: str | None,
) -> _Target:
    """Resolve which offer a reply answers: explicit id, then offer code, then the only open one.

    With no open offer left, the most recent offer is the target, so a late
    "yes" hears that the shift was filled or cancelled rather than nothing. The
    offers of a caregiver who opted out or was deactivated no longer count.
    """
    if not contact.reachable(caregiver):
        offers = []
    open_offers = [s for s in offers if s.is_open]
    if shift_id is not None:
        return _Target(next((s for s in offers if s.id == shift_id), None))
    if offer_code is not None:
        matching = [s for s in offers if s.fanout and s.fanout.offer_code == offer_code]
        matching.sort(key=lambda s: not s.is_open)
        if matching:
            return _Target(matching[0])
        return _Target(None, candidates=open_offers, unknown_code=offer_code)
    if len(open_offers) > 1:
        return _Target(None, candidates=open_offers)
    if open_offers:
        return _Target(open_offers[0])
    return _Target(offers[0] if offers else None)


def _instructions(
    deps: Dependencies, outcome: Outcome, caregiver: Caregiver, target: _Target
) -> InboundResult:
    shifts = [*target.candidates, *([target.shift] if target.shift else [])]
    orgs = organizations_of(deps, shifts)
    language = caregiver.language
    if target.unknown_code is not None and target.candidates:
        reply = replies.unknown_code(
            target.unknown_code, target.candidates, language=language, orgs=orgs
        )
    elif target.candidates:
        reply = replies.reply_for(
            Outcome.AMBIGUOUS, open_offers=target.candidates, language=language, orgs=orgs
        )
    else:
        reply = replies.reply_for(outcome, target.shift, language=language, orgs=orgs)
    shift_id = target.shift.id if target.shift else None
    return InboundResult(
        outcome, reply, shift_id=shift_id, caregiver_id=caregiver.id, language=language
    )


def _decide(
    deps: Dependencies,
    caregiver: Caregiver,
    shift: Shift,
    parsed: ParsedReply,
    message: InboundMessage,
) -> InboundResult:
    now = deps.clock()
    received = Event(
        at=now,
        type=EventType.REPLY_RECEIVED,
        caregiver_id=caregiver.id,
        detail={
            "channel": str(message.channel),
            "intent": str(parsed.intent),
            "body": message.body,
        },
    )

    accepts = parsed.intent is Intent.ACCEPT
    decide = partial(
        fill.answer,
        caregiver_id=caregiver.id,
        accepts=accepts,
        received=received,
        now=now,
        fallback=as_stored(deps, shift, None),
    )
    change = deps.store.shifts.apply(shift.id, decide)
    # A claim read its organization in its own step; a decline's is read now, for the reply.
    org = change.organization or organization_of(deps, shift)
    outcome = change.outcome
    assert outcome is not None
    _report_decision(deps, change, caregiver, message)
    return InboundResult(
        outcome,
        replies.reply_for(outcome, change.shift, language=caregiver.language, orgs={org.id: org}),
        shift_id=shift.id,
        caregiver_id=caregiver.id,
        language=caregiver.language,
    )


def _report_decision(
    deps: Dependencies, change: ShiftChange, caregiver: Caregiver, message: InboundMessage
) -> None:
    """Log and count a claim that won or a decline that was noted."""
    shift = change.shift
    if not change.changed:
        return
    extra = {"shift_id": shift.id, "caregiver_id": caregiver.id, "channel": str(message.channel)}
    who = f"{caregiver.id} ({phones.mask(caregiver.phone)})"
    if change.outcome is Outcome.ASSIGNED and shift.fanout and shift.filled_at:
        fill_round = str(shift.fanout.round)
        seconds = (shift.filled_at - shift.fanout.started_at).total_seconds()
        deps.metrics.shift_filled(fill_round, seconds)
        log.info(
            "shift %s assigned to caregiver %s by %s in the %s round, %.0f s after the fanout",
            shift.id,
            who,
            message.channel,
            fill_round,
            seconds,
            extra={"event": "assigned", "round": fill_round, **extra},
        )
    elif change.outcome is Outcome.DECLINED:
        log.info(
            "caregiver %s declined shift %s by %s",
            who,
            shift.id,
            message.channel,
            extra={"event": "declined", **extra},
        )


def _opt_out(deps: Dependencies, caregiver: Caregiver, message: InboundMessage) -> InboundResult:
    opt_out_caregiver(deps, caregiver.id, via=str(message.channel))
    return InboundResult(
        Outcome.OPTED_OUT,
        replies.reply_for(Outcome.OPTED_OUT, language=caregiver.language),
        caregiver_id=caregiver.id,
        language=caregiver.language,
    )
