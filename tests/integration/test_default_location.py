"""Every company has one default stock location, where items without a location go (JSON and CSV alike)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.catalog.service import default_location_id, ensure_default_location
from chalicelib.core.models import SYSTEM, Location
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client, on_call
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.codec import to_attrs
from tests.integration.company import Company, Refs, error_fields, make_company
from tests.integration.test_inventory_import import run_upload


def default_of(company: Company) -> dict[str, Any]:
    [default] = [loc for loc in company.ok("GET", "/stock-locations") if loc["isDefault"]]
    return default


def forget_default_location(company: Company) -> None:
    """Make the company look like one created before default locations existed."""
    table, ddb = get_settings().main_table, client("dynamodb")
    ddb.delete_item(TableName=table, Key=to_attrs(keys.location(company.id, default_location_id(company.id))))
    ddb.delete_item(TableName=table, Key=to_attrs(keys.unique(company.id, "LOCNAME", "default")))


def test_a_new_company_has_its_default_location_written_with_it(http: Any) -> None:
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        company = make_company(http, "Fresh")
    finally:
        stop()

    # Tenant, first key, default location and its name guard: one transaction.
    assert calls == ["TransactWriteItems"]
    default = default_of(company)
    assert (default["id"], default["label"], default["isDefault"]) == (default_location_id(company.id), "Default", True)
    found = wiring.catalog_service().default_location(company.id, SYSTEM)
    assert (found.location_id, found.is_default) == (default["id"], True)


def test_a_json_item_without_a_location_goes_to_the_default(acme: Company, refs: Refs) -> None:
    body = refs.item()
    del body["stockLocationId"]

    created = acme.ok("POST", "/inventory", [body, refs.item(productName="Null location", stockLocationId=None)], 201)

    default = default_of(acme)
    assert [(c["stockLocationId"], c["stockLocationLabel"]) for c in created] == [(default["id"], "Default")] * 2
    listed = acme.ok("GET", "/inventory")
    assert {i["stockLocationId"] for i in listed} == {default["id"]}
    # An explicit location still wins.
    [elsewhere] = acme.ok("POST", "/inventory", [refs.item()], 201)
    assert elsewhere["stockLocationId"] == refs.location


def test_a_csv_row_without_a_location_goes_to_the_default(acme: Company, refs: Refs) -> None:
    text = "\n".join(["productName,quantity,stockLocationId", "Blank cell,2,", f"Own place,3,{refs.location}"])
    no_column = "productName,quantity\nNo column,4\n"

    first, second = run_upload(acme, text), run_upload(acme, no_column)

    assert (first["status"], first["created"], first["failed"]) == ("completed", 2, 0)
    assert (second["status"], second["created"], second["failed"]) == ("completed", 1, 0)
    places = {i["productName"]: i["stockLocationLabel"] for i in acme.ok("GET", "/inventory")}
    assert places == {"Blank cell": "Default", "Own place": "Yard A", "No column": "Default"}


def test_the_default_location_can_be_renamed_but_never_deleted(acme: Company) -> None:
    default = default_of(acme)
    other = acme.ok("POST", "/stock-locations", [{"label": "Yard B"}], 201)[0]

    refused = acme.call("DELETE", "/stock-locations", {"ids": [other["id"], default["id"]]})
    renamed = acme.ok("PUT", "/stock-locations", [{"id": default["id"], "label": "Main yard"}])

    assert refused.status_code == 409, refused.body
    assert error_fields(refused) == ["[1].id"]
    assert json.loads(refused.body)["code"] == "INVALID_STATE"
    # Nothing of the batch was deleted.
    assert {loc["label"] for loc in acme.ok("GET", "/stock-locations")} == {"Main yard", "Yard B"}
    assert renamed[0]["isDefault"] is True
    with pytest.raises(Exception, match="default location"):
        wiring.catalog_service().update_location(acme.id, default["id"], {"active": False}, SYSTEM)


def test_a_company_from_before_default_locations_gets_one_on_first_need(acme: Company, refs: Refs) -> None:
    forget_default_location(acme)
    assert [loc for loc in acme.ok("GET", "/stock-locations") if loc["isDefault"]] == []

    body = refs.item()
    del body["stockLocationId"]
    [created] = acme.ok("POST", "/inventory", [body], 201)

    default = default_of(acme)
    assert (created["stockLocationId"], created["stockLocationLabel"]) == (default["id"], "Default")
    assert default["id"] == default_location_id(acme.id)


def test_an_older_company_whose_own_location_is_named_default_gets_the_next_name(acme: Company) -> None:
    forget_default_location(acme)
    acme.ok("POST", "/stock-locations", [{"label": "default"}], 201)

    made = wiring.catalog_service().default_location(acme.id, SYSTEM)

    assert (made.name, made.is_default, made.location_id) == ("Default location", True, default_location_id(acme.id))


class LateReader(DynamoCatalogStore):
    """A store whose first default-location read comes before another request's write (a race, replayed)."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.reads = 0

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        self.reads += 1
        return None if self.reads == 1 else super().get_location(tenant_id, location_id)


def test_two_first_requests_at_once_end_with_one_default_location(acme: Company) -> None:
    forget_default_location(acme)
    first = ensure_default_location(DynamoCatalogStore(get_settings().main_table), acme.id, SYSTEM)
    late = LateReader(get_settings().main_table)

    # The second request missed the first's write, tries to create it, is refused, and reads the winner.
    second = ensure_default_location(late, acme.id, SYSTEM)

    assert second == first
    assert late.reads == 2
    assert [loc["id"] for loc in acme.ok("GET", "/stock-locations") if loc["isDefault"]] == [first.location_id]
    assert len(acme.ok("GET", "/stock-locations")) == 1
