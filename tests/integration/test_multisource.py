"""The 004 multi-source routes through the app (moto): every route, lookup keys, limits, duplicates,
another company's ids, and the same stock seen by the maker and company surfaces."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from tests.integration.maker import Maker, fields_of, make_maker


@pytest.fixture
def shop(http: Client) -> Maker:
    return make_maker(http, "Widget Shop", tuple(sorted(ALL_PERMISSIONS)))


@pytest.fixture
def rival(http: Client) -> Maker:
    return make_maker(http, "Rival", tuple(sorted(ALL_PERMISSIONS)))


def product(maker: Maker, sku: str = "WIDGET-L-BLU", **sources: str) -> dict[str, Any]:
    body = {"sku": sku, "name": f"Widget {sku}", "sourceIds": sources}
    found: dict[str, Any] = maker.ok("POST", "/v2/products", body, 201)
    return found


def bulk(shop: Maker, records: list[dict[str, Any]], path: str = "sku/local", status: int = 200) -> dict[str, Any]:
    found: dict[str, Any] = shop.ok("POST", f"/v2/inventory/bulk/{path}", records, status)
    return found


def test_products_get_numeric_ids_and_are_found_by_every_lookup_key(shop: Maker) -> None:
    first = product(shop, "A-1", shop="S-1")
    second = product(shop, "A-2")
    assert (first["productId"], second["productId"]) == (1, 2)
    assert shop.ok("GET", "/v2/products/id/1")["sku"] == "A-1"
    assert shop.ok("GET", "/v2/products/sku/A-2")["productId"] == 2
    assert shop.ok("GET", "/v2/products/sourceId/S-1?source=shop")["productId"] == 1
    # Products made by the maker surface are numbered too, from the same counter.
    made = shop.ok("POST", "/api/products", {"name": "Candle"}, 201)
    assert made["id"]
    assert shop.ok("GET", "/v2/products/id/3")["id"] == made["id"]


def test_locations_show_their_warehouse_id_and_the_default_is_zero(shop: Maker) -> None:
    assert shop.default_location()["warehouseId"] == 0
    assert shop.location("Back room")["warehouseId"] == 1


def test_bad_lookup_keys_and_types_are_400s_listing_the_allowed_values(shop: Maker) -> None:
    error = shop.error("GET", "/v2/products/name/x/inventory")
    assert fields_of(error) == ["lookupKey"] and "id, sku, sourceId" in error["details"][0]["message"]
    error = shop.error("POST", "/v2/inventory/bulk/sku/remote", [])
    assert fields_of(error) == ["inventoryType"] and "local, supplier" in error["details"][0]["message"]
    assert fields_of(shop.error("GET", "/v2/products/sourceId/S-1/inventory")) == ["source"]
    assert fields_of(shop.error("GET", "/v2/products/id/abc/inventory")) == ["key"]
    shop.error("GET", "/v2/products/sku/NOPE/inventory", status=404)


def test_a_product_source_id_or_source_name_that_is_not_an_id_is_a_400_and_nothing_is_written(shop: Maker) -> None:
    # Found by the fuzzer: {"S": ""} was stored, and the local stack's moto then answered reads of it
    # with a map botocore could not parse (a 500 on GET /api/products).
    for sources in ({"S": ""}, {"": "A-17"}, {"shop": "A\x0017"}):
        error = shop.error("POST", "/v2/products", {"sku": "EMPTY-1", "name": "Empty", "sourceIds": sources})
        assert fields_of(error)[0].startswith("sourceIds"), error
    shop.error("GET", "/v2/products/sku/EMPTY-1", status=404)


def test_a_local_bulk_upsert_is_the_stock_every_surface_reads(shop: Maker) -> None:
    made = product(shop, "W-1")
    back = shop.location("Back room")
    result = bulk(
        shop,
        [
            {"sku": "W-1", "quantity": 10, "supplier": "ignored", "location": "A-1"},
            {"sku": "W-1", "quantity": 5, "warehouseId": back["warehouseId"], "costPrice": "12.99"},
        ],
    )
    assert (result["created"], result["updated"], result["failed"]) == (2, 0, 0)
    inventory = shop.ok("GET", "/v2/products/sku/W-1/inventory")
    assert inventory["localQuantity"] == inventory["totalQuantity"] == inventory["availableQuantity"] == 15
    assert {r["supplier"] for r in inventory["records"]} == {"INTERN"}
    # The maker surface sees the same stock at each location.
    maker_view = shop.get("products", made["id"])
    assert maker_view["stockLevel"] == 15
    assert maker_view["locationStockLevels"] == {"Default": 10, "Back room": 5}
    # The ledger holds one count movement per record.
    stock = wiring.stock_service()
    for record in inventory["records"]:
        stock_id = next(
            r.stock_id for r in stock.records_of(shop.id, [made["id"]])[made["id"]] if r.number == record["id"]
        )
        assert stock.ledger_total(shop.id, stock_id) == Decimal(str(record["quantity"]))
    # A second upsert with the same uniqueness key updates, never duplicates.
    again = bulk(shop, [{"sku": "W-1", "quantity": 7, "location": "A-1"}])
    assert (again["created"], again["updated"]) == (0, 1)
    assert shop.get("products", made["id"])["stockLevel"] == 12


def test_supplier_stock_is_shown_apart_and_never_on_hand(shop: Maker) -> None:
    made = product(shop, "W-2")
    bulk(shop, [{"sku": "W-2", "quantity": 3}])
    result = bulk(
        shop, [{"sku": "W-2", "quantity": 40, "supplier": "Acme Corp", "supplierCode": "AC-1"}], "sku/supplier"
    )
    assert result["created"] == 1
    inventory = shop.ok("GET", "/v2/products/sku/W-2/inventory")
    assert (inventory["localQuantity"], inventory["supplierQuantity"], inventory["totalQuantity"]) == (3, 40, 43)
    assert inventory["availableQuantity"] == 3
    assert shop.get("products", made["id"])["stockLevel"] == 3
    missing = bulk(shop, [{"sku": "W-2", "quantity": 1}, {"sku": "W-2", "supplier": "intern"}], "sku/supplier", 207)
    assert [r["status"] for r in missing["results"]] == ["error", "error"]
    assert all("supplier" in r["error"] for r in missing["results"])


def test_records_are_validated_first_and_answered_one_by_one(shop: Maker) -> None:
    product(shop, "W-3")
    result = bulk(
        shop,
        [
            {"sku": "W-3", "quantity": 1, "supplierCode": "x" * 31},
            {"sku": "W-3", "quantity": 1, "costPrice": "1.123456"},
            {"sku": "W-3", "quantity": 1, "notes": "n" * 256},
            {"sku": "NOPE", "quantity": 1},
            {"sku": "W-3", "quantity": 2, "location": "B"},
            {"sku": "W-3", "quantity": 3, "location": "B"},
            {"sku": "W-3", "quantity": 1, "unknown": 1},
        ],
        status=207,
    )
    statuses = [(r["status"], (r["error"] or "").split(":")[0]) for r in result["results"]]
    assert statuses == [
        ("error", "supplierCode"),
        ("error", "costPrice"),
        ("error", "notes"),
        ("error", "sku"),
        ("created", ""),
        ("error", "duplicates record [4] of this request (same uniqueness key)"),
        ("error", "unknown"),
    ]
    assert (result["created"], result["failed"]) == (1, 6)


def test_patch_get_and_delete_a_record(shop: Maker) -> None:
    product(shop, "W-4")
    ids = [
        r["id"]
        for r in bulk(shop, [{"sku": "W-4", "quantity": 4}, {"sku": "W-4", "quantity": 0, "location": "X"}])["results"]
    ]
    record = shop.ok("GET", f"/v2/inventory/id/{ids[0]}")
    assert (record["quantity"], record["supplier"], record["warehouseId"], record["companyId"]) == (4, "INTERN", 0, 0)
    patched = shop.ok("PATCH", f"/v2/inventory/id/{ids[0]}", {"quantity": 9, "notes": "recounted", "costPrice": "2.5"})
    assert (patched["quantity"], patched["notes"], patched["costPrice"]) == (9, "recounted", Decimal("2.5"))
    assert fields_of(shop.error("PATCH", f"/v2/inventory/id/{ids[0]}", {"location": "y" * 36})) == ["location"]
    assert fields_of(shop.error("PATCH", f"/v2/inventory/id/{ids[0]}", {"costPrice": "123456.1"})) == ["costPrice"]
    # Moving the record onto the other's uniqueness key would duplicate it.
    shop.error("PATCH", f"/v2/inventory/id/{ids[0]}", {"location": "X"}, status=409)
    # A record holding stock is deleted only with force, which writes the stock off.
    shop.error("DELETE", f"/v2/inventory/id/{ids[0]}", status=409)
    assert shop.call("DELETE", f"/v2/inventory/id/{ids[0]}?force=true").status_code == 204
    shop.error("GET", f"/v2/inventory/id/{ids[0]}", status=404)
    assert shop.ok("GET", "/v2/products/sku/W-4/inventory")["localQuantity"] == 0
    assert shop.call("DELETE", f"/v2/inventory/id/{ids[1]}").status_code == 204
    assert fields_of(shop.error("GET", "/v2/inventory/id/abc")) == ["id"]


def test_another_companys_ids_are_404s(shop: Maker, rival: Maker) -> None:
    made = product(shop, "W-5")
    record_id = bulk(shop, [{"sku": "W-5", "quantity": 1}])["results"][0]["id"]
    rival.error("GET", f"/v2/inventory/id/{record_id}", status=404)
    rival.error("PATCH", f"/v2/inventory/id/{record_id}", {"quantity": 3}, status=404)
    rival.error("DELETE", f"/v2/inventory/id/{record_id}?force=true", status=404)
    rival.error("GET", f"/v2/products/id/{made['productId']}/inventory", status=404)
    failed = rival.ok("POST", "/v2/inventory/bulk/id/local", [{"productId": made["productId"], "quantity": 1}], 207)
    assert failed["results"][0]["error"] == "productId: product not found"


def test_the_warehouse_route_restricts_every_figure(shop: Maker) -> None:
    product(shop, "W-6")
    back = shop.location("Back room")
    bulk(shop, [{"sku": "W-6", "quantity": 2}, {"sku": "W-6", "quantity": 5, "warehouseId": back["warehouseId"]}])
    scoped = shop.ok("GET", f"/v2/products/sku/W-6/inventory/warehouses/{back['warehouseId']}")
    assert (scoped["localQuantity"], len(scoped["records"])) == (5, 1)
    default = shop.ok("GET", "/v2/products/sku/W-6/inventory/warehouses/0")
    assert (default["localQuantity"], len(default["records"])) == (2, 1)
    shop.error("GET", "/v2/products/sku/W-6/inventory/warehouses/99", status=404)
    # A deleted location's warehouseId names nothing any more (numbers are never handed out again).
    spare = shop.location("Spare")
    assert shop.call("DELETE", f"/api/locations/{spare['id']}").status_code == 204
    shop.error("GET", f"/v2/products/sku/W-6/inventory/warehouses/{spare['warehouseId']}", status=404)
    assert shop.location("Spare")["warehouseId"] == spare["warehouseId"] + 1


def test_search_filters_sorts_and_pages(shop: Maker) -> None:
    first, second = product(shop, "S-1"), product(shop, "S-2")
    bulk(shop, [{"sku": "S-1", "quantity": q, "location": f"L{q}"} for q in (1, 2, 3)])
    bulk(shop, [{"sku": "S-2", "quantity": 9, "supplier": "Acme"}], "sku/supplier")
    everything = shop.ok("POST", "/v2/inventory/search", {})
    assert everything["pagination"] == {"page": 1, "pageSize": 50, "totalCount": 4}
    local = shop.ok(
        "POST",
        "/v2/inventory/search",
        {"filter": {"inventoryType": "local"}, "sort": [{"field": "quantity", "direction": "desc"}]},
    )
    assert [r["quantity"] for r in local["data"]] == [3, 2, 1]
    paged = shop.ok(
        "POST", "/v2/inventory/search", {"filter": {"productIds": [first["productId"]]}, "page": 2, "pageSize": 2}
    )
    assert (len(paged["data"]), paged["pagination"]["totalCount"]) == (1, 3)
    by_supplier = shop.ok("POST", "/v2/inventory/search", {"filter": {"supplier": "Acme"}})
    assert [r["productId"] for r in by_supplier["data"]] == [second["productId"]]
    ranged = shop.ok("POST", "/v2/inventory/search", {"filter": {"skus": ["S-1"], "minQuantity": 2, "location": "L3"}})
    assert [r["quantity"] for r in ranged["data"]] == [3]
    at_default = shop.ok("POST", "/v2/inventory/search", {"filter": {"warehouseIds": [0], "maxQuantity": 2}})
    assert sorted(r["quantity"] for r in at_default["data"]) == [1, 2]
    assert fields_of(shop.error("POST", "/v2/inventory/search", {"filter": {"colour": "red"}})) == ["filter.colour"]
    assert fields_of(shop.error("POST", "/v2/inventory/search", {"sort": [{"field": "colour"}]})) == ["sort[0].field"]
    assert fields_of(shop.error("POST", "/v2/inventory/search", {"pageSize": 501})) == ["pageSize"]


def test_a_reservation_lowers_available_and_the_company_surface_lists_the_record(shop: Maker) -> None:
    product(shop, "R-1")
    record_id = bulk(shop, [{"sku": "R-1", "quantity": 10}])["results"][0]["id"]
    listed = shop.ok("GET", f"/companies/{shop.id}/inventory")
    items = listed["data"] if isinstance(listed, dict) else listed
    item = next(i for i in items if i["productName"] == "Widget R-1")
    assert Decimal(str(item["quantity"])) == 10
    wiring.stock_service().reserve(shop.id, item["inventoryId"], Decimal(4), _actor())
    inventory = shop.ok("GET", "/v2/products/sku/R-1/inventory")
    assert (inventory["reservedQuantity"], inventory["availableQuantity"]) == (4, 6)
    # The reserved stock cannot be counted away, nor force-deleted.
    assert bulk(shop, [{"sku": "R-1", "quantity": 2}], status=207)["results"][0]["error"].startswith("quantity")
    shop.error("DELETE", f"/v2/inventory/id/{record_id}?force=true", status=409)


def _actor() -> Any:
    from chalicelib.core.models import SYSTEM

    return SYSTEM
