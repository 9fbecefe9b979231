"""The order store contract, run against DynamoDB (moto) and the in-memory fake.

`save` writes orders, their lines and their orderReference guards in one
transaction, guarded on the versions read; a refusal names the write's
position and field. The lists read newest order first, lines by number.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import AlreadyExists, StaleVersion
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor
from chalicelib.features.orders.model import LineItem, Order
from chalicelib.features.orders.port import LineWrite, OrderStore, OrderWrite
from chalicelib.storage.order_repo import DynamoOrderStore
from tests.fakes import InMemoryOrderStore

ACTOR = Actor(id="user:1", name="Tester")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamo"])
def store(request: pytest.FixtureRequest) -> OrderStore:
    if request.param == "fake":
        return InMemoryOrderStore()
    return DynamoOrderStore(request.getfixturevalue("table"))


@pytest.fixture
def tenant() -> str:
    return new_id()


def order(tenant: str, reference: str, minute: int = 0, **fields: object) -> Order:
    return Order(tenant_id=tenant, order_reference=reference, created_at=T0 + timedelta(minutes=minute), **fields)


def line(of: Order, number: int, **fields: object) -> LineItem:
    values: dict[str, object] = {"quantity": Decimal(number), **fields}
    return LineItem(tenant_id=of.tenant_id, order_id=of.order_id, line_number=number, product_name="Bar", **values)


def line_of(store: OrderStore, tenant: str, of: Order, number: int) -> LineItem:
    stored = store.get_order(tenant, of.order_id)
    assert stored is not None
    return next(x for x in stored.lines if x.line_number == number)


def new(of: Order, *lines: LineItem) -> OrderWrite:
    return OrderWrite(of, None, tuple(LineWrite(x) for x in lines), take_reference=of.order_reference)


def bump(entity: Order | LineItem, **changes: object) -> Order | LineItem:
    return entity.model_copy(update={**changes, "version": entity.version + 1})


def fields(exc: pytest.ExceptionInfo[Exception]) -> list[str]:
    return [d["field"] for d in exc.value.details]  # type: ignore[attr-defined]


def test_an_order_is_read_back_with_every_line_and_its_reference(store: OrderStore, tenant: str) -> None:
    so = order(tenant, "SO-1", site="Dock")
    lines = [line(so, 1), line(so, 2)]
    store.save(tenant, [new(so, *lines)], ACTOR)

    stored = store.get_order(tenant, so.order_id)
    assert stored is not None
    assert (stored.order.order_reference, stored.order.site, stored.order.version) == ("SO-1", "Dock", 1)
    assert sorted((x.line_number, x.quantity) for x in stored.lines) == [(1, Decimal(1)), (2, Decimal(2))]
    assert [x.line_item_id for x in stored.lines] == sorted(x.line_item_id for x in lines)
    assert store.order_ids_by_reference(tenant, [" so-1 ", "SO-2", ""]) == {"so-1": so.order_id}
    assert store.order_headers(tenant, [so.order_id, "missing"]).keys() == {so.order_id}
    assert store.get_orders(tenant, [so.order_id, so.order_id, "missing"]).keys() == {so.order_id}
    assert store.get_order(new_id(), so.order_id) is None
    assert store.order_ids_by_reference(new_id(), ["SO-1"]) == {}
    assert store.order_headers(tenant, []) == {}


def test_a_taken_reference_refuses_the_whole_save_naming_its_position(store: OrderStore, tenant: str) -> None:
    store.save(tenant, [new(order(tenant, "SO-1"))], ACTOR)
    fresh, clash = order(tenant, "SO-2"), order(tenant, "so-1")

    with pytest.raises(AlreadyExists) as exc:
        store.save(tenant, [new(fresh, line(fresh, 1)), new(clash)], ACTOR)

    assert fields(exc) == ["[1].orderReference"]
    assert store.get_order(tenant, fresh.order_id) is None
    assert store.order_ids_by_reference(tenant, ["SO-2"]) == {}
    # Another tenant may use the same reference.
    other = new_id()
    store.save(other, [new(order(other, "SO-1"))], ACTOR)


def test_an_existing_order_id_or_a_moved_version_is_refused(store: OrderStore, tenant: str) -> None:
    so = order(tenant, "SO-1")
    first = line(so, 1)
    store.save(tenant, [new(so, first)], ACTOR)

    with pytest.raises(AlreadyExists) as exc:
        store.save(tenant, [OrderWrite(so)], ACTOR)
    assert fields(exc) == ["[0].orderId"]

    changed = bump(so, site="A")
    store.save(tenant, [OrderWrite(changed, 1)], ACTOR)  # type: ignore[arg-type]
    other = order(tenant, "SO-2")
    store.save(tenant, [new(other)], ACTOR)
    with pytest.raises(StaleVersion) as exc:
        store.save(tenant, [OrderWrite(bump(other, site="x"), 1), OrderWrite(bump(so, site="B"), 1)], ACTOR)  # type: ignore[arg-type]
    assert fields(exc) == ["[1].version"]
    with pytest.raises(StaleVersion) as exc:
        stale_line = LineWrite(bump(first, quantity=Decimal(9)), 7)  # type: ignore[arg-type]
        store.save(tenant, [OrderWrite(bump(changed, site="C"), 2, (stale_line,))], ACTOR)  # type: ignore[arg-type]
    assert fields(exc) == ["[0].version"]

    stored = store.get_order(tenant, so.order_id)
    assert stored is not None
    assert (stored.order.site, stored.order.version) == ("A", 2)
    assert [(x.quantity, x.version) for x in stored.lines] == [(Decimal(1), 1)]
    assert store.get_order(tenant, other.order_id).order.site is None  # type: ignore[union-attr]


def test_renaming_moves_the_guard_and_a_delete_frees_it(store: OrderStore, tenant: str) -> None:
    so = order(tenant, "SO-1")
    store.save(tenant, [new(so)], ACTOR)

    renamed = bump(so, order_reference="SO-9")
    store.save(tenant, [OrderWrite(renamed, 1, take_reference="SO-9", free_reference="SO-1")], ACTOR)  # type: ignore[arg-type]
    assert store.order_ids_by_reference(tenant, ["SO-1", "so-9"]) == {"so-9": so.order_id}

    deleted = bump(renamed, active=False)
    store.save(tenant, [OrderWrite(deleted, 2, free_reference="SO-9")], ACTOR)  # type: ignore[arg-type]
    assert store.order_ids_by_reference(tenant, ["SO-9"]) == {}
    # Freeing a reference that is not held is no refusal; freeing another order's is.
    holder = order(tenant, "SO-9")
    store.save(tenant, [new(holder)], ACTOR)
    with pytest.raises(StaleVersion):
        store.save(tenant, [OrderWrite(bump(deleted, site="x"), 3, free_reference="SO-9")], ACTOR)  # type: ignore[arg-type]
    assert store.order_ids_by_reference(tenant, ["SO-9"]) == {"so-9": holder.order_id}
    store.save(tenant, [OrderWrite(bump(deleted, site="y"), 3, free_reference="SO-1")], ACTOR)  # type: ignore[arg-type]
    store.save(tenant, [], ACTOR)


def test_order_lists_are_newest_first_active_apart_from_deleted_and_paged(store: OrderStore, tenant: str) -> None:
    orders = [order(tenant, f"SO-{i}", minute=i) for i in range(5)]
    store.save(tenant, [new(o) for o in orders], ACTOR)
    gone = bump(orders[2], active=False)
    store.save(tenant, [OrderWrite(gone, 1, free_reference="SO-2")], ACTOR)  # type: ignore[arg-type]
    other = new_id()
    store.save(other, [new(order(other, "SO-9", minute=9))], ACTOR)

    first = store.list_orders(tenant, True, 2, None)
    assert [o.order_reference for o in first.items] == ["SO-4", "SO-3"]
    assert first.cursor is not None
    rest = store.list_orders(tenant, True, 3, first.cursor)
    assert ([o.order_reference for o in rest.items], rest.cursor) == (["SO-1", "SO-0"], None)
    deleted = store.list_orders(tenant, False, 10, None)
    assert ([o.order_id for o in deleted.items], deleted.cursor) == ([orders[2].order_id], None)


def test_the_lines_list_holds_active_lines_of_active_orders_by_order_then_number(
    store: OrderStore, tenant: str
) -> None:
    old, mid, latest = (order(tenant, f"SO-{i}", minute=i) for i in range(3))
    removed = line(mid, 1, active=False)
    store.save(
        tenant,
        [
            new(old, line(old, 2), line(old, 1)),
            new(mid, removed, line(mid, 3), line(mid, 2)),
            new(latest, line(latest, 1)),
        ],
        ACTOR,
    )
    store.save(tenant, [OrderWrite(bump(latest, active=False), 1, (), free_reference="SO-2")], ACTOR)  # type: ignore[arg-type]

    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page = store.active_lines_page(tenant, 2, cursor)
        seen += [(x.order_id, x.line_number) for x in page.items]
        if page.cursor is None:
            break
        cursor = page.cursor
    # The index follows writes: the deleted order's line was not rewritten, so it is still listed
    # (the service rewrites a deleted order's lines, and drops lines whose order header is inactive).
    assert seen == [
        (latest.order_id, 1),
        (mid.order_id, 2),
        (mid.order_id, 3),
        (old.order_id, 1),
        (old.order_id, 2),
    ]
    # Deleting an order rewrites the lines it deactivates; a line the write leaves alone keeps its entry.
    second = line_of(store, tenant, mid, 2)
    deactivated = LineWrite(bump(second, active=False, deleted_with_order=True), 1)  # type: ignore[arg-type]
    store.save(tenant, [OrderWrite(bump(mid, active=False), 1, (deactivated,), free_reference="SO-1")], ACTOR)  # type: ignore[arg-type]
    remaining = [(x.order_id, x.line_number) for x in store.active_lines_page(tenant, 10, None).items]
    assert remaining == [(latest.order_id, 1), (mid.order_id, 3), (old.order_id, 1), (old.order_id, 2)]
