"""MultiSourceService bulk upsert: records validated, their products, warehouses and existing records
read in batches, the writes planned, then written in units of work of at most TRANSACTION_ITEMS items
(or handed back as an UpsertPlan for a caller that commits them itself)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from chalicelib.core.catalog.service import default_location_id
from chalicelib.core.errors import DomainError, Problem, ValidationFailed, problem
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, Actor, Movement, MovementKind, Product, StockRecord
from chalicelib.core.ports import StockChange
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.features.multisource import rules
from chalicelib.features.multisource.base import COUNT_REASON, MultiSourceBase, _field_changes, _v2_attributes
from chalicelib.features.multisource.model import (
    MAX_BULK,
    BulkResult,
    BulkResultEntry,
    InventoryType,
    LookupKey,
    RecordInput,
)
from chalicelib.features.multisource.ports import LOCATION_NUMBER, PRODUCT_NUMBER, SKU, SOURCE, STOCK_KEY


@dataclass
class _Entry:
    """One record of a bulk upsert while it is planned."""

    index: int
    record: RecordInput | None = None
    error: str | None = None
    product: Product | None = None
    location_id: str | None = None
    owner: str | None = None
    natural_key: str | None = None
    existing: StockRecord | None = None
    number: int | None = None
    writes: int = 0
    change: StockChange | None = None
    new: NewStockRecord | None = None
    status: str = "error"
    problems: list[Problem] = field(default_factory=list)


@dataclass
class UpsertPlan:
    """A bulk upsert's writes, planned: new records with their count movements, changes of existing ones,
    and the records that cannot be written, as (index, field, message)."""

    creates: list[tuple[StockRecord, Movement | None]] = field(default_factory=list)
    changes: list[StockChange] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    created: int = 0
    updated: int = 0


class BulkUpsert(MultiSourceBase):
    """Mixin of MultiSourceService: bulk_upsert and plan_upsert."""

    def bulk_upsert(
        self,
        tenant_id: str,
        lookup: LookupKey,
        inventory_type: InventoryType,
        records: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        source: str | None = None,
        command_id: str | None = None,
    ) -> BulkResult:
        """Insert or update up to MAX_BULK records by their uniqueness key.

        Every record is validated first (bad ones are `error` entries, the rest are written). Each names its
        product by the lookup key's field. Local: supplier is INTERN whatever was sent; supplier: required and
        never INTERN. A quantity becomes on hand through one `count` movement per record. Reads are batched
        (BatchGetItem); writes go in units of work of at most TRANSACTION_ITEMS items.
        """
        if len(records) > MAX_BULK:
            raise ValidationFailed(
                f"at most {MAX_BULK} records per request", [problem("body", f"at most {MAX_BULK} records")]
            )
        rules.require_source(lookup, source)
        entries = [self._validated(index, raw, lookup, inventory_type) for index, raw in enumerate(records)]
        self._resolve_products(tenant_id, entries, lookup, source)
        self._resolve_warehouses(tenant_id, entries)
        self._resolve_existing(tenant_id, entries)
        self._plan_writes(tenant_id, entries, actor)
        self._write(tenant_id, entries, actor, command_id)
        results = [
            BulkResultEntry(index=e.index, id=e.number, status=e.status, error=e.error if e.status == "error" else None)
            for e in entries
        ]
        created = sum(1 for e in entries if e.status == "created")
        updated = sum(1 for e in entries if e.status == "updated")
        return BulkResult(created=created, updated=updated, failed=len(entries) - created - updated, results=results)

    def plan_upsert(
        self,
        tenant_id: str,
        lookup: LookupKey,
        inventory_type: InventoryType,
        records: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        source: str | None = None,
    ) -> UpsertPlan:
        """What `bulk_upsert` would write for `records`, for a caller that commits it itself (the CSV import
        commits it with its job's checkpoint): the same steps and rules, nothing written here but the record
        numbers the new records take from the counter."""
        rules.require_source(lookup, source)
        entries = [self._validated(index, raw, lookup, inventory_type) for index, raw in enumerate(records)]
        self._resolve_products(tenant_id, entries, lookup, source)
        self._resolve_warehouses(tenant_id, entries)
        self._resolve_existing(tenant_id, entries)
        self._plan_writes(tenant_id, entries, actor)
        news = [e.new for e in entries if e.new is not None]
        plan = UpsertPlan(
            creates=self._stock.new_records(tenant_id, news, actor, kind=MovementKind.COUNT, reason=COUNT_REASON),
            changes=[e.change for e in entries if e.change is not None],
        )
        plan.created, plan.updated = len(news), len(plan.changes)
        for entry in entries:
            if entry.new is None and entry.change is None:
                text = entry.error or "not written"
                field, found, message = text.partition(": ")
                plan.errors.append((entry.index, field, message) if found else (entry.index, "row", text))
        return plan

    # -- bulk steps -------------------------------------------------------------

    def _validated(self, index: int, raw: Mapping[str, Any], lookup: LookupKey, kind: InventoryType) -> _Entry:
        entry = _Entry(index)
        try:
            record = RecordInput.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            entry.error = f"{where}: {first['msg']}"
            return entry
        problems = rules.field_problems(record)
        if problems:
            entry.error = "; ".join(f"{p.at.path}: {p.message}" for p in problems)
            return entry
        named = getattr(record, rules.PRODUCT_FIELD[lookup])
        if named is None or named == "":
            entry.error = f"{rules.PRODUCT_FIELD[lookup]}: required with lookup key {lookup.value}"
            return entry
        owner, message = rules.owner_for(kind, record.supplier)
        if owner is None:
            entry.error = f"supplier: {message}"
            return entry
        entry.record, entry.owner = record, owner
        return entry

    def _resolve_products(self, tenant_id: str, entries: list[_Entry], lookup: LookupKey, source: str | None) -> None:
        live = [e for e in entries if e.record is not None]
        values = {e.index: _product_key(lookup, e.record, source) for e in live if e.record is not None}
        guard = {LookupKey.ID: PRODUCT_NUMBER, LookupKey.SKU: SKU, LookupKey.SOURCE_ID: SOURCE}[lookup]
        targets = self._store.guard_targets(tenant_id, guard, set(values.values()))
        products = self._catalog.get_products(tenant_id, sorted(set(targets.values())))
        for entry in live:
            product = products.get(targets.get(values[entry.index], ""))
            if product is None or not product.active:
                entry.error = f"{rules.PRODUCT_FIELD[lookup]}: product not found"
                entry.record = None
                continue
            sent_sku = entry.record.sku if entry.record else None
            if lookup != LookupKey.SKU and sent_sku is not None and sent_sku != product.sku:
                entry.error = f"sku: the product's SKU is {product.sku!r}"
                entry.record = None
                continue
            entry.product = product

    def _resolve_warehouses(self, tenant_id: str, entries: list[_Entry]) -> None:
        live = [e for e in entries if e.record is not None]
        numbers = {str(e.record.warehouseId) for e in live if e.record is not None and e.record.warehouseId}
        targets = self._store.guard_targets(tenant_id, LOCATION_NUMBER, numbers)
        default = default_location_id(tenant_id)
        for entry in live:
            assert entry.record is not None
            wanted = entry.record.warehouseId or 0
            location_id = default if wanted == 0 else targets.get(str(wanted))
            if location_id is None:
                entry.error = "warehouseId: warehouse not found"
                entry.record = None
                continue
            entry.location_id = location_id

    def _resolve_existing(self, tenant_id: str, entries: list[_Entry]) -> None:
        seen: dict[str, int] = {}
        for entry in entries:
            if entry.record is None or entry.product is None or entry.location_id is None or entry.owner is None:
                continue
            record = entry.record
            attributes = rules.attributes_of(record)
            entry.natural_key = rules.natural_key(
                entry.product.product_id,
                entry.owner,
                record.supplierCode or None,
                attributes.get("location"),
                entry.location_id,
                int(record.companyId or 0),
            )
            if entry.natural_key in seen:
                entry.error = f"duplicates record [{seen[entry.natural_key]}] of this request (same uniqueness key)"
                entry.record = None
                continue
            seen[entry.natural_key] = entry.index
        targets = self._store.guard_targets(tenant_id, STOCK_KEY, seen)
        found = self._records.get_records(tenant_id, targets.values()) if targets else {}
        for entry in entries:
            if entry.record is not None and entry.natural_key in targets:
                existing = found.get(targets[entry.natural_key])
                if existing is not None and existing.active:
                    entry.existing = existing

    def _plan_writes(self, tenant_id: str, entries: list[_Entry], actor: Actor) -> None:
        creates = [e for e in entries if e.record is not None and e.existing is None]
        numbers = iter(self._store.next_record_numbers(tenant_id, len(creates)))
        for entry in entries:
            record = entry.record
            if record is None or entry.product is None or entry.location_id is None or entry.owner is None:
                continue
            if entry.existing is None:
                entry.number = next(numbers)
                quantity = record.quantity or ZERO
                entry.new = NewStockRecord(
                    product_id=entry.product.product_id,
                    location_id=entry.location_id,
                    owner=entry.owner,
                    supplier_code=record.supplierCode or None,
                    # The row name other surfaces show (000 productName) is the product's.
                    name=entry.product.name,
                    attributes=rules.attributes_of(record),
                    natural_key=entry.natural_key,
                    quantity=quantity,
                    number=entry.number,
                )
                # record + natural-key guard + id guard (+ the count movement)
                entry.writes = 3 + (1 if quantity != 0 else 0)
                continue
            existing = entry.existing
            entry.number = existing.number
            attributes = rules.attributes_of(record, _v2_attributes(existing))
            set_fields, remove_fields = _field_changes(existing, attributes)
            entry.change = self._stock.counted_change(
                tenant_id,
                existing,
                record.quantity if record.quantity is not None else None,
                actor,
                kind=MovementKind.COUNT,
                reason=COUNT_REASON,
                expected_version=existing.version,
                set_fields=set_fields,
                remove_fields=tuple(remove_fields),
            )
            entry.writes = 1 + (1 if entry.change.movement is not None else 0)

    def _write(self, tenant_id: str, entries: list[_Entry], actor: Actor, command_id: str | None) -> None:
        batch: list[_Entry] = []
        size = 0
        part = 0
        keyed: set[str] = set()  # products whose stock keys this batch updates (one item each)
        for entry in entries:
            if entry.new is None and entry.change is None:
                continue
            product = entry.new.product_id if entry.new is not None else None
            cost = entry.writes + (1 if product is not None and product not in keyed else 0)
            if size + cost > TRANSACTION_ITEMS:
                self._commit(tenant_id, batch, actor, command_id, part)
                batch, size, part, keyed = [], 0, part + 1, set()
                cost = entry.writes + (1 if product is not None else 0)
            batch.append(entry)
            size += cost
            if product is not None:
                keyed.add(product)
        if batch:
            self._commit(tenant_id, batch, actor, command_id, part)

    def _commit(self, tenant_id: str, batch: list[_Entry], actor: Actor, command_id: str | None, part: int) -> None:
        uow = self._transactions.begin(f"{command_id}:{part}" if command_id else None)
        news = [e.new for e in batch if e.new is not None]
        changes = [e.change for e in batch if e.change is not None]
        if news:
            self._stock.create_records(tenant_id, news, actor, uow, kind=MovementKind.COUNT, reason=COUNT_REASON)
        if changes:
            self._stock.apply_changes(tenant_id, changes, uow)
        try:
            uow.commit()
        except DomainError as error:
            for entry in batch:
                entry.error = _bulk_error(error)
            return
        for entry in batch:
            entry.status = "created" if entry.new is not None else "updated"


def _product_key(lookup: LookupKey, record: RecordInput | None, source: str | None) -> str:
    assert record is not None
    if lookup == LookupKey.ID:
        return str(record.productId)
    if lookup == LookupKey.SKU:
        return str(record.sku)
    return f"{source}#{record.sourceId}"


def _bulk_error(error: DomainError) -> str:
    if error.code == "ALREADY_EXISTS":
        return "conflict: a record with this uniqueness key was written meanwhile; send it again"
    if error.code in {"STALE_VERSION", "EXPECTATION_FAILED"}:
        return "conflict: the record changed meanwhile; send it again"
    if error.code == "INSUFFICIENT_STOCK":
        return "quantity: below what is reserved or held"
    return f"{error.code.lower()}: {error.message}"
