"""MultiSourceService: the 004 multi-source inventory over the core's stock records.

Every method takes and returns the document's terms (numeric ids, `supplier`,
`quantity`, ...), so the REST surface and a GraphQL layer are translation
only. Reads are batched (BatchGetItem for ids, one index Query per product
or warehouse, run together); every quantity change is a counted change of the
core's `StockService`, written in units of work of at most TRANSACTION_ITEMS
items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from chalicelib.core.catalog.service import CatalogService, default_location_id
from chalicelib.core.errors import (
    Conflict,
    DomainError,
    InvalidState,
    NotFound,
    Problem,
    ValidationFailed,
    problem,
)
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, Actor, Movement, MovementKind, Product, StockRecord
from chalicelib.core.ports import StockChange, StockStore, Transactions
from chalicelib.core.stock.asof import as_moment, existed_at, records_as_of
from chalicelib.core.stock.ownership import INTERN, is_own_stock
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.features.multisource import rules
from chalicelib.features.multisource.model import (
    MAX_BULK,
    MAX_SEARCH_MATCHES,
    BulkResult,
    BulkResultEntry,
    InventoryRecord,
    InventoryType,
    LookupKey,
    ProductInventory,
    ProductView,
    RecordInput,
    SearchQuery,
    SearchResult,
    SortField,
)
from chalicelib.features.multisource.ports import (
    LOCATION_NUMBER,
    PRODUCT_NUMBER,
    SKU,
    SOURCE,
    STOCK_KEY,
    STOCK_NUMBER,
    MultiSourceStore,
    SearchPlan,
)

COUNT_REASON = "multi-source inventory count"
# An as-of search that filters or sorts by quantity reads the figures of every match (one Query each).
MAX_AS_OF_MATCHES = 1000
WRITE_OFF_REASON = "written off: inventory record deleted"


@dataclass(frozen=True)
class ProductRef:
    """How a request names a product: a lookup key, its value, and the source for sourceId."""

    lookup: LookupKey
    key: str
    source: str | None = None


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


class MultiSourceService:
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

    # -- reads --------------------------------------------------------------

    def get_record(self, tenant_id: str, record_id: int) -> InventoryRecord:
        """One record by its numeric id (404 when unknown, deleted or another company's)."""
        found = self.get_records(tenant_id, [record_id])
        if record_id not in found:
            raise NotFound(f"inventory record {record_id} not found")
        return found[record_id]

    def get_records(
        self, tenant_id: str, record_ids: Sequence[int], as_of: datetime | None = None
    ) -> dict[int, InventoryRecord]:
        """Records by numeric id, batched (for GraphQL entities): unknown ids are left out.

        With `as_of`: the records that existed then (deleted since included), each `quantity` its on hand
        then (core/stock/asof.py: two Queries per record); a moment in the future is a 400.
        """
        moment = as_moment(as_of) if as_of is not None else None
        targets = self._store.guard_targets(tenant_id, STOCK_NUMBER, [str(i) for i in record_ids])
        found = list(self._records.get_records(tenant_id, targets.values()).values())
        if moment is None:
            records = [r for r in found if r.active]
        else:
            records = records_as_of(found, self._stock.figures_as_of(found, moment))
        return {view.id: view for view in self._views(tenant_id, records)}

    def product_inventory(
        self, tenant_id: str, ref: ProductRef, warehouse_id: int | None = None, as_of: datetime | None = None
    ) -> ProductInventory:
        """A product's aggregated quantities and records, optionally in one warehouse (404: product, warehouse).

        With `as_of`, every figure (on hand, reserved, held) and each record's quantity are those of that
        moment, over the records that existed then (core/stock/asof.py: two Queries per record, 16 records at a time of
        the product, in that warehouse when one is given); the rest is as it is now.
        """
        if as_of is not None:
            as_moment(as_of)  # a moment in the future is a 400 before anything is read
        product = self._product(tenant_id, ref)
        location_id = self._warehouse(tenant_id, warehouse_id) if warehouse_id is not None else None
        records = self._records.records_for_product(tenant_id, product.product_id)
        if as_of is not None:
            chosen = [r for r in records if location_id is None or r.location_id == location_id]
            records = records_as_of(chosen, self._stock.figures_as_of(chosen, as_of, with_claims=True))
        return self._aggregate(tenant_id, product, records, location_id)

    def products_inventory(
        self,
        tenant_id: str,
        product_ids: Sequence[int],
        warehouse_id: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[int, ProductInventory]:
        """Aggregated inventory of many products by numeric id, batched (for GraphQL entities and lists).

        Guards and products cost one BatchGetItem each per 100 ids; the records are the stock store's
        batched read of many products (`records_for_products`). Unknown or deleted ids are left out; an
        unknown `warehouse_id` is a NotFound. `as_of` as for `product_inventory`.
        """
        if as_of is not None:
            as_moment(as_of)
        location_id = self._warehouse(tenant_id, warehouse_id) if warehouse_id is not None else None
        targets = self._store.guard_targets(tenant_id, PRODUCT_NUMBER, [str(i) for i in product_ids])
        products = {p.product_id: p for p in self._catalog.get_products(tenant_id, list(targets.values())).values()}
        found = self._aggregates(tenant_id, {pid: p for pid, p in products.items() if p.active}, location_id, as_of)
        return {aggregate.productId or 0: aggregate for aggregate in found.values()}

    def inventories(
        self,
        tenant_id: str,
        refs: Sequence[ProductRef],
        warehouse_id: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[ProductRef, ProductInventory | DomainError]:
        """`product_inventory` of many lookups at once (aliased GraphQL root fields): each ref's aggregate,
        or the error it alone gets (a bad key, an unknown product). One guard BatchGetItem per lookup kind
        used, one products BatchGetItem, then the batched records read, whatever the number of refs."""
        if as_of is not None:
            as_moment(as_of)
        location_id = self._warehouse(tenant_id, warehouse_id) if warehouse_id is not None else None
        answer: dict[ProductRef, ProductInventory | DomainError] = {}
        wanted: dict[str, dict[str, list[ProductRef]]] = {}
        for ref in dict.fromkeys(refs):
            try:
                guard, value = _guard_of(ref)
            except DomainError as error:
                answer[ref] = error
                continue
            wanted.setdefault(guard, {}).setdefault(value, []).append(ref)
        target_of: dict[ProductRef, str] = {}
        for guard, values in wanted.items():
            for value, target in self._store.guard_targets(tenant_id, guard, list(values)).items():
                for ref in values.get(value, []):
                    target_of[ref] = target
        products = self._catalog.get_products(tenant_id, sorted(set(target_of.values())))
        active = {pid: p for pid, p in products.items() if p.active}
        aggregates = self._aggregates(tenant_id, active, location_id, as_of)
        for guard_values in wanted.values():
            for refs_of_value in guard_values.values():
                for ref in refs_of_value:
                    product_id = target_of.get(ref)
                    if product_id is not None and product_id in aggregates:
                        answer[ref] = aggregates[product_id]
                    else:
                        answer[ref] = NotFound(f"product {ref.lookup.value}={ref.key} not found")
        return answer

    def _aggregates(
        self, tenant_id: str, products: Mapping[str, Product], location_id: str | None, as_of: datetime | None
    ) -> dict[str, ProductInventory]:
        """Each product's aggregate (by core product id): one batched records read for all of them."""
        by_product = self._records.records_for_products(tenant_id, list(products))
        if as_of is None:
            chosen = [r for records in by_product.values() for r in records if r.active]
        else:
            # The records of then (deleted since included), each with its figures of then (core/stock/asof.py).
            every_record = [r for records in by_product.values() for r in records]
            then = [r for r in every_record if location_id is None or r.location_id == location_id]
            chosen = records_as_of(then, self._stock.figures_as_of(then, as_of, with_claims=True))
        every = self._numbered(tenant_id, chosen)
        grouped: dict[str, list[StockRecord]] = {}
        for record in every:
            grouped.setdefault(record.product_id, []).append(record)
        views = {v.id: v for v in self._views(tenant_id, every, products)}
        return {pid: _aggregate(p, grouped.get(pid, []), location_id, views) for pid, p in products.items()}

    def search(self, tenant_id: str, query: SearchQuery, as_of: datetime | None = None) -> SearchResult:
        """Records matching the filter, sorted and paged: `{data, pagination: {page, pageSize, totalCount}}`.

        One driving index serves the query (products, warehouses, or the record-type partitions);
        the other filters run in DynamoDB; more than MAX_SEARCH_MATCHES matches is a 400.
        With `as_of`: see `_search_as_of`.
        """
        if as_of is not None:
            return self._search_as_of(tenant_id, query, as_moment(as_of))
        plan = self._plan(tenant_id, query)
        found = [] if plan is None else self._store.search(tenant_id, plan)
        if len(found) > MAX_SEARCH_MATCHES:
            raise ValidationFailed(
                f"more than {MAX_SEARCH_MATCHES} records match: narrow the filter",
                [problem("filter", f"matches more than {MAX_SEARCH_MATCHES} records")],
            )
        matches = [r for r in found if r.active]
        start = (query.page - 1) * query.pageSize
        pagination = {"page": query.page, "pageSize": query.pageSize, "totalCount": len(matches)}
        if any(sort.field in VIEW_SORTS for sort in query.sort):
            # Sorted by what only the products or warehouses say: every match is shown to be sorted.
            views = _sorted(self._views(tenant_id, matches), query)
            return SearchResult(data=views[start : start + query.pageSize], pagination=pagination)
        page = _sorted_records(matches, query)[start : start + query.pageSize]
        return SearchResult(data=self._views(tenant_id, page), pagination=pagination)

    def _search_as_of(self, tenant_id: str, query: SearchQuery, as_of: datetime) -> SearchResult:
        """The search over the records as they were at `as_of`.

        The records that existed then match (one created later does not; one deleted since does,
        decided from the records, no read), with their quantity then. The quantity filters and the
        quantity sort apply to the quantity then, so they need the figures of every match (at most
        MAX_AS_OF_MATCHES, else a 400); otherwise only the page's records are read as of the moment
        (one Query each, 16 at a time). The other filters and sorts apply to the records as they are now.
        A record deleted before it was ever given a v2 id (a record of another surface) is not listed.
        """
        f = query.filter
        quantified = f.minQuantity is not None or f.maxQuantity is not None
        quantified = quantified or any(sort.field == SortField.QUANTITY for sort in query.sort)
        unquantified = query.model_copy(
            update={"filter": f.model_copy(update={"minQuantity": None, "maxQuantity": None})}
        )
        plan = self._plan(tenant_id, unquantified)
        found = [] if plan is None else self._store.search(tenant_id, replace(plan, include_deleted=True))
        if len(found) > MAX_SEARCH_MATCHES:
            raise ValidationFailed(
                f"more than {MAX_SEARCH_MATCHES} records match: narrow the filter",
                [problem("filter", f"matches more than {MAX_SEARCH_MATCHES} records")],
            )
        # Counted as active then (records_as_of); one deleted before it was ever given a v2 id is left out.
        matches = [
            r.model_copy(update={"active": True})
            for r in found
            if existed_at(r, as_of) and (r.active or r.number is not None)
        ]
        if quantified:
            if len(matches) > MAX_AS_OF_MATCHES:
                raise ValidationFailed(
                    f"more than {MAX_AS_OF_MATCHES} records match a quantity filter or sort as of a moment: "
                    "narrow the filter",
                    [problem("asOf", f"a quantity filter or sort as of a moment reads at most {MAX_AS_OF_MATCHES}")],
                )
            matches = records_as_of(matches, self._stock.figures_as_of(matches, as_of))
            matches = [
                r
                for r in matches
                if (f.minQuantity is None or r.on_hand >= f.minQuantity)
                and (f.maxQuantity is None or r.on_hand <= f.maxQuantity)
            ]
        start = (query.page - 1) * query.pageSize
        pagination = {"page": query.page, "pageSize": query.pageSize, "totalCount": len(matches)}
        if any(sort.field in VIEW_SORTS for sort in query.sort):
            matches = self._numbered(tenant_id, matches)
            by_number = {r.number or 0: r for r in matches}
            views = _sorted(self._views(tenant_id, matches), query)[start : start + query.pageSize]
            page = [by_number[v.id] for v in views]
        else:
            page = _sorted_records(matches, query)[start : start + query.pageSize]
        if not quantified:
            page = records_as_of(page, self._stock.figures_as_of(page, as_of))
        return SearchResult(data=self._views(tenant_id, page), pagination=pagination)

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

    # -- helpers ----------------------------------------------------------------

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

    def _aggregate(
        self, tenant_id: str, product: Product, records: list[StockRecord], location_id: str | None
    ) -> ProductInventory:
        chosen = [r for r in records if r.active and (location_id is None or r.location_id == location_id)]
        # Numbered first, so that a record of another surface seen for the first time is among the records.
        active = self._numbered(tenant_id, chosen)
        views = {v.id: v for v in self._views(tenant_id, active, {product.product_id: product})}
        return _aggregate(product, active, location_id, views)

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

    def _plan(self, tenant_id: str, query: SearchQuery) -> SearchPlan | None:
        """The driving index and the filters of a search; None when nothing can match."""
        f = query.filter
        owner = f.supplier.strip() if f.supplier else None
        local_only = f.inventoryType == InventoryType.LOCAL or (owner is not None and owner.upper() == INTERN)
        supplier_only = f.inventoryType == InventoryType.SUPPLIER or (owner is not None and owner.upper() != INTERN)
        if local_only and supplier_only:
            return None
        product_ids: set[str] | None = None
        if f.productIds:
            found = self._store.guard_targets(tenant_id, PRODUCT_NUMBER, [str(n) for n in f.productIds])
            product_ids = set(found.values())
        if f.skus:
            by_sku = set(self._store.guard_targets(tenant_id, SKU, f.skus).values())
            product_ids = by_sku if product_ids is None else product_ids & by_sku
        location_ids: list[str] | None = None
        if f.warehouseIds:
            numbered = [str(n) for n in f.warehouseIds if n != 0]
            found_locations = self._store.guard_targets(tenant_id, LOCATION_NUMBER, numbered)
            location_ids = list(found_locations.values())
            if 0 in f.warehouseIds:
                location_ids.append(default_location_id(tenant_id))
        if (product_ids is not None and not product_ids) or (location_ids is not None and not location_ids):
            return None
        common: dict[str, Any] = {
            "owner": None if owner is None or owner.upper() == INTERN else owner,
            "local_only": local_only,
            "supplier_only": supplier_only,
            "place": f.location,
            "company": f.companyId,
            "min_quantity": f.minQuantity,
            "max_quantity": f.maxQuantity,
            "modified_since": f.modifiedSince,
            "limit": MAX_SEARCH_MATCHES + 1,
        }
        if product_ids is not None:
            return SearchPlan(
                product_ids=tuple(sorted(product_ids)), location_ids_filter=tuple(location_ids or ()), **common
            )
        if location_ids is not None:
            return SearchPlan(location_ids=tuple(location_ids), **common)
        types = ("local",) if local_only else ("supplier",) if supplier_only else ("local", "supplier")
        return SearchPlan(types=types, **common)


# -- views and pure helpers ---------------------------------------------------------


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


def _aggregate(
    product: Product,
    records: Iterable[StockRecord],
    location_id: str | None,
    views: Mapping[int, InventoryRecord],
) -> ProductInventory:
    chosen = [r for r in records if r.active and (location_id is None or r.location_id == location_id)]
    own = [r for r in chosen if is_own_stock(r)]
    local = sum((r.on_hand for r in own), ZERO)
    supplier = sum((r.on_hand for r in chosen if not is_own_stock(r)), ZERO)
    reserved = sum((r.reserved for r in own), ZERO)
    held = sum((r.held for r in own), ZERO)
    shown = [views[r.number] for r in chosen if r.number is not None and r.number in views]
    return ProductInventory(
        productId=product.number,
        sku=product.sku,
        totalQuantity=local + supplier,
        localQuantity=local,
        supplierQuantity=supplier,
        reservedQuantity=reserved,
        availableQuantity=local - reserved - held,
        records=sorted(shown, key=lambda v: v.id),
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


def _product_key(lookup: LookupKey, record: RecordInput | None, source: str | None) -> str:
    assert record is not None
    if lookup == LookupKey.ID:
        return str(record.productId)
    if lookup == LookupKey.SKU:
        return str(record.sku)
    return f"{source}#{record.sourceId}"


V2_ATTRIBUTES = ("location", "companyId", "costPrice", "notes", "nextDeliveryDate")


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


def _bulk_error(error: DomainError) -> str:
    if error.code == "ALREADY_EXISTS":
        return "conflict: a record with this uniqueness key was written meanwhile; send it again"
    if error.code in {"STALE_VERSION", "EXPECTATION_FAILED"}:
        return "conflict: the record changed meanwhile; send it again"
    if error.code == "INSUFFICIENT_STOCK":
        return "quantity: below what is reserved or held"
    return f"{error.code.lower()}: {error.message}"


SORT_KEYS = {
    SortField.ID: lambda v: v.id,
    SortField.PRODUCT_ID: lambda v: v.productId or 0,
    SortField.QUANTITY: lambda v: v.quantity,
    SortField.SUPPLIER: lambda v: v.supplier,
    SortField.SUPPLIER_CODE: lambda v: v.supplierCode or "",
    SortField.SKU: lambda v: v.sku or "",
    SortField.WAREHOUSE_ID: lambda v: v.warehouseId or 0,
    SortField.COMPANY_ID: lambda v: v.companyId,
    SortField.LOCATION: lambda v: v.location or "",
    SortField.COST_PRICE: lambda v: v.costPrice if v.costPrice is not None else Decimal(-1),
    SortField.NEXT_DELIVERY_DATE: lambda v: v.nextDeliveryDate or "",
    SortField.CREATED_AT: lambda v: v.createdAt,
    SortField.LAST_MODIFIED_AT: lambda v: v.lastModifiedAt,
}


# Sort fields a stock record answers itself; the others need its product or warehouse.
VIEW_SORTS = frozenset({SortField.PRODUCT_ID, SortField.SKU, SortField.WAREHOUSE_ID})
RECORD_SORT_KEYS = {
    SortField.ID: lambda r: r.number or 0,
    SortField.QUANTITY: lambda r: r.on_hand,
    SortField.SUPPLIER: lambda r: r.owner,
    SortField.SUPPLIER_CODE: lambda r: r.supplier_code or "",
    SortField.COMPANY_ID: lambda r: int(r.attributes.get("companyId") or 0),
    SortField.LOCATION: lambda r: r.attributes.get("location") or "",
    SortField.COST_PRICE: lambda r: Decimal(str(r.attributes.get("costPrice", -1))),
    SortField.NEXT_DELIVERY_DATE: lambda r: r.attributes.get("nextDeliveryDate") or "",
    SortField.CREATED_AT: lambda r: r.created_at,
    SortField.LAST_MODIFIED_AT: lambda r: r.updated_at,
}


def _sorted_records(records: list[StockRecord], query: SearchQuery) -> list[StockRecord]:
    ordered = sorted(records, key=lambda r: (r.number is None, r.number or 0, r.stock_id))
    for sort in reversed(query.sort):
        ordered.sort(key=RECORD_SORT_KEYS[sort.field], reverse=sort.direction.value == "desc")
    return ordered


def _sorted(views: list[InventoryRecord], query: SearchQuery) -> list[InventoryRecord]:
    ordered = sorted(views, key=lambda v: v.id)
    for sort in reversed(query.sort):
        ordered.sort(key=SORT_KEYS[sort.field], reverse=sort.direction.value == "desc")
    return ordered
