"""``/caregivers``: create, list, filter, look up, and refuse bad input."""

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from shiftfill.bootstrap import Runtime
from tests.conftest import RN_PHONES, add_caregiver, add_shift, reply, shift_body


def test_create_normalises_role_and_phone(client: FlaskClient) -> None:
    response = client.post(
        "/caregivers", json={"name": " Ana Lima ", "role": " rn", "phone": "(555) 555-0101"}
    )
    assert response.status_code == 201
    body = response.json
    assert body["name"] == "Ana Lima"
    assert body["role"] == "RN"
    assert body["phone"] == "+15555550101"
    assert body["opted_out"] is False
    assert len(body["id"]) == 32


def test_created_caregiver_can_be_fetched_and_listed_by_role(client: FlaskClient) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    add_caregiver(client, id="cg_2", name="Ben", role="LPN", phone="+15555550102")
    assert client.get("/caregivers/cg_1").json["name"] == "Ana"
    assert [c["id"] for c in client.get("/caregivers").json] == ["cg_1", "cg_2"]
    assert [c["id"] for c in client.get("/caregivers?role=lpn").json] == ["cg_2"]


def test_unknown_caregiver_is_404_with_the_error_body(client: FlaskClient) -> None:
    response = client.get("/caregivers/nobody")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "nobody" in response.json["error"]["message"]


def test_invalid_phone_is_422_naming_the_field(client: FlaskClient) -> None:
    response = client.post("/caregivers", json={"name": "A", "role": "RN", "phone": "12"})
    assert response.status_code == 422
    assert response.json["error"] == {
        "code": "validation_error",
        "message": "The request is invalid; see fields.",
        "fields": {"phone": ["Not a valid phone number."]},
    }
    assert client.get("/caregivers").json == []


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("(312) 555-0142", "+13125550142"),
        ("312.555.0142", "+13125550142"),
        ("+1 312 555 0142", "+13125550142"),
        # Written in E.164 with its +, a short test number is taken at its word.
        ("+15550001", "+15550001"),
    ],
)
def test_a_number_with_its_area_code_or_its_plus_is_stored_in_e164(
    client: FlaskClient, written: str, stored: str
) -> None:
    response = client.post("/caregivers", json={"name": "A", "role": "RN", "phone": written})
    assert response.status_code == 201, response.json
    assert response.json["phone"] == stored


@pytest.mark.parametrize("local", ["555-0143", "5550143", "555 0143"])
def test_a_local_number_without_its_area_code_is_422_and_says_so(
    client: FlaskClient, local: str
) -> None:
    response = client.post("/caregivers", json={"name": "A", "role": "RN", "phone": local})
    assert response.status_code == 422
    [message] = response.json["error"]["fields"]["phone"]
    assert "area code" in message
    assert client.get("/caregivers").json == []
    client.post("/caregivers", json={"name": "A", "role": "RN", "phone": "+15555550101"})
    patched = client.patch(
        "/caregivers/" + client.get("/caregivers").json[0]["id"], json={"phone": local}
    )
    assert patched.status_code == 422
    assert client.get("/caregivers").json[0]["phone"] == "+15555550101"


@pytest.mark.parametrize(
    "with_extension",
    [
        "(312) 555-0177 ext. 12",
        "312-555-0177 x9",
        "+1 312 555 0177;ext=4",
        "+44 20 7946 0958 ext 5",
    ],
)
def test_a_number_with_an_extension_is_422_not_cut_to_the_main_line(
    client: FlaskClient, with_extension: str
) -> None:
    """A text or call to the main line would never reach the caregiver behind the extension."""
    response = client.post("/caregivers", json={"name": "A", "role": "RN", "phone": with_extension})
    assert response.status_code == 422
    [message] = response.json["error"]["fields"]["phone"]
    assert "extension" in message
    assert client.get("/caregivers").json == []


def test_blank_role_and_missing_name_are_422(client: FlaskClient) -> None:
    response = client.post("/caregivers", json={"role": "  ", "phone": "+15555550101"})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"role", "name"}


def test_unknown_fields_are_refused(client: FlaskClient) -> None:
    response = client.post(
        "/caregivers",
        json={"name": "A", "role": "RN", "phone": "+15555550101", "salary": 1},
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"salary": ["Unknown field."]}


def test_duplicate_id_or_phone_is_409_and_changes_nothing(client: FlaskClient) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    same_id = client.post(
        "/caregivers", json={"id": "cg_1", "name": "B", "role": "RN", "phone": "+15555550199"}
    )
    same_phone = client.post(
        "/caregivers", json={"name": "C", "role": "CNA", "phone": "555-555-0101"}
    )
    assert same_id.status_code == 409
    assert same_phone.status_code == 409
    assert same_phone.json["error"]["code"] == "conflict"
    assert len(client.get("/caregivers").json) == 1


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/caregivers", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_wrong_content_type_is_400(client: FlaskClient) -> None:
    response = client.post("/caregivers", data="name=Ana&role=RN")
    assert response.status_code == 400
    assert "application/json" in response.json["error"]["message"]


def test_an_array_instead_of_an_object_is_422(client: FlaskClient) -> None:
    response = client.post("/caregivers", json=[{"name": "A"}])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"


def test_a_roster_is_imported_in_one_request(client: FlaskClient) -> None:
    roster = [
        {"id": f"cg_{i}", "name": f"Nurse {i}", "role": "rn", "phone": f"+1555555{i:04d}"}
        for i in range(300)
    ]
    response = client.post("/caregivers/batch", json={"caregivers": roster})
    assert response.status_code == 201
    assert len(response.json) == 300
    assert response.json[0]["role"] == "RN"
    assert len(client.get("/caregivers?role=RN").json) == 300


def test_a_roster_with_one_bad_or_clashing_entry_adds_nobody(client: FlaskClient) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    good = {"name": "Ben", "role": "LPN", "phone": "+15555550102"}
    invalid = client.post(
        "/caregivers/batch", json={"caregivers": [good, {"name": "X", "role": "RN", "phone": "1"}]}
    )
    assert invalid.status_code == 422
    assert invalid.json["error"]["fields"] == {
        "caregivers": {"1": {"phone": ["Not a valid phone number."]}}
    }
    clash = client.post(
        "/caregivers/batch",
        json={"caregivers": [good, {"name": "Y", "role": "RN", "phone": "+15555550101"}]},
    )
    assert clash.status_code == 409
    twice = client.post("/caregivers/batch", json={"caregivers": [good, good]})
    assert twice.status_code == 409
    assert [c["id"] for c in client.get("/caregivers").json] == ["cg_1"]


def test_an_empty_or_oversized_roster_is_422(client: FlaskClient) -> None:
    assert client.post("/caregivers/batch", json={"caregivers": []}).status_code == 422
    too_many = [{"name": "A", "role": "RN", "phone": "+15555550101"}] * 1001
    assert client.post("/caregivers/batch", json={"caregivers": too_many}).status_code == 422


# --- roles, booleans and filters ---


def test_a_role_outside_shiftfill_roles_is_422_and_lists_the_allowed_ones(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/caregivers", json={"name": "Doc", "role": "Doctor", "phone": "+15555550101"}
    )
    assert response.status_code == 422
    [message] = response.json["error"]["fields"]["role"]
    assert "RN" in message and "MSW" in message
    assert client.get("/caregivers").json == []
    assert client.get("/caregivers?role=Doctor").status_code == 422
    assert client.get("/shifts?role=Doctor").status_code == 422
    shift = client.post("/shifts", json=shift_body(role_required="Doctor"))
    assert shift.status_code == 422 and "role_required" in shift.json["error"]["fields"]


@pytest.mark.parametrize("settings_env", [{"SHIFTFILL_ROLES": "rn, Doula"}])
def test_shiftfill_roles_sets_the_allowed_roles(client: FlaskClient) -> None:
    assert add_caregiver(client, name="D", role="doula", phone="+15555550101")["role"] == "DOULA"
    refused = client.post("/caregivers", json={"name": "L", "role": "LPN", "phone": "+15555550102"})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["role"] == ["Must be one of: RN, DOULA."]


def test_booleans_must_be_json_true_or_false(client: FlaskClient) -> None:
    for value in ("yes", "true", 1, 0, None):
        response = client.post(
            "/caregivers",
            json={"name": "A", "role": "RN", "phone": "+15555550101", "opted_out": value},
        )
        assert response.status_code == 422, value
        assert response.json["error"]["fields"]["opted_out"], value
    assert client.get("/caregivers").json == []


def test_list_filters_by_opt_out_and_activity(client: FlaskClient) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    add_caregiver(client, id="cg_2", name="Ben", role="RN", phone="+15555550102", opted_out=True)
    add_caregiver(client, id="cg_3", name="Cy", role="LPN", phone="+15555550103", active=False)

    def ids(query: str) -> list[str]:
        response = client.get(f"/caregivers?{query}")
        assert response.status_code == 200, response.json
        return [c["id"] for c in response.json]

    assert ids("opted_out=true") == ["cg_2"]
    assert ids("opted_out=false") == ["cg_1", "cg_3"]
    assert ids("active=false") == ["cg_3"]
    assert ids("active=true&opted_out=false&role=RN") == ["cg_1"]
    assert client.get("/caregivers?opted_out=yes").status_code == 422


def test_an_unknown_query_parameter_is_422_not_ignored(client: FlaskClient) -> None:
    response = client.get("/caregivers?rol=RN")
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"rol": ["Unknown field."]}


# --- PATCH ---


def patch(client: FlaskClient, caregiver_id: str, **changes: Any) -> Any:
    return client.patch(f"/caregivers/{caregiver_id}", json=changes)


def test_patch_changes_name_phone_role_and_activity(client: FlaskClient) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    response = patch(client, "cg_1", name=" Ana Lima ", phone="(555) 555-0199", role="lpn")
    assert response.status_code == 200
    assert response.json == {
        "id": "cg_1",
        "name": "Ana Lima",
        "role": "LPN",
        "phone": "+15555550199",
        "opted_out": False,
        "active": True,
        "language": "en",
        "quiet_hours": None,
        "location": None,
        "max_travel_miles": None,
        "credentials": [],
    }
    assert client.get("/caregivers/cg_1").json == response.json
    assert patch(client, "cg_1", active=False).json["active"] is False
    events = client.get("/caregivers/cg_1/events").json
    assert [e["type"] for e in events] == ["caregiver_changed", "caregiver_changed"]
    assert events[0]["detail"] == {"fields": ["name", "phone", "role"]}


def test_a_new_phone_is_found_by_replies_and_the_old_one_is_free(
    client: FlaskClient, fanned_out: dict[str, Any]
) -> None:
    assert patch(client, "cg_1", phone="+15555550199").status_code == 200
    assert reply(client, "+15555550199", "yes")["outcome"] == "assigned"
    assert reply(client, RN_PHONES[0], "yes")["outcome"] == "unknown_sender"
    add_caregiver(client, id="cg_new", name="New", role="RN", phone=RN_PHONES[0])


def test_patch_to_a_phone_another_caregiver_holds_is_409_and_changes_nothing(
    client: FlaskClient,
) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    add_caregiver(client, id="cg_2", name="Ben", role="RN", phone="+15555550102")
    response = patch(client, "cg_1", phone="+15555550102", name="Renamed")
    assert response.status_code == 409
    assert client.get("/caregivers/cg_1").json["name"] == "Ana"
    assert client.get("/caregivers/cg_1/events").json == []


def test_the_agency_opts_a_caregiver_back_in_but_cannot_opt_one_out(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    add_caregiver(client, id="cg_8", name="Hana", role="RN", phone="+15555550108", opted_out=True)
    refused = patch(client, "cg_8", opted_out=True)
    assert refused.status_code == 422
    assert "back in" in refused.json["error"]["fields"]["opted_out"][0]
    with caplog.at_level(logging.INFO, logger="shiftfill"):
        response = patch(client, "cg_8", opted_out=False)
    assert response.status_code == 200 and response.json["opted_out"] is False
    [opted_in] = [e for e in client.get("/caregivers/cg_8/events").json if e["type"] == "opted_in"]
    assert opted_in["caregiver_id"] == "cg_8" and opted_in["detail"] == {"via": "agency"}
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "opted_in"]
    assert line.caregiver_id == "cg_8"  # type: ignore[attr-defined]
    assert "+15555550108" not in line.getMessage() and "+1555•••0108" in line.getMessage()
    # Back in, she is offered the next shift.
    add_shift(client, id="sh_1")
    assert "cg_8" in client.post("/shifts/sh_1/fanout").json["fanout"]["offered_caregiver_ids"]


def test_patch_refuses_nothing_unknown_fields_bad_values_and_unknown_ids(
    client: FlaskClient,
) -> None:
    add_caregiver(client, id="cg_1", name="Ana", role="RN", phone="+15555550101")
    for changes in ({}, {"language": "fr"}, {"id": "cg_2"}, {"active": "no"}, {"role": "Doctor"}):
        response = patch(client, "cg_1", **changes)
        assert response.status_code == 422, changes
    assert patch(client, "nobody", name="X").status_code == 404
    assert client.get("/caregivers/cg_1/events").json == []
    assert client.get("/caregivers/nobody/events").status_code == 404


def test_a_deactivated_caregiver_is_not_offered_and_cannot_claim_an_open_offer(
    client: FlaskClient, runtime: Runtime, roster: Any
) -> None:
    add_shift(client, id="sh_1")
    add_shift(client, id="sh_2")
    client.post("/shifts/sh_1/fanout")
    assert patch(client, "cg_1", active=False).status_code == 200
    assert reply(client, RN_PHONES[0], "yes", shift_id="sh_1")["outcome"] == "no_open_offer"
    offered = client.post("/shifts/sh_2/fanout").json["fanout"]["offered_caregiver_ids"]
    assert "cg_1" not in offered
    assert reply(client, RN_PHONES[1], "yes", shift_id="sh_1")["outcome"] == "assigned"


def test_patch_changes_language_and_quiet_hours(client: FlaskClient, roster: Any) -> None:
    quiet = {"start": "22:00", "end": "07:00"}
    response = patch(client, "cg_1", language="es", quiet_hours=quiet)
    assert response.status_code == 200
    assert response.json["language"] == "es"
    assert response.json["quiet_hours"] == quiet
    assert patch(client, "cg_1", quiet_hours=None).json["quiet_hours"] is None
