"""The 001 warehouse rules against the in-memory stores: lot control, FEFO, reason codes, adjustments
all or nothing, counts, holds released by quantity, expiry; no AWS."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import ExpectationFailed, InsufficientStock, InvalidState, NotFound, ValidationFailed
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ClaimStatus, Lot, LotStatus, Product, StockRecord
from chalicelib.core.stock.adjustments import AdjustmentFilter, AdjustmentKind, LineIn, reason_for
from chalicelib.core.stock.lots import Receipt, check_receipt, fefo, lot_id_for, slot_id
from chalicelib.core.stock.service import StockService
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from tests.fakes import (
    InMemoryCatalogStore,
    InMemoryStockStore,
    InMemoryTransactions,
    InMemoryWarehouseStore,
    MemoryTable,
)

pytestmark = pytest.mark.disable_socket

ACTOR = Actor(id="user:1", name="Tester")
T = "tenant-a"
D = Decimal
TODAY = utcnow().date()


@pytest.fixture
def stores() -> tuple[InMemoryStockStore, InMemoryCatalogStore]:
    table = MemoryTable()
    return InMemoryStockStore(table), InMemoryCatalogStore(table)


@pytest.fixture
def warehouse(stores: tuple[InMemoryStockStore, InMemoryCatalogStore]) -> WarehouseStock:
    stock_store, catalog_store = stores
    transactions = InMemoryTransactions()
    lots = InMemoryWarehouseStore(stock_store.table)
    stock = StockService(stock_store, transactions, lots)
    catalog = CatalogService(catalog_store, stock_store)
    return WarehouseStock(stock, stock_store, lots, catalog, transactions)


def _place(warehouse: WarehouseStock, **product: object) -> Place:
    created = warehouse._catalog.create_product(T, {"name": "Milk", **product}, ACTOR)
    location = warehouse._catalog.create_location(T, {"name": "Main"}, ACTOR)
    return Place(created.product_id, location.location_id)


def _record(stock_id: str, lot_id: str | None, on_hand: int = 5) -> StockRecord:
    return StockRecord(
        tenant_id=T,
        stock_id=stock_id,
        product_id="p",
        location_id="l",
        lot_id=lot_id,
        on_hand=D(on_hand),
        available=D(on_hand),
    )


def _lot(lot_id: str, expiry: date | None, status: LotStatus = LotStatus.ACTIVE) -> Lot:
    return Lot(tenant_id=T, lot_id=lot_id, product_id="p", lot_number=lot_id, expiry_date=expiry, status=status)


# -- pure rules ----------------------------------------------------------------------------


def test_fefo_orders_by_expiry_and_leaves_out_expired_and_quarantined_lots() -> None:
    lots = {
        "late": _lot("late", TODAY + timedelta(days=9)),
        "soon": _lot("soon", TODAY + timedelta(days=1)),
        "past": _lot("past", TODAY - timedelta(days=1)),
        "bad": _lot("bad", TODAY + timedelta(days=2), LotStatus.QUARANTINED),
        "gone": _lot("gone", TODAY + timedelta(days=3), LotStatus.EXPIRED),
        "undated": _lot("undated", None),
    }
    records = [_record(name, name) for name in lots] + [_record("nolot", None)]
    assert [r.stock_id for r in fefo(records, lots, TODAY)] == ["soon", "late", "undated", "nolot"]


def test_lot_control_of_a_receipt() -> None:
    product = Product(tenant_id=T, product_id="p", name="Milk", lot_controlled=True, expiry_tracked=True)
    assert [p["field"] for p in check_receipt(product, Receipt(None, None), None)] == ["lotNumber", "expiryDate"]
    known = _lot("L1", date(2030, 1, 1))
    assert check_receipt(product, Receipt("L1", None), known) == []
    assert [p["field"] for p in check_receipt(product, Receipt("L1", date(2030, 1, 2)), known)] == ["expiryDate"]
    plain = Product(tenant_id=T, product_id="p", name="Salt")
    assert check_receipt(plain, Receipt(None, None), None) == []
    assert lot_id_for(T, "p", " l1 ") == lot_id_for(T, "p", "L1") != lot_id_for(T, "q", "L1")
    assert slot_id(T, "p", "l", None, None) != slot_id(T, "p", "l", None, "lot")


def test_reason_codes_know_their_direction() -> None:
    assert reason_for("damaged", D(-1)).code == "DAMAGED"
    assert reason_for("CYCLE_COUNT", D(3)).code == reason_for("CYCLE_COUNT", D(-3)).code
    with pytest.raises(ValidationFailed) as against:
        reason_for("FOUND", D(-1))
    assert against.value.details[0]["field"] == "reasonCode"
    with pytest.raises(ValidationFailed):
        reason_for("NOPE", D(1))


# -- the service over fakes ------------------------------------------------------------------


def test_record_stock_creates_the_lot_and_refuses_a_new_expiry_for_it(warehouse: WarehouseStock) -> None:
    place = _place(warehouse, lot_controlled=True, expiry_tracked=True)
    document, before = warehouse.record_stock(T, place, D(4), Receipt("L1", date(2030, 1, 1)), ACTOR)
    assert before is None and document.lines[0].lot_id == lot_id_for(T, place.product_id, "L1")
    with pytest.raises(ValidationFailed) as refused:
        warehouse.record_stock(T, place, D(1), Receipt("L1", date(2031, 1, 1)), ACTOR)
    assert refused.value.details[0]["field"] == "expiryDate"
    with pytest.raises(ValidationFailed):
        warehouse.record_stock(T, place, D(1), Receipt(None, date(2031, 1, 1)), ACTOR)
    (record,) = warehouse.records_at_place(T, place)
    assert record.on_hand == D(4) == warehouse._stock.ledger_total(T, record.stock_id)


def test_adjust_compare_and_set(warehouse: WarehouseStock) -> None:
    place = _place(warehouse)
    warehouse.record_stock(T, place, D(10), Receipt(None, None), ACTOR)
    _, on_hand = warehouse.adjust(T, place, D(-2), "LOST", ACTOR, expected_on_hand=D(10))
    assert on_hand == D(8)
    with pytest.raises(ExpectationFailed) as moved:
        warehouse.adjust(T, place, D(-1), "LOST", ACTOR, expected_on_hand=D(10))
    assert moved.value.details == [{"field": "expectedOnHand", "message": "current on hand is 8"}]
    with pytest.raises(InsufficientStock):
        warehouse.adjust(T, place, D(-9), "LOST", ACTOR)
    with pytest.raises(NotFound):
        warehouse.adjust(T, Place("nope", place.location_id), D(1), "FOUND", ACTOR)


def test_an_adjustment_document_is_all_or_nothing(warehouse: WarehouseStock) -> None:
    place = _place(warehouse)
    warehouse.record_stock(T, place, D(3), Receipt(None, None), ACTOR)
    other = warehouse._catalog.create_product(T, {"name": "Salt"}, ACTOR)
    other_place = Place(other.product_id, place.location_id)
    lines = [LineIn(place, D(-1)), LineIn(other_place, D(-1))]
    with pytest.raises(InsufficientStock):
        warehouse.adjust_document(T, "DAMAGED", lines, ACTOR)
    assert warehouse.records_at_place(T, place)[0].on_hand == D(3)
    assert warehouse.adjustments(T, AdjustmentKind.ADJUSTMENT, AdjustmentFilter()) == []
    document = warehouse.adjust_document(T, "DAMAGED", lines[:1], ACTOR, notes="dropped")
    listed = warehouse.adjustments(T, AdjustmentKind.ADJUSTMENT, AdjustmentFilter(product_id=place.product_id))
    assert [d.adjustment_id for d in listed] == [document.adjustment_id]


def test_a_count_sets_the_figure(warehouse: WarehouseStock) -> None:
    place = _place(warehouse)
    warehouse.record_stock(T, place, D(10), Receipt(None, None), ACTOR)
    document = warehouse.count(T, place, D(7), ACTOR)
    assert (document.lines[0].quantity_change, document.lines[0].previous_on_hand) == (D(-3), D(10))
    assert warehouse.records_at_place(T, place)[0].on_hand == D(7)


def test_holds_release_by_quantity(warehouse: WarehouseStock) -> None:
    place = _place(warehouse)
    warehouse.record_stock(T, place, D(10), Receipt(None, None), ACTOR)
    hold = warehouse.place_hold(T, place, D(6), "QA", ACTOR)
    with pytest.raises(InsufficientStock):
        warehouse.place_hold(T, place, D(5), "QA", ACTOR)
    partly = warehouse.release_hold_quantity(T, hold.hold_id, ACTOR, D(4))
    assert (partly.quantity, partly.released_quantity, partly.status) == (D(2), D(4), ClaimStatus.ACTIVE)
    with pytest.raises(InvalidState):
        warehouse.release_hold_quantity(T, hold.hold_id, ACTOR, D(3))
    assert warehouse.release_hold_quantity(T, hold.hold_id, ACTOR).status == ClaimStatus.RELEASED
    (record,) = warehouse.records_at_place(T, place)
    assert (record.held, record.available) == (D(0), D(10))


def test_picking_and_the_expiry_job(warehouse: WarehouseStock) -> None:
    place = _place(warehouse, lot_controlled=True)
    warehouse.record_stock(T, place, D(5), Receipt("OLD", TODAY - timedelta(days=1)), ACTOR)
    warehouse.record_stock(T, place, D(5), Receipt("SOON", TODAY + timedelta(days=2)), ACTOR)
    warehouse.record_stock(T, place, D(5), Receipt("LATE", TODAY + timedelta(days=20)), ACTOR)
    lots = [lot_id_for(T, place.product_id, n) for n in ("OLD", "SOON", "LATE")]
    picks = warehouse.pick(T, place, D(7))
    assert [(p.record.lot_id, p.quantity) for p in picks] == [(lots[1], D(5)), (lots[2], D(2))]
    reservations = warehouse.reserve_picked(T, picks, ACTOR, reference={"request": "SR-1"})
    assert sum(r.quantity for r in reservations) == D(7)
    with pytest.raises(InsufficientStock):
        warehouse.pick(T, place, D(4))  # 3 left in good lots; the expired one never counts
    assert warehouse.run_expiry(T) == {"lotsExpired": 1, "holdsPlaced": 1}
    assert warehouse.run_expiry(T) == {"lotsExpired": 0, "holdsPlaced": 0}
    assert warehouse.lot(T, lots[0]).status == LotStatus.EXPIRED


def test_a_redelivered_command_is_applied_once(warehouse: WarehouseStock) -> None:
    place = _place(warehouse)
    first, _ = warehouse.record_stock(T, place, D(10), Receipt(None, None), ACTOR, command_id="cmd-1")
    again, _ = warehouse.record_stock(T, place, D(10), Receipt(None, None), ACTOR, command_id="cmd-1")
    assert again.adjustment_id == first.adjustment_id == "cmd-1"
    document, _ = warehouse.adjust(T, place, D(-2), "LOST", ACTOR, command_id="cmd-2")
    replay, on_hand = warehouse.adjust(T, place, D(-2), "LOST", ACTOR, command_id="cmd-2")
    assert (replay.adjustment_id, on_hand) == (document.adjustment_id, D(8))
    assert warehouse.records_at_place(T, place)[0].on_hand == D(8)


def test_a_reservation_never_takes_an_expired_or_quarantined_lot(warehouse: WarehouseStock) -> None:
    place = _place(warehouse, lot_controlled=True)
    warehouse.record_stock(T, place, D(5), Receipt("OLD", TODAY - timedelta(days=1)), ACTOR)
    warehouse.record_stock(T, place, D(5), Receipt("GOOD", TODAY + timedelta(days=1)), ACTOR)
    records = {r.lot_id: r for r in warehouse.records_at_place(T, place)}
    old, good = (records[lot_id_for(T, place.product_id, n)] for n in ("OLD", "GOOD"))
    with pytest.raises(InvalidState) as refused:
        warehouse._stock.reserve(T, old.stock_id, D(1), ACTOR)
    assert refused.value.details[0]["field"] == "inventoryId"
    with pytest.raises(InvalidState):
        warehouse._stock.split_and_reserve(T, old.stock_id, D(1), ACTOR, reference={"orderId": "o1"})
    assert warehouse._stock.reserve(T, good.stock_id, D(1), ACTOR).quantity == D(1)
