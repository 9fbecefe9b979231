"""The 001 scheduled jobs: `expiry` and `hold-expiry`, for one company and for all, run twice.

They find their work on indexes (the lot expiry index, the hold expiry index): no Scan, and a
second run does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from chalicelib import wiring
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ClaimStatus, LotStatus
from chalicelib.core.stock.lots import Receipt, lot_id_for
from chalicelib.core.stock.slots import Place
from chalicelib.events import schedules
from chalicelib.storage.aws import on_call

D = Decimal
ACTOR = Actor(id="u1", name="Planner")


@pytest.fixture
def services(aws: None) -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def _company(name: str) -> tuple[str, Place]:
    tenant, _ = wiring.tenant_service().create_tenant(name)
    t = tenant.tenant_id
    product = wiring.catalog_service().create_product(t, {"name": "Milk", "lot_controlled": True}, ACTOR)
    location = wiring.catalog_service().default_location(t, ACTOR)
    return t, Place(product.product_id, location.location_id)


def _receive(t: str, place: Place, lot: str, expiry: date, quantity: int = 5) -> None:
    wiring.warehouse_stock().record_stock(t, place, D(quantity), Receipt(lot, expiry), ACTOR)


def test_the_expiry_schedule_run_twice_expires_each_lot_once_without_a_scan(services: None) -> None:
    today = utcnow().date()
    first, first_place = _company("First")
    second, second_place = _company("Second")
    _receive(first, first_place, "OLD", today - timedelta(days=1))
    _receive(first, first_place, "GOOD", today + timedelta(days=30))
    _receive(second, second_place, "OLD", today - timedelta(days=3), 2)
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation))
    try:
        assert schedules.expire_lots() == {"lotsExpired": 2, "holdsPlaced": 2}
        assert "Scan" not in calls
        assert schedules.expire_lots() == {"lotsExpired": 0, "holdsPlaced": 0}
    finally:
        unsubscribe()
    assert "Scan" not in calls
    warehouse = wiring.warehouse_stock()
    old = warehouse.lot(first, lot_id_for(first, first_place.product_id, "OLD"))
    good = warehouse.lot(first, lot_id_for(first, first_place.product_id, "GOOD"))
    assert (old.status, good.status) == (LotStatus.EXPIRED, LotStatus.ACTIVE)
    records = {r.lot_id: r for r in warehouse.records_at_place(first, first_place)}
    assert (records[old.lot_id].held, records[old.lot_id].available) == (D(5), D(0))
    assert records[good.lot_id].held == D(0)
    assert len(warehouse.holds(first, ClaimStatus.ACTIVE)) == 1
    # One company at a time, as an operator's "run now" calls it: nothing left to do.
    assert schedules.run_expiry(second) == {"lotsExpired": 0, "holdsPlaced": 0}


def test_the_hold_expiry_schedule_releases_due_holds_once(services: None) -> None:
    t, place = _company("Holder")
    _receive(t, place, "L1", utcnow().date() + timedelta(days=30), 10)
    warehouse = wiring.warehouse_stock()
    due = warehouse.place_hold(t, place, D(2), "QA", ACTOR, expires_at=utcnow() + timedelta(milliseconds=300))
    kept = warehouse.place_hold(t, place, D(3), "QA", ACTOR, expires_at=utcnow() + timedelta(days=1))
    time.sleep(0.4)
    assert schedules.run_hold_expiry(t) == {"holdsExpired": 1}
    assert schedules.expire_holds() == {"holdsExpired": 0}
    statuses = {h.hold_id: h.status for h in warehouse.holds(t)}
    assert statuses == {due.hold_id: ClaimStatus.EXPIRED, kept.hold_id: ClaimStatus.ACTIVE}
    (record,) = warehouse.records_at_place(t, place)
    assert (record.held, record.available) == (D(3), D(7))
