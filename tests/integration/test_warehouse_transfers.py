"""001 transfers through the real app on moto: bin moves at once; between locations draft -> shipped ->
received (partly, line by line) or cancelled, with the stock figures checked after every step; every
transition that the state does not allow is a 409 naming the state; in-transit stock in the levels;
a 50-line transfer split into transactions; another company's ids; permissions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws
PERMS = (*ALL, "transfers.read", "transfers.write")


@pytest.fixture
def wh(http: Client) -> Maker:
    return make_maker(http, "Transfer Co", PERMS)


def receive(wh: Maker, product: str, location: str, quantity: Any, **extra: Any) -> None:
    body = {"productMasterId": product, "locationId": location, "quantity": str(quantity), **extra}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)


def totals(wh: Maker, product: str) -> dict[str, dict[str, Decimal]]:
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    return {
        e["locationId"]: {k: e[k] for k in ("onHand", "reserved", "held", "available", "inTransit")}
        for e in levels["locations"]
    }


def figures(on_hand: Any, available: Any, in_transit: Any = 0, held: Any = 0) -> dict[str, Decimal]:
    return {
        "onHand": D(on_hand),
        "reserved": D(0),
        "held": D(held),
        "available": D(available),
        "inTransit": D(in_transit),
    }


def ledger_matches(wh: Maker) -> None:
    stock = wiring.stock_service()
    for record in stock.all_records(wh.id):
        assert record.on_hand == stock.ledger_total(wh.id, record.stock_id)
        assert record.on_hand >= 0 and record.available >= 0


def test_between_locations_ship_receive_partly_then_all(wh: Maker) -> None:
    product = wh.product("Flour")["id"]
    a, b = wh.location("North")["id"], wh.location("South")["id"]
    receive(wh, product, a, 10)
    created = wh.ok(
        "POST",
        "/api/inventory/transfers",
        {"fromLocationId": a, "toLocationId": b, "lines": [{"productMasterId": product, "quantity": 6}]},
        201,
    )
    assert created["status"] == "draft" and created["allowedTransitions"] == ["ship", "complete", "cancel"]
    tid, line = created["id"], created["lines"][0]["id"]
    assert totals(wh, product)[a] == figures(10, 10)
    # a draft cannot be received
    error = wh.error("POST", f"/api/inventory/transfers/{tid}", {"action": "receive"}, 409)
    assert error["details"] == [
        {"field": "action", "message": "current state is draft; allowed transitions: ship, complete, cancel"}
    ]
    shipped = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"})
    assert shipped["status"] == "shipped" and shipped["lines"][0]["inTransitQuantity"] == D(6)
    levels = totals(wh, product)
    assert levels[a] == figures(4, 4)
    assert levels[b] == figures(0, 0, in_transit=6)  # in transit: neither on hand nor available here
    # inventory rows show it as such
    rows = wh.ok("GET", f"/api/inventory?productMasterId={product}&locationId={b}")["data"]
    assert [r["inTransit"] for r in rows] == [True] and rows[0]["available"] == D(0)
    # shipping twice: 409
    assert wh.error("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"}, 409)["code"] == "INVALID_STATE"
    # partial receipt
    too_much = wh.error(
        "POST", f"/api/inventory/transfers/{tid}", {"action": "receive", "lines": [{"lineId": line, "quantity": 7}]}
    )
    assert fields_of(too_much) == ["lines[0].quantity"]
    part = wh.ok(
        "POST", f"/api/inventory/transfers/{tid}", {"action": "receive", "lines": [{"lineId": line, "quantity": 2}]}
    )
    assert part["status"] == "shipped" and part["lines"][0]["receivedQuantity"] == D(2)
    assert totals(wh, product)[b] == figures(2, 2, in_transit=4)
    done = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "receive"})
    assert done["status"] == "received" and done["allowedTransitions"] == []
    assert [(h["from"], h["to"]) for h in done["history"]] == [
        ("draft", "shipped"),
        ("shipped", "shipped"),
        ("shipped", "received"),
    ]
    assert totals(wh, product)[b] == figures(6, 6)
    assert totals(wh, product)[a] == figures(4, 4)
    assert wh.error("POST", f"/api/inventory/transfers/{tid}", {"action": "cancel"}, 409)["details"][0]["message"] == (
        "current state is received; allowed transitions: none (final state)"
    )
    assert wh.ok("GET", f"/api/inventory/transfers/{tid}")["status"] == "received"
    listed = wh.ok("GET", "/api/inventory/transfers?status=received")
    assert [t["id"] for t in listed["data"]] == [tid] and listed["pagination"]["total"] == 1
    ledger_matches(wh)


def test_cancel_shipped_returns_stock_and_draft_cancel_moves_nothing(wh: Maker) -> None:
    product = wh.product("Sugar", lotControlled=True, expiryTracked=True)["id"]
    a, b = wh.location("A")["id"], wh.location("B")["id"]
    receive(wh, product, a, 3, lotNumber="OLD", expiryDate="2040-01-01")
    receive(wh, product, a, 5, lotNumber="NEW", expiryDate="2041-01-01")
    body = {"fromLocationId": a, "toLocationId": b, "lines": [{"productMasterId": product, "quantity": 4}]}
    tid = wh.ok("POST", "/api/inventory/transfers", body, 201)["id"]
    shipped = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"})
    # FEFO: the lot that expires first goes first
    assert [p["quantity"] for p in shipped["lines"][0]["picks"]] == [D(3), D(1)]
    assert totals(wh, product)[a] == figures(4, 4) and totals(wh, product)[b] == figures(0, 0, in_transit=4)
    cancelled = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "cancel", "comment": "truck broke"})
    assert cancelled["status"] == "cancelled" and cancelled["history"][-1]["comment"] == "truck broke"
    assert totals(wh, product)[a] == figures(8, 8) and totals(wh, product)[b] == figures(0, 0)
    lots = {
        x["lotNumber"]: x["onHand"]
        for x in wh.ok("GET", f"/api/products/{product}/inventory-levels")["locations"][0]["lots"]
    }
    assert lots == {"OLD": D(3), "NEW": D(5)}
    draft = wh.ok("POST", "/api/inventory/transfers", body, 201)["id"]
    assert wh.ok("POST", f"/api/inventory/transfers/{draft}", {"action": "cancel"})["status"] == "cancelled"
    assert wh.error("POST", f"/api/inventory/transfers/{draft}", {"action": "ship"}, 409)["code"] == "INVALID_STATE"
    assert totals(wh, product)[a] == figures(8, 8)
    ledger_matches(wh)


def test_bin_move_completes_at_once_and_bins_show_contents(wh: Maker) -> None:
    product = wh.product("Oats")["id"]
    a = wh.location("Hall")["id"]
    x = wh.ok("POST", "/api/inventory/bins", {"locationId": a, "code": "X", "capacity": 20}, 201)["id"]
    y = wh.ok("POST", "/api/inventory/bins", {"locationId": a, "code": "Y", "capacity": 10}, 201)["id"]
    receive(wh, product, a, 8, binId=x)
    body = {
        "fromLocationId": a,
        "toLocationId": a,
        "fromBinId": x,
        "toBinId": y,
        "lines": [{"productMasterId": product, "quantity": 5}],
    }
    moved = wh.ok("POST", "/api/inventory/transfers", body, 201)
    assert moved["status"] == "completed" and moved["history"][0]["to"] == "completed"
    assert totals(wh, product)[a] == figures(8, 8)
    bins = {b["code"]: b for b in wh.ok("GET", f"/api/inventory/transfers/bins?locationId={a}")["bins"]}
    assert bins["X"]["onHand"] == D(3) and bins["Y"]["onHand"] == D(5) and bins["Y"]["fill"] == D("0.5")
    short = wh.error(
        "POST", "/api/inventory/transfers", {**body, "lines": [{"productMasterId": product, "quantity": 4}]}, 409
    )
    assert short["code"] == "INSUFFICIENT_STOCK" and fields_of(short) == ["lines[0].quantity"]
    assert wh.ok("GET", "/api/inventory/transfers")["pagination"]["total"] == 1  # nothing created
    same = wh.error("POST", "/api/inventory/transfers", {**body, "toBinId": x})
    assert fields_of(same) == ["toBinId"]
    assert fields_of(wh.error("GET", "/api/inventory/transfers/bins")) == ["locationId"]
    ledger_matches(wh)


def test_fifty_lines_in_several_transactions(wh: Maker) -> None:
    a, b = wh.location("Big A")["id"], wh.location("Big B")["id"]
    products = [wh.product(f"P{i}")["id"] for i in range(50)]
    for p in products:
        receive(wh, p, a, 2)
    body = {"fromLocationId": a, "toLocationId": b, "lines": [{"productMasterId": p, "quantity": 2} for p in products]}
    tid = wh.ok("POST", "/api/inventory/transfers", body, 201)["id"]
    shipped = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"})
    assert shipped["status"] == "shipped" and shipped["version"] == 4  # created + 3 transactions of <= 100 items
    received = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "receive"})
    assert received["status"] == "received"
    assert all(totals(wh, p)[b] == figures(2, 2) for p in products[:3])
    ledger_matches(wh)


def test_errors_other_company_and_permissions(wh: Maker, http: Client) -> None:
    rival = make_maker(http, "Rival", PERMS)
    reader = make_maker(http, "Reader", (*ALL, "transfers.read"))
    product = wh.product("Rice")["id"]
    a, b = wh.location("R1")["id"], wh.location("R2")["id"]
    body = {"fromLocationId": a, "toLocationId": b, "lines": [{"productMasterId": product, "quantity": 1}]}
    tid = wh.ok("POST", "/api/inventory/transfers", body, 201)["id"]
    assert wh.error("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"}, 409)["code"] == "INSUFFICIENT_STOCK"
    assert rival.error("GET", f"/api/inventory/transfers/{tid}", status=404)
    assert fields_of(rival.error("POST", "/api/inventory/transfers", body, 404)) == ["fromLocationId"]
    assert fields_of(wh.error("POST", "/api/inventory/transfers", {**body, "lines": []})) == ["lines"]
    assert fields_of(wh.error("POST", f"/api/inventory/transfers/{tid}", {"action": "fly"})) == ["action"]
    reader.error("POST", "/api/inventory/transfers", body, 403)
    make_maker(http, "Nobody", ALL).error("GET", "/api/inventory/transfers", status=403)
