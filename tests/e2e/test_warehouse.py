"""The 001 warehouse stock routes over HTTP against the local stack: every route once on its happy path,
its 400/404/409 answers, another company's ids, a missing permission, an Idempotency-Key replay, and an
adjustment seen by the maker (002) and company inventory (000) surfaces."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e
D = Decimal


class Client:
    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.base = api.base_url
        self.id = tenant.company_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {tenant.api_key}"

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, headers=headers, timeout=15)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        response = self.call(method, path, body, **headers)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)

    def fails(self, method: str, path: str, body: Any = None, status: int = 400) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()
        return error


def fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


@pytest.fixture
def wh(api: Api, make_tenant: MakeTenant) -> Client:
    return Client(api, make_tenant("Warehouse E2E"))


@pytest.fixture
def rival(api: Api, make_tenant: MakeTenant) -> Client:
    return Client(api, make_tenant("Rival E2E"))


def test_every_warehouse_route_end_to_end(wh: Client, rival: Client) -> None:
    product = wh.ok("POST", "/api/products", {"name": "Milk", "lotControlled": True, "expiryTracked": True}, 201)["id"]
    plain = wh.ok("POST", "/api/products", {"name": "Salt"}, 201)["id"]
    location = wh.ok("POST", "/api/locations", {"name": "Cold store"}, 201)["id"]
    at = {"productMasterId": product, "locationId": location}
    # bins
    bin_id = wh.ok("POST", "/api/inventory/bins", {"locationId": location, "code": "C-1", "type": "storage"}, 201)["id"]
    kill = wh.ok("POST", "/api/inventory/bins", {"locationId": location, "code": "X", "type": "destruction"}, 201)["id"]
    assert fields(wh.fails("POST", "/api/inventory/bins", {"locationId": location, "code": "c-1"}, 409)) == ["code"]
    assert len(wh.ok("GET", f"/api/inventory/bins?locationId={location}")["data"]) == 2
    # lot control and receiving
    assert wh.ok("GET", f"/api/inventory/lot-control/validate?productMasterId={product}")["valid"] is False
    assert wh.ok(
        "POST", "/api/inventory/lot-control/validate", {"lines": [{**at, "lotNumber": "A", "expiryDate": "2040-01-01"}]}
    )["valid"]
    assert fields(wh.fails("POST", "/api/inventory/record-stock", {**at, "quantity": 1})) == ["lotNumber", "expiryDate"]
    lot_a = wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {**at, "binId": bin_id, "quantity": 10, "lotNumber": "A", "expiryDate": "2040-01-01"},
        201,
    )["lines"][0]["lotId"]
    lot_old = wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {**at, "quantity": 4, "lotNumber": "OLD", "expiryDate": "2020-01-01"},
        201,
    )["lines"][0]["lotId"]
    wh.ok(
        "POST", "/api/inventory/record-stock", {"productMasterId": plain, "locationId": location, "quantity": 10}, 201
    )
    # reads
    assert wh.ok("GET", f"/api/inventory?productMasterId={product}")["pagination"]["total"] == 2
    locations = {e["locationId"]: e for e in wh.ok("GET", "/api/inventory/locations")["data"]}
    assert locations[location]["productCount"] == 2
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    assert levels["totals"]["onHand"] == D(14)
    # adjusting
    codes = wh.ok("GET", "/api/inventory/adjustments/reason-codes")["data"]
    assert "DAMAGED" in {c["code"] for c in codes}
    salt = {"productMasterId": plain, "locationId": location}
    key = {"Idempotency-Key": "adjust-e2e-1"}
    first = wh.ok(
        "POST",
        "/api/inventory/adjust",
        {**salt, "quantityChange": -3, "reasonCode": "DAMAGED", "expectedOnHand": 10},
        201,
        **key,
    )
    again = wh.call(
        "POST",
        "/api/inventory/adjust",
        {**salt, "quantityChange": -3, "reasonCode": "DAMAGED", "expectedOnHand": 10},
        **key,
    )
    assert again.status_code == 201 and again.json()["id"] == first["id"]  # replayed, applied once
    stale = wh.fails(
        "POST", "/api/inventory/adjust", {**salt, "quantityChange": -1, "reasonCode": "LOST", "expectedOnHand": 10}, 409
    )
    assert stale["details"] == [{"field": "expectedOnHand", "message": "current on hand is 7"}]
    assert (
        wh.fails("POST", "/api/inventory/adjust", {**salt, "quantityChange": -50, "reasonCode": "LOST"}, 409)["code"]
        == "INSUFFICIENT_STOCK"
    )
    # ...seen by the maker (002) and the company inventory (000) surfaces
    assert D(str(wh.ok("GET", f"/api/products/{plain}")["stockLevel"])) == D(7)
    items = wh.ok("GET", f"/companies/{wh.id}/inventory")
    rows = items if isinstance(items, list) else items.get("data", items)
    salt_rows = [r for r in rows if r.get("productName") == "Salt"]
    assert [D(str(r["quantity"])) for r in salt_rows] == [D(7)]
    document = wh.ok(
        "POST", "/api/inventory/adjustments", {"reasonCode": "FOUND", "lines": [{**salt, "quantityChange": 1}]}, 201
    )
    listed = wh.ok("GET", f"/api/inventory/adjustments?productMasterId={plain}")["data"]
    assert listed[0]["id"] == document["id"]
    count = wh.ok("POST", "/api/inventory/adjustments/record-stock", {**salt, "countedQuantity": 5}, 201)
    assert count["lines"][0]["quantityChange"] == D(-3)
    assert wh.ok("GET", "/api/inventory/adjustments/record-stock")["data"][0]["id"] == count["id"]
    corrected = wh.ok(
        "POST",
        "/api/inventory/adjustments/lot-correction",
        {**at, "binId": bin_id, "fromLotId": lot_a, "toLotNumber": "B", "expiryDate": "2041-01-01", "quantity": 2},
        201,
    )
    assert corrected["type"] == "lot_correction"
    # holds
    hold = wh.ok("POST", "/api/inventory/holds", {**salt, "quantity": 2, "reason": "QA"}, 201)
    assert (
        wh.fails("POST", "/api/inventory/holds", {**salt, "quantity": 4, "reason": "QA"}, 409)["code"]
        == "INSUFFICIENT_STOCK"
    )
    assert wh.ok("POST", "/api/inventory/holds/release", {"holdId": hold["id"], "quantity": 1})["quantity"] == D(1)
    assert [h["id"] for h in wh.ok("GET", "/api/inventory/holds?status=active")["data"]] == [hold["id"]]
    # expiry
    assert [e["id"] for e in wh.ok("GET", "/api/inventory/expired")["data"]] == [lot_old]
    assert wh.ok("POST", "/api/inventory/expired/mark-expired", {"lotIds": [lot_old]})["data"][0]["status"] == "expired"
    assert fields(
        wh.fails("POST", "/api/inventory/expired/transfer-destruction", {"lotIds": [lot_old], "binId": bin_id})
    ) == ["binId"]
    moved = wh.ok("POST", "/api/inventory/expired/transfer-destruction", {"lotIds": [lot_old], "binId": kill})
    assert [m["kind"] for m in moved["movements"]] == ["transfer_out", "transfer_in"]
    consumed = wh.ok("POST", "/api/inventory/expired/mark-consumed", {"lotIds": [lot_old]})
    assert [(m["kind"], m["reason"]) for m in consumed["movements"]] == [("consumption", "EXPIRED")]
    # another company's ids are 404, as missing ones
    rival.fails("GET", f"/api/products/{product}/inventory-levels", status=404)
    assert fields(rival.fails("POST", "/api/inventory/holds/release", {"holdId": hold["id"]}, 404)) == ["holdId"]
    assert fields(rival.fails("POST", "/api/inventory/expired/mark-consumed", {"lotIds": [lot_a]}, 404)) == [
        "lotIds[0]"
    ]
    assert rival.ok("GET", f"/api/inventory?productMasterId={product}")["data"] == []


def test_warehouse_routes_need_their_permissions(api: Api, make_tenant: MakeTenant) -> None:
    reader = Client(api, make_tenant("Reader E2E", permissions="inventory.read"))
    assert reader.fails("GET", "/api/products/any/inventory-levels", status=403)["code"] == "FORBIDDEN"
    reader.fails("POST", "/api/inventory/adjust", {}, 403)
    reader.fails("POST", "/api/inventory/record-stock", {}, 403)
    assert reader.ok("GET", "/api/inventory")["data"] == []
    anonymous = requests.get(f"{api.base_url}/api/inventory", timeout=15)
    assert anonymous.status_code == 401
