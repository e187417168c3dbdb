"""The words shiftfill says to caregivers: offers, call scripts and answers to replies.

Every text that concerns one shift names it (role, start) and carries its offer
code, so a caregiver with several offers always knows how to answer the right one.
Times are shown in UTC, the only zone shiftfill stores.
"""

from __future__ import annotations

from collections.abc import Sequence

from shiftfill.domain.model import Shift
from shiftfill.domain.rules import Outcome

BRAND = "shiftfill"


def describe(shift: Shift) -> str:
    """Name a shift the way a caregiver reads it: role, day, start and end time."""
    start, end = shift.start_time, shift.end_time
    return f"{shift.role_required} shift {start:%a %b} {start.day} {start:%H:%M}-{end:%H:%M} UTC"


def _code(shift: Shift) -> str:
    return shift.fanout.offer_code if shift.fanout else ""


def how_to_answer(shift: Shift) -> str:
    """Tell a caregiver how to answer an offer."""
    code = _code(shift)
    return f"Reply YES {code} to accept or NO {code} to decline."


def offer_sms(shift: Shift) -> str:
    """Write the first-round text offering a shift."""
    return f"{BRAND}: open {describe(shift)} ({shift.organization_id}). {how_to_answer(shift)}"


def offer_call_script(shift: Shift) -> str:
    """Write what the phone round says when the caregiver picks up."""
    return (
        f"Hello, this is {BRAND} with an open {describe(shift)} at "
        f"{shift.organization_id}. Press 1 or say yes to accept. "
        f"Press 2 or say no to decline."
    )


def reply_for(
    outcome: Outcome,
    shift: Shift | None = None,
    open_offers: Sequence[Shift] = (),
) -> str:
    """Write the answer to an inbound message whose handling came to ``outcome``."""
    if outcome is Outcome.UNKNOWN_SENDER:
        return (
            "This number is not registered with your agency's shift line. Please call the office."
        )
    if outcome is Outcome.NO_OPEN_OFFER:
        return "You have no open shift offers right now. We will text you when one comes up."
    if outcome is Outcome.AMBIGUOUS:
        choices = "; ".join(f"YES {_code(s)} for the {describe(s)}" for s in open_offers)
        return f"You have {len(open_offers)} open offers. Reply {choices}."
    if outcome is Outcome.OPTED_OUT:
        return "You are unsubscribed and will get no more shift offers. Call the office to rejoin."
    if shift is None:
        return (
            "Reply YES with the offer code to accept a shift, NO to decline, STOP to unsubscribe."
        )
    what = describe(shift)
    if outcome is Outcome.ASSIGNED:
        return f"Confirmed: the {what} is yours. Thank you!"
    if outcome is Outcome.ALREADY_ASSIGNED:
        return f"You are already booked for the {what}. Call the office if that must change."
    if outcome is Outcome.FILLED:
        return f"Thank you for answering. The {what} has already been filled."
    if outcome is Outcome.UNAVAILABLE:
        return f"The {what} is no longer available. It was cancelled."
    if outcome is Outcome.DECLINED:
        return f"Thanks, we noted that you can't take the {what}."
    if outcome is Outcome.HELP:
        return f"{BRAND}: {how_to_answer(shift)} Reply STOP to unsubscribe."
    return f"Sorry, we did not understand. {how_to_answer(shift)}"


def unknown_code(code: str, open_offers: Sequence[Shift]) -> str:
    """Answer a code that names none of the caregiver's open offers, listing the right codes."""
    not_found = f"No open offer has the code {code}."
    if len(open_offers) == 1:
        shift = open_offers[0]
        return f"{not_found} For the {describe(shift)}: {how_to_answer(shift)}"
    choices = "; ".join(f"YES {_code(s)} for the {describe(s)}" for s in open_offers)
    return f"{not_found} You have {len(open_offers)} open offers. Reply {choices}."


def no_answer_on_call(shift: Shift | None) -> str:
    """Say on a call when the caregiver pressed nothing and said nothing."""
    if shift is None:
        return "We did not hear an answer. You can still reply to our text message. Goodbye."
    return (
        f"We did not hear an answer. You can still text YES {_code(shift)} to accept "
        f"the {describe(shift)}. Goodbye."
    )
