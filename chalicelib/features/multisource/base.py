"""The shared part of MultiSourceService: its collaborators, how a request's product, warehouse and record
are found (guard lookups), and records shown in the document's terms (numbered on first sight).

The service's other parts (reads.py, search.py, bulk.py) are mixins over this base.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import CatalogService, default_location_id
from chalicelib.core.errors import Conflict, InvalidState, NotFound, ValidationFailed, problem
from chalicelib.core.models import Product, StockRecord
from chalicelib.core.ports import StockStore, Transactions
from chalicelib.core.stock.service import StockService
from chalicelib.features.multisource import rules
from chalicelib.features.multisource.model import InventoryRecord, LookupKey, ProductView
from chalicelib.features.multisource.ports import (
    LOCATION_NUMBER,
    PRODUCT_NUMBER,
    SKU,
    SOURCE,
    STOCK_NUMBER,
    MultiSourceStore,
)

COUNT_REASON = "multi-source inventory count"


@dataclass(frozen=True)
class ProductRef:
    """How a request names a product: a lookup key, its value, and the source for sourceId."""

    lookup: LookupKey
    key: str
    source: str | None = None


class MultiSourceBase:
    """Mixin base of MultiSourceService: what its parts share (the constructor is the service's)."""

    _catalog: CatalogService
    _stock: StockService
    _records: StockStore
    _store: MultiSourceStore
    _transactions: Transactions

    def _product(self, tenant_id: str, ref: ProductRef) -> Product:
        guard, value = _guard_of(ref)
        target = self._store.guard_targets(tenant_id, guard, [value]).get(value)
        product = self._catalog.get_products(tenant_id, [target]).get(target) if target else None
        if product is None or not product.active:
            raise NotFound(f"product {ref.lookup.value}={ref.key} not found")
        return product

    def _warehouse(self, tenant_id: str, number: int, field_name: str = "warehouseId", status: int = 404) -> str:
        if number == 0:
            return default_location_id(tenant_id)
        target = self._store.guard_targets(tenant_id, LOCATION_NUMBER, [str(number)]).get(str(number))
        if target is None:
            if status == 400:
                raise ValidationFailed(f"warehouse {number} not found", [problem(field_name, "warehouse not found")])
            raise NotFound(f"warehouse {number} not found")
        return target

    def _record(self, tenant_id: str, record_id: int) -> StockRecord:
        target = self._store.guard_targets(tenant_id, STOCK_NUMBER, [str(record_id)]).get(str(record_id))
        record = self._records.get_record(tenant_id, target) if target else None
        if record is None or not record.active:
            raise NotFound(f"inventory record {record_id} not found")
        return record

    def _views(
        self, tenant_id: str, records: list[StockRecord], products: Mapping[str, Product] | None = None
    ) -> list[InventoryRecord]:
        """Records in documented terms: their products and warehouses batched, ids given to records of
        other surfaces on first sight (one counter call and one transaction per 50 of them)."""
        records = self._numbered(tenant_id, [r for r in records if r.active])
        known = dict(products or {})
        missing = sorted({r.product_id for r in records} - set(known))
        if missing:
            known.update(self._catalog.get_products(tenant_id, missing))
        default = default_location_id(tenant_id)
        places = sorted({r.location_id for r in records if r.location_id != default})
        locations = self._catalog.locations(tenant_id, places) if places else {}
        numbers_by_location = {lid: loc.number for lid, loc in locations.items()}
        numbers_by_location[default] = 0
        return [
            record_view(r, known.get(r.product_id), numbers_by_location.get(r.location_id))
            for r in records
            if r.number is not None
        ]

    def _numbered(self, tenant_id: str, records: list[StockRecord]) -> list[StockRecord]:
        """The records with their numeric ids, given on first sight to records of other surfaces (one
        counter call and one transaction per 50 of them); each keeps the figures it was read with (an
        as-of copy keeps those of its moment)."""
        unnumbered = [r for r in records if r.number is None]
        if not unnumbered:
            return records
        numbers = self._store.next_record_numbers(tenant_id, len(unnumbered))
        pairs = list(zip((r.stock_id for r in unnumbered), numbers, strict=True))
        # Numbered meanwhile by someone else (Conflict): read them again either way.
        with suppress(Conflict, InvalidState):
            self._store.number_records(tenant_id, pairs)
        fresh = self._records.get_records(tenant_id, [r.stock_id for r in unnumbered])
        found = {sid: r.number for sid, r in fresh.items() if r.number is not None}
        return [
            r.model_copy(update={"number": found[r.stock_id]}) if r.number is None and r.stock_id in found else r
            for r in records
        ]


def record_view(record: StockRecord, product: Product | None, warehouse: int | None) -> InventoryRecord:
    attributes = record.attributes
    return InventoryRecord(
        id=record.number or 0,
        productId=product.number if product else None,
        quantity=record.on_hand,
        supplier=record.owner,
        supplierCode=record.supplier_code,
        sku=product.sku if product else None,
        warehouseId=warehouse,
        companyId=int(attributes.get("companyId") or 0),
        location=attributes.get("location"),
        costPrice=_decimal(attributes.get("costPrice")),
        notes=attributes.get("notes"),
        nextDeliveryDate=attributes.get("nextDeliveryDate"),
        createdAt=rules.iso(record.created_at),
        lastModifiedAt=rules.iso(record.updated_at),
    )


def product_view(product: Product) -> ProductView:
    return ProductView(
        productId=product.number,
        id=product.product_id,
        sku=product.sku,
        name=product.name,
        sourceIds=dict(product.source_ids),
        createdAt=rules.iso(product.created_at),
        lastModifiedAt=rules.iso(product.updated_at),
    )


def _guard_of(ref: ProductRef) -> tuple[str, str]:
    """The guard kind and value that map a lookup to its product (a bad key is a ValidationFailed)."""
    if ref.lookup == LookupKey.ID and not ref.key.isdigit():
        raise ValidationFailed("a product id is a number", [problem("key", "must be a positive integer")])
    rules.require_source(ref.lookup, ref.source)
    guard = {LookupKey.ID: PRODUCT_NUMBER, LookupKey.SKU: SKU, LookupKey.SOURCE_ID: SOURCE}[ref.lookup]
    if ref.lookup == LookupKey.ID:
        return guard, str(int(ref.key))
    return guard, f"{ref.source}#{ref.key}" if ref.lookup == LookupKey.SOURCE_ID else ref.key


V2_ATTRIBUTES = ("location", "companyId", "costPrice", "notes", "nextDeliveryDate")


def _v2_attributes(record: StockRecord) -> dict[str, Any]:
    return {k: record.attributes[k] for k in V2_ATTRIBUTES if k in record.attributes}


def _field_changes(record: StockRecord, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """SET / REMOVE of the record's documented attributes (dotted paths: order links and other
    surfaces' attributes on the same record are left alone)."""
    current = _v2_attributes(record)
    sets = {f"attributes.{k}": v for k, v in attributes.items() if current.get(k) != v}
    removes = [f"attributes.{k}" for k in current if k not in attributes]
    return sets, removes


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
