"""MultiSourceService: the 004 multi-source inventory over the core's stock records.

Every method takes and returns the document's terms (numeric ids, `supplier`,
`quantity`, ...), so the REST surface and a GraphQL layer are translation
only. Reads are batched (BatchGetItem for ids, one index Query per product
or warehouse, run together); every quantity change is a counted change of the
core's `StockService`, written in units of work of at most TRANSACTION_ITEMS
items.

The service is put together from mixins over `base.MultiSourceBase` (the
collaborators, product/warehouse/record lookups, records in documented terms):
`reads.InventoryReads` (records by id, aggregated inventory), `search.RecordSearch`
and `bulk.BulkUpsert` (bulk_upsert, plan_upsert). This module keeps the
constructor, the product extensions and the single-record writes (update, delete).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import Conflict, ValidationFailed, problem
from chalicelib.core.models import ZERO, Actor, MovementKind, StockRecord
from chalicelib.core.ports import StockStore, Transactions
from chalicelib.core.stock.ownership import INTERN, is_own_stock
from chalicelib.core.stock.service import StockService
from chalicelib.features.multisource import rules
from chalicelib.features.multisource.base import (
    COUNT_REASON,
    ProductRef,
    _field_changes,
    _v2_attributes,
    product_view,
    record_view,
)
from chalicelib.features.multisource.bulk import BulkUpsert, UpsertPlan
from chalicelib.features.multisource.model import InventoryRecord, InventoryType, ProductView, RecordInput
from chalicelib.features.multisource.ports import STOCK_KEY, MultiSourceStore
from chalicelib.features.multisource.reads import InventoryReads
from chalicelib.features.multisource.search import MAX_AS_OF_MATCHES, RecordSearch

__all__ = [
    "COUNT_REASON",
    "MAX_AS_OF_MATCHES",
    "WRITE_OFF_REASON",
    "MultiSourceService",
    "ProductRef",
    "UpsertPlan",
    "product_view",
    "record_view",
]

WRITE_OFF_REASON = "written off: inventory record deleted"


class MultiSourceService(InventoryReads, RecordSearch, BulkUpsert):
    def __init__(
        self,
        catalog: CatalogService,
        stock: StockService,
        records: StockStore,
        store: MultiSourceStore,
        transactions: Transactions,
    ) -> None:
        self._catalog = catalog
        self._stock = stock
        self._records = records
        self._store = store
        self._transactions = transactions

    # -- products (extensions) ------------------------------------------------

    def create_product(
        self, tenant_id: str, sku: str, name: str, source_ids: Mapping[str, str], actor: Actor
    ) -> ProductView:
        """Create a product with its SKU and external ids per source; it gets its numeric productId.

        A taken SKU or source id is a 409 naming the field.
        """
        fields: dict[str, Any] = {"sku": sku, "name": name, "source_ids": dict(source_ids)}
        return product_view(self._catalog.create_product(tenant_id, fields, actor))

    def get_product(self, tenant_id: str, ref: ProductRef) -> ProductView:
        """The product a lookup key names (404 when unknown, deleted or another company's)."""
        return product_view(self._product(tenant_id, ref))

    # -- writes -------------------------------------------------------------

    def update(
        self, tenant_id: str, record_id: int, changes: RecordInput, actor: Actor, command_id: str | None = None
    ) -> InventoryRecord:
        """Change the fields sent (null clears an optional one). A new quantity is one `count` movement;
        a change of the uniqueness key that another record holds is a 409."""
        rules.check_fields(changes)
        sent = changes.model_fields_set
        moved = sent & {"productId", "sku", "sourceId"}
        if moved:
            name = sorted(moved)[0]
            raise ValidationFailed("a record cannot move to another product", [problem(name, "cannot be changed")])
        record = self._record(tenant_id, record_id)
        owner = _owner_after(record, changes)
        if "quantity" in sent and changes.quantity is None:
            raise ValidationFailed("quantity cannot be null", [problem("quantity", "cannot be null")])
        location_id = record.location_id
        if "warehouseId" in sent:
            location_id = self._warehouse(tenant_id, changes.warehouseId or 0, field_name="warehouseId", status=400)
        attributes = rules.attributes_of(changes, _v2_attributes(record))
        supplier_code = (changes.supplierCode or None) if "supplierCode" in sent else record.supplier_code
        key = rules.natural_key(
            record.product_id,
            owner,
            supplier_code,
            attributes.get("location"),
            location_id,
            int(attributes.get("companyId") or 0),
        )
        set_fields, remove_fields = _field_changes(record, attributes)
        set_fields.update(_core_field_changes(record, owner, supplier_code, location_id, key))
        if supplier_code is None and record.supplier_code is not None:
            remove_fields.append("supplier_code")
        change = self._stock.counted_change(
            tenant_id,
            record,
            changes.quantity if "quantity" in sent else None,
            actor,
            kind=MovementKind.COUNT,
            reason=COUNT_REASON,
            expected_version=record.version,
            set_fields=set_fields,
            remove_fields=tuple(remove_fields),
        )
        uow = self._transactions.begin(command_id)
        self._stock.apply_changes(tenant_id, [change], uow)
        if key != record.natural_key:
            if record.natural_key:
                self._store.add_guard_release(uow, tenant_id, STOCK_KEY, record.natural_key, record.stock_id)
            self._store.add_guard(uow, tenant_id, STOCK_KEY, key, record.stock_id, "supplierCode")
        try:
            uow.commit()
        except Conflict as error:
            if error.code == "ALREADY_EXISTS":
                raise Conflict(
                    "another inventory record has this (productId, supplier, supplierCode, location, "
                    "warehouseId, companyId)",
                    [problem("supplierCode", "duplicates another record's uniqueness key")],
                ) from None
            raise
        return self.get_record(tenant_id, record_id)

    def delete(
        self, tenant_id: str, record_id: int, actor: Actor, *, force: bool = False, command_id: str | None = None
    ) -> None:
        """Remove a record. A local record still holding stock is a 409 unless `force` (then its stock is
        written off through the ledger, one movement). Its id is never reused."""
        record = self._record(tenant_id, record_id)
        local = is_own_stock(record)
        if local and record.on_hand != 0 and not force:
            raise Conflict(
                f"the record still holds {record.on_hand}: count it to 0 first, or delete with ?force=true",
                [problem("force", "the record holds stock")],
            )
        reason = WRITE_OFF_REASON if local else "supplier inventory record deleted"
        change = self._stock.counted_change(
            tenant_id,
            record,
            ZERO if record.on_hand != 0 else None,
            actor,
            kind=MovementKind.LOSS if local else MovementKind.COUNT,
            reason=reason,
            expected_version=record.version,
            set_fields={"active": False},
        )
        uow = self._transactions.begin(command_id)
        self._stock.apply_changes(tenant_id, [change], uow)
        if record.natural_key:
            self._store.add_guard_release(uow, tenant_id, STOCK_KEY, record.natural_key, record.stock_id)
        uow.commit()


def _owner_after(record: StockRecord, changes: RecordInput) -> str:
    """The owner a PATCH leaves: a local record stays INTERN, a supplier record stays a supplier's."""
    if "supplier" not in changes.model_fields_set:
        return record.owner
    wanted = (changes.supplier or "").strip()
    if is_own_stock(record):
        if wanted.upper() != INTERN:
            raise ValidationFailed("local inventory belongs to INTERN", [problem("supplier", "must be INTERN")])
        return record.owner
    owner, message = rules.owner_for(InventoryType.SUPPLIER, wanted)
    if owner is None:
        raise ValidationFailed(f"supplier {message}", [problem("supplier", message or "")])
    return owner


def _core_field_changes(
    record: StockRecord, owner: str, supplier_code: str | None, location_id: str, key: str
) -> dict[str, Any]:
    """SETs of the record's core fields a PATCH changes (owner, supplier code, place, uniqueness key)."""
    fields: dict[str, Any] = {}
    if owner != record.owner:
        fields["owner"] = owner
    if supplier_code is not None and supplier_code != record.supplier_code:
        fields["supplier_code"] = supplier_code
    if location_id != record.location_id:
        fields["location_id"] = location_id
        fields["product_id"] = record.product_id  # re-keys the record's index entries together
    if key != record.natural_key:
        fields["natural_key"] = key
    return fields
