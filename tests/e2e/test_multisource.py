"""The 004 multi-source surface over HTTP against the local stack: every /v2 route, bad lookup keys and
types, limits, duplicates, another company's ids, and the same stock through the maker (002), company
inventory (000) and orders (003) surfaces.

The /v2 calls carry an OAuth2 access token of the company's client (`make tenant` prints it; the token
comes from `POST /oauth2/token`); the other surfaces' calls use the company's API key, and one test shows
that the API key still works on /v2."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.e2e.tokens import client_token

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e
D = Decimal


class Shop:
    """A company calling /v2 with `Authorization: Bearer <access token of its OAuth2 client>`."""

    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.base = api.base_url
        self.key = tenant.api_key
        self.token = client_token(api.base_url, tenant.client_id, tenant.client_secret)
        self.id = tenant.company_id
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {self.token}", **headers}
        return self.session.request(method, self.base + path, json=body, headers=sent, timeout=60)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        response = self.call(method, path, body, **headers)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal) if response.text else None

    def fails(self, method: str, path: str, body: Any = None, status: int = 400) -> list[str]:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()
        assert isinstance(error["error"], str) and error["error"]
        return [d["field"] for d in error.get("details", [])]


@pytest.fixture
def shop(api: Api, make_tenant: MakeTenant) -> Shop:
    return Shop(api, make_tenant("E2E Widgets"))


@pytest.fixture
def rival(api: Api, make_tenant: MakeTenant) -> Shop:
    return Shop(api, make_tenant("E2E Widget Rival"))


def test_every_v2_route_over_http(shop: Shop) -> None:
    product = shop.ok("POST", "/v2/products", {"sku": "W-1", "name": "Widget", "sourceIds": {"shop": "A-17"}}, 201)
    assert shop.ok("GET", f"/v2/products/id/{product['productId']}")["sku"] == "W-1"
    assert shop.ok("GET", "/v2/products/sourceId/A-17?source=shop")["productId"] == product["productId"]
    back = shop.session.request(
        "POST",
        shop.base + "/api/locations",
        json={"name": "Back room"},
        headers={"X-Inventora-API-Key": shop.key},
        timeout=15,
    ).json()
    assert back["warehouseId"] >= 1

    local = shop.ok(
        "POST",
        "/v2/inventory/bulk/id/local",
        [
            {"productId": product["productId"], "quantity": 10, "location": "A-1", "costPrice": "12.99"},
            {"productId": product["productId"], "quantity": 5, "warehouseId": back["warehouseId"]},
        ],
        **{"Idempotency-Key": "bulk-1"},
    )
    assert (local["created"], local["failed"]) == (2, 0)
    supplier = shop.ok(
        "POST",
        "/v2/inventory/bulk/sourceId/supplier?source=shop",
        [{"sourceId": "A-17", "quantity": 40, "supplier": "Acme Corp", "supplierCode": "AC-1"}],
    )
    assert supplier["created"] == 1

    inventory = shop.ok("GET", "/v2/products/sku/W-1/inventory")
    assert (inventory["localQuantity"], inventory["supplierQuantity"], inventory["totalQuantity"]) == (15, 40, 55)
    assert inventory["availableQuantity"] == 15 and len(inventory["records"]) == 3
    scoped = shop.ok("GET", f"/v2/products/sku/W-1/inventory/warehouses/{back['warehouseId']}")
    assert (scoped["localQuantity"], scoped["supplierQuantity"], len(scoped["records"])) == (5, 0, 1)

    first = local["results"][0]["id"]
    record = shop.ok("GET", f"/v2/inventory/id/{first}")
    assert set(record) == {
        "id",
        "productId",
        "quantity",
        "supplier",
        "supplierCode",
        "sku",
        "warehouseId",
        "companyId",
        "location",
        "costPrice",
        "notes",
        "nextDeliveryDate",
        "createdAt",
        "lastModifiedAt",
    }
    assert (record["supplier"], record["warehouseId"], record["costPrice"]) == ("INTERN", 0, D("12.99"))
    patched = shop.ok("PATCH", f"/v2/inventory/id/{first}", {"quantity": 8, "nextDeliveryDate": "2025-08-01T00:00:00Z"})
    assert (patched["quantity"], patched["nextDeliveryDate"]) == (8, "2025-08-01T00:00:00.000Z")

    found = shop.ok("POST", "/v2/inventory/search", {"filter": {"inventoryType": "supplier"}})
    assert [r["supplier"] for r in found["data"]] == ["Acme Corp"]
    assert found["pagination"] == {"page": 1, "pageSize": 50, "totalCount": 1}

    shop.fails("DELETE", f"/v2/inventory/id/{first}", status=409)
    assert shop.call("DELETE", f"/v2/inventory/id/{first}?force=true").status_code == 204
    shop.fails("GET", f"/v2/inventory/id/{first}", status=404)
    assert shop.ok("GET", "/v2/products/sku/W-1/inventory")["localQuantity"] == 5


def test_bad_lookup_keys_types_and_limits_are_400s_naming_the_field(shop: Shop) -> None:
    shop.ok("POST", "/v2/products", {"sku": "L-1", "name": "Limits"}, 201)
    assert shop.fails("GET", "/v2/products/ean/L-1/inventory") == ["lookupKey"]
    assert shop.fails("POST", "/v2/inventory/bulk/sku/consigned", []) == ["inventoryType"]
    assert shop.fails("GET", "/v2/products/sourceId/A/inventory") == ["source"]
    assert shop.fails("GET", "/v2/inventory/id/x") == ["id"]
    shop.fails("GET", "/v2/products/sku/NOPE/inventory", status=404)
    assert shop.fails("POST", "/v2/inventory/bulk/sku/local", [{"sku": "L-1"}] * 1001) == ["body"]
    assert shop.fails("POST", "/v2/inventory/search", {"pageSize": 501}) == ["pageSize"]
    assert shop.fails("POST", "/v2/inventory/search", {"filter": {"colour": "red"}}) == ["filter.colour"]
    assert shop.fails("POST", "/v2/inventory/search", {"sort": [{"field": "colour"}]}) == ["sort[0].field"]
    answer = shop.ok(
        "POST",
        "/v2/inventory/bulk/sku/local",
        [
            {"sku": "L-1", "supplier": "x" * 36, "quantity": 1},
            {"sku": "L-1", "supplierCode": "x" * 31},
            {"sku": "L-1", "location": "x" * 36},
            {"sku": "L-1", "notes": "x" * 256},
            {"sku": "L-1", "costPrice": "1.000001"},
            {"sku": "L-1", "quantity": 1},
        ],
        status=207,
    )
    errors = [r["error"].split(":")[0] for r in answer["results"] if r["status"] == "error"]
    assert errors == ["supplier", "supplierCode", "location", "notes", "costPrice"]
    assert [r["status"] for r in answer["results"]][-1] == "created"
    record_id = answer["results"][-1]["id"]
    assert shop.fails("PATCH", f"/v2/inventory/id/{record_id}", {"costPrice": "123456"}) == ["costPrice"]
    assert shop.fails("PATCH", f"/v2/inventory/id/{record_id}", {"notes": "x" * 256}) == ["notes"]


def test_duplicates_are_updates_in_bulk_and_409s_on_patch(shop: Shop) -> None:
    shop.ok("POST", "/v2/products", {"sku": "D-1", "name": "Dupes"}, 201)
    first = shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "D-1", "quantity": 1, "location": "A"}])
    again = shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "D-1", "quantity": 2, "location": "A"}])
    assert (again["updated"], again["results"][0]["id"]) == (1, first["results"][0]["id"])
    other = shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "D-1", "quantity": 1, "location": "B"}])
    shop.fails("PATCH", f"/v2/inventory/id/{other['results'][0]['id']}", {"location": "A"}, status=409)


def test_another_companys_ids_are_404s(shop: Shop, rival: Shop) -> None:
    product = shop.ok("POST", "/v2/products", {"sku": "P-1", "name": "Private"}, 201)
    record_id = shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "P-1", "quantity": 3}])["results"][0]["id"]
    rival.fails("GET", f"/v2/inventory/id/{record_id}", status=404)
    rival.fails("PATCH", f"/v2/inventory/id/{record_id}", {"quantity": 1}, status=404)
    rival.fails("DELETE", f"/v2/inventory/id/{record_id}?force=true", status=404)
    rival.fails("GET", f"/v2/products/id/{product['productId']}/inventory", status=404)
    rival.fails("GET", "/v2/products/sku/P-1", status=404)
    assert rival.ok("POST", "/v2/inventory/search", {"filter": {"skus": ["P-1"]}})["data"] == []
    assert shop.ok("GET", f"/v2/inventory/id/{record_id}")["quantity"] == 3


def test_a_local_upsert_is_the_stock_of_every_surface_and_an_order_reservation_lowers_available(shop: Shop) -> None:
    product = shop.ok("POST", "/v2/products", {"sku": "X-1", "name": "Cross widget"}, 201)
    shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "X-1", "quantity": 10}])
    # The maker surface (002) reads the same stock.
    maker = shop.session.get(
        f"{shop.base}/api/products/{product['id']}", headers={"X-Inventora-API-Key": shop.key}, timeout=15
    ).json(parse_float=Decimal)
    assert (maker["stockLevel"], maker["locationStockLevels"]) == (10, {"Default": 10})
    # The company inventory surface (000) lists it as an item.
    items = shop.ok("GET", f"/companies/{shop.id}/inventory")
    rows = [i for i in (items["data"] if isinstance(items, dict) else items) if i["productName"] == "Cross widget"]
    assert [D(str(r["quantity"])) for r in rows] == [10]
    # An order (003) reserves 4 of it: available falls here.
    order = shop.ok(
        "POST",
        f"/companies/{shop.id}/orders",
        [{"orderReference": "SO-X1", "lineItems": [{"productName": "Cross widget", "quantity": "4"}]}],
        201,
    )[0]
    line = order["lineItems"][0]["lineItemId"]
    reserve = f"/companies/{shop.id}/orders/{order['orderId']}/line-items/{line}/reserve"
    shop.ok("POST", f"{reserve}?inventoryId={rows[0]['inventoryId']}&reserveQuantity=4&split=1")
    inventory = shop.ok("GET", "/v2/products/sku/X-1/inventory")
    assert (inventory["localQuantity"], inventory["reservedQuantity"], inventory["availableQuantity"]) == (10, 4, 6)


def test_an_api_key_still_works_on_v2_next_to_tokens(shop: Shop) -> None:
    product = shop.ok("POST", "/v2/products", {"sku": "K-1", "name": "Keyed"}, 201)
    by_key = shop.session.get(
        f"{shop.base}/v2/products/sku/K-1/inventory", headers={"Authorization": f"Bearer {shop.key}"}, timeout=15
    )
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["productId"] == product["productId"]
    # Something shaped like a token that is not one of ours is a 401 naming invalid_token, key or no key.
    forged = shop.session.get(
        f"{shop.base}/v2/products/sku/K-1/inventory", headers={"Authorization": "Bearer not.our.token"}, timeout=15
    )
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers.get("WWW-Authenticate", "")
