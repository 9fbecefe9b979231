"""Inventory analytics over the ledger's time index (gsi1 `T#t#LEDGER`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from chalicelib.core.models import Movement, Product
from chalicelib.features.analytics.aggregate import Analytics, Scope, analyse


class LedgerReader(Protocol):
    def movements_until(self, tenant_id: str, end: datetime) -> Iterator[Movement]:
        """Every ledger line of the tenant up to `end`, in time order (the ledger's time index)."""
        ...


class ProductReader(Protocol):
    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]: ...


class AnalyticsService:
    def __init__(self, ledger: LedgerReader, products: ProductReader) -> None:
        self._ledger = ledger
        self._products = products

    def analytics(self, tenant_id: str, scope: Scope) -> tuple[Analytics, dict[str, Product]]:
        """The period's figures, and the products they name (for names and SKUs).

        Cost: the time-index Query pages up to the end of the period, and one
        BatchGetItem per 100 distinct products; nothing per line.
        """
        movements = list(self._ledger.movements_until(tenant_id, scope.end))
        products = self._products.get_products(tenant_id, sorted({m.product_id for m in movements}))
        return analyse(movements, products, scope), products
