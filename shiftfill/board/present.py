"""How the board writes times, durations, statuses and events for a person.

Times are the organization's local time, written as the texts to caregivers write
them (``shiftfill.domain.replies``), never UTC: a coordinator in Chicago reads
``Sun Nov 29, 1:00 AM CST``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shiftfill.domain import replies
from shiftfill.domain.model import Client, Event, Organization, Round, Shift

# Events in words; a type not listed (a newer one) is shown as its name.
EVENT_WORDS = {
    "fanout_started": "Fanout started",
    "sms_sent": "Text sent",
    "sms_failed": "Text failed",
    "sms_delivered": "Text delivered",
    "sms_undelivered": "Text not delivered",
    "escalated": "Phone round",
    "call_placed": "Call placed",
    "call_failed": "Call failed",
    "call_answered": "Call answered",
    "call_unanswered": "Call not answered",
    "call_skipped": "Call skipped",
    "reply_received": "Reply received",
    "declined": "Declined",
    "assigned": "Took the shift",
    "claim_lost": "Answered too late",
    "claim_refused": "Accept refused",
    "cancelled": "Shift cancelled",
    "opted_out": "Opted out",
    "no_one_qualified": "Nobody qualified",
}
ROUND_WORDS = {Round.SMS: "text", Round.PHONE: "phone"}
# Why a caregiver of the role was not offered a shift.
LEFT_OUT_WORDS = {
    "role": "other role",
    "opted_out": "opted out",
    "inactive": "inactive",
    "conflict": "booked on an overlapping shift",
    "over_hours": "over the weekly hours cap",
    "excluded": "excluded by the client",
    "out_of_range": "too far away",
    "credential_missing": "credential missing",
    "credential_expired": "credential expired",
    "not_eligible": "not eligible for the client or the credentials",
}


def local(at: datetime | None, org: Organization, *, seconds: bool = False) -> str:
    """``at`` in the organization's time zone; an em dash for no time."""
    return replies.local_time(at, org.time_zone, seconds=seconds) if at else "—"


def when(at: datetime | None, org: Organization, now: datetime) -> str:
    """``at`` in local time, without the date when it falls on the local today."""
    if at is None:
        return "—"
    written = local(at, org)
    zone = ZoneInfo(org.time_zone)
    if at.astimezone(zone).date() == now.astimezone(zone).date():
        return written.split(", ", 1)[1]
    return written


def period(shift: Shift, org: Organization) -> str:
    """The shift's local day and hours: ``Sun Nov 29, 1:00 AM - 1:00 PM CST``."""
    return replies.period(shift, org)


def duration(span: timedelta | None) -> str:
    """A span as a person says it: ``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    if span is None:
        return "—"
    seconds = max(0, round(span.total_seconds()))  # as the log says it: 31.9 s is 32 s
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relative(at: datetime, now: datetime) -> str:
    """``in 3 h 05 min`` or ``12 min ago``, to the minute.

    To the minute only, so the rendered board changes once a minute at most when
    nothing else does; the script counts the seconds in the browser.
    """
    seconds = (at - now).total_seconds()
    whole = timedelta(minutes=int(abs(seconds) // 60))
    said = duration(whole) if whole else "less than a minute"
    return f"in {said}" if seconds >= 0 else f"{said} ago"


def event_words(event: Event) -> str:
    """What an entry of the trail says happened, without its caregiver."""
    words = EVENT_WORDS.get(str(event.type), str(event.type).replace("_", " "))
    detail = _detail_words(event.detail)
    return f"{words} ({detail})" if detail else words


def _detail_words(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict):
            value = ", ".join(f"{LEFT_OUT_WORDS.get(k, k)}: {v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


def client_name(client: Client | None, shift: Shift) -> str:
    """The shift's client by name; by id when the record is gone."""
    return client.name if client is not None else shift.client_id or ""


HELPERS = {
    "client_name": client_name,
    "local": local,
    "when": when,
    "period": period,
    "duration": duration,
    "relative": relative,
    "event_words": event_words,
    "round_words": ROUND_WORDS,
    "left_out_words": LEFT_OUT_WORDS,
}
