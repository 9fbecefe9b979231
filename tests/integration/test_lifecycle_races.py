"""Deletes racing reserves, interleaved on purpose (moto in-process).

Each test lets the other request land at the worst moment: between the
first request's read and its write. Whichever commits first wins; the other
fails with a 409 and nothing is left dangling (no reservation on a deleted
row or for a deleted order, no split row taken from a deleted row).
The same races fired at random through moto's server are in
test_stock_concurrency.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.core.errors import InvalidState, StaleVersion
from chalicelib.core.history.service import HistoryService
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, ClaimStatus, StockRecord
from chalicelib.core.reference.service import ReferenceService
from chalicelib.core.stock.service import ORDER_LINK_PREFIX, NewStockRecord, StockService
from chalicelib.features.company_inventory.service import InventoryService
from chalicelib.features.orders.model import LineInput, OrderInput
from chalicelib.features.orders.port import StoredOrder
from chalicelib.features.orders.service import OrderService
from chalicelib.settings import get_settings
from chalicelib.storage.batch_reads import DynamoBatchReads
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.history_repo import DynamoHistoryStore
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.reference_repo import DynamoReferenceStore
from chalicelib.storage.stock_repo import DynamoStockStore
from chalicelib.storage.transaction import DynamoTransactions

D = Decimal
ALICE = Actor(id="user-alice", name="Alice")
BOB = Actor(id="user-bob", name="Bob")


class RacingStocks(DynamoStockStore):
    """Runs `race` once, right after the next read of a record."""

    race: Callable[[], object] | None = None

    def _raced(self) -> None:
        race, self.race = self.race, None
        if race is not None:
            race()

    def get_record(self, tenant_id: str, stock_id: str) -> StockRecord | None:
        found = super().get_record(tenant_id, stock_id)
        self._raced()
        return found

    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        found = super().get_records(tenant_id, stock_ids)
        self._raced()
        return found


class RacingOrders(DynamoOrderStore):
    """Runs `race` once, right after the next read of orders."""

    race: Callable[[], object] | None = None

    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        found = super().get_orders(tenant_id, order_ids)
        race, self.race = self.race, None
        if race is not None:
            race()
        return found


@dataclass
class World:
    tenant: str
    table: str
    records: DynamoStockStore
    stock: StockService
    orders: OrderService
    inventory: InventoryService
    racing_records: RacingStocks
    racing_orders: RacingOrders
    raced_orders: OrderService
    raced_inventory: InventoryService

    def row(self, quantity: str = "10") -> str:
        new = NewStockRecord(product_id="P", location_id="L", name="Bar", quantity=D(quantity))
        return self.stock.create_record(self.tenant, new, ALICE).stock_id

    def order(self) -> tuple[str, str]:
        line = LineInput(given=frozenset({"product_name", "quantity"}), product_name="Bar", quantity=D(3))
        entry = OrderInput(
            given=frozenset({"order_reference", "order_date"}),
            order_reference=f"SO-{new_id()[:8]}",
            order_date=date(2026, 1, 5),
            line_items=(line,),
        )
        view = self.orders.create(self.tenant, [entry], ALICE)[0]
        return view.order.order_id, view.line_items[0].line_item_id

    def reserve(self, service: OrderService, order: tuple[str, str], row: str, quantity: str = "3") -> object:
        return service.reserve(self.tenant, order[0], order[1], row, D(quantity), True, BOB)

    def active_reservations(self, row: str) -> list[str]:
        found = self.records.reservations_for_record(self.tenant, row)
        return [r.reservation_id for r in found if r.status == ClaimStatus.ACTIVE]

    def rows(self) -> list[StockRecord]:
        cursor = None
        found: list[StockRecord] = []
        while True:
            page = self.records.list_records(self.tenant, 100, cursor)
            found += page.items
            if page.cursor is None:
                return found
            cursor = page.cursor


@pytest.fixture
def world(table: str) -> World:
    tenant = new_id()
    transactions = DynamoTransactions()
    reads = DynamoBatchReads(table)
    reference = ReferenceService(DynamoReferenceStore(table))
    history = HistoryService(DynamoHistoryStore(get_settings().history_table))
    records = DynamoStockStore(table)
    racing_records = RacingStocks(table)
    racing_orders = RacingOrders(table)
    stock = StockService(records, transactions)
    raced_stock = StockService(racing_records, transactions)
    orders = OrderService(stock, records, DynamoOrderStore(table), reference, history, transactions)
    inventory = InventoryService(stock, records, DynamoCatalogStore(table), reference, history, reads, transactions)
    return World(
        tenant,
        table,
        records,
        stock,
        orders,
        inventory,
        racing_records,
        racing_orders,
        OrderService(raced_stock, racing_records, racing_orders, reference, history, transactions),
        InventoryService(
            raced_stock, racing_records, DynamoCatalogStore(table), reference, history, reads, transactions
        ),
    )


def test_a_reserve_landing_after_a_row_delete_read_the_row_makes_the_delete_a_409(world: World) -> None:
    row, order = world.row(), world.order()
    world.racing_records.race = lambda: world.reserve(world.orders, order, row)

    with pytest.raises(StaleVersion):
        world.raced_inventory.delete(world.tenant, [row], ALICE)

    source = world.records.get_record(world.tenant, row)
    assert source is not None and source.active
    split = [r for r in world.rows() if r.stock_id != row]
    assert len(split) == 1 and split[0].active and split[0].reserved == 3
    assert len(world.active_reservations(split[0].stock_id)) == 1


def test_a_row_delete_landing_between_a_reserves_read_and_write_makes_the_reserve_a_409(world: World) -> None:
    for split in (True, False):
        row, order = world.row("3"), world.order()
        world.racing_records.race = lambda row=row: world.inventory.delete(world.tenant, [row], ALICE)  # type: ignore[misc]

        with pytest.raises(InvalidState):
            world.raced_orders.reserve(world.tenant, order[0], order[1], row, D(2 if split else 3), split, BOB)

        source = world.records.get_record(world.tenant, row)
        assert source is not None and not source.active
        assert (source.on_hand, source.reserved) == (D(3), D(0))
        assert world.active_reservations(row) == []
    # No row was split off a deleted one.
    assert all(not r.active for r in world.rows())


def test_a_reserve_landing_after_an_order_delete_read_the_order_makes_the_delete_a_409(world: World) -> None:
    row, order = world.row(), world.order()
    world.racing_orders.race = lambda: world.reserve(world.orders, order, row)

    with pytest.raises(StaleVersion):
        world.raced_orders.delete(world.tenant, [order[0]], ALICE)

    assert world.orders.get(world.tenant, order[0]).order.active
    (reservation,) = world.orders.reservations_of(world.tenant, order[0])
    assert reservation.status == ClaimStatus.ACTIVE


def test_an_order_delete_landing_between_a_reserves_read_and_write_makes_the_reserve_a_409(world: World) -> None:
    row, order = world.row(), world.order()
    world.racing_records.race = lambda: world.orders.delete(world.tenant, [order[0]], ALICE)

    with pytest.raises(InvalidState) as raised:
        world.reserve(world.raced_orders, order, row)

    assert raised.value.details == [{"field": "lineItemId", "message": "was deleted or removed meanwhile"}]
    source = world.records.get_record(world.tenant, row)
    assert source is not None and (source.on_hand, source.reserved) == (D(10), D(0))
    assert not any(name.startswith(ORDER_LINK_PREFIX) for name in source.attributes)
    assert [r.stock_id for r in world.rows()] == [row]


def test_deleting_a_reserved_order_releases_its_stock_in_the_same_transaction(world: World) -> None:
    row, order = world.row(), world.order()
    world.reserve(world.orders, order, row, "2")
    world.reserve(world.orders, order, row, "8")  # the rest of the row: reserved in place

    world.orders.delete(world.tenant, [order[0]], ALICE)

    assert all(r.reserved == 0 and r.available == r.on_hand for r in world.rows())
    assert all(not any(k.startswith(ORDER_LINK_PREFIX) for k in r.attributes) for r in world.rows())
    assert world.orders.reservations_of(world.tenant, order[0]) == []
