"""The 003 order service against moto: orders, line items, reservations and history.

Every test writes under a fresh tenant in one module table; the concurrency
test at the end runs against moto's (serialised) server with 10 threads.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.errors import (
    AlreadyExists,
    ExpectationFailed,
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
from chalicelib.features.orders.model import LineInput, OrderInput
from chalicelib.features.orders.port import StoredOrder
from chalicelib.features.orders.service import OrderService
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client, on_call, reset_clients
from chalicelib.storage.codec import from_attrs, to_attrs
from chalicelib.storage.history_repo import DynamoHistoryStore
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.reference_repo import DynamoReferenceStore
from chalicelib.storage.stock_repo import DynamoStockStore
from infra.moto_server import start as start_moto
from infra.provision import table_kwargs

D = Decimal
ALICE = Actor(id="user-alice", name="Alice")
ORDER_FIELDS = frozenset({"order_reference", "quantity", "order_date", "delivery_date", "site", "status"})
LINE_FIELDS = frozenset({"product_name", "quantity", "type", "material", "diameter", "length", "weight"})


@dataclass
class Env:
    tenant: str
    orders: OrderService
    stock: StockService
    records: DynamoStockStore
    reference: ReferenceService
    history: HistoryService
    customer: str
    type_id: str
    material_id: str
    table: str

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


def build_env(table: str, tenant: str | None = None) -> Env:
    tenant = tenant or new_id()
    stock_store = DynamoStockStore(table)
    stock = StockService(stock_store)
    reference = ReferenceService(DynamoReferenceStore(table))
    history = HistoryService(DynamoHistoryStore(get_settings().history_table))
    orders = OrderService(stock, stock_store, DynamoOrderStore(table), reference, history)
    customer = reference.create(tenant, RefKind.ORGANISATION, [NewReference("Forge Ltd", {})], ALICE)[0].ref_id
    type_id = reference.create(tenant, RefKind.TYPE, [NewReference("Round bar", {})], ALICE)[0].ref_id
    material_id = reference.create(tenant, RefKind.MATERIAL, [NewReference("S355", {})], ALICE)[0].ref_id
    return Env(tenant, orders, stock, stock_store, reference, history, customer, type_id, material_id, table)


@pytest.fixture
def env(table: str) -> Env:
    return build_env(table)


def raw_item(table: str, key: dict[str, str]) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key=to_attrs(key), ConsistentRead=True).get("Item")
    return from_attrs(item) if item else None


@contextmanager
def counted() -> Iterator[list[str]]:
    """The DynamoDB operations made inside the block, counted with the botocore hook."""
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        yield calls
    finally:
        unsubscribe()


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
    assert raw_item(env.table, keys.order_reference(env.tenant, "SO-1")) is None


def test_unknown_references_are_named_in_documented_fields(env: Env, table: str) -> None:
    stranger = build_env(table)
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


def test_order_reference_is_unique_per_tenant_in_any_case(env: Env, table: str) -> None:
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
    other = build_env(table)
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


def test_get_costs_one_query_and_one_batched_name_lookup(env: Env) -> None:
    order_id = env.orders.create(env.tenant, [env.order("SO-1", env.line(), env.line())], ALICE)[0].order.order_id
    with counted() as calls:
        env.orders.get(env.tenant, order_id)
    assert calls == ["Query", "BatchGetItem"]


def test_a_page_resolves_all_customer_names_in_one_read(env: Env) -> None:
    env.orders.create(env.tenant, [env.order(f"SO-{i}") for i in range(5)], ALICE)
    with counted() as calls:
        page = env.orders.page(env.tenant, 3, None)
    assert calls == ["Query", "BatchGetItem"]
    assert [v.order.order_reference for v in page.items] == ["SO-4", "SO-3", "SO-2"]  # newest first
    assert page.cursor is not None
    rest = env.orders.page(env.tenant, 3, page.cursor)
    assert [v.order.order_reference for v in rest.items] == ["SO-1", "SO-0"]


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
    removed = raw_item(env.table, keys.order_line(env.tenant, view.order.order_id, b.line_item_id))
    assert removed is not None
    assert removed["active"] is False
    assert removed["deleted_with_order"] is False


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


class RacingStore(DynamoOrderStore):
    """Lets someone else write right after this request has read its orders."""

    def __init__(self, table: str, race: Callable[[], object]) -> None:
        super().__init__(table)
        self._race = race

    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        found = super().get_orders(tenant_id, order_ids)
        self._race()
        return found


def test_a_concurrent_write_between_read_and_write_is_a_stale_version(env: Env) -> None:
    order_id = env.orders.create(env.tenant, [env.order("SO-1")], ALICE)[0].order.order_id
    theirs = OrderInput(given=frozenset({"site"}), order_id=order_id, site="A")
    store = RacingStore(env.table, lambda: env.orders.update(env.tenant, [theirs], ALICE))
    racing = OrderService(env.stock, env.records, store, env.reference, env.history)

    with pytest.raises(StaleVersion):
        racing.update(env.tenant, [OrderInput(given=frozenset({"site"}), order_id=order_id, site="B")], ALICE)

    assert env.orders.get(env.tenant, order_id).order.site == "A"


def test_changing_the_reference_moves_its_guard_in_the_same_transaction(env: Env) -> None:
    first, second = env.orders.create(env.tenant, [env.order("SO-1"), env.order("SO-2")], ALICE)
    rename = OrderInput(given=frozenset({"order_reference"}), order_id=first.order.order_id, order_reference="SO-9")

    env.orders.update(env.tenant, [rename], ALICE)

    assert raw_item(env.table, keys.order_reference(env.tenant, "SO-1")) is None
    guard = raw_item(env.table, keys.order_reference(env.tenant, "so-9"))
    assert guard is not None
    assert guard["target_id"] == first.order.order_id
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
    assert raw_item(env.table, keys.order_reference(env.tenant, "SO-1")) is None

    assert env.orders.restore(env.tenant, [order_id], ALICE) == [order_id]

    restored = env.orders.get(env.tenant, order_id)
    assert [x.line_item_id for x in restored.line_items] == [a.line_item_id]
    removed_b = raw_item(env.table, keys.order_line(env.tenant, order_id, b.line_item_id))
    assert removed_b is not None
    assert removed_b["active"] is False  # removed by the update, so the restore leaves it removed
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


def test_another_companys_ids_are_not_found(env: Env, table: str) -> None:
    other = build_env(table)
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


# -- history ---------------------------------------------------------------------


def test_history_interleaves_order_and_line_events_in_documented_names(env: Env) -> None:
    from tests.integration.test_audit_stream import MainTableStream, deliver

    stream = MainTableStream()
    stream.take()  # what other tests wrote
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line("A", "1"))], ALICE)[0]
    line = view.line_items[0]
    change = LineInput(given=frozenset({"quantity"}), line_item_id=line.line_item_id, quantity=D(3))
    env.orders.update(env.tenant, [OrderInput(order_id=view.order.order_id, line_items=(change,))], ALICE)
    env.orders.delete(env.tenant, [view.order.order_id], ALICE)
    deliver(stream.take())

    events = env.orders.history(env.tenant, view.order.order_id)

    summary = [(e.entity_type, e.change_type) for e in events]
    assert summary.count(("order", "CREATE")) == 1
    assert summary.count(("orderLineItem", "CREATE")) == 1
    assert summary.count(("orderLineItem", "DELETE")) == 1
    assert summary.count(("order", "DELETE")) == 1
    assert [e.changed_at for e in events] == sorted(e.changed_at for e in events)
    line_update = next(e for e in events if e.entity_type == "orderLineItem" and e.change_type == "UPDATE")
    assert {c.field: (c.old, c.new) for c in line_update.changes} == {"quantity": (D(1), D(3))}
    created = next(e for e in events if e.entity_type == "order" and e.change_type == "CREATE")
    assert created.entity_label == "SO-1"
    assert {"orderReference", "relatedOrganisationId", "quantity"} <= {c.field for c in created.changes}
    assert all("deleted_with_order" not in {c.field for c in e.changes} for e in events)


# -- concurrency -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served_table() -> Iterator[str]:
    """A fresh main table on moto's serialised server (no stream: moto copies it on every transaction)."""
    server = start_moto(_free_port())
    host, port = server.get_host_and_port()
    saved = {name: os.environ.get(name) for name in ("STOCKROOM_AWS_ENDPOINT", "STOCKROOM_MAIN_TABLE")}
    table = f"orders-{new_id()}"
    os.environ["STOCKROOM_AWS_ENDPOINT"] = f"http://{host}:{port}"
    os.environ["STOCKROOM_MAIN_TABLE"] = table
    reset_settings()
    reset_clients()
    try:
        kwargs = table_kwargs("MainTable", table)
        kwargs.pop("StreamSpecification", None)
        client("dynamodb").create_table(**kwargs)
        yield table
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()
        reset_clients()


def test_ten_threads_reserving_one_row_never_reserve_more_than_it_holds(served_table: str) -> None:
    env = build_env(served_table)
    view = env.orders.create(env.tenant, [env.order("SO-1", env.line(), env.line())], ALICE)[0]
    lines = [x.line_item_id for x in view.line_items]
    row = env.bar("5")
    start = threading.Barrier(10)

    def reserve(i: int) -> str | None:
        start.wait()
        try:
            # Mixed: most split one piece off, two try to take the whole row.
            if i < 2:
                return env.orders.reserve(
                    env.tenant, view.order.order_id, lines[i % 2], row, D(5), False, ALICE
                ).reservation_id
            return env.orders.reserve(
                env.tenant, view.order.order_id, lines[i % 2], row, D(1), True, ALICE
            ).reservation_id
        except (InsufficientStock, ExpectationFailed, ValidationFailed):
            # Refusals: no stock left, or the row changed under a whole-row reserve.
            return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = [f.result(timeout=120) for f in [pool.submit(reserve, i) for i in range(10)]]

    made = [r for r in outcomes if r is not None]
    reservations = [env.stock.get_reservation(env.tenant, r) for r in made]
    # Eight single-piece splits alone ask for more than the row holds, so it is all taken, never more.
    assert sum((r.quantity for r in reservations), D(0)) == D(5)
    records = env.records.records_for_product(env.tenant, "P-bar")
    assert sum((r.on_hand for r in records), D(0)) == D(5)  # splits move stock, never make it
    assert sum((r.reserved for r in records), D(0)) == sum((r.quantity for r in reservations), D(0))
    assert all(r.available >= 0 for r in records)
    for record in records:
        env.check_ledger(record.stock_id)
    active = env.orders.reservations_of(env.tenant, view.order.order_id)
    assert {r.reservation_id for r in active} == set(made)
