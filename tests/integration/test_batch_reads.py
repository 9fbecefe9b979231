"""DynamoBatchReads: records, products and reference labels of any kind in one BatchGetItem,
with the same answers as asking each store in turn (the in-memory `StoreReads`)."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Location, Product, StockRecord
from chalicelib.core.ports import Wanted
from chalicelib.core.reference.service import HEAT, LOCATION, ReferenceItem, RefKind
from chalicelib.storage.aws import on_call
from chalicelib.storage.batch_reads import DynamoBatchReads
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.reference_repo import DynamoReferenceStore
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.fakes import StoreReads

ACTOR = Actor(id="user:1", name="Tester")


def test_one_batched_read_finds_every_kind_and_matches_the_stores_one_by_one(table: str) -> None:
    t = new_id()
    stock, catalog, reference = DynamoStockStore(table), DynamoCatalogStore(table), DynamoReferenceStore(table)
    record = StockRecord(tenant_id=t, product_id="P1", location_id="L1", on_hand=Decimal(3), available=Decimal(3))
    stock.create_record(record, None, ACTOR)
    catalog.create_product(Product(tenant_id=t, product_id="P1", name="Bar"), ACTOR)
    location = Location(tenant_id=t, name="Yard A")
    catalog.create_location(location, ACTOR)
    bar = ReferenceItem(tenant_id=t, kind=RefKind.TYPE, label="Bar")
    gone = ReferenceItem(tenant_id=t, kind=RefKind.MATERIAL, label="S355", active=False)
    cert = ReferenceItem(tenant_id=t, kind=RefKind.MILL_CERTIFICATION, label="Cert", heat_code="H-1")
    reference.create_items([bar, gone, cert], ACTOR)
    wanted = Wanted(
        records={record.stock_id, "no-such-record"},
        products={"P1", "P2"},
        references={
            (RefKind.TYPE.value, bar.ref_id),
            (RefKind.MATERIAL.value, gone.ref_id),
            (RefKind.ORGANISATION.value, "nobody"),
            (LOCATION, location.location_id),
            (HEAT, "h-1 "),
            (HEAT, "H-2"),
        },
    )

    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation))
    try:
        found = DynamoBatchReads(table).read(t, wanted)
    finally:
        unsubscribe()

    assert calls == ["BatchGetItem"]
    assert set(found.records) == {record.stock_id}
    assert found.records[record.stock_id].on_hand == 3
    assert set(found.products) == {"P1"}
    assert {key: (r.id, r.label, r.active) for key, r in found.references.items()} == {
        (RefKind.TYPE.value, bar.ref_id): (bar.ref_id, "Bar", True),
        (RefKind.MATERIAL.value, gone.ref_id): (gone.ref_id, "S355", False),
        (LOCATION, location.location_id): (location.location_id, "Yard A", True),
        (HEAT, "h-1 "): (cert.ref_id, None, True),
    }
    assert found == StoreReads(stock, catalog, reference).read(t, wanted)
    # Without records, the read asks for the label attributes only; the answers are the same.
    labels_only = Wanted(products=wanted.products, references=wanted.references)
    assert DynamoBatchReads(table).read(t, labels_only) == StoreReads(stock, catalog, reference).read(t, labels_only)
    assert DynamoBatchReads(table).read(t, labels_only).references == found.references


def test_nothing_wanted_costs_no_call(table: str) -> None:
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation))
    try:
        found = DynamoBatchReads(table).read(new_id(), Wanted(references={(LOCATION, "")}))
    finally:
        unsubscribe()
    assert calls == []
    assert (found.records, found.products, found.references) == ({}, set(), {})
