"""The unit-of-work contract, run against DynamoDB (moto) and the in-memory fakes.

Stores given a unit of work add their writes to it; the caller commits once:
every write of every store, or none, and a refusal is the one domain error
that explains it (storage/transaction.Transaction.explain; the fake's
InMemoryUnitOfWork uses the same explanation). Also the store methods and
fields the unit of work brought: the order's reservation register
(`note_reservation`, `reservation_ids`, `reserves_seen`), batched
`get_reservations`, and the import job's lease owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import AlreadyExists, InvalidState, StaleVersion, TooManyWrites
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.imports.jobs import (
    Checkpoint,
    ChunkPlan,
    CommitOutcome,
    ImportJob,
    ImportSource,
    ImportStatus,
    ImportStore,
)
from chalicelib.core.models import Actor, ClaimStatus, Movement, MovementKind, Product, Reservation, StockRecord
from chalicelib.core.ports import CatalogStore, ClaimTransition, StockChange, StockStore, Transactions, UnitOfWork
from chalicelib.features.orders.model import LineItem, Order
from chalicelib.features.orders.port import LineWrite, OrderStore, OrderWrite
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.import_repo import DynamoImportStore
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.stock_repo import DynamoStockStore
from chalicelib.storage.transaction import DynamoTransactions
from tests.fakes import (
    InMemoryCatalogStore,
    InMemoryImportStore,
    InMemoryOrderStore,
    InMemoryStockStore,
    InMemoryTransactions,
    MemoryTable,
)

ACTOR = Actor(id="user:1", name="Tester")
D = Decimal
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Stores:
    transactions: Transactions
    stock: StockStore
    catalog: CatalogStore
    orders: OrderStore
    imports: ImportStore


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "fake":
        memory = MemoryTable()
        return Stores(
            InMemoryTransactions(),
            InMemoryStockStore(memory),
            InMemoryCatalogStore(memory),
            InMemoryOrderStore(memory),
            InMemoryImportStore(memory),
        )
    table = request.getfixturevalue("table")
    return Stores(
        DynamoTransactions(),
        DynamoStockStore(table),
        DynamoCatalogStore(table),
        DynamoOrderStore(table),
        DynamoImportStore(table),
    )


@pytest.fixture
def tenant() -> str:
    return new_id()


def record(tenant: str, quantity: str = "10") -> tuple[StockRecord, Movement]:
    q = D(quantity)
    made = StockRecord(tenant_id=tenant, product_id="P1", location_id="L1", on_hand=q, available=q)
    initial = Movement(
        tenant_id=tenant,
        stock_id=made.stock_id,
        product_id="P1",
        location_id="L1",
        kind=MovementKind.INITIAL,
        quantity=q,
        actor=ACTOR,
    )
    return made, initial


def an_order(tenant: str, reference: str, lines: int = 1) -> tuple[Order, list[LineItem]]:
    so = Order(tenant_id=tenant, order_reference=reference, created_at=T0)
    made = [
        LineItem(tenant_id=tenant, order_id=so.order_id, line_number=n, product_name="Bar", quantity=D(n))
        for n in range(1, lines + 1)
    ]
    return so, made


def new(so: Order, lines: list[LineItem]) -> OrderWrite:
    return OrderWrite(so, None, tuple(LineWrite(x) for x in lines), take_reference=so.order_reference)


def reserve(tenant: str, stock_id: str, quantity: str, order_id: str, line_item_id: str) -> StockChange:
    q = D(quantity)
    claim = Reservation(
        tenant_id=tenant,
        stock_id=stock_id,
        product_id="P1",
        location_id="L1",
        quantity=q,
        reference={"orderId": order_id, "lineItemId": line_item_id},
    )
    return StockChange(stock_id=stock_id, actor=ACTOR, reserved=q, new_reservation=claim)


def note(stores: Stores, tenant: str, change: StockChange, uow: UnitOfWork) -> None:
    """The reserve's own write on the order: its line is active, and the reservation joins the register."""
    claim = change.new_reservation
    assert claim is not None
    stores.orders.note_reservation(
        tenant, claim.reference["orderId"], claim.reference["lineItemId"], claim.reservation_id, uow
    )


def test_the_writes_of_several_stores_commit_together_and_only_at_commit(stores: Stores, tenant: str) -> None:
    made, initial = record(tenant)
    product = Product(tenant_id=tenant, name="Bar", sku=f"SKU-{new_id()}")
    so, lines = an_order(tenant, "SO-1")

    uow = stores.transactions.begin()
    stores.stock.create_records([(made, initial)], ACTOR, uow)
    stores.catalog.create_products([product], ACTOR, uow)
    stores.orders.save(tenant, [new(so, lines)], ACTOR, uow)

    assert stores.stock.get_record(tenant, made.stock_id) is None
    assert stores.catalog.get_product(tenant, product.product_id) is None
    assert stores.orders.get_order(tenant, so.order_id) is None
    uow.commit()
    assert stores.stock.get_record(tenant, made.stock_id) is not None
    assert stores.catalog.product_id_by_sku(tenant, product.sku or "") == product.product_id
    assert stores.orders.order_ids_by_reference(tenant, ["SO-1"]) == {"so-1": so.order_id}
    with pytest.raises(RuntimeError, match="committed once"):
        uow.commit()


def test_one_refused_write_writes_nothing_and_a_taken_guard_explains_it_first(stores: Stores, tenant: str) -> None:
    first, first_lines = an_order(tenant, "SO-1")
    stores.orders.save(tenant, [new(first, first_lines)], ACTOR)
    product = Product(tenant_id=tenant, name="Bar")
    stores.catalog.create_products([product], ACTOR)
    made, initial = record(tenant)

    # Three failures at once: a product that exists (NEW), a taken orderReference (GUARD) and
    # an order id that exists (NEW). The taken guard explains the refusal.
    again, _ = an_order(tenant, "SO-1")
    uow = stores.transactions.begin()
    stores.stock.create_records([(made, initial)], ACTOR, uow)
    stores.catalog.create_products([product], ACTOR, uow)
    stores.orders.save(tenant, [new(again, []), OrderWrite(first, None)], ACTOR, uow)
    with pytest.raises(AlreadyExists) as exc:
        uow.commit()

    assert exc.value.details == [{"field": "[0].orderReference", "message": "SO-1 is already in use"}]
    assert stores.stock.get_record(tenant, made.stock_id) is None
    assert stores.orders.get_order(tenant, again.order_id) is None


def test_more_than_a_hundred_writes_is_too_many_before_anything_is_sent(stores: Stores, tenant: str) -> None:
    pairs = [record(tenant) for _ in range(50)]
    product = Product(tenant_id=tenant, name="Bar")
    uow = stores.transactions.begin()
    stores.stock.create_records(pairs, ACTOR, uow)
    stores.catalog.create_products([product], ACTOR, uow)

    # 50 records and their ledger lines, the product and its numeric-id guard, the counter (103); in
    # DynamoDB also the records' product's stock keys (104), which the fake does not keep.
    with pytest.raises(TooManyWrites, match=r"needs 10[34] writes") as exc:
        uow.commit()

    assert exc.value.details[0]["field"] == "body"
    assert stores.stock.list_records(tenant, 10, None).items == []
    with pytest.raises(TooManyWrites):
        # A store's own transaction knows the limit too.
        stores.stock.create_records([*pairs, record(tenant)], ACTOR)


def test_a_reserve_noted_on_an_order_joins_its_register(stores: Stores, tenant: str) -> None:
    made, initial = record(tenant)
    stores.stock.create_record(made, initial, ACTOR)
    so, lines = an_order(tenant, "SO-1", lines=2)
    stores.orders.save(tenant, [new(so, lines)], ACTOR)
    before = stores.orders.get_order(tenant, so.order_id)
    assert before is not None
    assert (before.reservation_ids, before.reserves_seen) == (frozenset(), 0)

    changes = [reserve(tenant, made.stock_id, "2", so.order_id, x.line_item_id) for x in lines[:1]]
    for change in changes:
        uow = stores.transactions.begin()
        stores.stock.apply(tenant, [change], uow)
        assert change.new_reservation is not None
        note(stores, tenant, change, uow)
        uow.commit()
    second = reserve(tenant, made.stock_id, "3", so.order_id, lines[1].line_item_id)
    uow = stores.transactions.begin()
    stores.stock.apply(tenant, [second], uow)
    assert second.new_reservation is not None
    note(stores, tenant, second, uow)
    uow.commit()

    after = stores.orders.get_order(tenant, so.order_id)
    assert after is not None
    ids = {c.new_reservation.reservation_id for c in [*changes, second] if c.new_reservation is not None}
    assert (after.reservation_ids, after.reserves_seen) == (frozenset(ids), 2)
    found = stores.stock.get_reservations(tenant, [*ids, "missing"])
    assert {r.quantity for r in found.values()} == {D(2), D(3)}
    assert stores.stock.get_reservations(tenant, []) == {}


def test_a_reserve_on_a_removed_line_is_refused_and_writes_nothing(stores: Stores, tenant: str) -> None:
    made, initial = record(tenant)
    stores.stock.create_record(made, initial, ACTOR)
    so, lines = an_order(tenant, "SO-1")
    stores.orders.save(tenant, [new(so, lines)], ACTOR)
    removed = lines[0].model_copy(update={"active": False, "version": 2})
    stores.orders.save(tenant, [OrderWrite(so.model_copy(update={"version": 2}), 1, (LineWrite(removed, 1),))], ACTOR)

    change = reserve(tenant, made.stock_id, "2", so.order_id, lines[0].line_item_id)
    assert change.new_reservation is not None
    uow = stores.transactions.begin()
    stores.stock.apply(tenant, [change], uow)
    note(stores, tenant, change, uow)
    with pytest.raises(InvalidState) as exc:
        uow.commit()

    assert exc.value.details == [{"field": "lineItemId", "message": "was deleted or removed meanwhile"}]
    current = stores.stock.get_record(tenant, made.stock_id)
    assert current is not None and (current.reserved, current.version) == (0, 1)
    stored = stores.orders.get_order(tenant, so.order_id)
    assert stored is not None and stored.reserves_seen == 0


def test_a_save_guarded_on_reserves_seen_fails_if_a_reserve_landed(stores: Stores, tenant: str) -> None:
    made, initial = record(tenant)
    stores.stock.create_record(made, initial, ACTOR)
    so, lines = an_order(tenant, "SO-1")
    stores.orders.save(tenant, [new(so, lines)], ACTOR)
    read = stores.orders.get_order(tenant, so.order_id)
    assert read is not None
    deleted = OrderWrite(so.model_copy(update={"active": False, "version": 2}), 1, reserves_seen=read.reserves_seen)

    change = reserve(tenant, made.stock_id, "2", so.order_id, lines[0].line_item_id)
    assert change.new_reservation is not None
    uow = stores.transactions.begin()
    stores.stock.apply(tenant, [change], uow)
    note(stores, tenant, change, uow)
    uow.commit()

    with pytest.raises(StaleVersion) as exc:
        stores.orders.save(tenant, [deleted], ACTOR)
    assert [d["field"] for d in exc.value.details] == ["[0].version"]

    # Read again (with the reservation released in the same unit of work), the delete goes through.
    again = stores.orders.get_order(tenant, so.order_id)
    assert again is not None and again.reserves_seen == 1
    release = StockChange(
        stock_id=made.stock_id,
        actor=ACTOR,
        reserved=-D(2),
        reservation_transition=ClaimTransition(
            change.new_reservation.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED
        ),
    )
    uow = stores.transactions.begin()
    stores.stock.apply(tenant, [release], uow)
    stores.orders.save(tenant, [OrderWrite(deleted.order, 1, reserves_seen=again.reserves_seen)], ACTOR, uow)
    uow.commit()
    gone = stores.orders.get_order(tenant, so.order_id)
    assert gone is not None and not gone.order.active
    current = stores.stock.get_record(tenant, made.stock_id)
    assert current is not None and current.reserved == 0


def test_only_the_lease_owner_moves_an_import_job_on(stores: Stores, tenant: str) -> None:
    job_id = new_id()
    queued = ImportJob(
        tenant_id=tenant,
        job_id=job_id,
        kind="inventory",
        source=ImportSource.UPLOAD,
        object_key=f"imports/{job_id}.csv",
    )
    stores.imports.create_job(queued)
    mine = stores.imports.claim(queued, utcnow(), utcnow() + timedelta(minutes=2))
    assert mine is not None and mine.status == ImportStatus.RUNNING and mine.lease_owner
    # The lease runs out and another worker claims the job: a new owner.
    theirs = stores.imports.claim(mine, utcnow() + timedelta(minutes=3), utcnow() + timedelta(minutes=5))
    assert theirs is not None and theirs.lease_owner not in (None, mine.lease_owner)

    def chunk(of: ImportJob) -> Checkpoint:
        return Checkpoint(
            job_id=of.job_id,
            from_line=of.checkpoint_line,
            to_line=of.checkpoint_line + 1,
            read=1,
            created=1,
            updated=0,
            failed=0,
            errors=[],
            errors_dropped=False,
            lease_until=utcnow() + timedelta(minutes=2),
            owner=of.lease_owner,
        )

    made = record(tenant)
    assert stores.imports.commit(tenant, chunk(mine), ChunkPlan(creates=[made]), ACTOR) == CommitOutcome.LOST
    assert stores.stock.get_record(tenant, made[0].stock_id) is None
    assert stores.imports.commit(tenant, chunk(theirs), ChunkPlan(creates=[made]), ACTOR) == CommitOutcome.DONE
    job = stores.imports.get_job(tenant, queued.job_id)
    assert job is not None and (job.checkpoint_line, job.processed, job.lease_owner) == (
        theirs.checkpoint_line + 1,
        1,
        theirs.lease_owner,
    )
