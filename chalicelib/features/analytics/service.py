"""Inventory analytics over the ledger's time index (gsi1 `T#t#LEDGER`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from chalicelib.core.errors import NotFound
from chalicelib.core.models import Location, Movement, Product
from chalicelib.features.analytics.aggregate import Analytics, Scope, analyse


class LedgerReader(Protocol):
    def movements_until(self, tenant_id: str, end: datetime) -> Iterator[Movement]:
        """Every ledger line of the tenant up to `end`, in time order (the ledger's time index)."""
        ...


class CatalogReader(Protocol):
    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]: ...

    def get_location(self, tenant_id: str, location_id: str) -> Location | None: ...


class AnalyticsService:
    def __init__(self, ledger: LedgerReader, catalog: CatalogReader) -> None:
        self._ledger = ledger
        self._catalog = catalog

    def analytics(self, tenant_id: str, scope: Scope) -> tuple[Analytics, dict[str, Product]]:
        """The period's figures, and the products they name (for names and SKUs).

        Cost: the time-index Query pages up to the end of the period, and one
        BatchGetItem per 100 distinct products (+ one GetItem of the location
        filter); nothing per line.
        """
        if scope.location_id is not None:
            # A location of another company (or none) is a 404 naming it, not a page of zeros.
            location = self._catalog.get_location(tenant_id, scope.location_id)
            if location is None or not location.active:
                raise NotFound(
                    f"location {scope.location_id} not found", [{"field": "locationId", "message": "not found"}]
                )
        movements = list(self._ledger.movements_until(tenant_id, scope.end))
        products = self._catalog.get_products(tenant_id, sorted({m.product_id for m in movements}))
        return analyse(movements, products, scope), products
