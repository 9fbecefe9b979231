"""000 reference data through the real app on moto: list, create, update, soft delete per kind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from tests.integration.company import JSON, Company, error_fields

pytestmark = pytest.mark.shared_aws

KINDS = ["inventory-types", "inventory-materials", "organisations", "stock-locations", "tags"]
LABEL_FIELD = {"organisations": "name", "tags": "name"}


def listed(company: Company, segment: str) -> list[dict[str, Any]]:
    """Active entries, without the default stock location every company has."""
    entries: list[dict[str, Any]] = company.ok("GET", f"/{segment}")
    return [e for e in entries if not e.get("isDefault")]


@pytest.mark.parametrize("segment", KINDS)
def test_each_kind_lists_creates_updates_and_soft_deletes(acme: Company, segment: str) -> None:
    label = LABEL_FIELD.get(segment, "label")
    # Given two created entries
    created = acme.ok("POST", f"/{segment}", [{label: "Round bar"}, {label: "Plate", "companyId": "x"}], 201)
    assert [c[label] for c in created] == ["Round bar", "Plate"]
    assert all(c["id"] and c["companyId"] == acme.id for c in created)

    # When one is renamed and the other deleted
    updated = acme.ok("PUT", f"/{segment}", [{"id": created[0]["id"], label: "Round bar S355"}])
    deleted = acme.ok("DELETE", f"/{segment}", {"ids": [created[1]["id"]]})

    # Then the list holds only the active, renamed one
    assert updated[0][label] == "Round bar S355"
    assert updated[0]["version"] == created[0]["version"] + 1
    assert deleted == {"deletedCount": 1, "deletedIds": [created[1]["id"]]}
    assert [(e["id"], e[label]) for e in listed(acme, segment)] == [(created[0]["id"], "Round bar S355")]


@pytest.mark.parametrize("segment", KINDS)
def test_other_companys_ids_are_404_and_other_company_path_is_403(acme: Company, other: Company, segment: str) -> None:
    label = LABEL_FIELD.get(segment, "label")
    theirs = other.ok("POST", f"/{segment}", [{label: "Theirs"}], 201)[0]

    # Another company's ids, in bodies, look missing and change nothing
    update = acme.call("PUT", f"/{segment}", [{"id": theirs["id"], label: "Mine now"}])
    delete = acme.call("DELETE", f"/{segment}", {"ids": [theirs["id"]]})
    assert update.status_code == 404, update.body
    assert delete.status_code == 404, delete.body
    assert error_fields(update) == ["[0].id"]
    assert [e[label] for e in listed(other, segment)] == ["Theirs"]

    # Another company's path is a 403 whatever the method
    for method, body in (("GET", None), ("POST", [{label: "x"}]), ("DELETE", {"ids": ["x"]})):
        response = acme.http.http.request(
            method,
            f"/companies/{other.id}/{segment}",
            headers={"X-API-Key": acme.key, "Content-Type": JSON},
            body=json.dumps(body).encode() if body else b"",
        )
        assert response.status_code == 403, (method, response.body)
    assert [e[label] for e in listed(other, segment)] == ["Theirs"]


def test_a_bad_entry_writes_nothing_and_names_its_index(acme: Company) -> None:
    response = acme.call("POST", "/inventory-types", [{"label": "Ok"}, {"label": ""}, {"nolabel": 1}])

    assert response.status_code == 400, response.body
    # Every bad field in one answer: the empty label, the missing one, and the unknown field.
    assert set(error_fields(response)) == {"[1].label", "[2].label", "[2].nolabel"}
    assert acme.ok("GET", "/inventory-types") == []


def test_unknown_fields_are_named_and_server_owned_ones_ignored(acme: Company) -> None:
    response = acme.call("POST", "/organisations", [{"name": "Steel Ltd", "qty": 5, "colour": "red"}])

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[0].qty", "[0].colour"}
    assert "unknown field" in json.loads(response.body)["details"][0]["message"]
    # What a GET returned can be sent back: companyId, createdAt, active... are ignored.
    created = acme.ok("POST", "/organisations", [{"name": "Steel Ltd"}], 201)[0]
    updated = acme.ok("PUT", "/organisations", [{**created, "name": "Steel Ltd."}])
    assert updated[0]["name"] == "Steel Ltd."


def test_organisation_type_and_email_are_enforced(acme: Company) -> None:
    response = acme.call(
        "POST", "/organisations", [{"name": "A", "organisationType": "vendor", "email": "not-an-address"}]
    )

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[0].organisationType", "[0].email"}
    made = acme.ok("POST", "/organisations", [{"name": "B", "organisationType": "both", "email": "b@example.com"}], 201)
    assert made[0]["organisationType"] == "both"


def test_delete_with_one_unknown_id_deletes_nothing(acme: Company) -> None:
    created = acme.ok("POST", "/inventory-materials", [{"label": "S355"}], 201)

    response = acme.call("DELETE", "/inventory-materials", {"ids": [created[0]["id"], "missing"]})

    assert response.status_code == 404
    assert error_fields(response) == ["[1].id"]
    assert [m["id"] for m in acme.ok("GET", "/inventory-materials")] == [created[0]["id"]]


def test_stale_version_is_409(acme: Company) -> None:
    created = acme.ok("POST", "/tags", [{"name": "Offcut"}], 201)[0]
    acme.ok("PUT", "/tags", [{"id": created["id"], "name": "Offcut!", "version": created["version"]}])

    stale = acme.call("PUT", "/tags", [{"id": created["id"], "name": "Lost", "version": created["version"]}])

    assert stale.status_code == 409, stale.body
    assert acme.ok("GET", "/tags")[0]["name"] == "Offcut!"


def test_mill_certifications_are_unique_per_heat_code_and_freed_on_delete(acme: Company) -> None:
    cert = acme.ok("POST", "/mill-certifications", [{"heatCode": "H-100", "certificateNumber": "MC-1"}], 201)[0]
    assert cert["heatCode"] == "H-100"
    assert cert["certificateNumber"] == "MC-1"

    clash = acme.call("POST", "/mill-certifications", [{"heatCode": "h-100"}])
    assert clash.status_code == 409, clash.body

    acme.ok("DELETE", "/mill-certifications", {"ids": [cert["id"]]})
    again = acme.ok("POST", "/mill-certifications", [{"heatCode": "H-100"}], 201)[0]
    assert [c["id"] for c in acme.ok("GET", "/mill-certifications")] == [again["id"]]


def test_tag_rules_are_validated_and_name_the_bad_part(acme: Company) -> None:
    tag = acme.ok("POST", "/tags", [{"name": "Long"}], 201)[0]
    good = {"tagId": tag["id"], "condition": {"all": [{"field": "length", "op": "gte", "value": 6000}]}}
    bad_op = {"tagId": tag["id"], "condition": {"any": [{"field": "length", "op": "exec", "value": 1}]}}
    bad_field = {"tagId": tag["id"], "condition": {"field": "__class__", "op": "equals", "value": 1}}
    unknown_tag = {"tagId": "nope", "condition": {"field": "length", "op": "gt", "value": 1}}

    response = acme.call("POST", "/tag-rules", [good, bad_op, bad_field])
    assert response.status_code == 400
    assert error_fields(response) == ["[1].condition.any[0].op", "[2].condition.field"]
    response = acme.call("POST", "/tag-rules", [unknown_tag])
    assert response.status_code == 404
    assert error_fields(response) == ["[0].tagId"]
    assert acme.ok("GET", "/tag-rules") == []

    created = acme.ok("POST", "/tag-rules", [good], 201)[0]
    assert created["tagId"] == tag["id"]
    assert created["condition"] == good["condition"]


def test_stock_locations_are_core_locations(acme: Company) -> None:
    created = acme.ok("POST", "/stock-locations", [{"label": "Yard A"}], 201)[0]

    location = wiring.catalog_service().get_location(acme.id, created["id"])

    assert location.name == "Yard A"
    clash = acme.call("POST", "/stock-locations", [{"label": "Yard B"}, {"label": "yard a"}])
    assert clash.status_code == 409
    assert [loc["label"] for loc in listed(acme, "stock-locations")] == ["Yard A"]


def test_idempotent_create_replays_and_creates_once(acme: Company) -> None:
    headers = {"Idempotency-Key": "types-1"}
    first = acme.call("POST", "/inventory-types", [{"label": "Tube"}], headers)
    second = acme.call("POST", "/inventory-types", [{"label": "Tube"}], headers)

    assert first.status_code == second.status_code == 201
    assert json.loads(first.body) == json.loads(second.body)
    assert len(acme.ok("GET", "/inventory-types")) == 1


def test_reference_keys_start_with_the_tenant(acme: Company) -> None:
    acme.ok("POST", "/organisations", [{"name": "Steel Co", "organisationType": "supplier"}], 201)

    items = client("dynamodb").scan(TableName=get_settings().main_table)["Items"]

    # Other tests of the module share the table: take this company's reference items.
    refs = [i for i in items if "#REF#" in i["pk"]["S"] and i.get("tenant_id", {}).get("S") == acme.id]
    assert refs
    assert all(i["pk"]["S"].startswith(f"T#{acme.id}#REF#") for i in refs)


def test_mill_certification_supplier_must_be_an_organisation_of_this_company(acme: Company, other: Company) -> None:
    theirs = other.ok("POST", "/organisations", [{"name": "Their mill"}], 201)[0]["id"]
    mine = acme.ok("POST", "/organisations", [{"name": "Our mill"}], 201)[0]["id"]

    response = acme.call(
        "POST",
        "/mill-certifications",
        [{"heatCode": "H-9", "supplierId": mine}, {"heatCode": "H-8", "supplierId": theirs}],
    )

    assert response.status_code == 404
    assert error_fields(response) == ["[1].supplierId"]
    assert acme.ok("GET", "/mill-certifications") == []
    created = acme.ok("POST", "/mill-certifications", [{"heatCode": "H-9", "supplierId": mine}], 201)[0]
    assert created["supplierId"] == mine
