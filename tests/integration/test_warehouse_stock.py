"""The 001 warehouse stock routes through the real app on moto: receiving with lot control, inventory
listings, adjustments (single, documents, counts, lot corrections), holds, expiry and bins; 400/404/409
cases, another company's ids, missing permissions, and the same stock seen by the maker (002) surface."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.settings import get_settings
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws
WAREHOUSE = (*ALL, "inventory.adjust")


@pytest.fixture
def wh(http: Client) -> Maker:
    return make_maker(http, "Warehouse Co", WAREHOUSE)


@pytest.fixture
def rival(http: Client) -> Maker:
    return make_maker(http, "Rival Co", WAREHOUSE)


def setup(wh: Maker, **product: Any) -> tuple[str, str]:
    """A product and a location of `wh`."""
    product_id = wh.product("Vitamin C", sku=f"VC-{len(product)}", **product)["id"]
    location_id = wh.location("Main")["id"]
    return product_id, location_id


def receive(wh: Maker, product_id: str, location_id: str, quantity: Any, **extra: Any) -> dict[str, Any]:
    body = {"productMasterId": product_id, "locationId": location_id, "quantity": str(quantity), **extra}
    found: dict[str, Any] = wh.ok("POST", "/api/inventory/record-stock", body, 201)
    return found


def inventory(wh: Maker, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    rows: list[dict[str, Any]] = wh.ok("GET", f"/api/inventory?{query}")["data"]
    return rows


def ledger_matches(wh: Maker, stock_id: str) -> None:
    stock = wiring.stock_service()
    record = stock.get(wh.id, stock_id)
    assert record.on_hand == stock.ledger_total(wh.id, stock_id)


# -- products gain lot fields -------------------------------------------------------------


def test_products_and_materials_take_lot_fields(wh: Maker) -> None:
    created = wh.product("Serum", lotControlled=True, expiryTracked=True, categoryId="cat-1")
    assert (created["lotControlled"], created["expiryTracked"], created["categoryId"]) == (True, True, "cat-1")
    patched = wh.ok("PATCH", f"/api/products/{created['id']}", {"lotControlled": False, "categoryId": None})
    assert (patched["lotControlled"], patched["categoryId"]) == (False, None)
    material = wh.material("Bottle", lotControlled=True)
    assert material["lotControlled"] is True
    error = wh.error("PATCH", f"/api/products/{created['id']}", {"expiryTracked": None})
    assert error["details"][0]["field"] == "expiryTracked"


# -- receiving and lot control -------------------------------------------------------------


def test_record_stock_with_lots_and_the_maker_sees_it(wh: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True, expiryTracked=True)
    receipt = receive(wh, product_id, location_id, "12.5", lotNumber="L1", expiryDate="2030-01-31", reference="PO-1")
    assert receipt["type"] == "receipt" and receipt["reference"] == "PO-1"
    lot_id = receipt["lines"][0]["lotId"]
    receive(wh, product_id, location_id, 2, lotNumber="l1")  # same lot, any case; expiry known
    rows = inventory(wh, productMasterId=product_id)
    assert len(rows) == 1
    assert (rows[0]["lotId"], rows[0]["lotNumber"], rows[0]["expiryDate"]) == (lot_id, "L1", "2030-01-31")
    assert D(str(rows[0]["onHand"])) == D("14.5")
    assert D(str(wh.get("products", product_id)["stockLevel"])) == D("14.5")
    ledger_matches(wh, rows[0]["id"])


def test_record_stock_refuses_what_lot_control_refuses(wh: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True, expiryTracked=True)
    body = {"productMasterId": product_id, "locationId": location_id, "quantity": "1"}
    assert fields_of(wh.error("POST", "/api/inventory/record-stock", body)) == ["lotNumber", "expiryDate"]
    receive(wh, product_id, location_id, 1, lotNumber="L1", expiryDate="2030-01-31")
    other_date = {**body, "lotNumber": "L1", "expiryDate": "2030-02-01"}
    assert fields_of(wh.error("POST", "/api/inventory/record-stock", other_date)) == ["expiryDate"]
    assert fields_of(wh.error("POST", "/api/inventory/record-stock", {**body, "quantity": "0"})) == ["quantity"]
    valid = wh.ok("GET", f"/api/inventory/lot-control/validate?productMasterId={product_id}&lotNumber=L1")
    assert valid == {"valid": True, "errors": []}
    checked = wh.ok(
        "POST",
        "/api/inventory/lot-control/validate",
        {"lines": [{"productMasterId": product_id, "lotNumber": "L2"}, {"productMasterId": "nope"}]},
    )
    assert checked["valid"] is False
    assert [e["field"] for e in checked["lines"][0]["errors"]] == ["lines[0].expiryDate"]
    assert checked["lines"][1]["errors"][0]["field"] == "lines[1].productMasterId"


def test_another_companys_ids_are_404(wh: Maker, rival: Maker) -> None:
    product_id, location_id = setup(wh)
    receive(wh, product_id, location_id, 5)
    own_product, own_location = setup(rival)
    body = {"productMasterId": product_id, "locationId": own_location, "quantity": "1"}
    assert fields_of(rival.error("POST", "/api/inventory/record-stock", body, 404)) == ["productMasterId"]
    body = {"productMasterId": own_product, "locationId": location_id, "quantity": "1"}
    assert fields_of(rival.error("POST", "/api/inventory/record-stock", body, 404)) == ["locationId"]
    rival.error("GET", f"/api/products/{product_id}/inventory-levels", status=404)
    assert inventory(rival, productMasterId=product_id) == []
    adjust = {"productMasterId": product_id, "locationId": location_id, "quantityChange": "-1", "reasonCode": "LOST"}
    rival.error("POST", "/api/inventory/adjust", adjust, 404)


def test_missing_permissions_are_403(http: Client, wh: Maker) -> None:
    reader = make_maker(http, "Reader Co", ("inventory.read",))
    reader.error("GET", "/api/products/x/inventory-levels", status=403)
    reader.error("GET", "/api/inventory/adjustments/reason-codes", status=403)
    reader.error("POST", "/api/inventory/holds", {}, status=403)
    writer = make_maker(http, "Writer Co", ("inventory.write",))
    writer.error("GET", "/api/inventory", status=403)
    writer.error("POST", "/api/inventory/adjust", {}, status=403)


# -- listings -------------------------------------------------------------------------------


def test_inventory_pages_and_filters(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    bins = [
        wh.ok("POST", "/api/inventory/bins", {"locationId": location_id, "code": f"A-{i}"}, 201)["id"] for i in range(3)
    ]
    for bin_id in bins:
        receive(wh, product_id, location_id, 1, binId=bin_id)
    found = wh.ok("GET", "/api/inventory?limit=2&page=2")
    assert found["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert len(found["data"]) == 1
    assert [r["binId"] for r in inventory(wh, binId=bins[1])] == [bins[1]]
    assert len(inventory(wh, locationId=location_id)) == 3
    assert wh.error("GET", "/api/inventory?limit=101")["details"][0]["field"] == "limit"
    assert wh.error("GET", "/api/inventory?page=0")["details"][0]["field"] == "page"
    by_location = wh.ok("GET", "/api/inventory/locations")["data"]
    main = next(e for e in by_location if e["locationId"] == location_id)
    assert (D(str(main["onHand"])), main["productCount"], main["name"]) == (D(3), 1, "Main")
    levels = wh.ok("GET", f"/api/products/{product_id}/inventory-levels")
    assert D(str(levels["totals"]["available"])) == D(3)
    assert {b["binId"] for b in levels["locations"][0]["bins"]} == set(bins)


def test_bins_codes_are_unique_per_location(wh: Maker) -> None:
    location_id = wh.location("Main")["id"]
    other_id = wh.location("Annex")["id"]
    body = {"locationId": location_id, "code": "A-1", "zone": "A", "type": "picking", "capacity": "50"}
    created = wh.ok("POST", "/api/inventory/bins", body, 201)
    assert (created["type"], created["zone"]) == ("picking", "A")
    assert fields_of(wh.error("POST", "/api/inventory/bins", {**body, "code": "a-1"}, 409)) == ["code"]
    wh.ok("POST", "/api/inventory/bins", {**body, "locationId": other_id}, 201)
    assert fields_of(wh.error("POST", "/api/inventory/bins", {**body, "type": "attic"})) == ["type"]
    listed = wh.ok("GET", f"/api/inventory/bins?locationId={location_id}")
    assert [b["code"] for b in listed["data"]] == ["A-1"]


# -- adjusting ------------------------------------------------------------------------------


def test_adjust_compare_and_set_and_insufficient_stock(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    receive(wh, product_id, location_id, 10)
    base = {"productMasterId": product_id, "locationId": location_id, "reasonCode": "DAMAGED"}
    done = wh.ok("POST", "/api/inventory/adjust", {**base, "quantityChange": "-3", "expectedOnHand": "10"}, 201)
    assert D(str(done["onHand"])) == D(7)
    stale = wh.error("POST", "/api/inventory/adjust", {**base, "quantityChange": "-1", "expectedOnHand": "10"}, 409)
    assert stale["details"][0] == {"field": "expectedOnHand", "message": "current on hand is 7"}
    short = wh.error("POST", "/api/inventory/adjust", {**base, "quantityChange": "-8"}, 409)
    assert short["code"] == "INSUFFICIENT_STOCK"
    assert fields_of(wh.error("POST", "/api/inventory/adjust", {**base, "quantityChange": "2"})) == ["reasonCode"]
    assert fields_of(
        wh.error("POST", "/api/inventory/adjust", {**base, "reasonCode": "NOPE", "quantityChange": "-1"})
    ) == ["reasonCode"]
    assert fields_of(wh.error("POST", "/api/inventory/adjust", {**base, "quantityChange": "0"})) == ["quantityChange"]
    codes = {c["code"]: c["direction"] for c in wh.ok("GET", "/api/inventory/adjustments/reason-codes")["data"]}
    assert {
        "DAMAGED",
        "LOST",
        "FOUND",
        "THEFT",
        "EXPIRED",
        "RETURN",
        "SAMPLE",
        "CYCLE_COUNT",
        "CORRECTION",
        "OTHER",
    } <= set(codes)
    assert D(str(wh.get("products", product_id)["stockLevel"])) == D(7)


def test_adjustment_document_is_all_or_nothing(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    second = wh.product("Zinc", sku="ZN")["id"]
    receive(wh, product_id, location_id, 5)
    receive(wh, second, location_id, 1)
    lines = [
        {"productMasterId": product_id, "locationId": location_id, "quantityChange": "-2"},
        {"productMasterId": second, "locationId": location_id, "quantityChange": "-2"},
    ]
    error = wh.error("POST", "/api/inventory/adjustments", {"reasonCode": "LOST", "lines": lines}, 409)
    assert error["code"] == "INSUFFICIENT_STOCK"
    assert D(str(wh.get("products", product_id)["stockLevel"])) == D(5)  # nothing written
    lines[1]["quantityChange"] = "-1"
    document = wh.ok("POST", "/api/inventory/adjustments", {"reasonCode": "LOST", "notes": "n", "lines": lines}, 201)
    assert len(document["lines"]) == 2 and document["createdBy"]["id"].startswith("key:")
    listed = wh.ok("GET", f"/api/inventory/adjustments?productMasterId={second}")["data"]
    assert [d["id"] for d in listed] == [document["id"]]
    too_many = {"reasonCode": "LOST", "lines": [lines[0]] * 41}
    assert fields_of(wh.error("POST", "/api/inventory/adjustments", too_many)) == ["lines"]


def test_counted_stock_becomes_an_adjustment(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    receive(wh, product_id, location_id, 10)
    body = {"productMasterId": product_id, "locationId": location_id, "countedQuantity": "8"}
    document = wh.ok("POST", "/api/inventory/adjustments/record-stock", body, 201)
    line = document["lines"][0]
    assert (D(str(line["quantityChange"])), D(str(line["previousOnHand"]))) == (D(-2), D(10))
    assert D(str(wh.get("products", product_id)["stockLevel"])) == D(8)
    listed = wh.ok("GET", "/api/inventory/adjustments/record-stock")["data"]
    assert [d["id"] for d in listed] == [document["id"]]


def test_lot_correction_moves_stock_between_lots(wh: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True)
    lot_a = receive(wh, product_id, location_id, 10, lotNumber="A")["lines"][0]["lotId"]
    body = {
        "productMasterId": product_id,
        "locationId": location_id,
        "fromLotId": lot_a,
        "toLotNumber": "B",
        "quantity": "4",
    }
    document = wh.ok("POST", "/api/inventory/adjustments/lot-correction", body, 201)
    lot_b = document["lines"][0]["toLotId"]
    by_lot = {r["lotId"]: D(str(r["onHand"])) for r in inventory(wh, productMasterId=product_id)}
    assert by_lot == {lot_a: D(6), lot_b: D(4)}
    assert wh.error("POST", "/api/inventory/adjustments/lot-correction", {**body, "quantity": "7"}, 409)["code"] == (
        "INSUFFICIENT_STOCK"
    )


def test_fefo_takes_the_lot_that_expires_first(wh: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True, expiryTracked=True)
    late = receive(wh, product_id, location_id, 5, lotNumber="LATE", expiryDate="2031-01-01")["lines"][0]["lotId"]
    early = receive(wh, product_id, location_id, 5, lotNumber="EARLY", expiryDate="2030-01-01")["lines"][0]["lotId"]
    body = {"productMasterId": product_id, "locationId": location_id, "quantityChange": "-6", "reasonCode": "SAMPLE"}
    wh.ok("POST", "/api/inventory/adjust", body, 201)
    by_lot = {r["lotId"]: D(str(r["onHand"])) for r in inventory(wh, productMasterId=product_id)}
    assert by_lot == {early: D(0), late: D(4)}


# -- holds ------------------------------------------------------------------------------------


def test_holds_lower_available_and_release_partly(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    receive(wh, product_id, location_id, 10)
    body = {"productMasterId": product_id, "locationId": location_id, "quantity": "6", "reason": "QA"}
    hold = wh.ok("POST", "/api/inventory/holds", body, 201)
    assert D(str(inventory(wh, productMasterId=product_id)[0]["available"])) == D(4)
    assert wh.error("POST", "/api/inventory/holds", {**body, "quantity": "5"}, 409)["code"] == "INSUFFICIENT_STOCK"
    partly = wh.ok("POST", "/api/inventory/holds/release", {"holdId": hold["id"], "quantity": "2"})
    assert (D(str(partly["quantity"])), partly["status"]) == (D(4), "active")
    wh.error("POST", "/api/inventory/holds/release", {"holdId": hold["id"], "quantity": "5"}, 409)
    closed = wh.ok("POST", "/api/inventory/holds/release", {"holdId": hold["id"]})
    assert closed["status"] == "released"
    assert D(str(inventory(wh, productMasterId=product_id)[0]["available"])) == D(10)
    assert [h["id"] for h in wh.ok("GET", "/api/inventory/holds?status=released")["data"]] == [hold["id"]]
    assert wh.ok("GET", "/api/inventory/holds?status=active")["data"] == []


def test_hold_expiry_job_releases_holds_past_expires_at(wh: Maker) -> None:
    product_id, location_id = setup(wh)
    receive(wh, product_id, location_id, 10)
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    body = {
        "productMasterId": product_id,
        "locationId": location_id,
        "quantity": "3",
        "reason": "QA",
        "expiresAt": soon,
    }
    hold = wh.ok("POST", "/api/inventory/holds", body, 201)
    service = wiring.warehouse_stock()
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert service.expire_holds(wh.id, later) == {"holdsExpired": 1}
    assert service.expire_holds(wh.id, later) == {"holdsExpired": 0}
    assert wh.ok("GET", "/api/inventory/holds?status=expired")["data"][0]["id"] == hold["id"]
    assert D(str(inventory(wh, productMasterId=product_id)[0]["available"])) == D(10)


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_job_marks_lots_and_holds_stock_once(wh: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True, expiryTracked=True)
    old = receive(wh, product_id, location_id, 4, lotNumber="OLD", expiryDate="2030-01-01")["lines"][0]["lotId"]
    receive(wh, product_id, location_id, 6, lotNumber="NEW", expiryDate="2031-01-01")
    service = wiring.warehouse_stock()
    day = date(2030, 6, 1)
    assert service.run_expiry(wh.id, day) == {"lotsExpired": 1, "holdsPlaced": 1}
    assert service.run_expiry(wh.id, day) == {"lotsExpired": 0, "holdsPlaced": 0}
    expired = wh.ok("GET", "/api/inventory/expired")["data"]
    assert [(e["id"], e["status"], D(str(e["held"]))) for e in expired] == [(old, "expired", D(4))]
    # FEFO never takes the expired lot; picking more than the good lot holds is short.
    body = {"productMasterId": product_id, "locationId": location_id, "quantityChange": "-7", "reasonCode": "SAMPLE"}
    assert wh.error("POST", "/api/inventory/adjust", body, 409)["code"] == "INSUFFICIENT_STOCK"
    consumed = wh.ok("POST", "/api/inventory/expired/mark-consumed", {"lotIds": [old]})
    assert [(m["kind"], D(str(m["quantity"])), m["reason"]) for m in consumed["movements"]] == [
        ("consumption", D(-4), "EXPIRED")
    ]
    assert D(str(wh.get("products", product_id)["stockLevel"])) == D(6)
    assert wh.ok("GET", "/api/inventory/holds?status=active")["data"] == []


def test_mark_expired_and_transfer_to_destruction(wh: Maker, rival: Maker) -> None:
    product_id, location_id = setup(wh, lotControlled=True)
    lot = receive(wh, product_id, location_id, 5, lotNumber="X")["lines"][0]["lotId"]
    storage = wh.ok("POST", "/api/inventory/bins", {"locationId": location_id, "code": "S"}, 201)["id"]
    bin_id = wh.ok("POST", "/api/inventory/bins", {"locationId": location_id, "code": "D", "type": "destruction"}, 201)[
        "id"
    ]
    assert fields_of(rival.error("POST", "/api/inventory/expired/mark-expired", {"lotIds": [lot]}, 404)) == [
        "lotIds[0]"
    ]
    marked = wh.ok("POST", "/api/inventory/expired/mark-expired", {"lotIds": [lot]})
    assert (marked["data"][0]["status"], D(str(marked["data"][0]["held"]))) == ("expired", D(5))
    wh.ok("POST", "/api/inventory/expired/mark-expired", {"lotIds": [lot]})  # twice: nothing more
    assert len(wh.ok("GET", "/api/inventory/holds?status=active")["data"]) == 1
    body = {"lotIds": [lot], "binId": storage}
    assert fields_of(wh.error("POST", "/api/inventory/expired/transfer-destruction", body)) == ["binId"]
    moved = wh.ok("POST", "/api/inventory/expired/transfer-destruction", {**body, "binId": bin_id})
    assert [m["kind"] for m in moved["movements"]] == ["transfer_out", "transfer_in"]
    rows = {r["binId"]: r for r in inventory(wh, productMasterId=product_id)}
    assert (D(str(rows[bin_id]["onHand"])), D(str(rows[bin_id]["held"]))) == (D(5), D(5))
    assert D(str(rows[None]["onHand"])) == D(0)
    store = DynamoStockStore(get_settings().main_table)
    for row in rows.values():
        assert store.get_record(wh.id, row["id"]) is not None
        ledger_matches(wh, row["id"])
