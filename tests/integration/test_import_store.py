"""The import job store contract (and the wake-up port), run against DynamoDB (moto) and the in-memory fakes.

A job is claimed by one worker at a time (queued, or running past its lease);
a chunk's writes commit with the job's checkpoint in one transaction, guarded
on the line the worker started from: LOST when another worker moved it,
CONFLICT (nothing written) when a record, product or order moved under the plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote_plus

import pytest

from chalicelib.core.errors import TooManyWrites
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.imports.jobs import (
    Checkpoint,
    ChunkPlan,
    CommitOutcome,
    ImportJob,
    ImportSource,
    ImportStatus,
    ImportStore,
    RowError,
    Wakeups,
    upload_key,
)
from chalicelib.core.models import Actor, Movement, MovementKind, Product, StockRecord
from chalicelib.core.ports import CatalogStore, StockChange, StockStore
from chalicelib.features.orders.model import LineItem, Order
from chalicelib.features.orders.port import LineWrite, OrderStore, OrderWrite
from chalicelib.settings import get_settings
from chalicelib.storage import queues
from chalicelib.storage.aws import client
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.import_repo import DynamoImportStore, QueueWakeups
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.fakes import (
    InMemoryCatalogStore,
    InMemoryImportStore,
    InMemoryOrderStore,
    InMemoryStockStore,
    InMemoryWakeups,
    MemoryTable,
)

ACTOR = Actor(id="system", name="Stockroom")
D = Decimal


class Stores:
    """An import store and the stores that read what its chunks wrote, on one table."""

    def __init__(self, imports: ImportStore, stock: StockStore, catalog: CatalogStore, orders: OrderStore) -> None:
        self.imports = imports
        self.stock = stock
        self.catalog = catalog
        self.orders = orders


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "fake":
        memory = MemoryTable()
        return Stores(
            InMemoryImportStore(memory),
            InMemoryStockStore(memory),
            InMemoryCatalogStore(memory),
            InMemoryOrderStore(memory),
        )
    table = request.getfixturevalue("table")
    return Stores(DynamoImportStore(table), DynamoStockStore(table), DynamoCatalogStore(table), DynamoOrderStore(table))


@pytest.fixture
def store(stores: Stores) -> ImportStore:
    return stores.imports


@pytest.fixture
def tenant() -> str:
    return new_id()


def job(tenant: str, minutes_ago: int = 0, **fields: object) -> ImportJob:
    job_id = new_id()
    return ImportJob(
        tenant_id=tenant,
        job_id=job_id,
        kind="inventory",
        source=ImportSource.UPLOAD,
        object_key=upload_key(tenant, "inventory", job_id),
        created_at=utcnow() - timedelta(minutes=minutes_ago),
        **fields,
    )


def running(store: ImportStore, tenant: str) -> ImportJob:
    queued = job(tenant)
    store.create_job(queued)
    claimed = store.claim(queued, utcnow(), utcnow() + timedelta(minutes=2))
    assert claimed is not None
    return claimed


def checkpoint(of: ImportJob, to_line: int, errors: list[RowError] | None = None, **counts: int) -> Checkpoint:
    return Checkpoint(
        job_id=of.job_id,
        from_line=of.checkpoint_line,
        to_line=to_line,
        read=to_line - of.checkpoint_line,
        created=counts.get("created", 0),
        updated=counts.get("updated", 0),
        failed=len({e.line for e in errors or []}),
        errors=errors or [],
        errors_dropped=counts.get("dropped", 0) > 0,
        lease_until=utcnow() + timedelta(minutes=2),
    )


def record(tenant: str, quantity: str = "5") -> tuple[StockRecord, Movement]:
    q = D(quantity)
    made = StockRecord(tenant_id=tenant, product_id="P1", location_id="L1", on_hand=q, available=q)
    initial = Movement(
        tenant_id=tenant,
        stock_id=made.stock_id,
        product_id="P1",
        location_id="L1",
        kind=MovementKind.IMPORT,
        quantity=q,
        actor=ACTOR,
    )
    return made, initial


# -- jobs ----------------------------------------------------------------------------


def test_a_job_is_created_once_and_listed_newest_first(store: ImportStore, tenant: str) -> None:
    older, newer = job(tenant, minutes_ago=5), job(tenant, minutes_ago=1, filename="b.csv")
    store.create_job(older)
    store.create_job(newer)
    store.create_job(older.model_copy(update={"filename": "again.csv"}))  # a redelivered drop

    stored = store.get_job(tenant, older.job_id)
    assert stored is not None
    assert (stored.status, stored.filename, stored.checkpoint_line, stored.processed) == (
        ImportStatus.QUEUED,
        None,
        1,
        0,
    )
    first = store.list_jobs(tenant, 1, None)
    assert [j.job_id for j in first.items] == [newer.job_id]
    assert first.cursor is not None
    rest = store.list_jobs(tenant, 5, first.cursor)
    assert ([j.job_id for j in rest.items], rest.cursor) == ([older.job_id], None)
    assert store.get_job(new_id(), older.job_id) is None
    assert store.list_jobs(new_id(), 5, None).items == []


def test_one_worker_holds_a_job_until_its_lease_ends(store: ImportStore, tenant: str) -> None:
    queued = job(tenant)
    store.create_job(queued)
    now = utcnow()

    claimed = store.claim(queued, now, now + timedelta(minutes=2))

    assert claimed is not None
    assert (claimed.status, claimed.version) == (ImportStatus.RUNNING, 2)
    assert claimed.started_at is not None
    assert store.claim(queued, now + timedelta(minutes=1), now + timedelta(minutes=3)) is None
    later = now + timedelta(minutes=3)
    taken_over = store.claim(queued, later, later + timedelta(minutes=2))
    assert taken_over is not None
    assert taken_over.started_at == claimed.started_at  # the first start stands
    assert taken_over.lease_until == later + timedelta(minutes=2)


def test_a_paused_job_can_be_taken_over_at_once_and_a_finished_one_never(store: ImportStore, tenant: str) -> None:
    claimed = running(store, tenant)
    store.set_total(claimed, 70)
    store.pause(claimed)

    soon = utcnow() + timedelta(seconds=1)
    again = store.claim(claimed, soon, soon + timedelta(minutes=2))
    assert again is not None
    assert again.total == 70

    store.finish(again, ImportStatus.FAILED, "line 3: broken")
    ended = store.get_job(tenant, claimed.job_id)
    assert ended is not None
    assert (ended.status, ended.message, ended.lease_until) == (ImportStatus.FAILED, "line 3: broken", None)
    assert ended.finished_at is not None
    far = utcnow() + timedelta(days=1)
    assert store.claim(claimed, far, far) is None
    store.finish(ended, ImportStatus.COMPLETED, None)
    final = store.get_job(tenant, claimed.job_id)
    assert final is not None
    assert (final.status, final.message) == (ImportStatus.COMPLETED, "line 3: broken")  # no message keeps the old


# -- chunks ----------------------------------------------------------------------------


def test_a_chunk_commits_its_writes_with_the_checkpoint_and_errors_read_back_by_line(
    stores: Stores, tenant: str
) -> None:
    store = stores.imports
    claimed = running(store, tenant)
    made, initial = record(tenant)
    product = Product(tenant_id=tenant, name="Bar", sku="B-1")
    so = Order(tenant_id=tenant, order_reference="SO-1")
    lines = (
        LineWrite(LineItem(tenant_id=tenant, order_id=so.order_id, line_number=1, product_name="Bar", quantity=D(2))),
    )
    plan = ChunkPlan(
        creates=[(made, initial)],
        products=[product],
        feature_writes=[OrderWrite(so, None, lines, take_reference="SO-1")],
        created=3,
    )
    bad = [RowError(line=5, field="quantity", message="not a number"), RowError(line=3, field="name", message="empty")]

    outcome = store.commit(tenant, checkpoint(claimed, 5, bad, created=3), plan, ACTOR)

    assert outcome == CommitOutcome.DONE
    advanced = store.get_job(tenant, claimed.job_id)
    assert advanced is not None
    assert (advanced.checkpoint_line, advanced.processed, advanced.created, advanced.failed) == (5, 4, 3, 2)
    assert (advanced.errors_stored, advanced.errors_truncated, advanced.version) == (2, False, 3)
    assert stores.stock.get_record(tenant, made.stock_id) is not None
    assert [m.movement_id for m in stores.stock.movements(tenant, made.stock_id)] == [initial.movement_id]
    assert stores.catalog.product_id_by_sku(tenant, "B-1") == product.product_id
    assert stores.orders.order_ids_by_reference(tenant, ["SO-1"]) == {"so-1": so.order_id}

    more = [RowError(line=7, field="x", message="y")]
    assert store.commit(tenant, checkpoint(advanced, 8, more, dropped=1), ChunkPlan(), ACTOR) == CommitOutcome.DONE
    # The error items sort by their chunk's first line; within a chunk, errors keep the order given.
    assert [e.line for e in store.errors(tenant, claimed.job_id, 100)] == [5, 3, 7]
    assert [e.line for e in store.errors(tenant, claimed.job_id, 2)] == [5, 3]
    final = store.get_job(tenant, claimed.job_id)
    assert final is not None
    assert (final.errors_stored, final.errors_truncated) == (3, True)
    assert store.errors(tenant, new_id(), 10) == []


def test_a_chunk_from_a_moved_checkpoint_is_lost_and_writes_nothing(stores: Stores, tenant: str) -> None:
    store = stores.imports
    claimed = running(store, tenant)
    assert store.commit(tenant, checkpoint(claimed, 33), ChunkPlan(), ACTOR) == CommitOutcome.DONE
    made, initial = record(tenant)

    # The same chunk again (a retry that read its checkpoint before its first commit landed).
    outcome = store.commit(tenant, checkpoint(claimed, 33), ChunkPlan(creates=[(made, initial)]), ACTOR)

    assert outcome == CommitOutcome.LOST
    assert stores.stock.get_record(tenant, made.stock_id) is None
    after = store.get_job(tenant, claimed.job_id)
    assert after is not None
    assert (after.checkpoint_line, after.processed) == (33, 32)
    store.finish(after, ImportStatus.COMPLETED, None)
    assert store.commit(tenant, checkpoint(after, 40), ChunkPlan(), ACTOR) == CommitOutcome.LOST
    missing = job(tenant)
    assert store.commit(tenant, checkpoint(missing, 3), ChunkPlan(), ACTOR) == CommitOutcome.LOST


Conflicting = Callable[[Stores, str], ChunkPlan]


def _existing_record(stores: Stores, tenant: str) -> ChunkPlan:
    made, initial = record(tenant)
    stores.stock.create_record(made, initial, ACTOR)
    return ChunkPlan(creates=[record(tenant), (made.model_copy(update={"natural_key": None}), None)])


def _stale_change(stores: Stores, tenant: str) -> ChunkPlan:
    made, initial = record(tenant, "5")
    stores.stock.create_record(made, initial, ACTOR)
    change = StockChange(stock_id=made.stock_id, actor=ACTOR, on_hand=D(1), expected_on_hand=D(4))
    return ChunkPlan(creates=[record(tenant)], changes=[change])


def _taken_sku(stores: Stores, tenant: str) -> ChunkPlan:
    stores.catalog.create_product(Product(tenant_id=tenant, name="Bar", sku="B-1"), ACTOR)
    return ChunkPlan(creates=[record(tenant)], products=[Product(tenant_id=tenant, name="Other", sku="B-1")])


def _taken_reference(stores: Stores, tenant: str) -> ChunkPlan:
    first = Order(tenant_id=tenant, order_reference="SO-1")
    stores.orders.save(tenant, [OrderWrite(first, take_reference="SO-1")], ACTOR)
    clash = Order(tenant_id=tenant, order_reference="so-1")
    return ChunkPlan(creates=[record(tenant)], feature_writes=[OrderWrite(clash, take_reference="so-1")])


@pytest.mark.parametrize(
    "conflicting",
    [
        pytest.param(_existing_record, id="record-exists"),
        pytest.param(_stale_change, id="record-moved"),
        pytest.param(_taken_sku, id="sku-taken"),
        pytest.param(_taken_reference, id="reference-taken"),
    ],
)
def test_a_chunk_whose_plan_no_longer_holds_is_a_conflict_and_writes_nothing(
    stores: Stores, tenant: str, conflicting: Conflicting
) -> None:
    store = stores.imports
    claimed = running(store, tenant)
    plan = conflicting(stores, tenant)
    errors = [RowError(line=2, field="f", message="m")]

    assert store.commit(tenant, checkpoint(claimed, 3, errors), plan, ACTOR) == CommitOutcome.CONFLICT

    created, _ = plan.creates[0]
    assert stores.stock.get_record(tenant, created.stock_id) is None
    after = store.get_job(tenant, claimed.job_id)
    assert after is not None
    assert (after.checkpoint_line, after.version) == (1, claimed.version)
    assert store.errors(tenant, claimed.job_id, 10) == []


def test_a_chunk_over_the_transaction_limit_is_refused_before_anything_is_written(stores: Stores, tenant: str) -> None:
    store = stores.imports
    claimed = running(store, tenant)
    # 1 checkpoint + 50 records with their ledger lines = 101 items.
    plan = ChunkPlan(creates=[record(tenant) for _ in range(50)])

    # A domain error (413) before anything is sent, which the import loop answers by halving the chunk.
    with pytest.raises(TooManyWrites, match="at most 100"):
        store.commit(tenant, checkpoint(claimed, 51), plan, ACTOR)

    assert stores.stock.list_records(tenant, 10, None).items == []


# -- wake-ups ----------------------------------------------------------------------------


@pytest.fixture(params=["fake", "sqs"])
def wakeups(request: pytest.FixtureRequest) -> tuple[Wakeups, Callable[[], list[str]]]:
    """A Wakeups port, and what it re-announced so far: the object keys, in order."""
    if request.param == "fake":
        fake = InMemoryWakeups()
        return fake, lambda: list(fake.woken)
    request.getfixturevalue("module_aws")
    settings = get_settings()
    queues.reset()
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=settings.import_queue)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    received: list[str] = []

    def woken() -> list[str]:
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return list(received)
            for message in messages:
                for entry in json.loads(message["Body"])["Records"]:
                    received.append(unquote_plus(entry["s3"]["object"]["key"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return QueueWakeups(settings.import_queue, settings.bucket), woken


def test_a_woken_job_is_announced_again_under_its_object_key(
    wakeups: tuple[Wakeups, Callable[[], list[str]]], tenant: str
) -> None:
    port, woken = wakeups
    first = job(tenant)
    dropped = first.model_copy(update={"object_key": f"dropbox/{tenant}/inventory/stock list (2).csv"})

    port.wake(first)
    port.wake(dropped)

    assert sorted(woken()) == sorted([first.object_key, dropped.object_key])
