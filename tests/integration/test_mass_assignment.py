"""Mass assignment (OWASP API3): a client cannot set what the server owns.

For each write route, the request carries every server-owned field of what
it writes (ids, companyId, version, timestamps, labels, computed quantities,
isDefault) with values of its own choosing. Either the request is refused as
a 400 naming such a field, or it succeeds and none of those fields took the
client's value: the stored entity, read back, carries the server's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.company import Company, Refs, error_fields, make_company
from tests.integration.maker import make_maker

pytestmark = pytest.mark.shared_aws

FORGED_ID = "forged-id"
FORGED_COMPANY = "00000000-0000-0000-0000-000000000000"
FORGED_TIME = "2001-01-01T00:00:00Z"
FORGED_VERSION = 99


def forged(*names: str, **values: Any) -> dict[str, Any]:
    """Server-owned fields with forged values: ids, companyId, version, timestamps, plus `values`."""
    common = {
        "companyId": FORGED_COMPANY,
        "version": FORGED_VERSION,
        "createdAt": FORGED_TIME,
        "updatedAt": FORGED_TIME,
    }
    return {**dict.fromkeys(names, FORGED_ID), **common, **values}


def refused_or_ignored(response: Any, sent: dict[str, Any]) -> bool:
    """True when the write succeeded (the caller then checks what was stored); a 400 must name a sent field."""
    if response.status_code == 400:
        fields = error_fields(response)
        assert any(field.rsplit(".", 1)[-1] in sent for field in fields), response.body
        return False
    assert response.status_code in (200, 201), response.body
    return True


def assert_server_owned(stored: dict[str, Any], sent: dict[str, Any], company: Company) -> None:
    for name, value in sent.items():
        if name == "companyId":
            assert stored.get(name) in (None, company.id), name
        elif name in stored:
            assert stored[name] != value, f"{name} took the client's value {value!r}"


def test_inventory_create_and_update_ignore_or_refuse_server_owned_fields(acme: Company, refs: Refs) -> None:
    owned = forged(
        "inventoryId",
        "typeLabel",
        "materialLabel",
        "supplierName",
        "stockLocationLabel",
        "millCertificationId",
        linkedOrders='[{"orderId": "x"}]',
        ruleTags=["forged-tag"],
    )
    # Create
    response = acme.call("POST", "/inventory", [{**refs.item(), **owned}])
    if refused_or_ignored(response, owned):
        created = json.loads(response.body)[0]
        stored = acme.ok("GET", f"/inventory/{created['inventoryId']}")
        assert_server_owned(stored, owned, acme)
        assert stored["version"] == 1
    item = acme.ok("POST", "/inventory", [refs.item()], 201)[0]

    # Update: the id names the item; everything else the server owns stays the server's
    update = {key: value for key, value in owned.items() if key != "inventoryId"}
    update.pop("version")
    response = acme.call("PUT", "/inventory", [{"inventoryId": item["inventoryId"], "quantity": "7", **update}])
    if refused_or_ignored(response, update):
        stored = acme.ok("GET", f"/inventory/{item['inventoryId']}")
        assert_server_owned(stored, update, acme)
        assert stored["version"] == item["version"] + 1
        assert stored["createdAt"] == item["createdAt"]


@pytest.mark.parametrize(
    ("segment", "entry"),
    [
        ("/inventory-types", {"label": "Flat bar"}),
        ("/inventory-materials", {"label": "S235"}),
        ("/organisations", {"name": "Buyer Co"}),
        ("/stock-locations", {"label": "Yard Z"}),
        ("/mill-certifications", {"heatCode": "H-77"}),
        ("/tags", {"name": "Urgent"}),
    ],
)
def test_reference_create_ignores_or_refuses_server_owned_fields(
    acme: Company, segment: str, entry: dict[str, Any]
) -> None:
    owned = forged("id", isDefault=True, active=False)
    response = acme.call("POST", segment, [{**entry, **owned}])
    if refused_or_ignored(response, owned):
        created = json.loads(response.body)[0]
        stored = next(row for row in acme.ok("GET", segment) if row["id"] == created["id"])
        assert_server_owned(stored, owned, acme)
        assert stored["version"] == 1
    if segment == "/stock-locations":
        # Still exactly one default location: the one made with the company.
        assert [row["isDefault"] for row in acme.ok("GET", segment)].count(True) == 1


def test_orders_create_ignores_or_refuses_server_owned_fields(acme: Company) -> None:
    shop = make_company(acme.http, "Orders", ("orders.read", "orders.write"))
    owned = forged("orderId", customerName="Forged Ltd", active=False, quantity="12345")
    line_owned = {"orderId": FORGED_ID, "active": False, "version": FORGED_VERSION, "createdAt": FORGED_TIME}
    order = {"orderReference": "PO-M1", **owned, "lineItems": [{"productName": "Bar", "quantity": "2", **line_owned}]}

    response = shop.call("POST", "/orders", [order])

    if refused_or_ignored(response, {**owned, **line_owned}):
        created = json.loads(response.body)[0]
        stored = shop.ok("GET", f"/orders/{created['orderId']}")
        assert_server_owned(stored, owned, shop)
        assert (stored["active"], stored["quantity"], stored["customerName"]) == (True, 2, None)
        (line,) = stored["lineItems"]
        assert (line["orderId"], line["active"], line["version"]) == (created["orderId"], True, 1)


def test_issuing_a_key_cannot_choose_its_tenant_or_id(acme: Company) -> None:
    owned = {"keyId": FORGED_ID, "companyId": FORGED_COMPANY, "tenantId": FORGED_COMPANY, "createdAt": FORGED_TIME}
    response = acme.http.http.post(
        "/api-keys",
        headers={"X-API-Key": acme.key, "Content-Type": "application/json"},
        body=json.dumps({"name": "ci", "permissions": ["inventory.read"], **owned}).encode(),
    )
    if refused_or_ignored(response, owned):
        issued = json.loads(response.body)
        assert issued.get("keyId") != FORGED_ID
        who = acme.http.http.get("/whoami", headers={"X-API-Key": issued["apiKey"]})
        assert json.loads(who.body)["tenantId"] == acme.id


def maker_refused_or_ignored(response: Any, sent: dict[str, Any]) -> bool:
    if response.status_code == 400:
        body = json.loads(response.body)
        assert any(name in json.dumps(body) for name in sent), body
        return False
    assert response.status_code in (200, 201), response.body
    return True


@pytest.mark.parametrize("kind", ["products", "materials"])
def test_maker_resource_create_and_patch_ignore_or_refuse_server_owned_fields(acme: Company, kind: str) -> None:
    maker = make_maker(acme.http, "Candles")
    owned = {
        "id": FORGED_ID,
        "stockLevel": 500,
        "locationStockLevels": {"Default": 500},
        "version": FORGED_VERSION,
        "createdAt": FORGED_TIME,
        "updatedAt": FORGED_TIME,
    }
    response = maker.call("POST", f"/api/{kind}", {"name": "Soy wax", "unitType": "weight.kg", **owned})
    if maker_refused_or_ignored(response, owned):
        created = json.loads(response.body)
        stored = maker.ok("GET", f"/api/{kind}/{created['id']}")
        assert (stored["id"] != FORGED_ID, stored["stockLevel"], stored["version"]) == (True, 0, 1)
        assert stored["locationStockLevels"] in ({}, {"Default": 0})
        assert stored["createdAt"] != FORGED_TIME
    resource = maker.ok("POST", f"/api/{kind}", {"name": "Wick", "unitType": "pieces"}, 201)
    patch = {key: value for key, value in owned.items() if key not in ("id", "version")}
    response = maker.call("PATCH", f"/api/{kind}/{resource['id']}", {"notes": "new", **patch})
    if maker_refused_or_ignored(response, patch):
        stored = maker.ok("GET", f"/api/{kind}/{resource['id']}")
        assert (stored["notes"], stored["stockLevel"], stored["createdAt"]) == ("new", 0, resource["createdAt"])


def test_maker_location_cannot_be_made_the_default_by_a_client(acme: Company) -> None:
    maker = make_maker(acme.http, "Candles")
    owned = {"id": FORGED_ID, "isDefault": True, "version": FORGED_VERSION}
    response = maker.call("POST", "/api/locations", {"name": "Shed", **owned})
    if maker_refused_or_ignored(response, owned):
        created = json.loads(response.body)
        assert created["id"] != FORGED_ID and created["isDefault"] is False
    defaults = [loc for loc in maker.ok("GET", "/api/locations")["data"] if loc["isDefault"]]
    assert len(defaults) == 1
    response = maker.call("PATCH", f"/api/locations/{defaults[0]['id']}", {"isDefault": False})
    if maker_refused_or_ignored(response, {"isDefault": False}):
        assert [loc["isDefault"] for loc in maker.ok("GET", "/api/locations")["data"]].count(True) == 1
