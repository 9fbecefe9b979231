"""001 replenishment through the real app on moto: configuration, suggestions (changing nothing),
records by hand and their transitions, a record fulfilled by a transfer, and the schedule run twice and
twice at once creating one record per pair."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.events import schedules
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws
PERMS = (*ALL, "replenishment.read", "replenishment.write", "transfers.read", "transfers.write")


@pytest.fixture
def wh(http: Client) -> Maker:
    return make_maker(http, "Replenish Co", PERMS)


def receive(wh: Maker, product: str, location: str, quantity: Any) -> None:
    body = {"productMasterId": product, "locationId": location, "quantity": str(quantity)}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)


def on_hand(wh: Maker, product: str, location: str) -> Decimal:
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    return next((e["onHand"] for e in levels["locations"] if e["locationId"] == location), D(0))


def test_config_suggestions_and_records(wh: Maker, http: Client) -> None:
    product, other = wh.product("Cups")["id"], wh.product("Plates")["id"]
    shop, depot = wh.location("Shop")["id"], wh.location("Depot")["id"]
    receive(wh, product, shop, 3)
    receive(wh, product, depot, 50)
    receive(wh, other, shop, 30)
    config = {"productMasterId": product, "locationId": shop, "minQuantity": 10, "maxQuantity": 40, "packSize": 12}
    saved = wh.ok("POST", "/api/inventory/replenishment/config", config)
    assert saved["method"] == "min_max" and saved["version"] == 1
    assert wh.ok("POST", "/api/inventory/replenishment/config", config)["version"] == 2  # replaced
    wh.ok("POST", "/api/inventory/replenishment/config", {**config, "productMasterId": other})
    assert fields_of(wh.error("POST", "/api/inventory/replenishment/config", {**config, "maxQuantity": 5})) == [
        "maxQuantity"
    ]
    assert wh.ok("GET", f"/api/inventory/replenishment/config?productMasterId={product}")["pagination"]["total"] == 1
    assert wh.ok("GET", f"/api/inventory/replenishment/config?locationId={shop}")["pagination"]["total"] == 2
    found = wh.ok("POST", "/api/inventory/replenishment/suggestions", {"locationId": shop})["data"]
    # 3 available, max 40: 37 rounded up to packs of 12 = 48; the plates (30 >= 10) need nothing
    assert [(s["productMasterId"], s["available"], s["incoming"], s["suggestedQuantity"]) for s in found] == [
        (product, D(3), D(0), D(48))
    ]
    assert wh.ok("GET", "/api/inventory/replenishment")["pagination"]["total"] == 0  # changed nothing
    record = wh.ok(
        "POST", "/api/inventory/replenishment", {"productMasterId": product, "locationId": shop, "quantity": 48}, 201
    )
    assert record["status"] == "open" and record["allowedTransitions"] == ["order", "receive", "cancel"]
    twice = wh.error(
        "POST", "/api/inventory/replenishment", {"productMasterId": product, "locationId": shop, "quantity": 1}, 409
    )
    assert fields_of(twice) == ["productMasterId"]
    # the open record counts as incoming: no more suggestion
    assert wh.ok("POST", "/api/inventory/replenishment/suggestions", {})["data"] == []
    ordered = wh.ok("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "order"}, 201)
    assert ordered["status"] == "ordered"
    again = wh.error("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "order"}, 409)
    assert again["details"][0]["message"] == "current state is ordered; allowed transitions: receive, cancel"
    cancelled = wh.ok("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "cancel"}, 201)
    assert cancelled["status"] == "cancelled"
    # the pair is free again; with a source location the record is fulfilled by a transfer
    by_transfer = wh.ok(
        "POST",
        "/api/inventory/replenishment",
        {"productMasterId": product, "locationId": shop, "quantity": 20, "sourceLocationId": depot},
        201,
    )
    assert by_transfer["status"] == "ordered" and by_transfer["transferId"]
    transfer = wh.ok("GET", f"/api/inventory/transfers/{by_transfer['transferId']}")
    assert transfer["status"] == "draft" and transfer["fromLocationId"] == depot
    received = wh.ok("POST", "/api/inventory/replenishment", {"recordId": by_transfer["id"], "action": "receive"}, 201)
    assert received["status"] == "received"
    assert on_hand(wh, product, shop) == D(23) and on_hand(wh, product, depot) == D(30)
    assert wh.ok("GET", f"/api/inventory/transfers/{by_transfer['transferId']}")["status"] == "received"
    assert wh.ok("GET", "/api/inventory/replenishment?status=received")["pagination"]["total"] == 1
    rival = make_maker(http, "Rival R", PERMS)
    assert fields_of(rival.error("POST", "/api/inventory/replenishment/config", config, 404)) == ["productMasterId"]
    rival.error("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "cancel"}, 404)
    make_maker(http, "Reader R", (*ALL, "replenishment.read")).error(
        "POST", "/api/inventory/replenishment/config", config, 403
    )


def test_schedule_twice_and_twice_at_once_creates_one_record_per_pair(wh: Maker) -> None:
    shop, back = wh.location("Front")["id"], wh.location("Back")["id"]
    products = [wh.product(f"Item {i}")["id"] for i in range(3)]
    for p in products:
        for loc in (shop, back):
            wh.ok(
                "POST",
                "/api/inventory/replenishment/config",
                {
                    "productMasterId": p,
                    "locationId": loc,
                    "method": "reorder_point",
                    "minQuantity": 5,
                    "maxQuantity": 50,
                    "reorderQuantity": 10,
                },
            )
    receive(wh, products[0], back, 100)  # this pair is above its reorder point
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(schedules.run_replenishment(wh.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["recordsCreated"] for r in results) == 5
    assert schedules.run_replenishment(wh.id)["recordsCreated"] == 0  # a later run: nothing more
    records = wh.ok("GET", "/api/inventory/replenishment?limit=200")["data"]
    pairs = [(r["productMasterId"], r["locationId"]) for r in records]
    assert len(pairs) == 5 == len(set(pairs))
    assert all(r["origin"] == "schedule" and r["quantity"] == D(10) for r in records)
    assert wiring.replenishment_service().suggestions(wh.id) == []
