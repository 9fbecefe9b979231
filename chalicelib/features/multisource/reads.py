"""MultiSourceService reads: records by numeric id, a product's aggregated inventory, and the
aggregates of many products or lookups at once (batched, for GraphQL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from chalicelib.core.errors import DomainError, NotFound
from chalicelib.core.models import ZERO, Product, StockRecord
from chalicelib.core.stock.asof import as_moment, records_as_of
from chalicelib.core.stock.ownership import is_own_stock
from chalicelib.features.multisource.base import MultiSourceBase, ProductRef, _guard_of
from chalicelib.features.multisource.model import InventoryRecord, ProductInventory
from chalicelib.features.multisource.ports import PRODUCT_NUMBER, STOCK_NUMBER


class InventoryReads(MultiSourceBase):
    """Mixin of MultiSourceService: the reads of records and aggregated inventory."""

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

    def _aggregate(
        self, tenant_id: str, product: Product, records: list[StockRecord], location_id: str | None
    ) -> ProductInventory:
        chosen = [r for r in records if r.active and (location_id is None or r.location_id == location_id)]
        # Numbered first, so that a record of another surface seen for the first time is among the records.
        active = self._numbered(tenant_id, chosen)
        views = {v.id: v for v in self._views(tenant_id, active, {product.product_id: product})}
        return _aggregate(product, active, location_id, views)


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
