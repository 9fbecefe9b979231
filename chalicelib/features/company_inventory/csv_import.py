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

import uuid
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import default_location_id
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.imports import registry
from chalicelib.core.imports.csvcells import parse_decimal, unneutralised
from chalicelib.core.imports.jobs import ChunkPlan, FileRejected, Row, RowError
from chalicelib.core.models import Actor, MovementKind, StockRecord
from chalicelib.core.ports import StockStore
from chalicelib.core.reference.service import LOCATION, ReferenceService, RefKey
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
    product_id_for,
)

KIND = "inventory"
ROW_NAMESPACE = uuid.UUID("0b5f6c1e-83a4-4f7d-a2c6-5e9d1b7f3a20")


class InventoryImporter:
    def __init__(
        self, inventory: InventoryService, stock: StockService, records: StockStore, reference: ReferenceService
    ) -> None:
        self._inventory = inventory
        self._stock = stock
        self._records = records
        self._reference = reference

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
        parsed = self._known_references(tenant_id, parsed, plan, actor)
        records = self._records.get_records(tenant_id, [i.stock_id for _, i in parsed if i.stock_id])
        names = [i.name for _, i in parsed if i.name and (not i.stock_id or "name" in i.given)]
        plan.products = self._inventory.missing_products(tenant_id, names)
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
        self, tenant_id: str, parsed: list[tuple[Row, ItemInput]], plan: ChunkPlan, actor: Actor
    ) -> list[tuple[Row, ItemInput]]:
        """Rows whose foreign keys all exist, active, in this company (one batched read for the chunk).

        The same read fetches the default location when a new row has no location; a company that
        predates default locations gets it now (once), before the chunk's records point at it.
        """
        wanted = [k for _, item in parsed for k in _references(item)]
        homeless = any(not item.stock_id and not item.location_id for _, item in parsed)
        if homeless:
            wanted.append(default_location_key(tenant_id))
        resolved = self._reference.resolve(tenant_id, wanted)
        if homeless:
            self._inventory.default_location_id(tenant_id, resolved, actor)
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
    return InventoryImporter(
        services.inventory_service(), services.stock_service(), services.stock_store(), services.reference_service()
    )


registry.register(
    registry.ImportKind(KIND, Permission.INVENTORY_READ, Permission.INVENTORY_WRITE, _build, "inventory items")
)
