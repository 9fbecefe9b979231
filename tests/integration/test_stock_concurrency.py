"""Many threads change one stock record at once through moto's server.

The service keeps no lock of its own: every change is one conditional write or
transaction, so whatever the interleaving, nothing goes negative, no update
is lost, and the ledger adds up to on hand.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.errors import InsufficientStock
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor, ClaimStatus
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from chalicelib.storage.stock_repo import DynamoStockStore
from infra.moto_server import start as start_moto
from infra.provision import table_kwargs

D = Decimal
THREADS = 10
OPERATIONS_PER_THREAD = 20
START = D(10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _point_services_at_settings() -> None:
    reset_settings()
    reset_clients()
    wiring.reset()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = start_moto(_free_port(), compact=False)  # this tier keeps moto's own items
    host, port = server.get_host_and_port()
    saved = {name: os.environ.get(name) for name in ("STOCKROOM_AWS_ENDPOINT", "STOCKROOM_MAIN_TABLE")}
    os.environ["STOCKROOM_AWS_ENDPOINT"] = f"http://{host}:{port}"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _point_services_at_settings()


@pytest.fixture
def service(moto_server: str) -> StockService:
    # A table per test, with the keys and indexes of infra/resources.json but no
    # stream (the ledger never reads it): moto deep-copies the whole table,
    # stream records included, on every transaction, so small means fast.
    table = f"concurrency-{new_id()}"
    os.environ["STOCKROOM_MAIN_TABLE"] = table
    _point_services_at_settings()
    assert get_settings().aws_endpoint_url == moto_server
    kwargs = table_kwargs("MainTable", table)
    kwargs.pop("StreamSpecification", None)
    client("dynamodb").create_table(**kwargs)
    return wiring.stock_service()


@dataclass
class Outcomes:
    """What one worker saw. Each worker keeps its own; they are merged at the end."""

    adjusted: list[Decimal] = field(default_factory=list)
    reserved: list[tuple[str, Decimal]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    refused: int = 0
    seen_available: list[Decimal] = field(default_factory=list)


def _worker(
    service: StockService,
    tenant: str,
    stock_id: str,
    seed: int,
    shared: list[tuple[str, Decimal]],
    shared_lock: threading.Lock,
    start: threading.Barrier,
) -> Outcomes:
    rng = random.Random(seed)
    actor = Actor(id=f"worker:{seed}", name=f"Worker {seed}")
    out = Outcomes()
    start.wait()
    for _ in range(OPERATIONS_PER_THREAD):
        roll = rng.random()
        quantity = D(rng.randint(1, 3))
        try:
            if roll < 0.35:
                reservation = service.reserve(tenant, stock_id, quantity, actor)
                out.reserved.append((reservation.reservation_id, quantity))
                with shared_lock:
                    shared.append((reservation.reservation_id, quantity))
            elif roll < 0.6:
                with shared_lock:
                    choice = rng.choice(shared) if shared else None
                if choice is not None:
                    # Any worker's reservation: two workers may release the same one at once.
                    assert service.release(tenant, choice[0], actor).status == ClaimStatus.RELEASED
                    out.released.append(choice[0])
            else:
                delta = quantity if roll < 0.8 else -quantity
                service.adjust(tenant, stock_id, delta, actor)
                out.adjusted.append(delta)
        except InsufficientStock:
            out.refused += 1
        record = service.get(tenant, stock_id)
        assert record.available == record.on_hand - record.reserved - record.held
        out.seen_available.append(record.available)
    return out


def _run(threads: int, task: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(task, i) for i in range(threads)]
        # result() re-raises anything unexpected a worker hit.
        return [f.result(timeout=120) for f in futures]


@pytest.mark.slow
def test_given_racing_reserves_releases_and_adjusts_when_done_then_nothing_lost_or_negative(
    service: StockService,
) -> None:
    tenant = new_id()
    actor = Actor(id="setup", name="Setup")
    record = service.create_record(tenant, NewStockRecord(product_id="P1", location_id="L1", quantity=START), actor)
    shared: list[tuple[str, Decimal]] = []
    shared_lock = threading.Lock()
    start = threading.Barrier(THREADS)

    results: list[Outcomes] = _run(
        THREADS, lambda i: _worker(service, tenant, record.stock_id, i, shared, shared_lock, start)
    )

    final = service.get(tenant, record.stock_id)
    adjusted = sum((d for r in results for d in r.adjusted), ZERO)
    reservations = {rid: q for r in results for rid, q in r.reserved}
    released = {rid for r in results for rid in r.released}
    still_active = {rid for rid in reservations if rid not in released}

    # Nothing went negative at any point a worker looked.
    assert min(a for r in results for a in r.seen_available) >= 0
    assert final.available >= 0
    # No update was lost.
    assert final.on_hand == START + adjusted
    assert final.reserved == sum((reservations[rid] for rid in still_active), ZERO)
    stored = DynamoStockStore(get_settings().main_table).reservations_for_record(tenant, record.stock_id)
    assert {r.reservation_id for r in stored if r.status == ClaimStatus.ACTIVE} == still_active
    assert {r.reservation_id for r in stored if r.status == ClaimStatus.RELEASED} == released
    # The ledger adds up, and the race really was for the last units.
    assert service.ledger_total(tenant, record.stock_id) == final.on_hand
    assert service.reconcile(tenant, record.stock_id) == 0
    assert sum(r.refused for r in results) > 0
    assert len(reservations) > 0
    assert len(released) > 0
    assert any(d < 0 for r in results for d in r.adjusted)


def test_given_k_units_when_n_threads_each_reserve_one_then_exactly_k_succeed(service: StockService) -> None:
    tenant = new_id()
    units, threads = 5, 12
    actor = Actor(id="setup", name="Setup")
    new = NewStockRecord(product_id="P1", location_id="L1", quantity=D(units))
    record = service.create_record(tenant, new, actor)
    start = threading.Barrier(threads)

    def reserve_one(i: int) -> bool:
        start.wait()
        try:
            service.reserve(tenant, record.stock_id, D(1), Actor(id=f"w{i}", name=f"W{i}"))
        except InsufficientStock:
            return False
        return True

    outcomes = _run(threads, reserve_one)

    assert outcomes.count(True) == units
    assert outcomes.count(False) == threads - units
    final = service.get(tenant, record.stock_id)
    assert (final.on_hand, final.reserved, final.available) == (D(units), D(units), ZERO)
    assert len(DynamoStockStore(get_settings().main_table).reservations_for_record(tenant, record.stock_id)) == units


# -- lost responses and lifecycle races ------------------------------------------------------------

BOB = Actor(id="user-bob", name="Bob")


def _order(tenant: str, lines: int = 1) -> tuple[str, list[str]]:
    from datetime import date

    from chalicelib.features.orders.model import LineInput, OrderInput

    items = tuple(
        LineInput(given=frozenset({"product_name", "quantity"}), product_name=f"Bar {n}", quantity=D(3))
        for n in range(lines)
    )
    entry = OrderInput(
        given=frozenset({"order_reference", "order_date"}),
        order_reference=f"SO-{new_id()[:8]}",
        order_date=date(2026, 1, 5),
        line_items=items,
    )
    view = wiring.order_service().create(tenant, [entry], BOB)[0]
    return view.order.order_id, [line.line_item_id for line in view.line_items]


def _row(service: StockService, tenant: str, quantity: int) -> str:
    new = NewStockRecord(product_id="P1", location_id="L1", name="Bar", quantity=D(quantity))
    return service.create_record(tenant, new, BOB).stock_id


def _rows(tenant: str) -> list[Any]:
    store = wiring.stock_store()
    found: list[Any] = []
    cursor = None
    while True:
        page = store.list_records(tenant, 500, cursor)
        found += page.items
        if page.cursor is None:
            return found
        cursor = page.cursor


def _assert_nothing_dangles(service: StockService, tenant: str) -> None:
    """No reservation on a deleted row, none for a deleted order, and every row's figures add up."""
    store = wiring.stock_store()
    orders = wiring.order_service()
    for row in _rows(tenant):
        active = [r for r in store.reservations_for_record(tenant, row.stock_id) if r.status == ClaimStatus.ACTIVE]
        assert row.reserved == sum((r.quantity for r in active), ZERO), row
        assert row.available == row.on_hand - row.reserved - row.held
        assert service.ledger_total(tenant, row.stock_id) == row.on_hand
        if not row.active:
            assert active == [], f"reservations left on deleted row {row.stock_id}"
        links = {k.removeprefix("order_link:") for k in row.attributes if k.startswith("order_link:")}
        assert links == {r.reservation_id for r in active if r.reference.get("orderId")}
        for reservation in active:
            order_id = reservation.reference.get("orderId")
            if order_id:
                assert orders.get(tenant, order_id).order.active, f"reservation {reservation.reservation_id} dangles"


def test_given_lost_responses_when_fifty_reserves_race_then_every_saved_reservation_was_reported(
    service: StockService,
) -> None:
    from chalicelib.core.errors import Conflict
    from tests.integration.lost_responses import losing

    tenant = new_id()
    units, threads = 30, 50
    row = _row(service, tenant, units)
    order_id, (line,) = _order(tenant)
    orders = wiring.order_service()
    start = threading.Barrier(threads)

    def reserve_one(i: int) -> str | None:
        start.wait()
        try:
            made = orders.reserve(tenant, order_id, line, row, D(1), True, Actor(id=f"w{i}", name=f"W{i}"))
        except Conflict:  # not enough left, or the row changed under the last units
            return None
        return made.reservation_id

    # Every fourth transaction commits, but its caller hears a timeout instead of the answer.
    with losing(lambda number, _: number % 4 == 1) as losses:
        outcomes = _run(threads, reserve_one)

    reported = {r for r in outcomes if r is not None}
    saved = [r for r in orders.reservations_of(tenant, order_id) if r.status == ClaimStatus.ACTIVE]
    assert losses.lost > 0
    assert reported == {r.reservation_id for r in saved}
    assert len(reported) == units
    source = service.get(tenant, row)
    assert (source.on_hand, source.available) in ((D(0), D(0)), (D(1), D(1)), (D(1), D(0)))
    assert sum((r.quantity for r in saved), ZERO) == units - source.available
    _assert_nothing_dangles(service, tenant)


ROUNDS = 12


def _race(first: Callable[[], object], second: Callable[[], object]) -> list[str]:
    """Fire both at once; each outcome is 'ok' or the domain error's class name."""
    start = threading.Barrier(2)

    def fire(task: Callable[[], object]) -> str:
        from chalicelib.core.errors import DomainError

        start.wait()
        try:
            task()
        except DomainError as error:
            return type(error).__name__
        return "ok"

    return _run(2, lambda i: fire(first if i == 0 else second))


def _last_writer(tenant: str, stock_id: str) -> str:
    from chalicelib.storage import keys
    from chalicelib.storage.codec import to_attrs

    item = client("dynamodb").get_item(
        TableName=get_settings().main_table, Key=to_attrs(keys.stock(tenant, stock_id)), ConsistentRead=True
    )["Item"]
    return str(item["changed_by_id"]["S"])


def test_given_a_row_delete_racing_a_reserve_when_done_then_one_wins_and_nothing_dangles(
    service: StockService,
) -> None:
    tenant = new_id()
    inventory, orders = wiring.inventory_service(), wiring.order_service()
    deleter = Actor(id="user-deleter", name="Deleter")
    for _ in range(ROUNDS):
        row = _row(service, tenant, 10)
        order_id, (line,) = _order(tenant)
        deleted, reserved = _race(
            lambda row=row: inventory.delete(tenant, [row], deleter),  # type: ignore[misc]
            lambda row=row, order_id=order_id, line=line: orders.reserve(  # type: ignore[misc]
                tenant, order_id, line, row, D(3), True, BOB
            ),
        )
        # A losing request is a 409 (or the reserve's 404 when it read the row after the delete).
        assert deleted in ("ok", "StaleVersion")
        assert reserved in ("ok", "InvalidState", "NotFound")
        assert "ok" in (deleted, reserved)
        if (deleted, reserved) == ("ok", "ok"):
            # Both stand only if the reserve came first: nothing was split off the row after its delete.
            assert _last_writer(tenant, row) == deleter.id
    _assert_nothing_dangles(service, tenant)


def test_given_an_order_delete_racing_a_reserve_when_done_then_one_wins_and_nothing_dangles(
    service: StockService,
) -> None:
    tenant = new_id()
    orders = wiring.order_service()
    for _ in range(ROUNDS):
        row = _row(service, tenant, 10)
        order_id, (line,) = _order(tenant)
        deleted, reserved = _race(
            lambda order_id=order_id: orders.delete(tenant, [order_id], BOB),  # type: ignore[misc]
            lambda row=row, order_id=order_id, line=line: orders.reserve(  # type: ignore[misc]
                tenant, order_id, line, row, D(3), True, BOB
            ),
        )
        assert deleted in ("ok", "StaleVersion")
        assert reserved in ("ok", "InvalidState", "NotFound")
        assert "ok" in (deleted, reserved)
        if deleted == "ok":
            # Whatever the reserve did, the deleted order holds nothing.
            assert all(r.status != ClaimStatus.ACTIVE for r in orders.reservations_of(tenant, order_id))
    _assert_nothing_dangles(service, tenant)
