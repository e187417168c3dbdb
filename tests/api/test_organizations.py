"""Organizations, local time and language in what caregivers read, and who may take a shift
(docs/behaviour.md), through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from shiftfill.bootstrap import Runtime
from shiftfill.services.fanout import run_phone_round
from tests.conftest import START, add_caregiver, add_shift, reply
from tests.fakes import FakeNotifier


@pytest.fixture(autouse=True)
def on_the_frozen_day(frozen: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Every test here reads texts at fixed local times: the clock is START (2026-11-28)."""
    return frozen


SUNRISE = {
    "id": "org_1",
    "name": "Sunrise Home Health",
    "time_zone": "America/Chicago",
    "max_weekly_hours": 40,
    "waves": None,
}
ANA, LUZ, EVA = "+15555550101", "+15555550102", "+15555550103"


def add_org(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/organizations", json={**SUNRISE, **fields})
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def fan_out(client: FlaskClient, runtime: Runtime, shift_id: str) -> None:
    assert client.post(f"/shifts/{shift_id}/fanout").status_code == 202
    assert runtime.sender.wait_idle(5)


def events(client: FlaskClient, shift_id: str) -> list[dict[str, Any]]:
    return client.get(f"/shifts/{shift_id}/events").json  # type: ignore[no-any-return]


# --- the resource ---


def test_an_organization_is_created_read_listed_and_changed(client: FlaskClient) -> None:
    assert add_org(client) == SUNRISE
    assert client.get("/organizations/org_1").json == SUNRISE
    assert client.get("/organizations").json == [
        {
            "id": "default",
            "name": "shiftfill",
            "time_zone": "UTC",
            "max_weekly_hours": None,
            "waves": None,
        },
        SUNRISE,
    ]
    patched = client.patch("/organizations/org_1", json={"max_weekly_hours": None})
    assert patched.status_code == 200
    assert patched.json == {**SUNRISE, "max_weekly_hours": None}
    assert client.get("/organizations/org_1").json["max_weekly_hours"] is None
    assert client.get("/organizations/nope").status_code == 404
    assert client.patch("/organizations/nope", json={"name": "X"}).status_code == 404


def test_a_patch_that_changes_nothing_is_422_as_for_a_caregiver(client: FlaskClient) -> None:
    add_org(client)
    for body in (b"{}", b""):
        response = client.patch("/organizations/org_1", data=body, content_type="application/json")
        assert response.status_code == 422, body
        assert "name, time_zone, max_weekly_hours" in response.json["error"]["fields"]["_schema"][0]
    assert client.get("/organizations/org_1").json == SUNRISE


def test_a_taken_id_is_409_and_default_is_always_taken(client: FlaskClient) -> None:
    add_org(client)
    assert client.post("/organizations", json=SUNRISE).status_code == 409
    assert client.post("/organizations", json={**SUNRISE, "id": "default"}).status_code == 409


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Central Time"),
        ("time_zone", "america/chicago"),
        ("time_zone", "../../etc/passwd"),
        # Debian's zoneinfo links "localtime" to the host's own zone: it would differ by host.
        ("time_zone", "localtime"),
        ("time_zone", 5),
        ("max_weekly_hours", -1),
        ("max_weekly_hours", 0),
        ("max_weekly_hours", 169),
        ("max_weekly_hours", "forty"),
        ("name", " "),
    ],
)
def test_a_bad_field_is_422_and_stores_nothing(client: FlaskClient, field: str, value: Any) -> None:
    response = client.post("/organizations", json={**SUNRISE, field: value})
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]
    assert client.get("/organizations/org_1").status_code == 404
    add_org(client)
    assert client.patch("/organizations/org_1", json={field: value}).status_code == 422
    assert client.get("/organizations/org_1").json == SUNRISE


def test_a_shift_must_name_an_organization_and_belongs_to_default_without_one(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/shifts",
        json={
            "organization_id": "org_9",
            "role_required": "RN",
            "start_time": "2026-11-29T07:00:00+00:00",
            "end_time": "2026-11-29T19:00:00+00:00",
        },
    )
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["organization_id"]
    assert client.get("/shifts").json == []
    assert add_shift(client)["organization_id"] == "default"
    add_org(client)
    assert add_shift(client, organization_id="org_1")["organization_id"] == "org_1"


@pytest.fixture
def settings_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return getattr(request, "param", {})


@pytest.mark.parametrize("settings_env", [{"SHIFTFILL_TIME_ZONE": "America/Denver"}], indirect=True)
def test_default_is_in_the_configured_time_zone_until_changed(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    assert client.get("/organizations/default").json["time_zone"] == "America/Denver"
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    add_shift(client, id="sh_1")
    fan_out(client, runtime, "sh_1")
    assert "RN shift Sun Nov 29, 12:00 AM - 12:00 PM MST" in notifier.sent[0].text
    renamed = client.patch("/organizations/default", json={"name": "Peak Care"})
    assert renamed.json == {
        "id": "default",
        "name": "Peak Care",
        "time_zone": "America/Denver",
        "max_weekly_hours": None,
        "waves": None,
    }
    assert client.get("/organizations").json == [renamed.json]


# --- caregivers' language and quiet hours ---


def test_a_caregiver_has_a_language_and_quiet_hours(client: FlaskClient) -> None:
    plain = add_caregiver(client, name="Ana", role="RN", phone=ANA)
    assert (plain["language"], plain["quiet_hours"]) == ("en", None)
    luz = add_caregiver(
        client,
        name="Luz",
        role="RN",
        phone=LUZ,
        language="es",
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    assert (luz["language"], luz["quiet_hours"]) == ("es", {"start": "22:00", "end": "07:00"})
    assert client.get(f"/caregivers/{luz['id']}").json == luz


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "fr"),
        ("language", "EN"),
        ("quiet_hours", {"start": "22:00"}),
        ("quiet_hours", {"start": "24:00", "end": "07:00"}),
        ("quiet_hours", {"start": "7:00", "end": "09:00"}),
        ("quiet_hours", {"start": "09:00", "end": "09:00"}),
        ("quiet_hours", "22:00-07:00"),
    ],
)
def test_a_bad_language_or_quiet_hours_is_422(client: FlaskClient, field: str, value: Any) -> None:
    body = {"name": "Ana", "role": "RN", "phone": ANA, field: value}
    response = client.post("/caregivers", json=body)
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]
    assert client.get("/caregivers").json == []


# --- what caregivers read and hear ---


def test_each_caregiver_reads_the_offer_in_local_time_and_their_language(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    add_org(client)
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    add_caregiver(client, id="cg_2", name="Luz", role="RN", phone=LUZ, language="es")
    add_shift(client, id="sh_1", organization_id="org_1")
    fan_out(client, runtime, "sh_1")
    code = client.get("/shifts/sh_1").json["fanout"]["offer_code"]
    [english] = notifier.to(ANA)
    assert english.text == (
        f"Sunrise Home Health: RN shift Sun Nov 29, 1:00 AM - 1:00 PM CST. "
        f"Reply YES {code} to take it or NO to pass."
    )
    [spanish] = notifier.to(LUZ)
    assert spanish.text == (
        f"Sunrise Home Health: turno de RN dom 29 nov, 1:00 a. m. - 1:00 p. m. CST. "
        f"Responda SÍ {code} para tomarlo o NO para pasar."
    )
    answer = reply(client, LUZ, f"Sí, lo tomo {code}")
    assert answer["outcome"] == "assigned"
    assert answer["reply"].startswith("Confirmado: el turno de RN dom 29 nov")
    assert reply(client, ANA, "yes")["reply"] == (
        "Thank you for answering. The RN shift Sun Nov 29, 1:00 AM - 1:00 PM CST "
        "has already been filled."
    )


def test_a_shift_across_the_november_change_is_shown_in_both_zones(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    frozen.move_to(datetime(2026, 10, 31, 18, 0, tzinfo=UTC))
    add_org(client)
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    # Saturday 10 PM CDT to Sunday 8 AM CST: eleven hours, across 2 AM CDT -> 1 AM CST.
    add_shift(
        client,
        id="sh_1",
        organization_id="org_1",
        start_time="2026-11-01T03:00:00+00:00",
        end_time="2026-11-01T14:00:00+00:00",
    )
    fan_out(client, runtime, "sh_1")
    assert "RN shift Sat Oct 31, 10:00 PM CDT - Sun 8:00 AM CST." in notifier.sent[0].text


def test_a_spanish_speaker_is_called_in_spanish_and_answered_in_spanish(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    add_org(client)
    add_caregiver(client, id="cg_2", name="Luz", role="RN", phone=LUZ, language="es")
    add_shift(client, id="sh_1", organization_id="org_1")
    fan_out(client, runtime, "sh_1")
    frozen.move_to(START + timedelta(minutes=10))
    assert run_phone_round(runtime.deps, "sh_1") == 1
    assert runtime.sender.wait_idle(5)
    [call] = notifier.to(LUZ, "call")
    assert call.language == "es-US"
    assert call.text.startswith("Hola, le llama Sunrise Home Health con un turno de RN")
    sid = client.get("/shifts/sh_1/notifications").json[1]["provider_id"]
    answer = client.post("/voice/gather", data={"CallSid": sid, "Digits": "1", "To": LUZ})
    assert '<Say language="es-US">Confirmado: el turno de RN' in answer.get_data(as_text=True)


# --- who may take a shift ---


def test_an_overlapping_accept_is_a_conflict_and_changes_nothing(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    add_org(client)
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    add_shift(client, id="sh_day", organization_id="org_1")  # 07:00-19:00 UTC
    add_shift(
        client,
        id="sh_late",
        organization_id="org_1",
        start_time="2026-11-29T15:00:00+00:00",
        end_time="2026-11-29T23:00:00+00:00",
    )
    fan_out(client, runtime, "sh_day")
    fan_out(client, runtime, "sh_late")
    assert reply(client, ANA, "yes", shift_id="sh_day")["outcome"] == "assigned"
    before = client.get("/shifts/sh_late").json
    answer = reply(client, ANA, "yes", shift_id="sh_late")
    assert answer["outcome"] == "conflict"
    assert "overlaps a shift you are already booked for" in answer["reply"]
    assert client.get("/shifts/sh_late").json == before
    refused = [e for e in events(client, "sh_late") if e["type"] == "claim_refused"]
    assert refused[0]["detail"] == {"reason": "conflict"}


def test_a_fanout_leaves_out_caregivers_who_cannot_take_the_shift_and_says_how_many(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    add_org(client, max_weekly_hours=16)
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    add_caregiver(client, id="cg_2", name="Luz", role="RN", phone=LUZ)
    add_caregiver(client, id="cg_3", name="Eva", role="RN", phone=EVA)

    def shift(shift_id: str, start: str, hours: int) -> None:
        begin = datetime.fromisoformat(start)
        add_shift(
            client,
            id=shift_id,
            organization_id="org_1",
            start_time=begin.isoformat(),
            end_time=(begin + timedelta(hours=hours)).isoformat(),
        )
        fan_out(client, runtime, shift_id)

    shift("sh_mon", "2026-11-30T14:00:00+00:00", 12)  # Monday 8 AM - 8 PM CST
    shift("sh_tue", "2026-12-01T14:00:00+00:00", 4)  # Tuesday, back to nothing
    assert reply(client, ANA, "yes", shift_id="sh_mon")["outcome"] == "assigned"
    assert reply(client, LUZ, "yes", shift_id="sh_tue")["outcome"] == "assigned"
    # Monday 6 PM - 10 PM CST overlaps Ana's shift; Luz's Tuesday hours leave room; Eva is free.
    shift("sh_eve", "2026-12-01T00:00:00+00:00", 4)
    texted = {s.to for s in notifier.sent if "6:00 PM - 10:00 PM" in s.text}
    assert texted == {LUZ, EVA}
    started = events(client, "sh_eve")[0]
    assert started["detail"]["offered"] == 2
    assert started["detail"]["not_offered"] == {"conflict": 1}
    # Ana holds 12 of 16 hours this week: a 5-hour Thursday shift is over her cap.
    shift("sh_thu", "2026-12-03T14:00:00+00:00", 5)
    assert {s.to for s in notifier.sent if "Thu Dec 3" in s.text} == {LUZ, EVA}
    assert events(client, "sh_thu")[0]["detail"]["not_offered"] == {"over_hours": 1}


def test_an_accept_over_the_weekly_cap_is_refused_politely(
    client: FlaskClient, runtime: Runtime
) -> None:
    add_org(client, max_weekly_hours=16)
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone=ANA)
    add_shift(client, id="sh_1", organization_id="org_1")  # 12 hours, Sunday
    add_shift(
        client,
        id="sh_2",
        organization_id="org_1",
        start_time="2026-11-28T14:00:00+00:00",  # Saturday, the same week
        end_time="2026-11-28T20:00:00+00:00",
    )
    fan_out(client, runtime, "sh_1")
    fan_out(client, runtime, "sh_2")  # offered: Ana holds nothing yet
    assert reply(client, ANA, "yes", shift_id="sh_1")["outcome"] == "assigned"
    answer = reply(client, ANA, "yes", shift_id="sh_2")
    assert answer["outcome"] == "over_hours"
    assert "would take you over 16 hours that week" in answer["reply"]
    assert client.get("/shifts/sh_2").json["status"] == "open"


# --- quiet hours ---


def test_the_phone_round_skips_a_caregiver_in_quiet_hours_but_texts_went_out(
    frozen: FrozenDateTimeFactory, client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    add_org(client)
    # START is 14:00 UTC, 8:00 AM in Chicago: inside 06:00-09:00, outside 22:00-07:00.
    add_caregiver(
        client,
        id="cg_1",
        name="Ana",
        role="RN",
        phone=ANA,
        quiet_hours={"start": "06:00", "end": "09:00"},
    )
    add_caregiver(
        client,
        id="cg_2",
        name="Luz",
        role="RN",
        phone=LUZ,
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    add_shift(client, id="sh_1", organization_id="org_1")
    fan_out(client, runtime, "sh_1")
    assert {s.to for s in notifier.by_channel("sms")} == {ANA, LUZ}
    frozen.move_to(START + timedelta(minutes=10))
    assert run_phone_round(runtime.deps, "sh_1") == 1
    assert runtime.sender.wait_idle(5)
    assert [s.to for s in notifier.by_channel("call")] == [LUZ]
    skipped = [e for e in events(client, "sh_1") if e["type"] == "call_skipped"]
    assert [(e["caregiver_id"], e["detail"]) for e in skipped] == [
        ("cg_1", {"reason": "quiet_hours"})
    ]
