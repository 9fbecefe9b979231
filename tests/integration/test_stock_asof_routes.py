"""`asOf` on every stock read that gives figures, through the app on moto: the 001 inventory rows, levels
and location totals, and the 004 product inventory (all warehouses and one).

Stock changes at known moments (a receipt, an adjustment, a reservation, another receipt; the
reconciliation schedule snapshots the ledger in the middle); each route read with `asOf` between the
changes answers the figures of then, without it the current ones; a future or unparseable `asOf` is a
400 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import Actor
from chalicelib.events import schedules
from chalicelib.storage.aws import on_call
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
ANN = Actor(id="user-ann", name="Ann")
SKU = "VC-500"


def tick() -> datetime:
    moment = datetime.now(UTC)
    # Writes stamped later than this moment, whatever the clock's resolution.
    while datetime.now(UTC) <= moment:
        pass
    return moment


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Day:
    wh: Maker
    product_id: str
    location_id: str
    warehouse_id: int
    stock_id: str
    moments: dict[str, datetime]


# (on hand, reserved, available) at each moment of the day, and now.
EXPECTED = {"m1": (10, 0, 10), "m2": (7, 0, 7), "m3": (7, 2, 5), "now": (12, 2, 10)}


@pytest.fixture
def day(http: Client) -> Day:
    wh = make_maker(http, "Warehouse Co", (*ALL, "inventory.adjust"))
    product_id = wh.product("Vitamin C", sku=SKU)["id"]
    location = wh.location("Main")
    moments = {"before": tick()}
    body = {"productMasterId": product_id, "locationId": location["id"], "quantity": "10"}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)
    moments["m1"] = tick()
    adjust = {"productMasterId": product_id, "locationId": location["id"], "reasonCode": "DAMAGED"}
    wh.ok("POST", "/api/inventory/adjust", {**adjust, "quantityChange": "-3"}, 201)
    moments["m2"] = tick()
    # The nightly reconciliation snapshots the ledger as of m2: later reads start from it.
    schedules.reconcile_ledger(now=moments["m2"] + schedules.SNAPSHOT_MARGIN)
    [record] = [r for r in wiring.stock_service().all_records(wh.id) if r.product_id == product_id]
    stock_id = record.stock_id
    wiring.stock_service().reserve(wh.id, stock_id, D(2), ANN)
    moments["m3"] = tick()
    wh.ok("POST", "/api/inventory/record-stock", {**body, "quantity": "5"}, 201)
    return Day(wh, product_id, location["id"], location["warehouseId"], stock_id, moments)


def at(day: Day, path: str, moment: str) -> Any:
    if moment == "now":
        return day.wh.ok("GET", path)
    sep = "&" if "?" in path else "?"
    return day.wh.ok("GET", f"{path}{sep}asOf={iso(day.moments[moment])}")


def figures(entry: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return D(str(entry["onHand"])), D(str(entry["reserved"])), D(str(entry["available"]))


def refuses(day: Day, path: str) -> None:
    sep = "&" if "?" in path else "?"
    future = iso(datetime.now(UTC) + timedelta(days=1))
    for value in (future, "yesterday"):
        error = day.wh.error("GET", f"{path}{sep}asOf={value}")
        assert fields_of(error) == ["asOf"], (path, value, error)


def test_inventory_rows_as_of(day: Day) -> None:
    path = f"/api/inventory?productMasterId={day.product_id}"
    assert at(day, path, "before")["data"] == []
    assert at(day, path, "before")["pagination"]["total"] == 0
    for moment, expected in EXPECTED.items():
        [row] = at(day, path, moment)["data"]
        assert row["id"] == day.stock_id
        assert figures(row) == expected, moment
    refuses(day, path)


def test_inventory_levels_as_of(day: Day) -> None:
    path = f"/api/products/{day.product_id}/inventory-levels"
    empty = at(day, path, "before")
    assert empty["locations"] == [] and D(str(empty["totals"]["onHand"])) == 0
    for moment, expected in EXPECTED.items():
        levels = at(day, path, moment)
        assert figures(levels["totals"]) == expected, moment
        [place] = levels["locations"]
        assert place["locationId"] == day.location_id and figures(place) == expected
    refuses(day, path)


def test_inventory_by_location_as_of(day: Day) -> None:
    path = "/api/inventory/locations"
    for moment, expected in EXPECTED.items():
        [main] = [e for e in at(day, path, moment)["data"] if e["locationId"] == day.location_id]
        assert figures(main) == expected, moment
    [main] = [e for e in at(day, path, "before")["data"] if e["locationId"] == day.location_id]
    assert figures(main) == (0, 0, 0)
    refuses(day, path)


def test_v2_product_inventory_as_of_in_all_warehouses_and_one(day: Day) -> None:
    for path in (
        f"/v2/products/sku/{SKU}/inventory",
        f"/v2/products/sku/{SKU}/inventory/warehouses/{day.warehouse_id}",
    ):
        nothing = at(day, path, "before")
        assert nothing["records"] == [] and D(str(nothing["totalQuantity"])) == 0
        for moment, (on_hand, reserved, available) in EXPECTED.items():
            found = at(day, path, moment)
            assert (D(str(found["localQuantity"])), D(str(found["totalQuantity"]))) == (on_hand, on_hand), moment
            assert D(str(found["reservedQuantity"])) == reserved
            assert D(str(found["availableQuantity"])) == available
            [record] = found["records"]
            assert D(str(record["quantity"])) == on_hand
        refuses(day, path)
    # Another warehouse held nothing then either.
    other = day.wh.location("Back room")["warehouseId"]
    path = f"/v2/products/sku/{SKU}/inventory/warehouses/{other}?asOf={iso(day.moments['m2'])}"
    assert day.wh.ok("GET", path)["records"] == []


def test_an_as_of_read_costs_a_bounded_number_of_queries_per_record(day: Day) -> None:
    """Two Queries per record read as of a moment (its ledger index from the moment back to its latest
    snapshot; its reservations and holds), however many movements the record has."""

    def queries(path: str) -> int:
        calls: list[str] = []
        stop = on_call(lambda svc, op: calls.append(op) if svc == "dynamodb" else None)
        try:
            day.wh.ok("GET", path)
        finally:
            stop()
        return calls.count("Query")

    m3 = iso(day.moments["m3"])
    for path in (
        f"/api/inventory?productMasterId={day.product_id}",
        f"/api/products/{day.product_id}/inventory-levels",
        f"/v2/products/sku/{SKU}/inventory",
    ):
        sep = "&" if "?" in path else "?"
        base = queries(path)
        before = queries(f"{path}{sep}asOf={m3}")
        for _ in range(5):
            wiring.stock_service().adjust(day.wh.id, day.stock_id, D(1), ANN)
        assert queries(f"{path}{sep}asOf={m3}") == before == base + 2, path


def test_a_record_of_another_surface_is_listed_on_its_first_v2_read(http: Client) -> None:
    wh = make_maker(http, "First Sight Co", (*ALL, "inventory.adjust"))
    product_id = wh.product("Zinc", sku="ZN-1")["id"]
    location_id = wh.location("Main")["id"]
    body = {"productMasterId": product_id, "locationId": location_id, "quantity": "4"}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)
    found = wh.ok("GET", "/v2/products/sku/ZN-1/inventory")
    [record] = found["records"]
    assert D(str(record["quantity"])) == D(str(found["localQuantity"])) == 4


def test_a_record_deleted_since_is_read_as_it_was(http: Client) -> None:
    shop = make_maker(http, "Deleting Co", (*ALL, "inventory.adjust"))
    product_id = shop.product("Iron", sku="FE-1")["id"]
    result = shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "FE-1", "quantity": 6}])
    assert result["created"] == 1
    [record] = shop.ok("GET", "/v2/products/sku/FE-1/inventory")["records"]
    then = tick()
    assert shop.call("DELETE", f"/v2/inventory/id/{record['id']}?force=true").status_code == 204
    assert shop.ok("GET", "/v2/products/sku/FE-1/inventory")["records"] == []
    assert shop.ok("GET", f"/api/inventory?productMasterId={product_id}")["data"] == []
    old = shop.ok("GET", f"/v2/products/sku/FE-1/inventory?asOf={iso(then)}")
    assert D(str(old["localQuantity"])) == 6 and [r["id"] for r in old["records"]] == [record["id"]]
    [row] = shop.ok("GET", f"/api/inventory?productMasterId={product_id}&asOf={iso(then)}")["data"]
    assert D(str(row["onHand"])) == 6
    levels = shop.ok("GET", f"/api/products/{product_id}/inventory-levels?asOf={iso(then)}")
    assert D(str(levels["totals"]["onHand"])) == 6
