"""MultiSourceService search: records matching a filter, sorted and paged, now or as of a moment."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import default_location_id
from chalicelib.core.errors import ValidationFailed, problem
from chalicelib.core.models import StockRecord
from chalicelib.core.stock.asof import as_moment, existed_at, records_as_of
from chalicelib.core.stock.ownership import INTERN
from chalicelib.features.multisource.base import MultiSourceBase
from chalicelib.features.multisource.model import (
    MAX_SEARCH_MATCHES,
    InventoryRecord,
    InventoryType,
    SearchQuery,
    SearchResult,
    SortField,
)
from chalicelib.features.multisource.ports import LOCATION_NUMBER, PRODUCT_NUMBER, SKU, SearchPlan

# An as-of search that filters or sorts by quantity reads the figures of every match (one Query each).
MAX_AS_OF_MATCHES = 1000


class RecordSearch(MultiSourceBase):
    """Mixin of MultiSourceService: the search (one driving index, the other filters in DynamoDB)."""

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
