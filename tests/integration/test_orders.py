"""The 003 order service against moto: what only DynamoDB shows.

Its round trips, the history the audit stream derives from its writes, and
10 threads racing on moto's (serialised) server. The service's rules run on
the in-memory stores in tests/unit/test_order_service.py; the stores are held
to each other by the contract tests (test_order_store.py and others).
Every test writes under a fresh tenant in one module table.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.errors import (
    ExpectationFailed,
    InsufficientStock,
    ValidationFailed,
)
from chalicelib.core.history.service import HistoryService
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor
from chalicelib.core.reference.service import NewReference, ReferenceService, RefKind
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.features.orders.model import LineInput, OrderInput
from chalicelib.features.orders.service import OrderService
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, on_call, reset_clients
from chalicelib.storage.history_repo import DynamoHistoryStore
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.reference_repo import DynamoReferenceStore
from chalicelib.storage.stock_repo import DynamoStockStore
from chalicelib.storage.transaction import DynamoTransactions
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
    stock = StockService(stock_store, DynamoTransactions())
    reference = ReferenceService(DynamoReferenceStore(table))
    history = HistoryService(DynamoHistoryStore(get_settings().history_table))
    orders = OrderService(stock, stock_store, DynamoOrderStore(table), reference, history, DynamoTransactions())
    customer = reference.create(tenant, RefKind.ORGANISATION, [NewReference("Forge Ltd", {})], ALICE)[0].ref_id
    type_id = reference.create(tenant, RefKind.TYPE, [NewReference("Round bar", {})], ALICE)[0].ref_id
    material_id = reference.create(tenant, RefKind.MATERIAL, [NewReference("S355", {})], ALICE)[0].ref_id
    return Env(tenant, orders, stock, stock_store, reference, history, customer, type_id, material_id, table)


@pytest.fixture
def env(table: str) -> Env:
    return build_env(table)


@contextmanager
def counted() -> Iterator[list[str]]:
    """The DynamoDB operations made inside the block, counted with the botocore hook."""
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        yield calls
    finally:
        unsubscribe()


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
    server = start_moto(_free_port(), compact=False)  # this tier keeps moto's own items
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
