"""The 003 order service's rules, on the in-memory stores (tests/fakes.py).

Orders, line items, reservations and history over fakes that the contract
tests hold to the DynamoDB stores (tests/integration/test_order_store.py,
test_stock_store.py, test_reference_store.py). What only DynamoDB can show,
round trips, the audit stream and real concurrency, stays in
tests/integration/test_orders.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.errors import (
    AlreadyExists,
    InsufficientStock,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from chalicelib.core.history.service import HistoryService
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, ClaimStatus, MovementKind
from chalicelib.core.reference.service import NewReference, ReferenceService, RefKind
from chalicelib.core.stock.service import ORDER_LINK_PREFIX, NewStockRecord, StockService
from chalicelib.features.orders.model import LineInput, LineItem, OrderInput
from chalicelib.features.orders.port import StoredOrder
from chalicelib.features.orders.service import OrderService
from tests.fakes import (
    InMemoryHistoryStore,
    InMemoryOrderStore,
    InMemoryReferenceStore,
    InMemoryStockStore,
    InMemoryTransactions,
    MemoryTable,
)

pytestmark = pytest.mark.disable_socket

D = Decimal
ALICE = Actor(id="user-alice", name="Alice")
ORDER_FIELDS = frozenset({"order_reference", "quantity", "order_date", "delivery_date", "site", "status"})
LINE_FIELDS = frozenset({"product_name", "quantity", "type", "material", "diameter", "length", "weight"})


@dataclass
class Env:
    tenant: str
    orders: OrderService
    stock: StockService
    records: InMemoryStockStore
    order_store: InMemoryOrderStore
    reference: ReferenceService
    history: HistoryService
    customer: str
    type_id: str
    material_id: str
    memory: MemoryTable

    def order(self, reference: str, *lines: LineInput, **fields: Any) -> OrderInput:
        given = ORDER_FIELDS | {"related_organisation_id"} | set(fields)
        values = {"related_organisation_id": self.customer, **fields}
        return OrderInput(given=frozenset(given), order_reference=reference, line_items=tuple(lines), **values)

    def line(self, product: str = "Bar 50mm", quantity: str = "2", **fields: Any) -> LineInput:
        values = {"type": self.type_id, "material": self.material_id, **fields}
        return LineInput(
            given=LINE_FIELDS | set(fields), product_name=product, quantity=D(quantity), diameter=D(50), **values
        )

    def bar(self, quantity: str = "10", name: str = "Bar 50mm") -> str:
        new = NewStockRecord(
            product_id="P-bar",
            location_id="L-yard",
            name=name,
            attributes={"heat_code": "H-1", "diameter": D(50)},
            quantity=D(quantity),
        )
        return self.stock.create_record(self.tenant, new, ALICE).stock_id

    def check_ledger(self, stock_id: str) -> None:
        record = self.stock.get(self.tenant, stock_id)
        assert self.stock.ledger_total(self.tenant, stock_id) == record.on_hand
        assert self.stock.reconcile(self.tenant, stock_id) == 0
        assert record.available == record.on_hand - record.reserved - record.held


def build_env(memory: MemoryTable, tenant: str | None = None) -> Env:
    """A company's order service over the in-memory main table `memory` (shared by the companies of a test)."""
    tenant = tenant or new_id()
    stock_store = InMemoryStockStore(memory)
    transactions = InMemoryTransactions()
    stock = StockService(stock_store, transactions)
    reference = ReferenceService(InMemoryReferenceStore(memory))
    history = HistoryService(InMemoryHistoryStore())
    order_store = InMemoryOrderStore(memory)
    orders = OrderService(stock, stock_store, order_store, reference, history, transactions)
    customer = reference.create(tenant, RefKind.ORGANISATION, [NewReference("Forge Ltd", {})], ALICE)[0].ref_id
    type_id = reference.create(tenant, RefKind.TYPE, [NewReference("Round bar", {})], ALICE)[0].ref_id
    material_id = reference.create(tenant, RefKind.MATERIAL, [NewReference("S355", {})], ALICE)[0].ref_id
    return Env(
        tenant, orders, stock, stock_store, order_store, reference, history, customer, type_id, material_id, memory
    )


@pytest.fixture
def memory() -> MemoryTable:
    return MemoryTable()


@pytest.fixture
def env(memory: MemoryTable) -> Env:
    return build_env(memory)


def stored_line(env: Env, order_id: str, line_item_id: str) -> LineItem:
    stored = env.order_store.get_order(env.tenant, order_id)
    assert stored is not None
    return next(x for x in stored.lines if x.line_item_id == line_item_id)


def fields_of(exc: pytest.ExceptionInfo[Any]) -> list[str]:
    return [d["field"] for d in exc.value.details]


# -- create ---------------------------------------------------------------------


def test_create_with_lines_sums_quantity_numbers_lines_and_names_the_customer(env: Env) -> None:
    created = env.orders.create(
        env.tenant,
        [
            env.order(
                "SO-1",
                env.line("Bar 50mm", "3"),
                env.line("Plate 10mm", "1.5", weight=D("12.250"), required_heat_code="H-9"),
                quantity=D(99),  # ignored: the order has lines
                order_date=date(2026, 1, 5),
                delivery_date=date(2026, 2, 1),
                status="In Progress",
            )
        ],
        ALICE,
    )

    view = env.orders.get(env.tenant, created[0].order.order_id)
    assert view.order.quantity == D("4.5")
    assert view.order.status == "in_progress"
    assert (view.order.order_date, view.order.delivery_date) == (date(2026, 1, 5), date(2026, 2, 1))
    assert view.customer_name == "Forge Ltd"
    assert [(x.line_number, x.product_name, x.quantity) for x in view.line_items] == [
        (1, "Bar 50mm", D(3)),
        (2, "Plate 10mm", D("1.5")),
    ]
    assert view.line_items[1].weight == D("12.250")
    assert view.line_items[1].required_heat_code == "H-9"
    assert view.line_items[0].certification_required is False
    listed = env.orders.page(env.tenant, 50, None)
    assert [(v.order.order_reference, v.customer_name) for v in listed.items] == [("SO-1", "Forge Ltd")]
    assert env.orders.page(env.tenant, 50, None, active=False).items == []


def test_an_order_without_lines_keeps_the_quantity_the_client_gave(env: Env) -> None:
    with_quantity, without = env.orders.create(env.tenant, [env.order("SO-1", quantity=D(7)), env.order("SO-2")], ALICE)
    assert with_quantity.order.quantity == D(7)
    assert without.order.quantity == D(0)
    assert with_quantity.line_items == []


def test_one_bad_line_writes_nothing_and_names_index_and_line(env: Env) -> None:
    good = env.order("SO-1", env.line())
    bad = env.order("SO-2", env.line(), env.line("Bar", "0"))

    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [good, bad], ALICE)

    assert fields_of(exc) == ["[1].lineItems[1].quantity"]
    assert env.orders.page(env.tenant, 50, None).items == []
    assert env.order_store.order_ids_by_reference(env.tenant, ["SO-1"]) == {}


def test_unknown_references_are_named_in_documented_fields(env: Env, memory: MemoryTable) -> None:
    stranger = build_env(memory)
    bad = env.order("SO-1", env.line(), env.line(type="nope"), related_organisation_id=stranger.customer)

    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [bad], ALICE)

    assert sorted(fields_of(exc)) == ["[0].lineItems[1].type", "[0].relatedOrganisationId"]
    env.reference.delete(env.tenant, RefKind.ORGANISATION, [env.customer], ALICE)
    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [env.order("SO-1")], ALICE)
    assert fields_of(exc) == ["[0].relatedOrganisationId"]


def test_delivery_before_order_date_and_bad_status_are_refused(env: Env) -> None:
    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(
            env.tenant, [env.order("SO-1", order_date=date(2026, 2, 2), delivery_date=date(2026, 2, 1))], ALICE
        )
    assert fields_of(exc) == ["[0].deliveryDate"]
    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [env.order("SO-1", status="shipped-ish")], ALICE)
    assert fields_of(exc) == ["[0].status"]


def test_order_reference_is_unique_per_tenant_in_any_case(env: Env, memory: MemoryTable) -> None:
    env.orders.create(env.tenant, [env.order("SO-1")], ALICE)

    with pytest.raises(AlreadyExists) as exc:
        env.orders.create(env.tenant, [env.order("SO-2"), env.order("so-1")], ALICE)
    assert fields_of(exc) == ["[1].orderReference"]
    # Atomic: SO-2 was not written either.
    assert [v.order.order_reference for v in env.orders.page(env.tenant, 50, None).items] == ["SO-1"]
    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [env.order("SO-3"), env.order(" so-3 ")], ALICE)
    assert fields_of(exc) == ["[1].orderReference"]
    # Another company may use the same reference.
    other = build_env(memory)
    assert other.orders.create(other.tenant, [other.order("SO-1")], ALICE)[0].order.order_reference == "SO-1"


def test_a_request_over_100_writes_is_refused_before_anything_is_written(env: Env) -> None:
    lines = [env.line(f"Bar {i}") for i in range(99)]  # 1 order + 1 guard + 99 lines

    with pytest.raises(ValidationFailed) as exc:
        env.orders.create(env.tenant, [env.order("SO-1", *lines)], ALICE)

    assert "at most 100" in exc.value.message
    assert env.orders.page(env.tenant, 50, None).items == []


def test_create_with_a_command_id_is_answered_again_without_new_orders(env: Env) -> None:
    first = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE, command_id="cmd-1")
    again = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE, command_id="cmd-1")

    assert [v.order.order_id for v in again] == [v.order.order_id for v in first]
    assert [x.line_item_id for x in again[0].line_items] == [x.line_item_id for x in first[0].line_items]
    assert len(env.orders.page(env.tenant, 50, None).items) == 1


# -- update ---------------------------------------------------------------------


def test_update_adds_changes_and_soft_deletes_lines_and_recomputes_quantity(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line("A", "1"), env.line("B", "2"))], ALICE)[0]
    a, b = view.line_items
    change_a = LineInput(
        given=frozenset({"quantity", "notes"}), line_item_id=a.line_item_id, quantity=D(5), notes="cut"
    )
    client_id = new_id()
    new_c = LineInput(
        given=frozenset({"product_name", "quantity"}), line_item_id=client_id, product_name="C", quantity=D(1)
    )
    new_d = LineInput(given=frozenset({"product_name", "quantity"}), product_name="D", quantity=D("0.5"))
    entry = OrderInput(
        given=frozenset({"site"}), order_id=view.order.order_id, site="Dock 2", line_items=(change_a, new_c, new_d)
    )

    updated = env.orders.update(env.tenant, [entry], ALICE)[0]

    assert updated.order.quantity == D("6.5")
    assert updated.order.site == "Dock 2"
    assert updated.order.version == 2
    fresh = env.orders.get(env.tenant, view.order.order_id)
    assert [(x.product_name, x.line_number, x.quantity) for x in fresh.line_items] == [
        ("A", 1, D(5)),
        ("C", 3, D(1)),
        ("D", 4, D("0.5")),
    ]
    assert fresh.line_items[0].notes == "cut"
    assert fresh.line_items[0].version == 2
    assert fresh.line_items[1].line_item_id == client_id
    removed = stored_line(env, view.order.order_id, b.line_item_id)
    assert removed.active is False
    assert removed.deleted_with_order is False


def test_an_update_that_removes_every_line_falls_back_to_the_quantity_sent(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line("A", "3"))], ALICE)[0]
    entry = OrderInput(given=frozenset({"quantity"}), order_id=view.order.order_id, quantity=D(2), line_items=())
    assert env.orders.update(env.tenant, [entry], ALICE)[0].order.quantity == D(2)
    # Lines left out entirely (None) stay as they are.
    untouched = OrderInput(given=frozenset({"site"}), order_id=view.order.order_id, site="X")
    assert env.orders.update(env.tenant, [untouched], ALICE)[0].order.quantity == D(2)


def test_a_stale_order_or_line_version_is_a_conflict_and_nothing_changes(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line("A", "1"))], ALICE)[0]
    order_id, line = view.order.order_id, view.line_items[0]
    env.orders.update(env.tenant, [OrderInput(given=frozenset({"site"}), order_id=order_id, site="A")], ALICE)

    stale = OrderInput(given=frozenset({"site"}), order_id=order_id, version=1, site="B")
    with pytest.raises(StaleVersion) as exc:
        env.orders.update(env.tenant, [stale], ALICE)
    assert fields_of(exc) == ["[0].version"]
    stale_line = LineInput(given=frozenset({"quantity"}), line_item_id=line.line_item_id, version=7, quantity=D(2))
    with pytest.raises(StaleVersion) as exc:
        env.orders.update(env.tenant, [OrderInput(order_id=order_id, line_items=(stale_line,))], ALICE)
    assert fields_of(exc) == ["[0].lineItems[0].version"]
    assert env.orders.get(env.tenant, order_id).order.site == "A"


class RacingStore(InMemoryOrderStore):
    """Lets someone else write right after this request has read its orders."""

    def __init__(self, table: MemoryTable, race: Callable[[], object]) -> None:
        super().__init__(table)
        self._race = race

    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        found = super().get_orders(tenant_id, order_ids)
        self._race()
        return found


def test_a_concurrent_write_between_read_and_write_is_a_stale_version(env: Env) -> None:
    order_id = env.orders.create(env.tenant, [env.order("SO-1")], ALICE)[0].order.order_id
    theirs = OrderInput(given=frozenset({"site"}), order_id=order_id, site="A")
    store = RacingStore(env.memory, lambda: env.orders.update(env.tenant, [theirs], ALICE))
    racing = OrderService(env.stock, env.records, store, env.reference, env.history, InMemoryTransactions())

    with pytest.raises(StaleVersion):
        racing.update(env.tenant, [OrderInput(given=frozenset({"site"}), order_id=order_id, site="B")], ALICE)

    assert env.orders.get(env.tenant, order_id).order.site == "A"


def test_changing_the_reference_moves_its_guard_in_the_same_transaction(env: Env) -> None:
    first, second = env.orders.create(env.tenant, [env.order("SO-1"), env.order("SO-2")], ALICE)
    rename = OrderInput(given=frozenset({"order_reference"}), order_id=first.order.order_id, order_reference="SO-9")

    env.orders.update(env.tenant, [rename], ALICE)

    assert env.order_store.order_ids_by_reference(env.tenant, ["SO-1", "so-9"]) == {"so-9": first.order.order_id}
    # The old reference is free again; the new one is taken.
    env.orders.create(env.tenant, [env.order("SO-1")], ALICE)
    clash = OrderInput(given=frozenset({"order_reference"}), order_id=second.order.order_id, order_reference="so-9")
    with pytest.raises(AlreadyExists) as exc:
        env.orders.update(env.tenant, [clash], ALICE)
    assert fields_of(exc) == ["[0].orderReference"]


# -- delete and restore -------------------------------------------------------------


def test_delete_releases_reservations_and_restore_does_not_take_them_back(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line("A", "1"), env.line("B", "2"))], ALICE)[0]
    order_id = view.order.order_id
    a, b = view.line_items
    # Line B is removed by an update before the order is deleted.
    keep_a = LineInput(line_item_id=a.line_item_id)
    env.orders.update(env.tenant, [OrderInput(order_id=order_id, line_items=(keep_a,))], ALICE)
    whole = env.bar("4")
    env.orders.reserve(env.tenant, order_id, a.line_item_id, whole, D(4), False, ALICE)
    assert env.stock.get(env.tenant, whole).available == 0

    assert env.orders.delete(env.tenant, [order_id], ALICE) == [order_id]

    record = env.stock.get(env.tenant, whole)
    assert (record.reserved, record.available) == (D(0), D(4))
    assert not any(k.startswith(ORDER_LINK_PREFIX) for k in record.attributes)
    with pytest.raises(NotFound):
        env.orders.get(env.tenant, order_id)
    assert [v.order.order_id for v in env.orders.page(env.tenant, 50, None, active=False).items] == [order_id]
    assert env.orders.page(env.tenant, 50, None).items == []
    # The reference is free while the order is deleted.
    assert env.order_store.order_ids_by_reference(env.tenant, ["SO-1"]) == {}

    assert env.orders.restore(env.tenant, [order_id], ALICE) == [order_id]

    restored = env.orders.get(env.tenant, order_id)
    assert [x.line_item_id for x in restored.line_items] == [a.line_item_id]
    assert (
        stored_line(env, order_id, b.line_item_id).active is False
    )  # removed by the update, so the restore leaves it removed
    assert restored.order.quantity == D(1)
    assert env.orders.reservations_of(env.tenant, order_id) == []
    assert env.stock.get(env.tenant, whole).available == D(4)
    env.check_ledger(whole)


def test_restore_is_refused_when_another_active_order_took_the_reference(env: Env) -> None:
    order_id = env.orders.create(env.tenant, [env.order("SO-1")], ALICE)[0].order.order_id
    env.orders.delete(env.tenant, [order_id], ALICE)
    env.orders.create(env.tenant, [env.order("so-1")], ALICE)

    with pytest.raises(AlreadyExists) as exc:
        env.orders.restore(env.tenant, [order_id], ALICE)

    assert fields_of(exc) == ["[0].orderReference"]
    assert [v.order.order_id for v in env.orders.page(env.tenant, 50, None, active=False).items] == [order_id]
    with pytest.raises(NotFound):
        env.orders.restore(env.tenant, [new_id()], ALICE)


# -- reserve and unreserve -------------------------------------------------------------


def test_reserve_with_split_moves_the_quantity_into_a_new_reserved_row(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-7", env.line())], ALICE)[0]
    order_id, line_id = view.order.order_id, view.line_items[0].line_item_id
    original = env.bar("10", name="Bar 50mm")

    result = env.orders.reserve(env.tenant, order_id, line_id, original, D(3), True, ALICE)

    assert result.was_split
    assert result.original_inventory_id == original
    assert result.order_line_item_id == line_id
    source = env.stock.get(env.tenant, original)
    split = env.stock.get(env.tenant, result.linked_inventory_id)
    assert (source.on_hand, source.reserved, source.available) == (D(7), D(0), D(7))
    assert (split.on_hand, split.reserved, split.available) == (D(3), D(3), D(0))
    assert split.name == "Bar 50mm (SO-7)"
    assert (split.product_id, split.location_id) == (source.product_id, source.location_id)
    assert split.attributes["heat_code"] == "H-1"
    link = split.attributes[f"{ORDER_LINK_PREFIX}{result.reservation_id}"]
    assert (link["orderId"], link["orderReference"], link["lineItemId"]) == (order_id, "SO-7", line_id)
    reservation = env.stock.get_reservation(env.tenant, result.reservation_id)
    assert reservation.stock_id == split.stock_id
    assert reservation.reference == {"orderId": order_id, "orderReference": "SO-7", "lineItemId": line_id}
    assert [m.kind for m in env.records.movements(env.tenant, split.stock_id)] == [MovementKind.SPLIT]
    env.check_ledger(original)
    env.check_ledger(split.stock_id)
    assert [r.reservation_id for r in env.orders.reservations_of(env.tenant, order_id)] == [result.reservation_id]


def test_reserve_with_split_of_the_whole_row_reserves_it_in_place(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE)[0]
    row = env.bar("5")

    result = env.orders.reserve(
        env.tenant, view.order.order_id, view.line_items[0].line_item_id, row, D(5), True, ALICE
    )

    assert (result.was_split, result.linked_inventory_id) == (False, row)
    record = env.stock.get(env.tenant, row)
    assert (record.reserved, record.available) == (D(5), D(0))
    assert f"{ORDER_LINK_PREFIX}{result.reservation_id}" in record.attributes


def test_reserve_without_split_needs_the_full_quantity_and_never_over_reserves(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line(), env.line())], ALICE)[0]
    order_id = view.order.order_id
    first, second = (x.line_item_id for x in view.line_items)
    row = env.bar("6")

    with pytest.raises(ValidationFailed) as exc:
        env.orders.reserve(env.tenant, order_id, first, row, D(4), False, ALICE)
    assert fields_of(exc) == ["reserveQuantity"]
    with pytest.raises(ValidationFailed) as exc:
        env.orders.reserve(env.tenant, order_id, first, row, D(0), True, ALICE)
    assert fields_of(exc) == ["reserveQuantity"]

    result = env.orders.reserve(env.tenant, order_id, first, row, D(6), False, ALICE)
    assert (result.was_split, result.linked_inventory_id) == (False, row)

    with pytest.raises(InsufficientStock) as exc:
        env.orders.reserve(env.tenant, order_id, second, row, D(6), False, ALICE)
    assert fields_of(exc) == ["reserveQuantity"]
    with pytest.raises(InsufficientStock):
        env.orders.reserve(env.tenant, order_id, second, row, D(1), True, ALICE)
    record = env.stock.get(env.tenant, row)
    assert (record.on_hand, record.reserved, record.available) == (D(6), D(6), D(0))
    env.check_ledger(row)


def test_a_split_larger_than_available_is_refused(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE)[0]
    row = env.bar("5")
    env.stock.reserve(env.tenant, row, D(3), ALICE)  # someone else's claim: 2 left available

    with pytest.raises(InsufficientStock):
        env.orders.reserve(env.tenant, view.order.order_id, view.line_items[0].line_item_id, row, D(3), True, ALICE)

    record = env.stock.get(env.tenant, row)
    assert (record.on_hand, record.reserved, record.available) == (D(5), D(3), D(2))
    assert len(env.records.records_for_product(env.tenant, "P-bar")) == 1  # no row was split off


def test_unreserve_releases_the_link_and_keeps_the_split_row(env: Env) -> None:
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE)[0]
    order_id, line_id = view.order.order_id, view.line_items[0].line_item_id
    row = env.bar("10")
    reserved = env.orders.reserve(env.tenant, order_id, line_id, row, D(4), True, ALICE)

    result = env.orders.unreserve(env.tenant, order_id, line_id, reserved.linked_inventory_id, ALICE)

    assert (result.link_id, result.order_line_item_id, result.inventory_id) == (
        reserved.reservation_id,
        line_id,
        reserved.linked_inventory_id,
    )
    split = env.stock.get(env.tenant, reserved.linked_inventory_id)
    assert (split.active, split.on_hand, split.reserved, split.available) == (True, D(4), D(0), D(4))
    assert not any(k.startswith(ORDER_LINK_PREFIX) for k in split.attributes)
    assert env.stock.get(env.tenant, row).on_hand == D(6)
    assert env.stock.get_reservation(env.tenant, reserved.reservation_id).status == ClaimStatus.RELEASED
    with pytest.raises(NotFound) as exc:
        env.orders.unreserve(env.tenant, order_id, line_id, reserved.linked_inventory_id, ALICE)
    assert fields_of(exc) == ["inventoryId"]


def test_reserve_needs_an_active_order_line_and_row(env: Env) -> None:
    first, second = env.orders.create(env.tenant, [env.order("SO-1", env.line()), env.order("SO-2", env.line())], ALICE)
    row = env.bar("5")
    other_line = second.line_items[0].line_item_id

    with pytest.raises(NotFound) as exc:
        env.orders.reserve(env.tenant, first.order.order_id, other_line, row, D(1), True, ALICE)
    assert fields_of(exc) == ["lineItemId"]
    with pytest.raises(NotFound) as exc:
        env.orders.reserve(
            env.tenant, first.order.order_id, first.line_items[0].line_item_id, new_id(), D(1), True, ALICE
        )
    assert fields_of(exc) == ["inventoryId"]
    env.orders.delete(env.tenant, [first.order.order_id], ALICE)
    with pytest.raises(NotFound):
        env.orders.reserve(env.tenant, first.order.order_id, first.line_items[0].line_item_id, row, D(1), True, ALICE)


def test_another_companys_ids_are_not_found(env: Env, memory: MemoryTable) -> None:
    other = build_env(memory)
    theirs = other.orders.create(other.tenant, [other.order("SO-1", other.line())], ALICE)[0]
    their_row = other.bar("5")
    mine = env.orders.create(env.tenant, [env.order("SO-1", env.line())], ALICE)[0]
    order_id, line_id = theirs.order.order_id, theirs.line_items[0].line_item_id

    with pytest.raises(NotFound):
        env.orders.get(env.tenant, order_id)
    with pytest.raises(NotFound):
        env.orders.update(env.tenant, [OrderInput(given=frozenset({"site"}), order_id=order_id, site="x")], ALICE)
    with pytest.raises(NotFound):
        env.orders.delete(env.tenant, [order_id], ALICE)
    with pytest.raises(NotFound):
        env.orders.reserve(env.tenant, order_id, line_id, their_row, D(1), True, ALICE)
    with pytest.raises(NotFound) as exc:
        env.orders.reserve(
            env.tenant, mine.order.order_id, mine.line_items[0].line_item_id, their_row, D(1), True, ALICE
        )
    assert fields_of(exc) == ["inventoryId"]
    with pytest.raises(NotFound):
        env.orders.history(env.tenant, order_id)
    assert other.stock.get(other.tenant, their_row).reserved == 0
