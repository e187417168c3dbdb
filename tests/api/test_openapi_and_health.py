"""``/openapi.json`` and ``/health``."""

from flask.testing import FlaskClient


def test_openapi_document_describes_every_endpoint_from_the_schemas(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in [
        "/health",
        "/caregivers",
        "/caregivers/{caregiver_id}",
        "/shifts",
        "/shifts/{shift_id}",
        "/shifts/{shift_id}/fanout",
        "/shifts/{shift_id}/cancel",
        "/shifts/{shift_id}/notifications",
        "/shifts/{shift_id}/events",
        "/messages/inbound",
    ]:
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert set(schemas["CaregiverCreate"]["required"]) == {"name", "role", "phone"}
    fanout = paths["/shifts/{shift_id}/fanout"]["post"]["responses"]
    assert {"200", "202", "404", "409"} <= set(fanout)
    inbound = paths["/messages/inbound"]["post"]["requestBody"]["content"]
    assert set(inbound) == {"application/json", "application/x-www-form-urlencoded"}
    assert "error" in schemas["Error"]["properties"]


def test_health_reports_ok_the_store_and_the_send_queue(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["store"] == "memory"
    assert response.json["sends_pending"] == 0


def test_unknown_path_and_method_get_the_error_body(client: FlaskClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    wrong = client.delete("/shifts")
    assert wrong.status_code == 405
    assert wrong.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_describes_the_operating_endpoints_and_the_allowed_roles(
    client: FlaskClient,
) -> None:
    doc = client.get("/openapi.json").json
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    patch = paths["/caregivers/{caregiver_id}"]["patch"]
    assert {"200", "404", "409", "422"} <= set(patch["responses"])
    assert "get" in paths["/caregivers/{caregiver_id}/events"]
    roles = ["RN", "LPN", "LVN", "CNA", "HHA", "PCA", "PT", "OT", "ST", "MSW"]
    assert schemas["CaregiverCreate"]["properties"]["role"]["enum"] == roles
    assert schemas["ShiftCreate"]["properties"]["role_required"]["enum"] == roles
    caregiver_filters = {p["name"] for p in paths["/caregivers"]["get"]["parameters"]}
    assert caregiver_filters == {"role", "opted_out", "active"}
    shift_filters = {p["name"] for p in paths["/shifts"]["get"]["parameters"]}
    assert shift_filters == {"status", "role", "organization_id"}
    health = schemas["Health"]["properties"]
    assert {"started_at", "boot_id", "seeded_at", "records"} <= set(health)
    assert "no_one_qualified" in schemas["Fanout"]["properties"]
