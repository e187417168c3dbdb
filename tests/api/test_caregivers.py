"""``/caregivers``: create, list, filter, look up, and refuse bad input."""

from flask.testing import FlaskClient

from tests.conftest import add_caregiver


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
