"""The read-only views of stock requests (001): dashboard, per-category summary, filter values,
the product search and the stocklist of a location. A mixin of `StockRequestService`."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.models import ZERO, Product, StockRecord
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import STOCK_REQUEST
from chalicelib.features.stock_requests.model import Priority, StockRequest, StockRequestStore


class StockRequestViews:
    """Mixin of StockRequestService: the reports and lookups that change nothing."""

    _wh: WarehouseStock
    _catalog: CatalogService
    _store: StockRequestStore

    def dashboard(self, tenant_id: str) -> dict[str, Any]:
        requests = self._store.list_all(tenant_id)
        by_status = Counter(r.status for r in requests)
        waits: list[float] = []
        for r in requests:
            submitted = None
            for t in r.history:
                if t.action == "submit":
                    submitted = t.at
                elif t.action == "approve" and submitted is not None:
                    waits.append((t.at - submitted).total_seconds())
        wanted: Counter[str] = Counter()
        for r in requests:
            for line in r.lines:
                wanted[line.product_id] += line.quantity  # type: ignore[assignment]
        top = wanted.most_common(5)
        names = self._catalog.get_products(tenant_id, [p for p, _ in top]) if top else {}
        return {
            "total": len(requests),
            "byStatus": {state: by_status.get(state, 0) for state in STOCK_REQUEST.states},
            "pendingApprovals": by_status.get("submitted", 0),
            "averageTimeToApproveSeconds": round(sum(waits) / len(waits), 3) if waits else None,
            "topRequestedProducts": [
                {"productMasterId": p, "productName": names[p].name if p in names else None, "quantity": q}
                for p, q in top
            ],
        }

    def by_category(self, tenant_id: str) -> list[dict[str, Any]]:
        groups: dict[str | None, list[StockRequest]] = {}
        for r in self._store.list_all(tenant_id):
            groups.setdefault(r.category, []).append(r)
        return [
            {
                "category": category,
                "count": len(found),
                "byStatus": dict(Counter(r.status for r in found)),
                "quantity": sum((line.quantity for r in found for line in r.lines), ZERO),
            }
            for category, found in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ]

    def filters(self, tenant_id: str) -> dict[str, Any]:
        requests = self._store.list_all(tenant_id)
        return {
            "status": list(STOCK_REQUEST.states),
            "priority": [p.value for p in Priority],
            "category": sorted({r.category for r in requests if r.category}),
            "requestedBy": sorted(
                ({"id": i, "name": n} for i, n in {(r.requested_by_id, r.requested_by_name) for r in requests}),
                key=lambda e: e["name"],
            ),
            "locationId": sorted({r.location_id for r in requests} | {r.source_location_id for r in requests}),
        }

    def search_products(
        self, tenant_id: str, text: str, location_id: str | None, limit: int = 50
    ) -> list[tuple[Product, Decimal, Decimal]]:
        """Products whose name or SKU holds `text`, with what is available (everywhere, and at `location_id`)."""
        wanted = text.casefold().strip()
        found: list[Product] = []
        cursor = None
        while True:
            page = self._catalog.list_products(tenant_id, 200, cursor)
            found += [
                p
                for p in page.items
                if p.active and (not wanted or wanted in p.name.casefold() or wanted in (p.sku or "").casefold())
            ]
            cursor = page.cursor
            if cursor is None or len(found) >= limit:
                break
        found = sorted(found, key=lambda p: p.name.casefold())[:limit]
        records = self._wh.records_of(tenant_id, [p.product_id for p in found])
        out = []
        for p in found:
            mine = [r for r in records.get(p.product_id, []) if r.in_transit is None]
            total = sum((r.available for r in mine), ZERO)
            here = sum((r.available for r in mine if r.location_id == location_id), ZERO)
            out.append((p, total, here))
        return out

    def stocklist(self, tenant_id: str, location_id: str) -> list[tuple[Product | None, list[StockRecord]]]:
        """What `location_id` can give: its records with stock available, by product."""
        self._wh.location(tenant_id, location_id)
        records = [
            r
            for r in self._wh.inventory(tenant_id, location_id=location_id)
            if r.in_transit is None and r.available > 0
        ]
        by_product: dict[str, list[StockRecord]] = {}
        for r in records:
            by_product.setdefault(r.product_id, []).append(r)
        products = self._catalog.get_products(tenant_id, list(by_product))
        return [(products.get(pid), rs) for pid, rs in by_product.items()]
