"""The 002 products, materials and locations routes through the real app on moto:
documented fields, pagination, every documented constraint, other companies, permissions, auth,
and the same stock as the company inventory surface (000)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import MovementKind
from chalicelib.core.stock.levels import location_stock_id
from chalicelib.settings import get_settings
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.integration.maker import Maker, fields_of, loads, make_maker

D = Decimal
RESOURCE_FIELDS = {
    "id",
    "name",
    "sku",
    "stockLevel",
    "unitType",
    "unitPrice",
    "minLevel",
    "notes",
    "retailPrice",
    "wholesalePrice",
    "ean",
    "minimumQuantity",
    "reorderURLs",
    "locationStockLevels",
    "productionType",
    "materials",
}
MATERIAL_LINE_FIELDS = {"id", "name", "sku", "unitType", "unitPrice", "stockLevel", "minLevel", "quantityUsed"}


@pytest.fixture
def maker(http: Client) -> Maker:
    return make_maker(http)


@pytest.fixture
def rival(http: Client) -> Maker:
    return make_maker(http, "Rival Crafts")


def movements(maker: Maker, product_id: str, location_id: str) -> list[Any]:
    store = DynamoStockStore(get_settings().main_table)
    found = store.movements(maker.id, location_stock_id(maker.id, product_id, location_id))
    return sorted(found, key=lambda m: m.occurred_at)


# -- auth ---------------------------------------------------------------------------------


def test_the_key_is_taken_from_the_header_or_the_query_parameter(maker: Maker) -> None:
    assert maker.ok("GET", "/api/products")["pagination"]["totalCount"] == 0
    assert maker.ok("GET", "/api/products?limit=5", key_in_query=True)["pagination"]["limit"] == 5
    created = maker.ok("POST", "/api/materials", {"name": "Wax"}, 201, key_in_query=True)
    assert maker.get("materials", created["id"])["name"] == "Wax"


def test_a_missing_or_wrong_key_is_a_401_with_the_documented_error(maker: Maker) -> None:
    missing = maker.http.http.request("GET", "/api/products", headers={})
    assert missing.status_code == 401
    assert loads(missing.body)["error"] == "API key missing"
    wrong = maker.http.http.request("GET", "/api/products", headers={"X-Inventora-API-Key": "sr_nope_x_y"})
    assert wrong.status_code == 401
    assert loads(wrong.body)["error"] == "Invalid API key"
    forged = maker.http.http.request("GET", f"/api/products?x-inventora-api-key={maker.key}x")
    assert loads(forged.body)["error"] == "Invalid API key"


@pytest.mark.parametrize(
    ("permissions", "method", "path", "body"),
    [
        (("products.read",), "POST", "/api/products", {"name": "X"}),
        (("products.read",), "PATCH", "/api/materials/anything", {"name": "X"}),
        (("products.read",), "DELETE", "/api/products/anything", None),
        (("products.write",), "GET", "/api/products", None),
        (("products.read", "products.write"), "POST", "/api/products/x/stock-level-updates", {}),
        (("products.read",), "GET", "/api/locations", None),
        (("inventory.read",), "POST", "/api/locations", {"name": "X"}),
        (("inventory.read",), "DELETE", "/api/locations/x", None),
    ],
)
def test_a_key_without_the_routes_permission_is_a_403(
    http: Client, permissions: tuple[str, ...], method: str, path: str, body: Any
) -> None:
    limited = make_maker(http, "Limited", permissions)
    error = limited.error(method, path, body, 403)
    assert "lacks the permission" in error["error"]


# -- create, read, list ------------------------------------------------------------------


def test_a_material_is_created_with_its_initial_stock_and_read_back_in_the_documented_shape(maker: Maker) -> None:
    main = maker.default_location()
    wax = maker.material(
        "Soy Wax",
        "weight.lbs",
        sku="WAX-SOY",
        unitPrice="3.25",
        minLevel="20",
        notes="Food grade",
        ean="9876543210987",
        minimumQuantity="10",
        reorderURLs=["https://supplier.example/wax"],
        initialStock={"locationName": main["name"], "quantity": "80"},
    )
    assert set(wax) >= RESOURCE_FIELDS
    assert wax["productionType"] == "supplied"
    assert (wax["stockLevel"], wax["locationStockLevels"]) == (D(80), {main["name"]: D(80)})
    assert wax["materials"] == []
    assert maker.get("materials", wax["id"]) == wax
    # The initial stock is one ledger line of kind initial, at the unit price.
    (line,) = movements(maker, wax["id"], main["id"])
    assert (line.kind, line.quantity, line.unit_price) == (MovementKind.INITIAL, D(80), D("3.25"))


def test_a_product_shows_its_bill_of_materials_with_each_materials_stock(maker: Maker) -> None:
    main = maker.default_location()["name"]
    wax = maker.material("Soy Wax", "weight.kg", unitPrice="3.25", initialStock={"locationName": main, "quantity": 5})
    wick = maker.material("Wick")
    candle = maker.product("Candle", [(wax["id"], "0.25"), (wick["id"], 1)], sku="CANDLE-001")
    assert candle["productionType"] == "produced"
    assert [set(m) for m in candle["materials"]] == [MATERIAL_LINE_FIELDS] * 2
    assert candle["materials"][0] == {
        "id": wax["id"],
        "name": "Soy Wax",
        "sku": None,
        "unitType": "weight.kg",
        "unitPrice": D("3.25"),
        "stockLevel": D(5),
        "minLevel": None,
        "quantityUsed": D("0.25"),
    }
    # Products and materials are separate lists of the same store.
    assert [p["id"] for p in maker.ok("GET", "/api/products")["data"]] == [candle["id"]]
    assert maker.error("GET", f"/api/materials/{candle['id']}", status=404)
    assert maker.error("GET", f"/api/products/{wax['id']}", status=404)


def test_lists_page_by_limit_and_offset_in_creation_order_with_the_true_count(maker: Maker) -> None:
    ids = [maker.material(f"M{i}")["id"] for i in range(5)]
    first = maker.ok("GET", "/api/materials")
    assert [m["id"] for m in first["data"]] == ids
    assert first["pagination"] == {"totalCount": 5, "offset": 0, "limit": 100}
    middle = maker.ok("GET", "/api/materials?limit=2&offset=2")
    assert [m["id"] for m in middle["data"]] == ids[2:4]
    assert middle["pagination"] == {"totalCount": 5, "offset": 2, "limit": 2}
    assert [m["id"] for m in maker.ok("GET", "/api/materials?offset=4")["data"]] == ids[4:]
    beyond = maker.ok("GET", "/api/materials?offset=9")
    assert (beyond["data"], beyond["pagination"]["totalCount"]) == ([], 5)
    assert maker.ok("GET", "/api/materials?limit=1000")["pagination"]["limit"] == 1000


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=2.5", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ],
)
def test_a_bad_limit_or_offset_is_a_400_naming_it(maker: Maker, query: str, field: str) -> None:
    for path in ("/api/products", "/api/materials", "/api/locations", "/api/tasks"):
        assert fields_of(maker.error("GET", f"{path}?{query}")) == [field]


# -- bad input on create and update ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "unitType": "bundles"}, "unitType"),
        ({"name": "X", "unitType": "weight.stone"}, "unitType"),
        ({"name": "X", "productionType": "magic"}, "productionType"),
        ({"name": "X", "unitPrice": "-1"}, "unitPrice"),
        ({"name": "X", "unitPrice": "1e400"}, "unitPrice"),
        ({"name": "X", "materials": [{"id": "nope", "quantityUsed": 1}]}, "materials[0].id"),
        ({"name": "X", "materials": [{"quantityUsed": 1}]}, "materials[0].id"),
        ({"name": "X", "initialStock": {"locationName": "Nowhere", "quantity": 1}}, "initialStock.locationName"),
        ({"name": "X", "initialStock": {"locationName": "Default", "quantity": -1}}, "initialStock.quantity"),
    ],
)
def test_a_bad_create_is_a_400_naming_the_field(maker: Maker, body: dict[str, Any], field: str) -> None:
    maker.default_location()
    assert field in fields_of(maker.error("POST", "/api/products", body))
    assert maker.ok("GET", "/api/products")["pagination"]["totalCount"] == 0


def test_a_bill_of_materials_too_long_for_one_batch_transaction_is_a_400_on_materials(maker: Maker) -> None:
    lines = [{"id": f"m{i}", "quantityUsed": 1} for i in range(46)]
    assert fields_of(maker.error("POST", "/api/products", {"name": "X", "materials": lines})) == ["materials"]


def test_a_material_of_a_bill_of_materials_must_be_this_companys(maker: Maker, rival: Maker) -> None:
    theirs = rival.material("Their wax")
    error = maker.error("POST", "/api/products", {"name": "X", "materials": [{"id": theirs["id"], "quantityUsed": 1}]})
    assert fields_of(error) == ["materials[0].id"]


def test_a_patch_changes_only_what_it_sends_and_replaces_the_bill_of_materials(maker: Maker) -> None:
    wax, wick = maker.material("Wax", "weight.kg"), maker.material("Wick")
    candle = maker.product("Candle", [(wax["id"], "0.2")], notes="old", retailPrice="15")
    patched = maker.ok(
        "PATCH",
        f"/api/products/{candle['id']}",
        {"name": "Big Candle", "retailPrice": None, "materials": [{"id": wick["id"], "quantityUsed": 2}]},
    )
    assert (patched["name"], patched["notes"], patched["retailPrice"]) == ("Big Candle", "old", None)
    assert [(m["id"], m["quantityUsed"]) for m in patched["materials"]] == [(wick["id"], D(2))]
    assert patched["version"] == candle["version"] + 1
    assert maker.get("products", candle["id"]) == patched


def test_a_stale_version_is_a_409(maker: Maker) -> None:
    wax = maker.material("Wax")
    maker.ok("PATCH", f"/api/materials/{wax['id']}", {"notes": "first", "version": 1})
    error = maker.error("PATCH", f"/api/materials/{wax['id']}", {"notes": "second", "version": 1}, 409)
    assert "version" in error["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unitType": "bundles"}, "unitType"),
        ({"unitType": "furlongs"}, "unitType"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"productionType": "bundle"}, "productionType"),
        ({"minLevel": "abc"}, "minLevel"),
    ],
)
def test_a_bad_patch_is_a_400_naming_the_field(maker: Maker, body: dict[str, Any], field: str) -> None:
    wax = maker.material("Wax")
    assert field in fields_of(maker.error("PATCH", f"/api/materials/{wax['id']}", body))
    assert maker.get("materials", wax["id"])["version"] == 1


def test_a_bundle_is_in_bundles_and_cannot_change_unit_nor_take_stock(maker: Maker) -> None:
    main = maker.default_location()["name"]
    wick = maker.material("Wick", initialStock={"locationName": main, "quantity": 9})
    kit = maker.ok(
        "POST",
        "/api/products",
        {"name": "Kit", "productionType": "bundle", "materials": [{"id": wick["id"], "quantityUsed": 2}]},
        201,
    )
    assert (kit["unitType"], kit["stockLevel"], kit["locationStockLevels"]) == ("bundles", D(4), {main: D(4)})
    assert fields_of(maker.error("PATCH", f"/api/products/{kit['id']}", {"unitType": "pieces"})) == ["unitType"]
    error = maker.error(
        "POST",
        f"/api/products/{kit['id']}/stock-level-updates",
        {"quantity": 1, "locationName": main, "updateType": "restock"},
    )
    assert "derived" in error["error"]


def test_unit_price_changes_only_while_the_initial_stock_is_the_only_block(maker: Maker) -> None:
    main = maker.default_location()["name"]
    wax = maker.material("Wax", unitPrice="3", initialStock={"locationName": main, "quantity": 10})
    assert maker.ok("PATCH", f"/api/materials/{wax['id']}", {"unitPrice": "4"})["unitPrice"] == D(4)
    maker.level("materials", wax["id"], "restock", 5, main)
    error = maker.error("PATCH", f"/api/materials/{wax['id']}", {"unitPrice": "5"})
    assert fields_of(error) == ["unitPrice"]
    assert "initial stock" in error["error"]
    # Once the restock's block is drawn away (FIFO: initial first, then it), the price may change again.
    maker.level("materials", wax["id"], "loss", 15, main)
    assert maker.ok("PATCH", f"/api/materials/{wax['id']}", {"unitPrice": "5"})["unitPrice"] == D(5)


def test_stock_blocks_list_what_fifo_leaves_with_its_value(maker: Maker) -> None:
    main = maker.default_location()["name"]
    wax = maker.material("Wax", unitPrice="2", initialStock={"locationName": main, "quantity": 4})
    maker.ok("PATCH", f"/api/materials/{wax['id']}", {"unitPrice": "3"})  # revalues the initial block
    maker.level("materials", wax["id"], "restock", 6, main)  # a block at 3
    maker.ok("PATCH", f"/api/materials/{wax['id']}", {"unitPrice": "3"})  # same price: no change, allowed
    maker.level("materials", wax["id"], "loss", 5, main)  # 4 from the initial block, 1 from the restock's
    blocks = maker.ok("GET", f"/api/materials/{wax['id']}/stock-blocks")
    assert blocks["stockLevel"] == D(5)
    assert [(b["type"], b["initial"], b["quantity"], b["remaining"], b["unitPrice"]) for b in blocks["blocks"]] == [
        ("receipt", False, D(6), D(5), D(3))
    ]
    assert blocks["totalValue"] == D(15)
    assert blocks["blocks"][0]["locationName"] == main


# -- stock-level updates --------------------------------------------------------------------


def test_audit_restock_loss_and_custom_move_the_stock_at_the_named_location(maker: Maker) -> None:
    main = maker.default_location()
    shop = maker.location("Retail Store")
    wick = maker.material("Wick")
    assert maker.level("materials", wick["id"], "restock", 50, main["name"])["stockLevel"] == D(50)
    assert maker.level("materials", wick["id"], "restock", 15, "retail store")["locationStockLevels"] == {
        main["name"]: D(50),
        "Retail Store": D(15),
    }
    assert maker.level("materials", wick["id"], "audit", 40, main["name"])["locationStockLevels"][main["name"]] == 40
    after_loss = maker.level("materials", wick["id"], "loss", 5, "Retail Store")
    assert (after_loss["stockLevel"], after_loss["locationStockLevels"]["Retail Store"]) == (D(50), D(10))
    gifted = maker.ok("POST", "/api/custom-statuses", {"name": "Gifted", "effect": "subtract"}, 201)
    recount = maker.ok("POST", "/api/custom-statuses", {"name": "Recount", "effect": "set"}, 201)
    found = maker.ok("POST", "/api/custom-statuses", {"name": "Found", "effect": "add"}, 201)
    maker.level("materials", wick["id"], "custom", 2, main["name"], customStatusId=gifted["id"])
    maker.level("materials", wick["id"], "custom", 1, main["name"], customStatusId=found["id"])
    final = maker.level("materials", wick["id"], "custom", 30, "Retail Store", customStatusId=recount["id"])
    assert final["locationStockLevels"] == {main["name"]: D(39), "Retail Store": D(30)}
    # Each update is a ledger line with its type and notes.
    lines = movements(maker, wick["id"], main["id"])
    assert [(m.kind, m.quantity, m.reference) for m in lines] == [
        (MovementKind.RECEIPT, D(50), "restock"),
        (MovementKind.COUNT, D(-10), "audit"),
        (MovementKind.ADJUSTMENT, D(-2), f"custom:{gifted['id']}:Gifted"),
        (MovementKind.ADJUSTMENT, D(1), f"custom:{found['id']}:Found"),
    ]
    shop_lines = movements(maker, wick["id"], shop["id"])
    assert [m.kind for m in shop_lines] == [MovementKind.RECEIPT, MovementKind.LOSS, MovementKind.ADJUSTMENT]
    assert shop_lines[-1].quantity == D(20)  # the "set" status counted 10 up to 30


def test_notes_are_kept_on_the_ledger_line(maker: Maker) -> None:
    main = maker.default_location()
    wick = maker.material("Wick")
    maker.level("materials", wick["id"], "restock", 5, main["name"], notes="Received shipment")
    assert movements(maker, wick["id"], main["id"])[0].reason == "Received shipment"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1, "updateType": "restock"}, "locationName"),
        ({"quantity": 1, "locationName": "Nowhere", "updateType": "restock"}, "locationName"),
        ({"locationName": "Default", "updateType": "restock"}, "quantity"),
        ({"quantity": -1, "locationName": "Default", "updateType": "restock"}, "quantity"),
        ({"quantity": 0, "locationName": "Default", "updateType": "restock"}, "quantity"),
        ({"quantity": 1, "locationName": "Default", "updateType": "sale"}, "updateType"),
        ({"quantity": 1, "locationName": "Default", "updateType": "custom"}, "customStatusId"),
        (
            {"quantity": 1, "locationName": "Default", "updateType": "custom", "customStatusId": 99},
            "customStatusId",
        ),
        ({"quantity": 11, "locationName": "Default", "updateType": "loss"}, "quantity"),
    ],
)
def test_a_bad_stock_level_update_is_a_400_and_changes_nothing(maker: Maker, body: dict[str, Any], field: str) -> None:
    maker.default_location()
    wick = maker.material("Wick", initialStock={"locationName": "Default", "quantity": 10})
    assert field in fields_of(maker.error("POST", f"/api/materials/{wick['id']}/stock-level-updates", body))
    assert maker.get("materials", wick["id"])["stockLevel"] == D(10)


# -- delete -----------------------------------------------------------------------------


def test_delete_is_refused_while_stock_is_on_hand_then_soft_deletes(maker: Maker) -> None:
    main = maker.default_location()["name"]
    wick = maker.material("Wick", initialStock={"locationName": main, "quantity": 3})
    other = maker.material("Other")
    error = maker.error("DELETE", f"/api/materials/{wick['id']}")
    assert "stock on hand" in error["error"]
    maker.level("materials", wick["id"], "audit", 0, main)
    assert maker.call("DELETE", f"/api/materials/{wick['id']}").status_code == 204
    maker.error("GET", f"/api/materials/{wick['id']}", status=404)
    maker.error("DELETE", f"/api/materials/{wick['id']}", status=404)
    listed = maker.ok("GET", "/api/materials")
    assert ([m["id"] for m in listed["data"]], listed["pagination"]["totalCount"]) == ([other["id"]], 1)


def test_delete_is_refused_while_an_open_task_produces_it(maker: Maker) -> None:
    candle = maker.product("Candle")
    task = maker.ok("POST", "/api/tasks", {"name": "Make", "Items": [{"ProductId": candle["id"], "quantity": 1}]}, 201)
    assert "open task" in maker.error("DELETE", f"/api/products/{candle['id']}")["error"]
    maker.ok("PATCH", f"/api/tasks/{task['id']}", {"status": "done"})
    assert maker.call("DELETE", f"/api/products/{candle['id']}").status_code == 204


# -- other companies --------------------------------------------------------------------


def test_another_companys_ids_are_404_everywhere(maker: Maker, rival: Maker) -> None:
    main = rival.default_location()["name"]
    theirs = rival.material("Their wax", initialStock={"locationName": main, "quantity": 2})
    their_place = rival.location("Their shop")
    level = {"quantity": 1, "locationName": main, "updateType": "restock"}
    for method, path, body in [
        ("GET", f"/api/materials/{theirs['id']}", None),
        ("PATCH", f"/api/materials/{theirs['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/materials/{theirs['id']}", None),
        ("POST", f"/api/materials/{theirs['id']}/stock-level-updates", level),
        ("GET", f"/api/materials/{theirs['id']}/stock-blocks", None),
        ("GET", f"/api/locations/{their_place['id']}", None),
        ("PATCH", f"/api/locations/{their_place['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/locations/{their_place['id']}", None),
    ]:
        maker.error(method, path, body, 404)
    assert rival.get("materials", theirs["id"])["name"] == "Their wax"
    assert maker.ok("GET", "/api/materials")["data"] == []


# -- locations ----------------------------------------------------------------------------


def test_locations_list_the_default_first_and_carry_their_address(maker: Maker) -> None:
    maker.default_location()  # made with the company (until then: on first use)
    shop = maker.location("Retail Store", hideMaterials=True, address1="456 Main St", city="Portland", zip="97202")
    listed = maker.ok("GET", "/api/locations")
    assert listed["pagination"]["totalCount"] == 2
    default, second = listed["data"]
    assert (default["isDefault"], second["isDefault"]) == (True, False)
    assert second == shop
    assert {k: shop[k] for k in ("hideMaterials", "address1", "address2", "city", "zip")} == {
        "hideMaterials": True,
        "address1": "456 Main St",
        "address2": None,
        "city": "Portland",
        "zip": "97202",
    }


def test_a_location_name_is_unique_in_any_case_and_renames_show_in_stock_levels(maker: Maker) -> None:
    shop = maker.location("Shop")
    assert maker.error("POST", "/api/locations", {"name": "SHOP"}, 409)
    wick = maker.material("Wick")
    maker.level("materials", wick["id"], "restock", 3, "Shop")
    renamed = maker.ok("PATCH", f"/api/locations/{shop['id']}", {"name": "Market Stall", "city": "Leeds"})
    assert (renamed["name"], renamed["city"], renamed["version"]) == ("Market Stall", "Leeds", 2)
    assert maker.get("materials", wick["id"])["locationStockLevels"] == {"Market Stall": D(3)}
    assert fields_of(maker.error("PATCH", f"/api/locations/{shop['id']}", {"name": ""})) == ["name"]
    assert maker.error("PATCH", f"/api/locations/{shop['id']}", {"city": "York", "version": 1}, 409)


def test_a_location_delete_is_refused_for_the_default_and_while_stock_is_there(maker: Maker) -> None:
    default = maker.default_location()
    shop = maker.location("Shop")
    assert "default" in maker.error("DELETE", f"/api/locations/{default['id']}")["error"]
    wick = maker.material("Wick")
    maker.level("materials", wick["id"], "restock", 3, "Shop")
    assert "holds stock" in maker.error("DELETE", f"/api/locations/{shop['id']}")["error"]
    maker.level("materials", wick["id"], "loss", 3, "Shop")
    assert maker.call("DELETE", f"/api/locations/{shop['id']}").status_code == 204
    assert maker.ok("GET", "/api/locations")["pagination"]["totalCount"] == 1
    maker.error("GET", f"/api/locations/{shop['id']}", status=404)
    assert maker.location("Shop")["name"] == "Shop"  # the name is free again


# -- the same stock as every other surface -------------------------------------------------


def test_stock_moved_here_is_the_000_inventory_and_the_reverse(maker: Maker) -> None:
    main = maker.default_location()
    wick = maker.material("Wick")
    maker.level("materials", wick["id"], "restock", 7, main["name"])
    company = f"/companies/{maker.id}/inventory"
    rows = maker.ok("GET", company, headers={"X-API-Key": maker.key})
    (row,) = [r for r in rows if r["productName"] == "Wick"]
    assert (row["quantity"], row["stockLocationId"], row["stockLocationLabel"]) == (D(7), main["id"], main["name"])
    # A 000 update of the same row shows in the maker's figures.
    maker.ok("PUT", company, [{"inventoryId": row["inventoryId"], "quantity": "11"}], headers={"X-API-Key": maker.key})
    assert maker.get("materials", wick["id"])["locationStockLevels"] == {main["name"]: D(11)}
    # A 000 row created for its own product name is a product here too, with its stock.
    maker.ok(
        "POST",
        company,
        [{"productName": "Oak board", "quantity": "4", "stockLocationId": main["id"]}],
        201,
        headers={"X-API-Key": maker.key},
    )
    (board,) = [p for p in maker.ok("GET", "/api/products")["data"] if p["name"] == "Oak board"]
    assert (board["stockLevel"], board["locationStockLevels"]) == (D(4), {main["name"]: D(4)})


def test_an_idempotent_create_makes_one_resource(maker: Maker) -> None:
    headers = {"Idempotency-Key": "create-wax-1"}
    first = maker.ok("POST", "/api/materials", {"name": "Wax"}, 201, headers=headers)
    again = maker.call("POST", "/api/materials", {"name": "Wax"}, headers=headers)
    assert again.status_code == 201
    assert loads(again.body)["id"] == first["id"]
    assert maker.ok("GET", "/api/materials")["pagination"]["totalCount"] == 1


def test_the_openapi_document_shows_examples_and_marks_extensions(maker: Maker) -> None:
    spec = loads(maker.http.http.request("GET", "/openapi.json").body)
    documented = spec["paths"]["/api/products/{id}/stock-level-updates"]["post"]
    assert documented["requestBody"]["content"]["application/json"]["example"]["updateType"] == "audit"
    assert "x-extension" not in documented
    assert documented["x-permissions"] == ["inventory.adjust"]
    create = spec["paths"]["/api/products"]["post"]
    assert create["x-extension"] is True
    assert create["responses"]["201"]["content"]["application/json"]["example"]["name"] == "Handmade Candle"
    assert spec["paths"]["/api/custom-statuses"]["get"]["x-permissions"] == ["inventory.read"]
    assert wiring.catalog_service() is not None
