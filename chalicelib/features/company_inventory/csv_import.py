"""The 000 inventory CSV import: what a row of the upload means.

Columns are the template's (documented 000 names, any case). A row with an
inventoryId updates that item; a row without one creates an item. A blank
cell leaves a field as it is on update and unset on create. A `version` cell,
when given, must match the item's version (the download's optimistic lock:
a row edited in a spreadsheet after someone else changed the item fails
instead of overwriting them). The download's server-owned columns (labels,
millCertificationId, linkedOrders, timestamps, companyId) are accepted and
ignored, so a download can be edited and uploaded again. Unknown columns
reject the file: a misspelt column would otherwise drop its data silently.

The same rules as the JSON routes apply (check_item: lengths, control
characters and the core's number bounds; the reference checks; the same
guarded write per item); the difference is that a bad row is reported and
skipped, not fatal to the others.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import default_location_id
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.imports import registry
from chalicelib.core.imports.csvcells import parse_decimal, unneutralised
from chalicelib.core.imports.jobs import ChunkPlan, FileRejected, Row, RowError
from chalicelib.core.models import Actor, MovementKind, StockRecord
from chalicelib.core.ports import BatchReads, Wanted
from chalicelib.core.reference.service import LOCATION, RefKey, Resolved
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.company_inventory.csv_columns import IGNORED, UPLOAD_FIELDS
from chalicelib.features.company_inventory.service import (
    FOREIGN_KEYS,
    NUMBER_ATTRIBUTES,
    TEXT_ATTRIBUTES,
    InventoryService,
    ItemInput,
    check_item,
    default_location_key,
    documented,
    new_products,
    product_id_for,
)

KIND = "inventory"
ROW_NAMESPACE = uuid.UUID("0b5f6c1e-83a4-4f7d-a2c6-5e9d1b7f3a20")


# The rows of a file point at a few references (locations, types, materials, suppliers) chunk after
# chunk. A reference read less than REFERENCE_SECONDS ago is taken as read, so a chunk reads only what
# it has not seen lately; a reference deleted meanwhile is refused from REFERENCE_SECONDS after its
# delete on (the chunk transaction never guarded on references anyway: a chunk's read was already a
# moment older than its commit). Products are never deleted: one seen to exist is remembered.
REFERENCE_SECONDS = 5.0
REMEMBERED = 10_000  # entries of each kind, at most; forgotten all at once beyond that


class RecentReads:
    """What earlier chunks read, for the chunks after them (one per importer, any job or tenant)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._references: dict[tuple[str, RefKey], tuple[float, Resolved]] = {}
        self._products: set[tuple[str, str]] = set()

    def references(self, tenant_id: str, keys: set[RefKey]) -> dict[RefKey, Resolved]:
        oldest = self._clock() - REFERENCE_SECONDS
        fresh = {}
        for key in keys:
            seen = self._references.get((tenant_id, key))
            if seen is not None and seen[0] > oldest:
                fresh[key] = seen[1]
        return fresh

    def products(self, tenant_id: str, ids: set[str]) -> set[str]:
        return {i for i in ids if (tenant_id, i) in self._products}

    def remember(self, tenant_id: str, references: dict[RefKey, Resolved], products: set[str]) -> None:
        if len(self._references) + len(references) > REMEMBERED:
            self._references.clear()
        if len(self._products) + len(products) > REMEMBERED:
            self._products.clear()
        now = self._clock()
        self._references.update({(tenant_id, key): (now, found) for key, found in references.items()})
        self._products.update((tenant_id, i) for i in products)


class InventoryImporter:
    def __init__(
        self, inventory: InventoryService, stock: StockService, reads: BatchReads, recent: RecentReads | None = None
    ) -> None:
        self._inventory = inventory
        self._stock = stock
        self._reads = reads
        self._recent = recent or RecentReads()

    def check_header(self, columns: list[str]) -> None:
        named = [c for c in columns if c]
        unknown = [c for c in named if c not in UPLOAD_FIELDS and c not in IGNORED]
        if unknown:
            raise FileRejected(f"line 1: unknown column {unknown[0]!r}; the template lists the columns an upload takes")
        repeated = next((c for c in named if named.count(c) > 1), None)
        if repeated:
            raise FileRejected(f"line 1: column {repeated!r} appears twice")
        if "inventoryid" not in named and "productname" not in named:
            raise FileRejected("line 1: a productName column (to create items) or inventoryId (to update) is required")

    def key_of(self, row: Row) -> str | None:
        return row.cells.get("inventoryid", "").strip() or None

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        plan = ChunkPlan()
        parsed: list[tuple[Row, ItemInput]] = []
        for row in rows:
            item, errors = _parse(row)
            plan.errors += errors
            if item is not None and not errors:
                parsed.append((row, item))
        # One batched read for the whole chunk: the records its rows update, and the references and
        # products it needs that no chunk read lately (RecentReads); often that is the records alone.
        # The same read fetches the default location when a new row has no location; a company that
        # predates default locations gets it now (once), before the chunk's records point at it.
        references = {key for _, item in parsed for key in _references(item)}
        homeless = any(not item.stock_id and not item.location_id for _, item in parsed)
        if homeless:
            references.add(default_location_key(tenant_id))
        products = {product_id_for(tenant_id, name) for name in _product_names(parsed)}
        known_references = self._recent.references(tenant_id, references)
        known_products = self._recent.products(tenant_id, products)
        found = self._reads.read(
            tenant_id,
            Wanted(
                records={i.stock_id for _, i in parsed if i.stock_id},
                products=products - known_products,
                references=references - known_references.keys(),
            ),
        )
        self._recent.remember(tenant_id, found.references, found.products)
        found.references.update(known_references)
        found.products |= known_products
        if homeless:
            self._inventory.default_location_id(tenant_id, found.references, actor)
        parsed = _known_references(parsed, found.references, plan)
        records = found.records
        plan.products = new_products(tenant_id, _product_names(parsed), found.products)
        news: list[NewStockRecord] = []
        for row, item in parsed:
            if item.stock_id:
                self._plan_update(tenant_id, row, item, records.get(item.stock_id), actor, plan)
            else:
                news.append(_new_record(tenant_id, job_id, row, item))
        plan.creates = self._stock.new_records(tenant_id, news, actor)
        plan.created = len(news)
        plan.errors.sort(key=lambda e: e.line)
        return plan

    def _plan_update(
        self, tenant_id: str, row: Row, item: ItemInput, record: StockRecord | None, actor: Actor, plan: ChunkPlan
    ) -> None:
        if record is None or not record.active:
            plan.errors.append(RowError(line=row.line, field="inventoryId", message=f"{item.stock_id} not found"))
            return
        if item.version is not None and item.version != record.version:
            message = f"the item is at version {record.version}, the file has {item.version}"
            plan.errors.append(RowError(line=row.line, field="version", message=message))
            return
        reason = f"CSV import line {row.line}"
        change = self._inventory.change_for(tenant_id, record, item, actor, kind=MovementKind.IMPORT, reason=reason)
        plan.changes.append(change)
        plan.updated += 1


def _known_references(
    parsed: list[tuple[Row, ItemInput]], resolved: dict[RefKey, Resolved], plan: ChunkPlan
) -> list[tuple[Row, ItemInput]]:
    """Rows whose foreign keys all exist, active, in this company; the others become row errors."""
    kept = []
    for row, item in parsed:
        missing = [
            RowError(line=row.line, field=documented(attr), message=f"{value} not found")
            for (kind, value), attr in _references_by_field(item)
            if not (found := resolved.get((kind, value))) or not found.active
        ]
        plan.errors += missing
        if not missing:
            kept.append((row, item))
    return kept


def _product_names(parsed: list[tuple[Row, ItemInput]]) -> list[str]:
    """The names whose products the rows need: every create's, and an update's that renames."""
    return [i.name for _, i in parsed if i.name and (not i.stock_id or "name" in i.given)]


def _parse(row: Row) -> tuple[ItemInput | None, list[RowError]]:
    if row.problem:
        return None, [RowError(line=row.line, field="row", message=row.problem)]
    values: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    errors: list[RowError] = []
    for column, raw in row.cells.items():
        text = unneutralised(raw.strip())
        core = UPLOAD_FIELDS.get(column)
        if core is None or not text:
            continue
        try:
            value = _convert(core, text)
        except ValueError as exc:
            errors.append(RowError(line=row.line, field=documented(core), message=str(exc)))
            continue
        if core in (*TEXT_ATTRIBUTES, *NUMBER_ATTRIBUTES):
            attributes[core] = value
        else:
            values[core] = value
    if errors:
        return None, errors
    given = frozenset(values) | frozenset(attributes)
    item = ItemInput(given=given, attributes=attributes, **values)
    try:
        check_item(0, item, creating=not item.stock_id)
    except ValidationFailed as exc:
        return None, [RowError(line=row.line, field=p.at.field, message=p.text()) for p in exc.problems]
    return item, []


def _convert(core: str, text: str) -> Any:
    if core == "version":
        if not text.isdigit():
            raise ValueError("must be a whole number")
        return int(text)
    if core == "quantity" or core in NUMBER_ATTRIBUTES:
        return parse_decimal(text)
    # Text is held to check_item's rules (length, control characters), as on the JSON routes.
    return text


def _references_by_field(item: ItemInput) -> list[tuple[RefKey, str]]:
    found: list[tuple[RefKey, str]] = [
        ((kind, str(item.attributes[attr])), attr) for attr, kind in FOREIGN_KEYS.items() if item.attributes.get(attr)
    ]
    if item.location_id:
        found.append(((LOCATION, item.location_id), "location_id"))
    return found


def _references(item: ItemInput) -> list[RefKey]:
    return [key for key, _ in _references_by_field(item)]


def _new_record(tenant_id: str, job_id: str, row: Row, item: ItemInput) -> NewStockRecord:
    name = item.name or ""
    attributes = {k: v for k, v in item.attributes.items() if v is not None}
    return NewStockRecord(
        # The same row of the same job always makes the same record.
        stock_id=str(uuid.uuid5(ROW_NAMESPACE, f"{tenant_id}\0{job_id}\0{row.line}")),
        product_id=product_id_for(tenant_id, name),
        # Without a stockLocationId the item goes to the company's default location.
        location_id=item.location_id or default_location_id(tenant_id),
        name=name,
        attributes=attributes,
        quantity=item.quantity if item.quantity is not None else Decimal(0),
    )


def _build(services: Any) -> InventoryImporter:
    return InventoryImporter(services.inventory_service(), services.stock_service(), services.batch_reads())


registry.register(
    registry.ImportKind(KIND, Permission.INVENTORY_READ, Permission.INVENTORY_WRITE, _build, "inventory items")
)
