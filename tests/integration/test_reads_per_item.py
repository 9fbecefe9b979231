"""Work per item that one call can do: no re-read of what a listing returned, and no released claim
or deleted location read back only to be dropped in Python."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from chalicelib import wiring
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, ClaimStatus, Location
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.events import schedules
from chalicelib.storage.aws import on_call
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.fakes import InMemoryStockStore

ACTOR = Actor(id="u1", name="Planner")


@pytest.fixture
def services(aws: None) -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def _counting() -> tuple[list[str], object]:
    calls: list[str] = []
    return calls, on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)


def test_the_reconciliation_job_reads_each_listed_record_s_ledger_and_never_the_record_again(services: None) -> None:
    tenant, _ = wiring.tenant_service().create_tenant("Reconciled")
    stock = wiring.stock_service()
    for n in range(3):
        made = stock.create_record(
            tenant.tenant_id, NewStockRecord(product_id="p", location_id=f"l{n}", quantity=Decimal(5)), ACTOR
        )
        stock.adjust(tenant.tenant_id, made.stock_id, Decimal(-1), ACTOR)

    calls, stop = _counting()
    try:
        assert schedules.reconcile_ledger() == []
    finally:
        stop()  # type: ignore[operator]

    # The tenants (one page), the tenant's records (one page), then per record its time-ordered ledger and,
    # with no snapshot yet (a first run), its ledger partition too; at last one batch of new snapshots.
    assert calls == ["Query"] * (2 + 2 * 3) + ["BatchWriteItem"]

    # The next run starts from those snapshots: still one Query per record, whatever the ledger's length.
    calls.clear()
    stop = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        assert schedules.reconcile_ledger() == []
    finally:
        stop()
    assert calls.count("Query") == 2 + 3
    assert "GetItem" not in calls


@pytest.fixture(params=["dynamo", "memory"])
def stock(request: pytest.FixtureRequest) -> StockService:
    if request.param == "memory":
        return StockService(InMemoryStockStore())
    return StockService(DynamoStockStore(request.getfixturevalue("table")))


def test_active_only_claims_leave_released_and_fulfilled_reservations_out(stock: StockService) -> None:
    t = new_id()
    record = stock.create_record(t, NewStockRecord(product_id="p", location_id="l", quantity=Decimal(10)), ACTOR)
    order = {"orderId": "o1", "orderReference": "SO-1", "lineItemId": "x"}
    kept = stock.reserve(t, record.stock_id, Decimal(1), ACTOR, reference=order)
    released = stock.reserve(t, record.stock_id, Decimal(2), ACTOR, reference=order)
    fulfilled = stock.reserve(t, record.stock_id, Decimal(3), ACTOR, reference=order)
    stock.release(t, released.reservation_id, ACTOR)
    stock.fulfil(t, fulfilled.reservation_id, ACTOR)
    store = stock._store  # the store under test (DynamoDB or the fake)

    active = store.reservations_for_record(t, record.stock_id, active_only=True)
    every = store.reservations_for_record(t, record.stock_id)
    of_order = store.reservations_for_order(t, "o1", active_only=True)

    assert [r.reservation_id for r in active] == [kept.reservation_id]
    assert [r.reservation_id for r in of_order] == [kept.reservation_id]
    assert {r.status for r in every} == {ClaimStatus.ACTIVE, ClaimStatus.RELEASED, ClaimStatus.FULFILLED}


def test_active_only_locations_leave_deleted_ones_out(table: str) -> None:
    t = new_id()
    catalog = DynamoCatalogStore(table)
    kept, gone = Location(tenant_id=t, name="Yard A"), Location(tenant_id=t, name="Yard B")
    catalog.create_location(kept, ACTOR)
    catalog.create_location(gone, ACTOR)
    catalog.update_location(gone.model_copy(update={"active": False, "version": 2}), gone, ACTOR)

    assert [loc.name for loc in catalog.list_locations(t, 50, None, active_only=True).items] == ["Yard A"]
    assert sorted(loc.name for loc in catalog.list_locations(t, 50, None).items) == ["Yard A", "Yard B"]
