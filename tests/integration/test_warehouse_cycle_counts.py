"""001 cycle counts through the real app on moto: create (snapshot), blind views, counts, review, resolve
(accept applies counted - expected-at-snapshot, so stock moved meanwhile is kept), recount, reject,
completion; every disallowed transition is a 409 naming the state; ABC classes from the ledger; a
resolve of more than 40 lines in several documents; another company's ids; permissions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws
PERMS = (*ALL, "inventory.cyclecount", "transfers.read", "transfers.write")


@pytest.fixture
def wh(http: Client) -> Maker:
    return make_maker(http, "Count Co", PERMS)


def receive(wh: Maker, product: str, location: str, quantity: Any, **extra: Any) -> None:
    body = {"productMasterId": product, "locationId": location, "quantity": str(quantity), **extra}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)


def on_hand(wh: Maker, product: str, location: str) -> Decimal:
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    return next((e["onHand"] for e in levels["locations"] if e["locationId"] == location), D(0))


def test_counting_while_stock_moves_loses_nothing(wh: Maker) -> None:
    product = wh.product("Bolts")["id"]
    loc = wh.location("Shop")["id"]
    shelf = wh.ok("POST", "/api/inventory/bins", {"locationId": loc, "code": "S1"}, 201)["id"]
    receive(wh, product, loc, 10, binId=shelf)
    batch = wh.ok(
        "POST",
        "/api/inventory/cycle-count",
        {"name": "Shelf", "locationId": loc, "blind": True, "binIds": [shelf]},
        201,
    )
    bid, line = batch["id"], batch["lines"][0]["id"]
    assert batch["status"] == "open" and "expectedQuantity" not in batch["lines"][0]
    assert "expectedQuantity" not in wh.ok("GET", f"/api/inventory/cycle-count/{bid}")["lines"][0]
    form = wh.ok("GET", f"/api/inventory/cycle-count/blind-form?batchId={bid}")
    assert form["lines"][0]["binCode"] == "S1" and "expectedQuantity" not in form["lines"][0]
    # resolve before review: 409 naming the state
    early = wh.error(
        "POST",
        "/api/inventory/cycle-count/resolve",
        {"batchId": bid, "lines": [{"lineId": line, "action": "accept"}]},
        409,
    )
    assert early["details"][0]["message"] == "current state is open; allowed transitions: count, review, cancel"
    # review needs every line counted
    assert fields_of(wh.error("POST", f"/api/inventory/cycle-count/{bid}", {"status": "review"})) == [
        "lines[0].countedQuantity"
    ]
    # while people count, stock moves: +5 received, -2 damaged
    receive(wh, product, loc, 5, binId=shelf)
    wh.ok(
        "POST",
        "/api/inventory/adjust",
        {"productMasterId": product, "locationId": loc, "binId": shelf, "quantityChange": -2, "reasonCode": "DAMAGED"},
        201,
    )
    counted = wh.ok("POST", f"/api/inventory/cycle-count/{bid}", {"counts": [{"lineId": line, "countedQuantity": 9}]})
    assert counted["status"] == "counting" and "variance" not in counted["lines"][0]
    review = wh.ok("POST", f"/api/inventory/cycle-count/{bid}", {"status": "review"})
    assert review["status"] == "review" and review["lines"][0]["expectedQuantity"] == D(10)
    assert review["lines"][0]["variance"] == D(-1)
    done = wh.ok(
        "POST", "/api/inventory/cycle-count/resolve", {"batchId": bid, "lines": [{"lineId": line, "action": "accept"}]}
    )
    assert done["status"] == "completed" and done["lines"][0]["resolution"] == "accepted"
    assert on_hand(wh, product, loc) == D(12)  # 10 + 5 - 2 - 1: the movements in between are kept
    adjustments = wh.ok("GET", "/api/inventory/adjustments?reasonCode=CYCLE_COUNT")["data"]
    assert adjustments[0]["reference"] == bid
    assert (
        wh.error("POST", f"/api/inventory/cycle-count/{bid}", {"status": "cancelled"}, 409)["code"] == "INVALID_STATE"
    )
    stock = wiring.stock_service()
    for record in stock.all_records(wh.id):
        assert record.on_hand == stock.ledger_total(wh.id, record.stock_id)


def test_recount_reject_cancel_and_lists(wh: Maker, http: Client) -> None:
    a, b = wh.product("Nuts")["id"], wh.product("Washers")["id"]
    loc = wh.location("Depot")["id"]
    receive(wh, a, loc, 4)
    receive(wh, b, loc, 6)
    batch = wh.ok(
        "POST", "/api/inventory/cycle-count", {"name": "Two", "locationId": loc, "productMasterIds": [a, b]}, 201
    )
    bid = batch["id"]
    la, lb = (line["id"] for line in batch["lines"])
    assert [line["expectedQuantity"] for line in batch["lines"]] == [D(4), D(6)]  # not blind: shown
    wh.ok(
        "POST",
        f"/api/inventory/cycle-count/{bid}",
        {"counts": [{"lineId": la, "countedQuantity": 5}, {"lineId": lb, "countedQuantity": 1}], "status": "review"},
    )
    step = wh.ok(
        "POST",
        "/api/inventory/cycle-count/resolve",
        {"batchId": bid, "lines": [{"lineId": la, "action": "recount"}, {"lineId": lb, "action": "reject"}]},
    )
    assert step["status"] == "counting" and step["lines"][1]["resolution"] == "rejected"
    assert on_hand(wh, b, loc) == D(6)  # rejected: nothing applied
    again = wh.error(
        "POST", f"/api/inventory/cycle-count/{bid}", {"counts": [{"lineId": lb, "countedQuantity": 2}]}, 409
    )
    assert again["code"] == "INVALID_STATE"
    wh.ok(
        "POST",
        f"/api/inventory/cycle-count/{bid}",
        {"counts": [{"lineId": la, "countedQuantity": 4}], "status": "review"},
    )
    final = wh.ok(
        "POST", "/api/inventory/cycle-count/resolve", {"batchId": bid, "lines": [{"lineId": la, "action": "accept"}]}
    )
    assert final["status"] == "completed" and final["lines"][0]["adjustmentId"] is None  # no variance, no adjustment
    assert on_hand(wh, a, loc) == D(4)
    other = wh.ok(
        "POST",
        "/api/inventory/cycle-count",
        {"name": "Drop", "locationId": loc, "lines": [{"productMasterId": a}]},
        201,
    )["id"]
    assert wh.ok("POST", f"/api/inventory/cycle-count/{other}", {"status": "cancelled"})["status"] == "cancelled"
    listed = wh.ok("GET", "/api/inventory/cycle-count?status=completed")
    assert [x["id"] for x in listed["data"]] == [bid]
    assert wh.ok("GET", f"/api/inventory/cycle-count?locationId={loc}")["pagination"]["total"] == 2
    assert fields_of(wh.error("POST", "/api/inventory/cycle-count", {"name": "x", "locationId": loc})) == ["lines"]
    rival = make_maker(http, "Rival CC", PERMS)
    rival.error("GET", f"/api/inventory/cycle-count/{bid}", status=404)
    assert fields_of(
        rival.error(
            "POST", "/api/inventory/cycle-count", {"name": "x", "locationId": loc, "productMasterIds": [a]}, 404
        )
    ) == ["locationId"]
    make_maker(http, "No count", ALL).error("GET", "/api/inventory/cycle-count", status=403)


def test_abc_classes_from_outbound_value_and_abc_batch(wh: Maker) -> None:
    a, b = wh.location("ABC A")["id"], wh.location("ABC B")["id"]
    fast, mid, slow, idle = (wh.product(n)["id"] for n in ("Fast", "Mid", "Slow", "Idle"))
    for p, q in ((fast, 80), (mid, 15), (slow, 5)):
        receive(wh, p, a, q)
        body = {"fromLocationId": a, "toLocationId": b, "lines": [{"productMasterId": p, "quantity": q}]}
        tid = wh.ok("POST", "/api/inventory/transfers", body, 201)["id"]
        wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"})
    receive(wh, idle, a, 3)
    rows = {r["productMasterId"]: r for r in wh.ok("GET", f"/api/inventory/cycle-count/abc?locationId={a}")["data"]}
    assert {p: rows[p]["class"] for p in (fast, mid, slow, idle)} == {fast: "A", mid: "B", slow: "C", idle: "C"}
    assert rows[fast]["outboundValue"] == D(80) and rows[fast]["countFrequencyDays"] == 30
    created = wh.ok("POST", "/api/inventory/cycle-count/abc", {"classes": ["a", "B"], "locationId": a}, 201)
    assert created["abcClasses"] == ["A", "B"] and {x["productMasterId"] for x in created["lines"]} == {fast, mid}
    assert fields_of(wh.error("POST", "/api/inventory/cycle-count/abc", {"classes": ["D"], "locationId": a})) == [
        "classes[0]"
    ]


def test_resolve_of_many_lines_in_several_documents(wh: Maker) -> None:
    loc = wh.location("Many")["id"]
    products = [wh.product(f"Item {i}")["id"] for i in range(45)]
    for p in products:
        receive(wh, p, loc, 2)
    batch = wh.ok(
        "POST", "/api/inventory/cycle-count", {"name": "All", "locationId": loc, "productMasterIds": products}, 201
    )
    counts = [{"lineId": line["id"], "countedQuantity": 3} for line in batch["lines"]]
    wh.ok("POST", f"/api/inventory/cycle-count/{batch['id']}", {"counts": counts, "status": "review"})
    done = wh.ok(
        "POST",
        "/api/inventory/cycle-count/resolve",
        {"batchId": batch["id"], "lines": [{"lineId": c["lineId"], "action": "accept"} for c in counts]},
    )
    assert done["status"] == "completed"
    assert len({line["adjustmentId"] for line in done["lines"]}) == 2  # 40 + 5 lines
    assert all(on_hand(wh, p, loc) == D(3) for p in products[:3] + products[-3:])


def test_a_lot_controlled_product_is_counted_lot_by_lot(wh: Maker) -> None:
    product = wh.product("Milk", lotControlled=True, expiryTracked=True)["id"]
    loc = wh.location("Cold")["id"]
    receive(wh, product, loc, 4, lotNumber="A", expiryDate="2040-01-01")
    receive(wh, product, loc, 6, lotNumber="B", expiryDate="2041-01-01")
    batch = wh.ok(
        "POST", "/api/inventory/cycle-count", {"name": "Milk", "locationId": loc, "productMasterIds": [product]}, 201
    )
    assert sorted(line["expectedQuantity"] for line in batch["lines"]) == [D(4), D(6)]
    counts = [{"lineId": line["id"], "countedQuantity": line["expectedQuantity"] + 1} for line in batch["lines"]]
    wh.ok("POST", f"/api/inventory/cycle-count/{batch['id']}", {"counts": counts, "status": "review"})
    decisions = [{"lineId": c["lineId"], "action": "accept"} for c in counts]
    done = wh.ok("POST", "/api/inventory/cycle-count/resolve", {"batchId": batch["id"], "lines": decisions})
    assert done["status"] == "completed" and on_hand(wh, product, loc) == D(12)  # an increase per lot
