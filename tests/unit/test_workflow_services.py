"""Transfers and stock requests on the in-memory fakes (no AWS): the stock each step moves, reserves and
releases, every refused step leaving the stock as it was, and the document saved with its history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import Forbidden, InsufficientStock, InvalidState, StaleVersion
from chalicelib.core.models import ZERO, Actor
from chalicelib.core.stock.lots import Receipt
from chalicelib.core.stock.service import StockService
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.features.stock_requests import LineIn as RequestLine
from chalicelib.features.stock_requests import StockRequestService
from chalicelib.features.transfers import LineIn, TransferService
from tests.fakes import (
    InMemoryCatalogStore,
    InMemoryStockRequestStore,
    InMemoryStockStore,
    InMemoryTransactions,
    InMemoryWarehouseStore,
    InMemoryWorkItems,
    MemoryTable,
)

pytestmark = pytest.mark.disable_socket
T = "tenant-a"
D = Decimal
CLERK = Actor(id="clerk", name="Clerk")
BOSS = Actor(id="boss", name="Boss")


class World:
    def __init__(self) -> None:
        table = MemoryTable()
        stock_store, catalog_store = InMemoryStockStore(table), InMemoryCatalogStore(table)
        transactions = InMemoryTransactions()
        lots = InMemoryWarehouseStore(table)
        self.stock = StockService(stock_store, transactions, lots)
        self.catalog = CatalogService(catalog_store, stock_store)
        self.wh = WarehouseStock(self.stock, stock_store, lots, self.catalog, transactions)
        self.transfers = TransferService(
            self.wh, self.catalog, InMemoryWorkItems(table, "TRANSFER", "transfer_id", "transfer"), transactions
        )
        self.requests = StockRequestService(self.wh, self.catalog, InMemoryStockRequestStore(table), transactions)
        self.product = self.catalog.create_product(T, {"name": "Flour"}, CLERK).product_id
        self.a = self.catalog.create_location(T, {"name": "A"}, CLERK).location_id
        self.b = self.catalog.create_location(T, {"name": "B"}, CLERK).location_id
        self.wh.record_stock(T, Place(self.product, self.a), D(10), Receipt(None, None), CLERK)

    def figures(self, location: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(on hand, reserved, available, in transit) at the location."""
        records = [r for r in self.stock.all_records(T) if r.location_id == location]
        on_hand = sum((r.on_hand for r in records if r.in_transit is None), ZERO)
        transit = sum((r.on_hand for r in records if r.in_transit is not None), ZERO)
        return (
            on_hand,
            sum((r.reserved for r in records), ZERO),
            sum((r.available for r in records), ZERO),
            transit,
        )


@pytest.fixture
def world() -> World:
    return World()


def test_transfer_ship_partial_receive_cancel(world: World) -> None:
    t = world.transfers.create(T, world.a, world.b, [LineIn(world.product, D(6))], CLERK)
    with pytest.raises(InvalidState):
        world.transfers.act(T, t.transfer_id, "receive", CLERK)
    shipped = world.transfers.act(T, t.transfer_id, "ship", CLERK)
    assert world.figures(world.a) == (D(4), ZERO, D(4), ZERO)
    assert world.figures(world.b) == (ZERO, ZERO, ZERO, D(6))
    line = shipped.lines[0].line_id
    part = world.transfers.act(T, t.transfer_id, "receive", CLERK, lines={line: D(2)})
    assert part.status == "shipped" and part.lines[0].received == D(2)
    assert world.figures(world.b) == (D(2), ZERO, D(2), D(4))
    back = world.transfers.act(T, t.transfer_id, "cancel", CLERK, comment="stop")
    assert back.status == "cancelled" and back.lines[0].returned == D(4)
    assert world.figures(world.a) == (D(8), ZERO, D(8), ZERO)
    assert [(h.from_state, h.to_state, h.by_id) for h in back.history] == [
        ("draft", "shipped", "clerk"),
        ("shipped", "shipped", "clerk"),
        ("shipped", "cancelled", "clerk"),
    ]
    for record in world.stock.all_records(T):
        assert record.on_hand == world.stock.ledger_total(T, record.stock_id)


def test_shipping_more_than_there_is_moves_nothing(world: World) -> None:
    t = world.transfers.create(T, world.a, world.b, [LineIn(world.product, D(11))], CLERK)
    with pytest.raises(InsufficientStock) as short:
        world.transfers.act(T, t.transfer_id, "ship", CLERK)
    assert short.value.details[0]["field"] == "lines[0].quantity"
    assert world.transfers.get(T, t.transfer_id).status == "draft"
    assert world.figures(world.a) == (D(10), ZERO, D(10), ZERO)


def test_a_stale_document_is_refused_with_its_stock_writes(world: World) -> None:
    t = world.transfers.create(T, world.a, world.b, [LineIn(world.product, D(3))], CLERK)
    world.transfers.act(T, t.transfer_id, "cancel", CLERK)
    with pytest.raises(StaleVersion):
        # the document as first read: its save is guarded on that version, so the ship's stock writes fail too
        world.transfers._move(T, t, "ship", None, CLERK, None, None)
    assert world.figures(world.a) == (D(10), ZERO, D(10), ZERO)


def test_stock_request_reserve_fulfil_rollback_cancel(world: World) -> None:
    fields = {"title": "need", "location_id": world.b, "source_location_id": world.a}
    r = world.requests.create(T, fields, [RequestLine(world.product, D(6))], CLERK)
    assert r.reference == "SR-000001"
    world.requests.submit(T, r.request_id, CLERK)
    with pytest.raises(Forbidden):
        world.requests.approve(T, r.request_id, CLERK)
    world.requests.approve(T, r.request_id, BOSS)
    assert world.figures(world.a) == (D(10), D(6), D(4), ZERO)
    line = world.requests.get(T, r.request_id).lines[0].line_id
    world.requests.set_status(T, r.request_id, "fulfilled", CLERK, lines={line: D(4)})
    assert world.figures(world.a) == (D(6), D(2), D(4), ZERO)
    assert world.figures(world.b) == (D(4), ZERO, D(4), ZERO)
    world.requests.rollback(T, r.request_id, CLERK)
    assert world.figures(world.a) == (D(10), D(6), D(4), ZERO) and world.figures(world.b)[0] == ZERO
    cancelled = world.requests.set_status(T, r.request_id, "cancelled", CLERK)
    assert cancelled.status == "cancelled" and world.figures(world.a) == (D(10), ZERO, D(10), ZERO)
    again = world.requests.rollback(T, r.request_id, CLERK)  # undo the cancel: reserved again
    assert again.status == "approved" and world.figures(world.a) == (D(10), D(6), D(4), ZERO)


def test_two_requests_for_the_last_units(world: World) -> None:
    fields = {"title": "need", "location_id": world.b, "source_location_id": world.a}
    first = world.requests.create(T, fields, [RequestLine(world.product, D(7))], CLERK)
    second = world.requests.create(T, fields, [RequestLine(world.product, D(7))], CLERK)
    for r in (first, second):
        world.requests.submit(T, r.request_id, CLERK)
    world.requests.approve(T, first.request_id, BOSS)
    with pytest.raises(InsufficientStock):
        world.requests.approve(T, second.request_id, BOSS)
    partial = world.requests.approve(T, second.request_id, BOSS, partial=True)
    assert partial.lines[0].approved_quantity == D(3)
    assert world.figures(world.a) == (D(10), D(10), ZERO, ZERO)
