"""001 put-away through the real app on moto: the suggested bin (holding the product and lot, else the
emptiest storage bin with room), completion moving the stock in one transaction, cancel, the 409s of a
finished task, filters, another company's ids, permissions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws


@pytest.fixture
def wh(http: Client) -> Maker:
    return make_maker(http, "Putaway Co", ALL)


def bins_of(wh: Maker, product: str) -> dict[str | None, Decimal]:
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    return {b["binId"]: b["onHand"] for loc in levels["locations"] for b in loc["bins"]}


def make_bin(wh: Maker, location: str, code: str, **extra: Any) -> str:
    found: str = wh.ok("POST", "/api/inventory/bins", {"locationId": location, "code": code, **extra}, 201)["id"]
    return found


def test_suggest_complete_cancel(wh: Maker, http: Client) -> None:
    product, other = wh.product("Jars")["id"], wh.product("Lids")["id"]
    loc = wh.location("DC")["id"]
    dock = make_bin(wh, loc, "DOCK", type="receiving")
    full = make_bin(wh, loc, "S-FULL", capacity=10)
    half = make_bin(wh, loc, "S-HALF", capacity=100)
    empty = make_bin(wh, loc, "S-EMPTY", capacity=100)
    wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {"productMasterId": other, "locationId": loc, "binId": full, "quantity": 8},
        201,
    )
    wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {"productMasterId": other, "locationId": loc, "binId": half, "quantity": 50},
        201,
    )
    wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {"productMasterId": product, "locationId": loc, "binId": dock, "quantity": 30},
        201,
    )
    task = wh.ok(
        "POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock, "quantity": 20}, 201
    )
    assert task["suggested"] is True and task["toBinId"] == empty and task["status"] == "open"
    done = wh.ok("POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "complete"}, 201)
    assert done["status"] == "completed"
    assert bins_of(wh, product) == {dock: D(10), empty: D(20)}
    # the next task for the same product goes where it already is
    second = wh.ok(
        "POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock, "quantity": 5}, 201
    )
    assert second["toBinId"] == empty
    again = wh.error("POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "complete"}, 409)
    assert again["details"][0]["message"] == "current state is completed; allowed transitions: none (final state)"
    # complete to another bin than suggested
    moved = wh.ok(
        "POST", "/api/inventory/put-away", {"taskId": second["id"], "action": "complete", "toBinId": half}, 201
    )
    assert moved["toBinId"] == half and bins_of(wh, product)[half] == D(5)
    third = wh.ok(
        "POST",
        "/api/inventory/put-away",
        {"productMasterId": product, "fromBinId": dock, "quantity": 5, "toBinId": full},
        201,
    )
    assert third["suggested"] is False
    assert (
        wh.ok("POST", "/api/inventory/put-away", {"taskId": third["id"], "action": "cancel"}, 201)["status"]
        == "cancelled"
    )
    assert bins_of(wh, product)[dock] == D(5)
    short = wh.error(
        "POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock, "quantity": 6}, 409
    )
    assert fields_of(short) == ["quantity"]
    wh.error("POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock})
    assert wh.ok("GET", "/api/inventory/put-away?status=completed")["pagination"]["total"] == 2
    assert wh.ok("GET", "/api/inventory/put-away")["pagination"]["total"] == 3
    stock = wiring.stock_service()
    for record in stock.all_records(wh.id):
        assert record.on_hand == stock.ledger_total(wh.id, record.stock_id)
    rival = make_maker(http, "Rival P", ALL)
    assert fields_of(
        rival.error(
            "POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock, "quantity": 1}, 404
        )
    ) == ["fromBinId"]
    rival.error("POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "cancel"}, 404)
    make_maker(http, "Reader P", ("inventory.read",)).error(
        "POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "cancel"}, 403
    )
