"""JSON forms of the domain records, as the Redis store keeps them.

Every record is written and read field by field, by name, so a field added to a
dataclass fails loudly here instead of landing in the wrong place.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from shiftfill.domain.contact import NEVER, Reach, reach_from, reach_of
from shiftfill.domain.model import (
    Caregiver,
    Channel,
    Client,
    Credential,
    Event,
    EventType,
    Fanout,
    Location,
    Notification,
    NotificationStatus,
    Organization,
    QuietHours,
    Shift,
    ShiftStatus,
    Waves,
)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def dump_time(value: datetime) -> str:
    return value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def dump_caregiver(caregiver: Caregiver) -> str:
    return json.dumps(
        {
            "id": caregiver.id,
            "name": caregiver.name,
            "role": caregiver.role,
            "phone": caregiver.phone,
            "opted_out": caregiver.opted_out,
            "active": caregiver.active,
            "language": caregiver.language,
            "quiet_hours": _dump_quiet_hours(caregiver.quiet_hours),
            "location": _dump_location(caregiver.location),
            "max_travel_miles": caregiver.max_travel_miles,
            "credentials": [
                {"code": c.code, "expires_on": c.expires_on.isoformat() if c.expires_on else None}
                for c in caregiver.credentials
            ],
        }
    )


def load_caregiver(raw: str | bytes) -> Caregiver:
    data = json.loads(raw)
    return Caregiver(
        id=data["id"],
        name=data["name"],
        role=data["role"],
        phone=data["phone"],
        opted_out=data["opted_out"],
        active=data["active"],
        # Records written before caregivers had a language read as English, no quiet hours.
        language=data.get("language", "en"),
        quiet_hours=_load_quiet_hours(data.get("quiet_hours")),
        # Records written before clients existed: no place, any distance, no credentials.
        location=_load_location(data.get("location")),
        max_travel_miles=data.get("max_travel_miles"),
        credentials=tuple(
            Credential(
                code=c["code"],
                expires_on=date.fromisoformat(c["expires_on"]) if c["expires_on"] else None,
            )
            for c in data.get("credentials", ())
        ),
    )


def _dump_location(location: Location | None) -> dict[str, float] | None:
    return None if location is None else {"lat": location.lat, "lon": location.lon}


def _load_location(data: dict[str, float] | None) -> Location | None:
    return None if data is None else Location(lat=data["lat"], lon=data["lon"])


def dump_client(client: Client) -> str:
    return json.dumps(
        {
            "id": client.id,
            "organization_id": client.organization_id,
            "name": client.name,
            "location": _dump_location(client.location),
            "preferred_caregiver_ids": client.preferred_caregiver_ids,
            "excluded_caregiver_ids": client.excluded_caregiver_ids,
        }
    )


def load_client(raw: str | bytes) -> Client:
    data = json.loads(raw)
    return Client(
        id=data["id"],
        organization_id=data["organization_id"],
        name=data["name"],
        location=_load_location(data["location"]),
        preferred_caregiver_ids=tuple(data["preferred_caregiver_ids"]),
        excluded_caregiver_ids=tuple(data["excluded_caregiver_ids"]),
    )


def _dump_quiet_hours(quiet: QuietHours | None) -> dict[str, str] | None:
    if quiet is None:
        return None
    return {"start": quiet.start.isoformat("minutes"), "end": quiet.end.isoformat("minutes")}


def _load_quiet_hours(data: dict[str, str] | None) -> QuietHours | None:
    if data is None:
        return None
    return QuietHours(start=time.fromisoformat(data["start"]), end=time.fromisoformat(data["end"]))


def dump_organization(organization: Organization) -> str:
    return json.dumps(
        {
            "id": organization.id,
            "name": organization.name,
            "time_zone": organization.time_zone,
            "max_weekly_hours": organization.max_weekly_hours,
            "waves": (
                None
                if organization.waves is None
                else {
                    "size": organization.waves.size,
                    "interval_seconds": organization.waves.interval_seconds,
                }
            ),
        }
    )


def load_organization(raw: str | bytes) -> Organization:
    data = json.loads(raw)
    return Organization(
        id=data["id"],
        name=data["name"],
        time_zone=data["time_zone"],
        max_weekly_hours=data["max_weekly_hours"],
        waves=Waves(**data["waves"]) if data.get("waves") else None,
    )


def _dump_fanout(fanout: Fanout | None) -> dict[str, Any] | None:
    if fanout is None:
        return None
    return {
        "started_at": _time(fanout.started_at),
        "offer_code": fanout.offer_code,
        "escalation_due_at": _time(fanout.escalation_due_at),
        "offered_count": len(fanout.offered_caregiver_ids),
        "declined_caregiver_ids": fanout.declined_caregiver_ids,
        "escalated_at": _time(fanout.escalated_at),
        "waves_sent": fanout.waves_sent,
        "next_wave_at": _time(fanout.next_wave_at),
        "unfilled_due_at": _time(fanout.unfilled_due_at),
        "unfilled_at": _time(fanout.unfilled_at),
    }


def _load_fanout(data: dict[str, Any] | None, offered: tuple[str, ...]) -> Fanout | None:
    if data is None:
        return None
    return Fanout(
        started_at=datetime.fromisoformat(data["started_at"]),
        offer_code=data["offer_code"],
        escalation_due_at=datetime.fromisoformat(data["escalation_due_at"]),
        offered_caregiver_ids=offered,
        declined_caregiver_ids=tuple(data["declined_caregiver_ids"]),
        escalated_at=_parse_time(data["escalated_at"]),
        # Fanouts stored before waves were one wave.
        waves_sent=data.get("waves_sent", 1),
        next_wave_at=_parse_time(data.get("next_wave_at")),
        # Absent in fanouts stored before the unfilled alarm existed.
        unfilled_due_at=_parse_time(data.get("unfilled_due_at")),
        unfilled_at=_parse_time(data.get("unfilled_at")),
    )


def dump_shift(shift: Shift) -> str:
    """A shift without its offered ids: those are written once, by ``dump_offered``.

    A fanout to ten thousand offers ten thousand ids that never change, while
    the rest of the shift changes with every decline and is read by every reply
    and every send: apart, a read is half a kilobyte instead of a hundred.
    """
    return json.dumps(
        {
            "id": shift.id,
            "organization_id": shift.organization_id,
            "role_required": shift.role_required,
            "start_time": _time(shift.start_time),
            "end_time": _time(shift.end_time),
            "status": shift.status.value,
            "assigned_caregiver_id": shift.assigned_caregiver_id,
            "filled_at": _time(shift.filled_at),
            "cancelled_at": _time(shift.cancelled_at),
            "fanout": _dump_fanout(shift.fanout),
            "client_id": shift.client_id,
            "required_credentials": shift.required_credentials,
        }
    )


def parse_shift(raw: str | bytes) -> dict[str, Any]:
    """The stored form of a shift, to be finished by ``load_shift`` with its offered ids."""
    data: dict[str, Any] = json.loads(raw)
    return data


def fanout_identity(data: dict[str, Any]) -> str | None:
    """Names a parsed shift's fanout (its shift, start and code), or ``None`` without one.

    A wave's offered ids never change, so a process may keep a fanout's ids under
    this name, which counts its waves.
    """
    fanout = data["fanout"]
    if fanout is None:
        return None
    return f"{data['id']}|{fanout['started_at']}|{fanout['offer_code']}|{waves_of(data)}"


def waves_of(data: dict[str, Any]) -> int:
    """How many waves a parsed shift's fanout has sent (each has its ids under its own key)."""
    fanout = data["fanout"]
    return int(fanout.get("waves_sent", 1)) if fanout else 0


def load_shift(data: dict[str, Any], offered: tuple[str, ...] = ()) -> Shift:
    """A shift from ``parse_shift``'s form and its fanout's offered ids."""
    return Shift(
        id=data["id"],
        organization_id=data["organization_id"],
        role_required=data["role_required"],
        start_time=datetime.fromisoformat(data["start_time"]),
        end_time=datetime.fromisoformat(data["end_time"]),
        status=ShiftStatus(data["status"]),
        assigned_caregiver_id=data["assigned_caregiver_id"],
        filled_at=_parse_time(data["filled_at"]),
        cancelled_at=_parse_time(data["cancelled_at"]),
        fanout=_load_fanout(data["fanout"], offered),
        client_id=data.get("client_id"),
        required_credentials=tuple(data.get("required_credentials", ())),
    )


def dump_offered(fanout: Fanout) -> str:
    return json.dumps(fanout.offered_caregiver_ids)


def dump_ids(ids: tuple[str, ...]) -> str:
    return json.dumps(ids)


def load_offered(raw: str | bytes) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def dump_notification(notification: Notification) -> str:
    return json.dumps(
        {
            "id": notification.id,
            "shift_id": notification.shift_id,
            "caregiver_id": notification.caregiver_id,
            "channel": notification.channel.value,
            "queued_at": _time(notification.queued_at),
            "status": notification.status.value,
            "attempts": notification.attempts,
            "sent_at": _time(notification.sent_at),
            "error": notification.error,
            "provider_id": notification.provider_id,
        }
    )


def load_notification(raw: str | bytes) -> Notification:
    data = json.loads(raw)
    return Notification(
        id=data["id"],
        shift_id=data["shift_id"],
        caregiver_id=data["caregiver_id"],
        channel=Channel(data["channel"]),
        queued_at=datetime.fromisoformat(data["queued_at"]),
        status=NotificationStatus(data["status"]),
        attempts=data["attempts"],
        sent_at=_parse_time(data["sent_at"]),
        error=data["error"],
        provider_id=data["provider_id"],
    )


def dump_event(event: Event) -> str:
    return json.dumps(
        {
            "at": _time(event.at),
            "type": event.type.value,
            "caregiver_id": event.caregiver_id,
            "detail": event.detail,
        }
    )


def load_event(raw: str | bytes) -> Event:
    data = json.loads(raw)
    return Event(
        at=datetime.fromisoformat(data["at"]),
        type=EventType(data["type"]),
        caregiver_id=data["caregiver_id"],
        detail=data["detail"],
    )


def dump_reach(caregiver: Caregiver) -> str:
    """What matching asks of a caregiver, for the role's ``reach`` hash: a JSON list of the id,
    latitude and longitude (null, 0 when unknown), travel range and, per credential, its code
    and its expiry as a day number (null: never)."""
    location = caregiver.location
    row: list[Any] = [
        caregiver.id,
        location.lat if location else None,
        location.lon if location else 0.0,
        caregiver.max_travel_miles,
    ]
    for code, expires in reach_of(caregiver).expiries.items():
        row += [code, None if expires == NEVER else expires.toordinal()]
    return json.dumps(row, separators=(",", ":"))


def load_reach_many(rows: list[bytes]) -> dict[str, Reach]:
    """The ``Reach`` of each row ``dump_reach`` wrote, by caregiver id.

    The rows are parsed as one JSON document: one call of the parser for ten
    thousand caregivers, not ten thousand.
    """
    if not rows:
        return {}
    found = {}
    for row in json.loads(b"[" + b",".join(rows) + b"]"):
        cid, lat, lon, miles = row[0], row[1], row[2], row[3]
        expiries = {
            row[i]: NEVER if row[i + 1] is None else date.fromordinal(row[i + 1])
            for i in range(4, len(row), 2)
        }
        found[cid] = reach_from(lat, lon, miles, expiries)
    return found
