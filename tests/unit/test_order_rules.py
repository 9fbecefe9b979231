"""Order rules that need no storage, and the split-and-reserve ledger command on the in-memory store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.core.errors import DuplicateCommand, ExpectationFailed, InsufficientStock, ValidationFailed
from chalicelib.core.models import Actor, FieldChange, HistoryEvent, MovementKind
from chalicelib.core.stock.service import ORDER_LINK_PREFIX, NewStockRecord, StockService
from chalicelib.features.orders import rules as orders
from chalicelib.features.orders.history import translate_event
from chalicelib.features.orders.model import LineInput, LineItem, Order, OrderInput
from chalicelib.features.orders.port import LineWrite, OrderWrite
from tests.fakes import InMemoryStockStore

D = Decimal
ALICE = Actor(id="user-alice", name="Alice")
REFERENCE = {"orderId": "o1", "orderReference": "SO-1", "lineItemId": "l1"}


def event(entity_type: str, change_type: str, *changes: FieldChange) -> HistoryEvent:
    return HistoryEvent(
        tenant_id="t1",
        event_id="e1",
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
        changed_by_id="u1",
        changed_by_name="U",
        change_type=change_type,
        entity_type=entity_type,
        entity_id="x",
        changes=list(changes),
    )


# -- history translation --------------------------------------------------------------


def test_history_events_use_documented_names_and_change_types() -> None:
    created = translate_event(event("order", "INSERT", FieldChange(field="order_reference", new="SO-1")))
    deleted = translate_event(
        event(
            "order_line",
            "MODIFY",
            FieldChange(field="active", old=True, new=False),
            FieldChange(field="deleted_with_order", old=False, new=True),
            FieldChange(field="required_heat_code", old=None, new="H1"),
        )
    )
    restored = translate_event(event("order", "MODIFY", FieldChange(field="active", old=False, new=True)))

    assert (created.entity_type, created.change_type) == ("order", "CREATE")
    assert [c.field for c in created.changes] == ["orderReference"]
    assert (deleted.entity_type, deleted.change_type) == ("orderLineItem", "DELETE")
    assert [c.field for c in deleted.changes] == ["active", "requiredHeatCode"]
    assert restored.change_type == "RESTORE"
    assert translate_event(event("order", "MODIFY", FieldChange(field="site", new="x"))).change_type == "UPDATE"


# -- model and validation --------------------------------------------------------------


def test_dates_are_stored_as_iso_text_and_read_back_as_dates() -> None:
    order = Order(tenant_id="t1", order_reference="SO-1", order_date=date(2026, 3, 4))

    dumped = order.model_dump(mode="python")

    assert dumped["order_date"] == "2026-03-04"
    assert dumped["delivery_date"] is None
    assert Order.model_validate(dumped).order_date == date(2026, 3, 4)


def test_order_checks_name_every_bad_field_in_documented_names() -> None:
    bad = OrderInput(
        order_reference="x" * 101,
        quantity=D(-1),
        status="lost",
        line_items=(
            LineInput(product_name=" ", quantity=D(0), weight=D(-2)),
            LineInput(product_name="Bar", quantity=D("NaN")),
            LineInput(product_name="Bar", quantity=D(1), line_number=0, diameter=D(-1)),
        ),
    )

    errors = orders._check_order(2, bad, creating=True)

    assert sorted(e["field"] for e in errors) == [
        "[2].lineItems[0].productName",
        "[2].lineItems[0].quantity",
        "[2].lineItems[0].weight",
        "[2].lineItems[1].quantity",
        "[2].lineItems[2].diameter",
        "[2].lineItems[2].lineNumber",
        "[2].orderReference",
        "[2].quantity",
        "[2].status",
    ]
    assert orders._check_order(0, OrderInput(), creating=True) == [
        {"field": "[0].orderReference", "message": "is required"}
    ]
    # An update checks only what it sends, and needs the order's id.
    assert [e["field"] for e in orders._check_order(0, OrderInput(), creating=False)] == ["[0].orderId"]


def test_statuses_are_read_in_any_case_with_spaces_or_hyphens() -> None:
    assert orders._status("In Progress") == "in_progress"
    assert orders._status(" dispatched ") == "dispatched"
    assert orders._status("in-progress") == "in_progress"
    assert orders._status("lost") is None


def test_line_numbers_keep_sent_and_existing_ones_and_never_reuse_a_removed_one() -> None:
    removed = LineItem(
        tenant_id="t1", line_item_id="gone", order_id="o1", line_number=5, product_name="A", quantity=D(1)
    )
    kept = LineItem(tenant_id="t1", line_item_id="kept", order_id="o1", line_number=2, product_name="B", quantity=D(1))
    inputs = [LineInput(), LineInput(line_item_id="kept"), LineInput(line_number=9), LineInput()]

    numbers = orders._line_numbers(0, inputs, {"gone": removed, "kept": kept})

    assert numbers == [10, 2, 9, 11]
    assert orders._line_numbers(0, [LineInput(), LineInput(), LineInput()]) == [1, 2, 3]
    with pytest.raises(ValidationFailed) as exc:
        orders._line_numbers(3, [LineInput(line_number=1), LineInput(line_number=1)])
    assert [d["field"] for d in exc.value.details] == ["[3].lineItems[1].lineNumber"]


def test_quantity_is_the_sum_of_active_lines_else_what_was_sent() -> None:
    def line(quantity: str, active: bool = True) -> LineItem:
        return LineItem(
            tenant_id="t1", order_id="o1", line_number=1, product_name="A", quantity=D(quantity), active=active
        )

    assert orders._quantity([line("2"), line("1.5"), line("9", active=False)], D(100), D(0)) == D("3.5")
    assert orders._quantity([line("9", active=False)], D(4), D(0)) == D(4)
    assert orders._quantity([], None, D(7)) == D(7)


def test_a_request_is_refused_when_its_writes_do_not_fit_one_transaction() -> None:
    order = Order(tenant_id="t1", order_reference="SO-1")
    line = LineItem(tenant_id="t1", order_id="o1", line_number=1, product_name="A", quantity=D(1))
    fits = OrderWrite(order, None, tuple(LineWrite(line) for _ in range(98)), take_reference="SO-1")
    assert fits.size == 100
    orders._check_writes([fits])
    with pytest.raises(ValidationFailed, match="at most 100"):
        orders._check_writes([fits, OrderWrite(order)])


def test_two_orders_cannot_swap_references_in_one_request() -> None:
    order = Order(tenant_id="t1", order_reference="SO-1")
    first = OrderWrite(order, 1, take_reference="SO-2", free_reference="SO-1")
    second = OrderWrite(order, 1, take_reference="so-1", free_reference="SO-2")

    with pytest.raises(ValidationFailed) as exc:
        orders._check_guard_moves([first, second])

    assert [d["field"] for d in exc.value.details] == ["[0].orderReference"]


# -- split and reserve on the ledger ------------------------------------------------------


@pytest.fixture
def store() -> InMemoryStockStore:
    return InMemoryStockStore()


@pytest.fixture
def service(store: InMemoryStockStore) -> StockService:
    return StockService(store)


def bar(service: StockService, quantity: str = "10") -> str:
    new = NewStockRecord(
        product_id="P1",
        location_id="L1",
        name="Bar",
        attributes={"heat_code": "H1", f"{ORDER_LINK_PREFIX}old": {"orderId": "o0", "orderReference": "SO-0"}},
        quantity=D(quantity),
    )
    return service.create_record("t1", new, ALICE).stock_id


def test_split_moves_the_quantity_into_a_new_fully_reserved_row(
    service: StockService, store: InMemoryStockStore
) -> None:
    source = bar(service)

    reservation = service.split_and_reserve("t1", source, D(4), ALICE, reference=REFERENCE, name="Bar (SO-1)")

    assert reservation.stock_id != source
    old, new = service.get("t1", source), service.get("t1", reservation.stock_id)
    assert (old.on_hand, old.available) == (D(6), D(6))
    assert (new.on_hand, new.reserved, new.available, new.name) == (D(4), D(4), D(0), "Bar (SO-1)")
    assert new.attributes["heat_code"] == "H1"
    # The new row carries only its own order link, not the source's.
    assert {k for k in new.attributes if k.startswith(ORDER_LINK_PREFIX)} == {
        f"{ORDER_LINK_PREFIX}{reservation.reservation_id}"
    }
    for stock_id in (source, new.stock_id):
        assert service.reconcile("t1", stock_id) == 0
    assert [m.kind for m in store.movements("t1", new.stock_id)] == [MovementKind.SPLIT]
    assert [r.reservation_id for r in store.reservations_for_order("t1", "o1")] == [reservation.reservation_id]


def test_the_whole_row_is_reserved_in_place_and_guarded_on_its_quantity(service: StockService) -> None:
    source = bar(service, "5")
    stale = service.get("t1", source)
    service.adjust("t1", source, D(1), ALICE)

    with pytest.raises(ExpectationFailed):
        service.split_and_reserve("t1", source, D(5), ALICE, reference=REFERENCE, record=stale)

    reservation = service.split_and_reserve("t1", source, D(6), ALICE, reference=REFERENCE)
    assert reservation.stock_id == source
    record = service.get("t1", source)
    assert (record.reserved, record.available) == (D(6), D(0))


def test_a_split_beyond_available_changes_nothing(service: StockService, store: InMemoryStockStore) -> None:
    source = bar(service, "5")
    service.reserve("t1", source, D(3), ALICE)

    with pytest.raises(InsufficientStock):
        service.split_and_reserve("t1", source, D(4), ALICE, reference=REFERENCE)

    record = service.get("t1", source)
    assert (record.on_hand, record.reserved, record.available) == (D(5), D(3), D(2))
    assert len(store.records_for_product("t1", "P1")) == 1
    assert store.reservations_for_order("t1", "o1") == []


def test_a_redelivered_split_answers_with_the_first_reservation(service: StockService) -> None:
    source = bar(service)
    ids = {"new_stock_id": "s-new", "reservation_id": "r-1", "command_id": "cmd"}

    first = service.split_and_reserve("t1", source, D(2), ALICE, reference=REFERENCE, **ids)
    again = service.split_and_reserve("t1", source, D(2), ALICE, reference=REFERENCE, **ids)

    assert again.reservation_id == first.reservation_id == "r-1"
    assert service.get("t1", source).on_hand == D(8)
    with pytest.raises(DuplicateCommand):
        service.split_and_reserve("t1", source, D(3), ALICE, reference=REFERENCE, **ids)
