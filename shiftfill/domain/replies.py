"""The words shiftfill says to caregivers: offers, call scripts and answers to replies.

Every text that concerns one shift names it (organization, role, local day and
times) and carries its offer code, so a caregiver with several offers always
knows how to answer the right one. Times are shown in the organization's time
zone; words come from the caregiver's language's phrasebook in ``PHRASEBOOKS``,
so a third language is one more table, not more code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from shiftfill.domain.model import Organization, Shift
from shiftfill.domain.rules import Outcome

BRAND = "shiftfill"


@dataclass(frozen=True, slots=True)
class Phrasebook:
    """Everything one language needs: the locale calls are spoken in, calendar words, texts.

    ``texts`` are ``str.format`` templates; each names the fields it uses.
    """

    speech_locale: str
    weekdays: tuple[str, str, str, str, str, str, str]
    months: tuple[str, ...]
    am: str
    pm: str
    texts: Mapping[str, str]


ENGLISH = Phrasebook(
    speech_locale="en-US",
    weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    am="AM",
    pm="PM",
    texts={
        "date": "{weekday} {month} {day}",
        "shift": "{role} shift {date}, {start} - {end} {zone}",
        "offer_sms": "{org}: {shift}. Reply YES {code} to take it or NO to pass.",
        "offer_call": (
            "Hello, this is {org} with an open {shift}. Press 1 or say yes to take it. "
            "Press 2 or say no to pass."
        ),
        "how_to_answer": "Reply YES {code} to accept or NO {code} to decline.",
        "unknown_sender": (
            "This number is not registered with your agency's shift line. Please call the office."
        ),
        "no_open_offer": (
            "You have no open shift offers right now. We will text you when one comes up."
        ),
        "ambiguous": "You have {count} open offers. Reply {choices}.",
        "unknown_code": "No open offer has the code {code}.",
        "for_shift": "For the {shift}:",
        "choice": "YES {code} for the {shift}",
        "opted_out": (
            "You are unsubscribed and will get no more shift offers. Call the office to rejoin."
        ),
        "no_shift": (
            "Reply YES with the offer code to accept a shift, NO to decline, STOP to unsubscribe."
        ),
        "assigned": "Confirmed: the {shift} is yours. Thank you!",
        "already_assigned": (
            "You are already booked for the {shift}. Call the office if that must change."
        ),
        "filled": "Thank you for answering. The {shift} has already been filled.",
        "unavailable": "The {shift} is no longer available. It was cancelled.",
        "declined": "Thanks, we noted that you can't take the {shift}.",
        "conflict": (
            "Thank you, but the {shift} overlaps a shift you are already booked for, "
            "so we can't give it to you."
        ),
        "over_hours": (
            "Thank you, but the {shift} would take you over {cap} hours that week, "
            "so we can't give it to you."
        ),
        "not_eligible": (
            "Thank you, but you are not able to take the {shift} for this client, "
            "so we can't give it to you. Please call the office with any questions."
        ),
        "help": "{org}: {how} Reply STOP to unsubscribe.",
        "unrecognized": "Sorry, we did not understand. {how}",
        "no_answer": "We did not hear an answer. You can still reply to our text message. Goodbye.",
        "no_answer_shift": (
            "We did not hear an answer. You can still text YES {code} to accept the {shift}. "
            "Goodbye."
        ),
    },
)

SPANISH = Phrasebook(
    speech_locale="es-US",
    weekdays=("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
    months=("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    am="a. m.",
    pm="p. m.",
    texts={
        "date": "{weekday} {day} {month}",
        "shift": "turno de {role} {date}, {start} - {end} {zone}",
        "offer_sms": "{org}: {shift}. Responda SÍ {code} para tomarlo o NO para pasar.",
        "offer_call": (
            "Hola, le llama {org} con un {shift} disponible. Marque 1 o diga sí para tomarlo. "
            "Marque 2 o diga no para pasar."
        ),
        "how_to_answer": "Responda SÍ {code} para aceptar o NO {code} para rechazar.",
        "unknown_sender": (
            "Este número no está registrado en la línea de turnos de su agencia. "
            "Por favor llame a la oficina."
        ),
        "no_open_offer": (
            "No tiene ofertas de turno abiertas ahora. Le escribiremos cuando haya una."
        ),
        "ambiguous": "Tiene {count} ofertas abiertas. Responda {choices}.",
        "unknown_code": "Ninguna oferta abierta tiene el código {code}.",
        "for_shift": "Para el {shift}:",
        "choice": "SÍ {code} para el {shift}",
        "opted_out": (
            "Se dio de baja y no recibirá más ofertas de turnos. Llame a la oficina para volver."
        ),
        "no_shift": (
            "Responda SÍ con el código de la oferta para aceptar un turno, NO para rechazarlo, "
            "BAJA para darse de baja."
        ),
        "assigned": "Confirmado: el {shift} es suyo. ¡Gracias!",
        "already_assigned": (
            "Ya tiene reservado el {shift}. Llame a la oficina si necesita cambiarlo."
        ),
        "filled": "Gracias por responder. El {shift} ya fue cubierto.",
        "unavailable": "El {shift} ya no está disponible. Fue cancelado.",
        "declined": "Gracias, anotamos que no puede tomar el {shift}.",
        "conflict": (
            "Gracias, pero el {shift} se cruza con un turno que ya tiene reservado, "
            "así que no podemos dárselo."
        ),
        "over_hours": (
            "Gracias, pero con el {shift} pasaría de {cap} horas esa semana, "
            "así que no podemos dárselo."
        ),
        "not_eligible": (
            "Gracias, pero no puede tomar el {shift} para este cliente, "
            "así que no podemos dárselo. Llame a la oficina si tiene preguntas."
        ),
        "help": "{org}: {how} Responda BAJA para darse de baja.",
        "unrecognized": "Perdón, no entendimos. {how}",
        "no_answer": (
            "No escuchamos una respuesta. Todavía puede responder a nuestro mensaje de texto. "
            "Adiós."
        ),
        "no_answer_shift": (
            "No escuchamos una respuesta. Todavía puede escribir SÍ {code} para aceptar "
            "el {shift}. Adiós."
        ),
    },
)

PHRASEBOOKS: Mapping[str, Phrasebook] = {"en": ENGLISH, "es": SPANISH}
LANGUAGES = tuple(PHRASEBOOKS)
DEFAULT_LANGUAGE = "en"


def phrasebook(language: str) -> Phrasebook:
    """Return the phrasebook of ``language``, English for one shiftfill does not speak."""
    return PHRASEBOOKS.get(language, ENGLISH)


def speech_locale(language: str) -> str:
    """The locale a call in ``language`` is spoken and heard in (``es-US``)."""
    return phrasebook(language).speech_locale


def _say(language: str, key: str, **fields: object) -> str:
    return phrasebook(language).texts[key].format(**fields)


def _clock(at: datetime, book: Phrasebook, *, seconds: bool = False) -> str:
    hour = at.hour % 12 or 12
    second = f":{at.second:02d}" if seconds else ""
    return f"{hour}:{at.minute:02d}{second} {book.am if at.hour < 12 else book.pm}"


def _date(at: datetime, book: Phrasebook) -> str:
    return book.texts["date"].format(
        weekday=book.weekdays[at.weekday()], month=book.months[at.month - 1], day=at.day
    )


def describe(shift: Shift, org: Organization, language: str = DEFAULT_LANGUAGE) -> str:
    """Name a shift as a caregiver reads it: role, local day, 12-hour times and the zone.

    An end on another day names that day (``7:00 PM - Mon 7:00 AM``); a shift
    across a daylight-saving change names the zone at each end.
    """
    return (
        phrasebook(language)
        .texts["shift"]
        .format(role=shift.role_required, **_period(shift, org, language))
    )


def period(shift: Shift, org: Organization) -> str:
    """A shift's local day and hours: ``Sun Nov 29, 1:00 AM - 1:00 PM CST``."""
    return "{date}, {start} - {end} {zone}".format(**_period(shift, org, "en"))


def local_time(at: datetime, time_zone: str, *, seconds: bool = False) -> str:
    """A moment in an organization's zone, as its texts write it: ``Sun Nov 29, 1:00 AM CST``."""
    local = at.astimezone(ZoneInfo(time_zone))
    clock = _clock(local, ENGLISH, seconds=seconds)
    return f"{_date(local, ENGLISH)}, {clock} {local.tzname()}"


def _period(shift: Shift, org: Organization, language: str) -> Mapping[str, str | None]:
    return _local_period(shift.start_time, shift.end_time, org.time_zone, language)


@lru_cache(maxsize=4096)
def _local_period(
    start_time: datetime, end_time: datetime, time_zone: str, language: str
) -> Mapping[str, str | None]:
    """The parts of a shift's local day and hours, kept for the next text of the same shift:
    a fanout writes the same words to every caregiver who reads that language."""
    book = phrasebook(language)
    zone = ZoneInfo(time_zone)
    start, end = start_time.astimezone(zone), end_time.astimezone(zone)
    start_text = _clock(start, book)
    if start.tzname() != end.tzname():
        start_text += f" {start.tzname()}"
    end_text = _clock(end, book)
    days_apart = (end.date() - start.date()).days
    if days_apart >= 7:
        end_text = f"{_date(end, book)} {end_text}"
    elif days_apart:
        end_text = f"{book.weekdays[end.weekday()]} {end_text}"
    parts = {"date": _date(start, book), "start": start_text, "end": end_text, "zone": end.tzname()}
    return MappingProxyType(parts)


def _code(shift: Shift) -> str:
    return shift.fanout.offer_code if shift.fanout else ""


def how_to_answer(shift: Shift, language: str = DEFAULT_LANGUAGE) -> str:
    """Tell a caregiver how to answer an offer."""
    return _say(language, "how_to_answer", code=_code(shift))


def offer_sms(shift: Shift, org: Organization, language: str = DEFAULT_LANGUAGE) -> str:
    """Write the first-round text offering a shift."""
    return _say(
        language, "offer_sms", org=org.name, shift=describe(shift, org, language), code=_code(shift)
    )


def offer_call_script(shift: Shift, org: Organization, language: str = DEFAULT_LANGUAGE) -> str:
    """Write what the phone round says when the caregiver picks up."""
    return _say(language, "offer_call", org=org.name, shift=describe(shift, org, language))


def organization_for(shift: Shift, orgs: Mapping[str, Organization]) -> Organization:
    """The organization of ``shift`` among ``orgs``; a bare one in UTC if it is not there."""
    return orgs.get(shift.organization_id) or Organization(shift.organization_id, BRAND)


def reply_for(
    outcome: Outcome,
    shift: Shift | None = None,
    open_offers: Sequence[Shift] = (),
    *,
    language: str = DEFAULT_LANGUAGE,
    orgs: Mapping[str, Organization] | None = None,
) -> str:
    """Write the answer to an inbound message whose handling came to ``outcome``.

    ``orgs`` holds the organizations of the shifts named, by id.
    """
    orgs = orgs or {}

    def name(s: Shift) -> str:
        return describe(s, organization_for(s, orgs), language)

    if outcome is Outcome.UNKNOWN_SENDER:
        return _say(language, "unknown_sender")
    if outcome is Outcome.NO_OPEN_OFFER:
        return _say(language, "no_open_offer")
    if outcome is Outcome.AMBIGUOUS:
        choices = "; ".join(
            _say(language, "choice", code=_code(s), shift=name(s)) for s in open_offers
        )
        return _say(language, "ambiguous", count=len(open_offers), choices=choices)
    if outcome is Outcome.OPTED_OUT:
        return _say(language, "opted_out")
    if shift is None:
        return _say(language, "no_shift")
    org = organization_for(shift, orgs)
    how = how_to_answer(shift, language)
    if outcome is Outcome.HELP:
        return _say(language, "help", org=org.name, how=how)
    if outcome is Outcome.UNRECOGNIZED:
        return _say(language, "unrecognized", how=how)
    cap = f"{org.max_weekly_hours:g}" if org.max_weekly_hours is not None else ""
    return _say(language, outcome.value, shift=name(shift), cap=cap)


def unknown_code(
    code: str,
    open_offers: Sequence[Shift],
    *,
    language: str = DEFAULT_LANGUAGE,
    orgs: Mapping[str, Organization] | None = None,
) -> str:
    """Answer a code that names none of the caregiver's open offers, listing the right codes."""
    not_found = _say(language, "unknown_code", code=code)
    if len(open_offers) == 1:
        shift = open_offers[0]
        name = describe(shift, organization_for(shift, orgs or {}), language)
        how = how_to_answer(shift, language)
        return f"{not_found} {_say(language, 'for_shift', shift=name)} {how}"
    choices = reply_for(Outcome.AMBIGUOUS, None, open_offers, language=language, orgs=orgs)
    return f"{not_found} {choices}"


def no_answer_on_call(
    shift: Shift | None, org: Organization | None = None, language: str = DEFAULT_LANGUAGE
) -> str:
    """Say on a call when the caregiver pressed nothing and said nothing."""
    if shift is None:
        return _say(language, "no_answer")
    org = org or Organization(shift.organization_id, BRAND)
    return _say(
        language, "no_answer_shift", code=_code(shift), shift=describe(shift, org, language)
    )
