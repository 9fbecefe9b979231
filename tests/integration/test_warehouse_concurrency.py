"""Warehouse commands racing each other through moto's server (threads, real HTTP to moto).

`adjust` with expectedOnHand is a compare-and-set: of many callers expecting the same figure exactly
one wins and the others get the current figure (409). A hold and a reservation racing for the same
units never both take them: each is one conditional write on `available`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from chalicelib import wiring
from chalicelib.core.errors import ExpectationFailed, InsufficientStock
from chalicelib.core.models import Actor
from chalicelib.core.stock.lots import Receipt
from chalicelib.core.stock.service import StockService
from chalicelib.core.stock.slots import Place
from tests.integration import test_stock_concurrency as racing

D = Decimal
# The moto server and per-test table of the stock concurrency tests.
moto_server = racing.moto_server
service = racing.service
ACTOR = Actor(id="worker", name="Worker")
THREADS = 8


def _place(stock: StockService) -> Place:
    tenant, _ = wiring.tenant_service().create_tenant("Racing Co")
    product = wiring.catalog_service().create_product(tenant.tenant_id, {"name": "Widget"}, ACTOR)
    location = wiring.catalog_service().default_location(tenant.tenant_id, ACTOR)
    place = Place(product.product_id, location.location_id)
    wiring.warehouse_stock().record_stock(tenant.tenant_id, place, D(10), Receipt(None, None), ACTOR)
    place_tenant[0] = tenant.tenant_id
    return place


place_tenant = [""]


def _race(task: Any) -> list[Any]:
    start = threading.Barrier(THREADS)

    def run(i: int) -> Any:
        start.wait()
        try:
            return task(i)
        except (ExpectationFailed, InsufficientStock) as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_adjust_with_expected_on_hand_lets_exactly_one_of_many_win(service: StockService) -> None:
    place = _place(service)
    tenant = place_tenant[0]
    warehouse = wiring.warehouse_stock()
    outcomes = _race(lambda i: warehouse.adjust(tenant, place, D(-1), "DAMAGED", ACTOR, expected_on_hand=D(10)))
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, ExpectationFailed)]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(p.message == "current on hand is 9" for e in losers for p in e.problems)
    (record,) = warehouse.records_at_place(tenant, place)
    assert record.on_hand == D(9) == service.ledger_total(tenant, record.stock_id)


def test_holds_racing_reservations_never_take_more_than_is_available(service: StockService) -> None:
    place = _place(service)
    tenant = place_tenant[0]
    warehouse = wiring.warehouse_stock()
    (record,) = warehouse.records_at_place(tenant, place)

    def task(i: int) -> Any:
        if i % 2:
            return warehouse.place_hold(tenant, place, D(3), "QA", ACTOR)
        return service.reserve(tenant, record.stock_id, D(3), ACTOR)

    outcomes = _race(task)
    taken = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(taken) == 3  # 3 x 3 of 10; the others were refused
    after = service.get(tenant, record.stock_id)
    assert after.reserved + after.held == D(9) and after.available == D(1)
    assert after.on_hand == service.ledger_total(tenant, record.stock_id)
