"""Clients, places, credentials and waves through the API: who is asked, in what order, when."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from shiftfill.bootstrap import Runtime
from shiftfill.services.upkeep import upkeep
from tests.conftest import add_caregiver, add_shift, reply, shift_body
from tests.fakes import FakeNotifier

# Chicago's Loop, a caregiver 3 miles north of it, one 40 miles away.
LOOP = {"lat": 41.8781, "lon": -87.6298}
NEAR = {"lat": 41.9215, "lon": -87.6298}
FAR = {"lat": 42.4600, "lon": -87.6298}


@pytest.fixture(autouse=True)
def on_the_frozen_day(frozen: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Shifts are tomorrow of 2026-11-28; credentials expire relative to that."""
    return frozen


def add_org(client: FlaskClient, **fields: Any) -> None:
    body = {"id": "org_1", "name": "Sunrise", "time_zone": "America/Chicago", **fields}
    assert client.post("/organizations", json=body).status_code == 201


def add_client(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    body = {"id": "cl_1", "organization_id": "org_1", "name": "R. Alvarez", **fields}
    response = client.post("/clients", json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def rn(client: FlaskClient, n: int, **fields: Any) -> dict[str, Any]:
    return add_caregiver(
        client, id=f"cg_{n}", name=f"RN {n}", role="RN", phone=f"+1555555{n:04d}", **fields
    )


def phone(n: int) -> str:
    return f"+1555555{n:04d}"


def texted(notifier: FakeNotifier) -> list[str]:
    return [s.to for s in notifier.by_channel("sms")]


# --- the resource ---


def test_a_client_is_created_read_listed_and_changed(client: FlaskClient) -> None:
    add_org(client)
    rn(client, 1)
    rn(client, 2)
    created = add_client(
        client, location=LOOP, preferred_caregiver_ids=["cg_1"], excluded_caregiver_ids=["cg_2"]
    )
    assert created == {
        "id": "cl_1",
        "organization_id": "org_1",
        "name": "R. Alvarez",
        "location": LOOP,
        "preferred_caregiver_ids": ["cg_1"],
        "excluded_caregiver_ids": ["cg_2"],
    }
    assert client.get("/clients/cl_1").json == created
    assert client.get("/clients?organization_id=org_1").json == [created]
    assert client.get("/clients?organization_id=default").json == []
    patched = client.patch("/clients/cl_1", json={"excluded_caregiver_ids": [], "location": None})
    assert patched.status_code == 200
    assert patched.json == {**created, "excluded_caregiver_ids": [], "location": None}
    assert client.get("/clients/nope").status_code == 404
    assert client.patch("/clients/nope", json={"name": "X"}).status_code == 404
    assert client.post("/clients", json={**created}).status_code == 409


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"organization_id": "nope"}, "organization_id"),
        ({"excluded_caregiver_ids": ["cg_404"]}, "excluded_caregiver_ids"),
        ({"preferred_caregiver_ids": ["cg_404"]}, "preferred_caregiver_ids"),
        ({"location": {"lat": 91, "lon": 0}}, "location"),
        ({"location": {"lat": 0, "lon": -180.5}}, "location"),
        ({"name": " "}, "name"),
        ({"id": "cl 1"}, "id"),
    ],
)
def test_a_bad_client_is_422_and_stores_nothing(
    client: FlaskClient, fields: dict[str, Any], field: str
) -> None:
    add_org(client)
    body = {"id": "cl_1", "organization_id": "org_1", "name": "R. Alvarez", **fields}
    response = client.post("/clients", json=body)
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]
    assert client.get("/clients").json == []


def test_caregivers_carry_a_place_a_range_and_upper_cased_credentials(client: FlaskClient) -> None:
    made = rn(
        client,
        1,
        location=NEAR,
        max_travel_miles=10,
        credentials=[
            {"code": "cpr", "expires_on": "2027-03-31"},
            {"code": "BLS", "expires_on": None},
        ],
    )
    assert made["credentials"] == [
        {"code": "CPR", "expires_on": "2027-03-31"},
        {"code": "BLS", "expires_on": None},
    ]
    assert (made["location"], made["max_travel_miles"]) == (NEAR, 10)
    patched = client.patch("/caregivers/cg_1", json={"max_travel_miles": None, "credentials": []})
    assert (patched.json["max_travel_miles"], patched.json["credentials"]) == (None, [])
    bad = client.patch("/caregivers/cg_1", json={"max_travel_miles": 0})
    assert bad.status_code == 422


def test_a_shift_names_a_client_of_its_own_organization(client: FlaskClient) -> None:
    add_org(client)
    add_client(client)
    made = add_shift(
        client, organization_id="org_1", client_id="cl_1", required_credentials=["cpr"]
    )
    assert (made["client_id"], made["required_credentials"]) == ("cl_1", ["CPR"])
    body = {k: made[k] for k in ("start_time", "end_time", "role_required", "client_id")}
    other = client.post("/shifts", json={**body, "id": "sh_2", "organization_id": "default"})
    assert other.status_code == 422
    assert list(other.json["error"]["fields"]) == ["client_id"]
    missing = client.post(
        "/shifts", json={**body, "id": "sh_3", "organization_id": "org_1", "client_id": "cl_404"}
    )
    assert missing.status_code == 422


def test_a_client_moved_while_the_shift_is_made_is_the_same_422(
    client: FlaskClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request reads the client, then the client is moved: the store's step sees it."""
    add_org(client)
    add_org(client, id="org_2", name="Harbor")
    add_client(client)
    clients = runtime.deps.store.clients
    read = clients.get

    moved: list[Any] = []

    def read_then_moved(client_id: str) -> Any:
        found = read(client_id)
        if not moved:  # the move lands right after the request's read
            moved.append(clients.update("cl_1", lambda c: replace(c, organization_id="org_2")))
        return found

    monkeypatch.setattr(clients, "get", read_then_moved)
    body = shift_body(id="sh_1", organization_id="org_1", client_id="cl_1")
    refused = client.post("/shifts", json=body)
    assert refused.status_code == 422
    message = "No client with id cl_1 in organization org_1."
    assert refused.json["error"]["fields"] == {"client_id": [message]}
    assert client.get("/shifts/sh_1").status_code == 404
    assert read("cl_1").organization_id == "org_2"  # type: ignore[union-attr]


def test_a_client_with_open_shifts_stays_in_their_organization(client: FlaskClient) -> None:
    """Moved, the client's lists would be another agency's to edit while this one's shifts
    still follow them; once no open shift names the client, the move is allowed."""
    add_org(client)
    add_org(client, id="org_2", name="Harbor")
    add_client(client)
    made = add_shift(client, organization_id="org_1", client_id="cl_1")
    nowhere = client.patch("/clients/cl_1", json={"organization_id": "org_404"})
    assert nowhere.status_code == 422  # no such organization: the move is invalid first
    moved = client.patch("/clients/cl_1", json={"organization_id": "org_2"})
    assert moved.status_code == 409
    assert made["id"] in moved.json["error"]["message"]
    assert client.get("/clients/cl_1").json["organization_id"] == "org_1"
    assert client.patch("/clients/cl_1", json={"organization_id": "org_1"}).status_code == 200
    client.post(f"/shifts/{made['id']}/cancel")
    moved = client.patch("/clients/cl_1", json={"organization_id": "org_2"})
    assert moved.status_code == 200
    assert moved.json["organization_id"] == "org_2"


# --- who qualifies, in what order ---


def matching_roster(client: FlaskClient) -> None:
    """cg_1 preferred and far with no range; cg_2 excluded; cg_3 out of range; cg_4 no CPR;
    cg_5 CPR lapsing today; cg_6 near; cg_7 place unknown; cg_8 an LPN."""
    cpr = [{"code": "CPR", "expires_on": None}]
    add_org(client)
    rn(client, 1, location=FAR, credentials=cpr)
    rn(client, 2, location=NEAR, credentials=cpr)
    rn(client, 3, location=FAR, max_travel_miles=20, credentials=cpr)
    rn(client, 4, location=NEAR)
    rn(client, 5, credentials=[{"code": "CPR", "expires_on": "2026-11-28"}])
    rn(client, 6, location=NEAR, max_travel_miles=20, credentials=cpr)
    rn(client, 7, credentials=cpr)
    add_caregiver(client, id="cg_8", name="LPN", role="LPN", phone=phone(8))
    add_client(
        client, location=LOOP, preferred_caregiver_ids=["cg_1"], excluded_caregiver_ids=["cg_2"]
    )
    add_shift(
        client, id="sh_1", organization_id="org_1", client_id="cl_1", required_credentials=["CPR"]
    )


def test_candidates_are_ranked_and_the_others_say_why_not(client: FlaskClient) -> None:
    matching_roster(client)
    answer = client.get("/shifts/sh_1/candidates").json
    qualified = [(c["rank"], c["caregiver_id"], c["preferred"]) for c in answer["qualified"]]
    assert qualified == [(1, "cg_1", True), (2, "cg_6", False), (3, "cg_7", False)]
    assert answer["qualified"][1]["distance_miles"] == pytest.approx(3.0, abs=0.1)
    assert answer["qualified"][2]["distance_miles"] is None
    assert {o["caregiver_id"]: o["reason"] for o in answer["left_out"]} == {
        "cg_2": "excluded",
        "cg_3": "out_of_range",
        "cg_4": "credential_missing",
        "cg_5": "credential_expired",
        "cg_8": "role",
    }
    assert client.get("/shifts/nope/candidates").status_code == 404


def test_a_closed_shift_has_no_candidates_and_says_so_in_its_documented_words(
    client: FlaskClient,
) -> None:
    matching_roster(client)
    client.post("/shifts/sh_1/cancel")
    answer = client.get("/shifts/sh_1/candidates").json
    assert answer["qualified"] == []
    assert {o["reason"] for o in answer["left_out"]} == {"shift_closed"}
    documented = client.get("/openapi.json").json["components"]["schemas"]["LeftOut"]
    assert "shift_closed" in documented["properties"]["reason"]["enum"]


def test_the_fanout_texts_only_the_matched_best_first(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier
) -> None:
    matching_roster(client)
    started = client.post("/shifts/sh_1/fanout").json
    assert started["fanout"]["offered_caregiver_ids"] == ["cg_1", "cg_6", "cg_7"]
    assert (started["fanout"]["waves_sent"], started["fanout"]["next_wave_at"]) == (1, None)
    assert runtime.sender.wait_idle(5)
    assert sorted(texted(notifier)) == [phone(1), phone(6), phone(7)]
    event = client.get("/shifts/sh_1/events").json[0]
    assert event["detail"]["not_offered"] == {
        "excluded": 1,
        "out_of_range": 1,
        "credential_missing": 1,
        "credential_expired": 1,
    }


def test_continuity_then_week_hours_rank_the_rest(client: FlaskClient, runtime: Runtime) -> None:
    add_org(client)
    for n in (1, 2, 3):
        rn(client, n)
    add_client(client)
    # cg_3 worked this client last week; cg_2 holds another shift this week.
    add_shift(
        client,
        id="past",
        organization_id="org_1",
        client_id="cl_1",
        start_time="2026-11-28T15:00:00+00:00",
        end_time="2026-11-28T16:00:00+00:00",
    )
    add_shift(
        client,
        id="busy",
        organization_id="org_1",
        start_time="2026-11-30T20:00:00+00:00",
        end_time="2026-11-30T22:00:00+00:00",
    )
    for shift_id, who in (("past", 3), ("busy", 2)):
        client.post(f"/shifts/{shift_id}/fanout")
        code = client.get(f"/shifts/{shift_id}").json["fanout"]["offer_code"]
        assert reply(client, phone(who), f"YES {code}")["outcome"] == "assigned"
    add_shift(
        client,
        id="sh_1",
        organization_id="org_1",
        client_id="cl_1",
        start_time="2026-12-01T14:00:00+00:00",
        end_time="2026-12-01T18:00:00+00:00",
    )
    ranked = client.get("/shifts/sh_1/candidates").json["qualified"]
    assert [(c["caregiver_id"], c["shifts_with_client"], c["week_hours"]) for c in ranked] == [
        ("cg_3", 1, 0.0),
        ("cg_1", 0, 0.0),
        ("cg_2", 0, 2.0),
    ]


# --- the claim checks again ---


def test_an_excluded_or_lapsed_caregiver_cannot_claim_and_hears_why_in_their_language(
    client: FlaskClient, runtime: Runtime
) -> None:
    add_org(client)
    rn(client, 1, language="es", credentials=[{"code": "CPR", "expires_on": None}])
    rn(client, 2, credentials=[{"code": "CPR", "expires_on": None}])
    add_client(client)
    add_shift(
        client, id="sh_1", organization_id="org_1", client_id="cl_1", required_credentials=["CPR"]
    )
    code = client.post("/shifts/sh_1/fanout").json["fanout"]["offer_code"]
    excluded = client.patch("/clients/cl_1", json={"excluded_caregiver_ids": ["cg_1"]})
    assert excluded.status_code == 200, excluded.json
    lapsed = [{"code": "CPR", "expires_on": "2026-11-01"}]
    assert client.patch("/caregivers/cg_2", json={"credentials": lapsed}).status_code == 200
    refused = reply(client, phone(1), f"SI {code}")
    assert refused["outcome"] == "not_eligible"
    assert refused["reply"].startswith("Gracias, pero no puede tomar el turno de RN")
    assert reply(client, phone(2), f"YES {code}")["outcome"] == "not_eligible"
    shift = client.get("/shifts/sh_1").json
    assert (shift["status"], shift["assigned_caregiver_id"]) == ("open", None)
    refusals = [e for e in client.get("/shifts/sh_1/events").json if e["type"] == "claim_refused"]
    assert [e["detail"]["reason"] for e in refusals] == ["not_eligible", "not_eligible"]
    client.patch("/clients/cl_1", json={"excluded_caregiver_ids": []})
    assert reply(client, phone(1), f"SI {code}")["outcome"] == "assigned"


# --- waves ---


def wave_roster(client: FlaskClient, count: int = 5) -> None:
    add_org(client, waves={"size": 2, "interval_seconds": 120})
    for n in range(1, count + 1):
        rn(client, n)
    add_client(client, preferred_caregiver_ids=[f"cg_{count}"])
    add_shift(client, id="sh_1", organization_id="org_1", client_id="cl_1")


def test_waves_text_the_best_first_then_the_next_every_interval(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier, frozen: FrozenDateTimeFactory
) -> None:
    wave_roster(client)
    started = client.post("/shifts/sh_1/fanout").json["fanout"]
    assert started["offered_caregiver_ids"] == ["cg_5", "cg_1"]
    assert started["waves_sent"] == 1
    assert started["next_wave_at"] == (frozen() + timedelta(seconds=120)).isoformat() + "+00:00"
    assert runtime.sender.wait_idle(5)
    assert texted(notifier) == [phone(5), phone(1)]
    frozen.tick(119)
    upkeep(runtime.deps)
    assert client.get("/shifts/sh_1").json["fanout"]["waves_sent"] == 1
    frozen.tick(1)
    upkeep(runtime.deps)
    upkeep(runtime.deps)  # a second poll of the same instant sends nothing more
    fanout = client.get("/shifts/sh_1").json["fanout"]
    assert (fanout["waves_sent"], fanout["offered_caregiver_ids"][2:]) == (2, ["cg_2", "cg_3"])
    frozen.tick(120)
    upkeep(runtime.deps)
    fanout = client.get("/shifts/sh_1").json["fanout"]
    assert (fanout["waves_sent"], fanout["next_wave_at"]) == (3, None)
    assert runtime.sender.wait_idle(5)
    assert sorted(texted(notifier)) == sorted(phone(n) for n in range(1, 6))
    assert len(texted(notifier)) == 5


def test_a_latecomer_joins_the_next_wave_and_no_wave_follows_a_fill(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier, frozen: FrozenDateTimeFactory
) -> None:
    wave_roster(client)
    rn(client, 0, active=False)
    code = client.post("/shifts/sh_1/fanout").json["fanout"]["offer_code"]
    client.patch("/caregivers/cg_0", json={"active": True})
    frozen.tick(120)
    upkeep(runtime.deps)
    fanout = client.get("/shifts/sh_1").json["fanout"]
    assert fanout["offered_caregiver_ids"] == ["cg_5", "cg_1", "cg_0", "cg_2"]
    assert fanout["next_wave_at"] is not None
    assert reply(client, phone(2), f"YES {code}")["outcome"] == "assigned"
    assert client.get("/shifts/sh_1").json["fanout"]["next_wave_at"] is None
    frozen.tick(120)
    upkeep(runtime.deps)
    assert runtime.sender.wait_idle(5)
    assert phone(3) not in texted(notifier) and phone(4) not in texted(notifier)
    assert client.get("/shifts/sh_1").json["fanout"]["waves_sent"] == 2


def test_the_phone_round_calls_those_texted_and_ends_the_waves(
    client: FlaskClient, runtime: Runtime, notifier: FakeNotifier, frozen: FrozenDateTimeFactory
) -> None:
    client.post("/organizations", json={"id": "org_1", "name": "S", "time_zone": "UTC"})
    client.patch("/organizations/org_1", json={"waves": {"size": 1, "interval_seconds": 400}})
    for n in range(1, 5):
        rn(client, n)
    add_shift(client, id="sh_1", organization_id="org_1")
    client.post("/shifts/sh_1/fanout")
    frozen.tick(400)
    upkeep(runtime.deps)
    frozen.tick(200)  # the escalation delay (600 s) has passed: calls, and no third wave
    upkeep(runtime.deps)
    frozen.tick(400)
    upkeep(runtime.deps)
    fanout = client.get("/shifts/sh_1").json["fanout"]
    assert (fanout["round"], fanout["waves_sent"], fanout["next_wave_at"]) == ("phone", 2, None)
    assert runtime.sender.wait_idle(5)
    assert sorted(s.to for s in notifier.by_channel("call")) == [phone(1), phone(2)]
    assert len(texted(notifier)) == 2
