"""What an import reads: the file once, and one batched read per chunk whatever the chunk holds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.imports.jobs import ImportService, ImportStatus, Row
from chalicelib.core.models import Actor, StockRecord
from chalicelib.core.ports import Found, Wanted
from chalicelib.core.reference.service import LOCATION, RefKind, Resolved
from chalicelib.core.stock.service import StockService
from chalicelib.features.company_inventory.csv_import import REFERENCE_SECONDS, InventoryImporter, RecentReads
from chalicelib.features.company_inventory.service import InventoryService, product_id_for
from tests.fakes import InMemoryFiles, InMemoryStockStore
from tests.unit.test_imports import CountingApplier, MemoryStore, csv_of

pytestmark = pytest.mark.disable_socket

ACTOR = Actor(id="u1", name="Uploader")
T = "t1"


def test_the_file_is_read_once_and_its_total_stored_when_read_through() -> None:
    store, files = MemoryStore(), InMemoryFiles()
    service = ImportService(store, files, {"things": CountingApplier()})
    job = service.upload(T, "things", csv_of(70, bad_every=10), ACTOR)

    ended = service.run(job, ACTOR)

    assert files.reads == 1
    assert (ended.status, ended.total, ended.processed, ended.created, ended.failed) == (
        ImportStatus.COMPLETED,
        70,
        70,
        63,
        7,
    )


def test_a_resumed_job_reads_the_file_once_more_and_counts_every_row() -> None:
    store, files = MemoryStore(), InMemoryFiles()
    service = ImportService(store, files, {"things": CountingApplier()})
    job = service.upload(T, "things", csv_of(100), ACTOR)
    budget = iter([100.0, 5.0])
    with pytest.raises(Exception, match="paused"):
        service.run(job, ACTOR, lambda: next(budget, 5.0))
    assert store.job(job.job_id).total is None

    ended = service.run(store.job(job.job_id), ACTOR)

    assert files.reads == 2
    assert (ended.total, ended.processed, ended.created) == (100, 100, 100)


class RecordingReads:
    """BatchReads that answers from dicts and remembers what each call asked for."""

    def __init__(self, found: Found) -> None:
        self.found = found
        self.calls: list[Wanted] = []

    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        self.calls.append(wanted)
        return Found(
            {k: v for k, v in self.found.records.items() if k in wanted.records},
            {k for k in self.found.products if k in wanted.products},
            {k: v for k, v in self.found.references.items() if k in wanted.references},
        )


def _importer(reads: RecordingReads) -> InventoryImporter:
    stock = StockService(InMemoryStockStore())
    unused: Any = None
    return InventoryImporter(InventoryService(stock, InMemoryStockStore(), unused, unused, unused, reads), stock, reads)


def test_a_chunk_of_creates_updates_and_bad_references_costs_one_batched_read() -> None:
    five = Decimal(5)
    existing = StockRecord(
        tenant_id=T, product_id=product_id_for(T, "Bar"), location_id="L1", name="Bar", on_hand=five, available=five
    )
    reads = RecordingReads(
        Found(
            records={existing.stock_id: existing},
            products={product_id_for(T, "Bar")},
            references={
                (LOCATION, "L1"): Resolved("L1", "Yard", True),
                (RefKind.TYPE.value, "gone"): Resolved("gone", "Old", False),
            },
        )
    )
    rows = [
        Row(2, {"productname": "Bar", "quantity": "3", "stocklocationid": "L1"}),
        Row(3, {"productname": "Plate", "quantity": "1", "stocklocationid": "L1"}),
        Row(4, {"productname": "Tube", "quantity": "1", "stocklocationid": "L1", "type": "gone"}),
        Row(5, {"inventoryid": existing.stock_id, "quantity": "7"}),
        Row(6, {"inventoryid": "missing", "quantity": "7"}),
    ]

    plan = _importer(reads).plan(T, "job-1", rows, ACTOR)

    assert len(reads.calls) == 1
    wanted = reads.calls[0]
    assert set(wanted.records) == {existing.stock_id, "missing"}
    assert set(wanted.products) == {product_id_for(T, n) for n in ("Bar", "Plate", "Tube")}
    assert set(wanted.references) == {(LOCATION, "L1"), (RefKind.TYPE.value, "gone")}
    assert [p.name for p in plan.products] == ["Plate"]  # Bar exists; Tube's row failed on its type
    assert (plan.created, plan.updated) == (2, 1)
    assert [(e.line, e.field) for e in plan.errors] == [(4, "type"), (6, "inventoryId")]
    assert plan.changes[0].on_hand == 2


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _creates(*names: str, location: str = "L1") -> list[Row]:
    return [
        Row(line, {"productname": name, "quantity": "1", "stocklocationid": location})
        for line, name in enumerate(names, start=2)
    ]


def test_later_chunks_read_only_what_no_chunk_read_lately() -> None:
    bar = product_id_for(T, "Bar")
    reads = RecordingReads(Found(products={bar}, references={(LOCATION, "L1"): Resolved("L1", "Yard", True)}))
    clock = Clock()
    stock = StockService(InMemoryStockStore())
    unused: Any = None
    importer = InventoryImporter(
        InventoryService(stock, InMemoryStockStore(), unused, unused, unused, reads),
        stock,
        reads,
        RecentReads(clock),
    )

    first = importer.plan(T, "job", _creates("Bar", "Plate"), ACTOR)
    clock.now += REFERENCE_SECONDS - 1
    second = importer.plan(T, "job", _creates("Bar", "Plate"), ACTOR)
    clock.now += 2
    third = importer.plan(T, "job", _creates("Bar"), ACTOR)

    asked = [(set(w.references), set(w.products)) for w in reads.calls]
    plate = product_id_for(T, "Plate")
    assert asked == [
        ({(LOCATION, "L1")}, {bar, plate}),  # the first chunk reads everything
        (set(), {plate}),  # the location was read lately, Bar exists; Plate was missing, so it is asked again
        ({(LOCATION, "L1")}, set()),  # the location's read is too old now; Bar is still known
    ]
    assert [p.name for p in first.products] == [p.name for p in second.products] == ["Plate"]
    assert third.products == [] and third.created == 1 and not third.errors


def test_a_reference_deleted_is_refused_once_its_last_read_is_old_enough() -> None:
    reads = RecordingReads(Found(references={(LOCATION, "L1"): Resolved("L1", "Yard", True)}))
    clock = Clock()
    stock = StockService(InMemoryStockStore())
    unused: Any = None
    importer = InventoryImporter(
        InventoryService(stock, InMemoryStockStore(), unused, unused, unused, reads), stock, reads, RecentReads(clock)
    )
    importer.plan(T, "job", _creates("Bar"), ACTOR)
    reads.found.references[(LOCATION, "L1")] = Resolved("L1", "Yard", False)  # deleted
    clock.now += REFERENCE_SECONDS + 0.1

    plan = importer.plan(T, "job", _creates("Bar"), ACTOR)

    assert [(e.field, e.message) for e in plan.errors] == [("stockLocationId", "L1 not found")]
