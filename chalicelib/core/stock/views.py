"""Reads of stock for the warehouse surface (001): inventory rows, totals per location, a product's levels.

Every record counts, whichever surface wrote it, so a change made anywhere shows here.
Which index a listing reads depends on its filters: a product's records (gsi1), a
location's (gsi2), or the company's stock partition; lots, products and locations of
the rows are read in one BatchGetItem each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from chalicelib.core.models import ZERO, Bin, Location, Lot, Product, StockRecord
from chalicelib.core.stock.asof import as_moment, existed_at, records_as_of
from chalicelib.core.stock.slots import WarehouseBase


@dataclass
class Totals:
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    held: Decimal = ZERO
    available: Decimal = ZERO
    in_transit: Decimal = ZERO

    def add(self, record: StockRecord) -> None:
        if record.in_transit is not None:
            # On its way here (a shipped transfer): neither on hand nor available yet.
            self.in_transit += record.on_hand
            return
        self.on_hand += record.on_hand
        self.reserved += record.reserved
        self.held += record.held
        self.available += record.available


@dataclass
class InventoryRow:
    record: StockRecord
    product: Product | None
    lot: Lot | None


@dataclass
class LocationTotals:
    location_id: str
    name: str | None
    totals: Totals = field(default_factory=Totals)
    products: set[str] = field(default_factory=set)
    bins: dict[str | None, Totals] = field(default_factory=dict)
    lots: dict[str | None, Totals] = field(default_factory=dict)


@dataclass
class ProductLevels:
    product: Product
    totals: Totals
    locations: list[LocationTotals]
    lots: dict[str, Lot]
    bins: dict[str, Bin]


class InventoryViews(WarehouseBase):
    """Mixin of WarehouseStock: the 001 stock listings."""

    def inventory(
        self,
        tenant_id: str,
        *,
        location_id: str | None = None,
        product_id: str | None = None,
        lot_id: str | None = None,
        bin_id: str | None = None,
        as_of: datetime | None = None,
    ) -> list[StockRecord]:
        """Active records matching the filters, in a stable order (product, location, id); with `as_of`,
        the records that existed then (their figures are not read here: `rows` reads a page's)."""
        moment = as_moment(as_of) if as_of is not None else None
        if product_id is not None:
            records = self._store.records_for_product(tenant_id, product_id)
        elif location_id is not None:
            records = self._store.records_at_location(tenant_id, location_id)
        else:
            records = list(self._stock.all_records(tenant_id))
        kept = [
            r
            for r in records
            if (r.active if moment is None else existed_at(r, moment))
            and (location_id is None or r.location_id == location_id)
            and (product_id is None or r.product_id == product_id)
            and (lot_id is None or r.lot_id == lot_id)
            and (bin_id is None or r.bin_id == bin_id)
        ]
        return sorted(kept, key=lambda r: (r.product_id, r.location_id, r.stock_id))

    def rows(self, tenant_id: str, records: list[StockRecord], as_of: datetime | None = None) -> list[InventoryRow]:
        """A page of records with their products and lots (one BatchGetItem each); with `as_of`, their
        figures as they were then (core/stock/asof.py: two Queries per record, 16 records at a time of the page)."""
        if as_of is not None:
            records = self._as_of(records, as_of)
        products = self._catalog.get_products(tenant_id, list({r.product_id for r in records})) if records else {}
        lots = self.lots(tenant_id, [r.lot_id for r in records if r.lot_id])
        return [InventoryRow(r, products.get(r.product_id), lots.get(r.lot_id) if r.lot_id else None) for r in records]

    def by_location(self, tenant_id: str, as_of: datetime | None = None) -> list[LocationTotals]:
        """Totals per location over every active record (locations without stock are listed with zeros);
        with `as_of`, over the records of the company as they were then (two Queries per record, 16 records
        at a time)."""
        if as_of is None:
            records = [r for r in self._stock.all_records(tenant_id) if r.active]
        else:
            as_moment(as_of)  # a moment in the future is a 400 before anything is read
            records = self._as_of(list(self._stock.all_records(tenant_id)), as_of)
        grouped = self._group(tenant_id, records)
        for location in self._catalog.active_locations(tenant_id):
            grouped.setdefault(location.location_id, LocationTotals(location.location_id, location.name))
        return sorted(grouped.values(), key=lambda g: ((g.name or "").casefold(), g.location_id))

    def product_levels(self, tenant_id: str, product_id: str, as_of: datetime | None = None) -> ProductLevels:
        """A product's totals and its stock per location, with bins and lots (404 for another company's id);
        with `as_of`, as they were then (two Queries per record, 16 records at a time of the product)."""
        if as_of is not None:
            as_moment(as_of)  # a moment in the future is a 400 before anything is read
        product = self.product(tenant_id, product_id, field="id")
        found = self._store.records_for_product(tenant_id, product_id)
        records = [r for r in found if r.active] if as_of is None else self._as_of(found, as_of)
        totals = Totals()
        for record in records:
            totals.add(record)
        grouped = self._group(tenant_id, records)
        lots = self.lots(tenant_id, [r.lot_id for r in records if r.lot_id])
        bins: dict[str, Bin] = {}
        if any(r.bin_id for r in records):
            bins = {b.bin_id: b for b in self._catalog.list_all_bins(tenant_id)}
        locations = sorted(grouped.values(), key=lambda g: ((g.name or "").casefold(), g.location_id))
        return ProductLevels(product, totals, locations, lots, bins)

    def _as_of(self, records: list[StockRecord], as_of: datetime) -> list[StockRecord]:
        """The records that existed at `as_of`, with their figures then (reserved and held included)."""
        return records_as_of(records, self._stock.figures_as_of(records, as_of, with_claims=True))

    def _group(self, tenant_id: str, records: Iterable[StockRecord]) -> dict[str, LocationTotals]:
        grouped: dict[str, LocationTotals] = {}
        for record in records:
            entry = grouped.setdefault(record.location_id, LocationTotals(record.location_id, None))
            entry.totals.add(record)
            entry.products.add(record.product_id)
            entry.bins.setdefault(record.bin_id, Totals()).add(record)
            entry.lots.setdefault(record.lot_id, Totals()).add(record)
        names: dict[str, Location] = self._catalog.locations(tenant_id, list(grouped))
        for location_id, entry in grouped.items():
            found = names.get(location_id)
            entry.name = found.name if found else None
        return grouped
