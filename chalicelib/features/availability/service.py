"""Channels, availability records and ATP (001): reads stock through the core's StockStore."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.core.errors import At, NotFound, Problem
from chalicelib.core.models import ZERO, Actor, Hold, Location, Product, Reservation, StockRecord
from chalicelib.core.ports import StockStore
from chalicelib.features.availability.model import Allocation, Channel, ChannelRule
from chalicelib.features.availability.ports import AvailabilityStore, Found, Wanted
from chalicelib.features.availability.rules import (
    ChannelFigure,
    Figures,
    active_channel_ids,
    channel_figures,
    check_channel,
    check_rules,
    counts,
    figures,
)

# Ids derived from an Idempotency-Key's command id, so a retried create makes the same channel.
CHANNEL_NAMESPACE = uuid.UUID("6f1d52f4-4a4e-4f53-9d1b-7c0a51d7a8c1")


@dataclass
class Place:
    """A product's availability at one location: its stock figures, the record, each channel's ATP."""

    product_id: str
    location_id: str
    figures: Figures
    allocation: Allocation | None
    channels: list[ChannelFigure]
    product: Product | None = None


@dataclass
class CheckLine:
    product_id: str
    quantity: Decimal
    location_id: str | None = None
    channel_id: str | None = None


@dataclass
class CheckedLine:
    product_id: str
    requested: Decimal
    available: Decimal
    shortfall: Decimal
    location_id: str | None = None
    channel_id: str | None = None


@dataclass
class MatrixRow:
    product: Product
    figures: Figures
    channels: dict[str, Decimal]


@dataclass
class Matrix:
    location: Location
    channels: list[Channel]
    rows: list[MatrixRow]
    total: int


@dataclass
class Drilldown:
    product: Product
    location: Location
    records: list[StockRecord]
    reservations: list[Reservation]
    holds: list[Hold]
    place: Place
    channels: dict[str, Channel]


@dataclass
class ChannelTotal:
    channel: Channel
    atp: Decimal = ZERO
    products: set[str] = field(default_factory=set)


class AvailabilityService:
    def __init__(self, store: AvailabilityStore, stock: StockStore) -> None:
        self._store = store
        self._stock = stock

    # -- channels ----------------------------------------------------------------

    def create_channel(
        self, tenant_id: str, code: str, name: str, actor: Actor, command_id: str | None = None
    ) -> Channel:
        code, name = check_channel(code, name)
        channel = Channel(tenant_id=tenant_id, code=code, name=name)
        if command_id is not None:
            channel.channel_id = str(uuid.uuid5(CHANNEL_NAMESPACE, command_id))
        self._store.create_channel(channel, actor)
        return channel

    def channels(self, tenant_id: str) -> list[Channel]:
        """Active channels, by code."""
        found = {c.channel_id: c for c in self._store.channels(tenant_id)}
        return [found[i] for i in active_channel_ids(found.values())]

    # -- availability records ------------------------------------------------------

    def set_allocation(
        self, tenant_id: str, product_id: str, location_id: str, rules: Sequence[ChannelRule], actor: Actor
    ) -> Place:
        check_rules(rules)
        wanted = Wanted(
            products={product_id},
            locations={location_id},
            allocations={(product_id, location_id)},
            channels={r.channel_id for r in rules},
        )
        found = self._store.read(tenant_id, wanted)
        product = _product(found, product_id)
        _location(found, location_id, At("locationId"))
        missing = [
            Problem(At("channelId", nested=("channels", i)), f"channel {r.channel_id} not found")
            for i, r in enumerate(rules)
            if not _is_active(found.channels.get(r.channel_id))
        ]
        if missing:
            raise NotFound("channel not found", missing)
        previous = found.allocations.get((product_id, location_id))
        allocation = Allocation(
            tenant_id=tenant_id, product_id=product_id, location_id=location_id, channels=list(rules)
        )
        if previous is not None:
            allocation.version = previous.version + 1
            allocation.created_at = previous.created_at
        self._store.put_allocation(allocation, actor, previous.version if previous else None)
        records = [r for r in self._stock.records_for_product(tenant_id, product_id) if r.location_id == location_id]
        return self._place(product_id, location_id, records, allocation, [], product)

    def product_availability(
        self, tenant_id: str, product_id: str, location_id: str | None = None
    ) -> tuple[Product, list[Place]]:
        """Every place the product has stock or a record (or only `location_id`), with each channel's ATP."""
        found = self._store.read(
            tenant_id, Wanted(products={product_id}, locations={location_id} if location_id else set())
        )
        product = _product(found, product_id)
        if location_id is not None:
            _location(found, location_id, At("locationId"))
        allocations = {a.location_id: a for a in self._store.allocations_of_product(tenant_id, product_id)}
        by_location: dict[str, list[StockRecord]] = defaultdict(list)
        for record in self._stock.records_for_product(tenant_id, product_id):
            by_location[record.location_id].append(record)
        places = sorted(set(by_location) | set(allocations))
        if location_id is not None:
            places = [p for p in places if p == location_id]
        channel_ids = self._channel_ids(tenant_id) if any(p not in allocations for p in places) else []
        result = [
            self._place(product_id, loc, by_location.get(loc, []), allocations.get(loc), channel_ids, product)
            for loc in places
        ]
        return product, result

    def allocation_page(
        self,
        tenant_id: str,
        page: int,
        limit: int,
        location_id: str | None = None,
        product_id: str | None = None,
    ) -> tuple[list[Place], int]:
        """Availability records (by location, then product), a page of them with their ATP."""
        if location_id is not None or product_id is not None:
            # A filter naming nothing of this company is a 404 naming it, not an empty page.
            named = Wanted(
                products={product_id} if product_id else set(),
                locations={location_id} if location_id else set(),
            )
            found_filters = self._store.read(tenant_id, named)
            if product_id is not None:
                _product(found_filters, product_id, At("productMasterId"))
            if location_id is not None:
                _location(found_filters, location_id, At("locationId"))
        if product_id is not None:
            found = self._store.allocations_of_product(tenant_id, product_id)
            if location_id is not None:
                found = [a for a in found if a.location_id == location_id]
        else:
            found = self._store.allocations(tenant_id, location_id)
        found.sort(key=lambda a: (a.location_id, a.product_id))
        chosen = found[(page - 1) * limit : page * limit]
        products = self._store.read(tenant_id, Wanted(products={a.product_id for a in chosen})).products
        at_location: dict[str, list[StockRecord]] = {}
        for loc in sorted({a.location_id for a in chosen}):
            at_location[loc] = self._stock.records_at_location(tenant_id, loc)
        places = []
        for a in chosen:
            records = [r for r in at_location[a.location_id] if r.product_id == a.product_id]
            places.append(self._place(a.product_id, a.location_id, records, a, [], products.get(a.product_id)))
        return places, len(found)

    def check(self, tenant_id: str, lines: Sequence[CheckLine]) -> list[CheckedLine]:
        """Whether each line's quantity can be promised (ATP of its channel, else available), where asked.

        Lines asking for the same product, place and channel draw on the same
        quantity, in the order given.
        """
        wanted = Wanted(
            products={line.product_id for line in lines},
            locations={line.location_id for line in lines if line.location_id},
            channels={line.channel_id for line in lines if line.channel_id},
        )
        _check_found(self._store.read(tenant_id, wanted), lines)
        records = self._stock.records_for_products(tenant_id, [line.product_id for line in lines])
        places: dict[tuple[str, str], Figures] = defaultdict(Figures)
        for product_id, product_records in records.items():
            for record in product_records:
                if counts(record):
                    places[(product_id, record.location_id)] += figures([record])
        allocations: dict[tuple[str, str], Allocation] = {}
        if any(line.channel_id for line in lines):
            keys = {p for p in places if any(line.channel_id and line.product_id == p[0] for line in lines)}
            allocations = self._store.read(tenant_id, Wanted(allocations=keys)).allocations
        used: dict[tuple[str, str | None, str | None], Decimal] = defaultdict(Decimal)
        result = []
        for line in lines:
            pool = ZERO
            for (product_id, loc), place in places.items():
                if product_id != line.product_id or (line.location_id and loc != line.location_id):
                    continue
                if line.channel_id is None:
                    pool += max(place.available, ZERO)
                else:
                    (figure,) = channel_figures(place.available, allocations.get((product_id, loc)), [line.channel_id])
                    pool += figure.atp
            key = (line.product_id, line.location_id, line.channel_id)
            left = max(ZERO, pool - used[key])
            used[key] += line.quantity
            result.append(
                CheckedLine(
                    line.product_id,
                    line.quantity,
                    left,
                    max(ZERO, line.quantity - left),
                    line.location_id,
                    line.channel_id,
                )
            )
        return result

    # -- channel x location -------------------------------------------------------

    def matrix(
        self,
        tenant_id: str,
        location_id: str,
        page: int,
        limit: int,
        search: str | None = None,
        channel_ids: Sequence[str] | None = None,
    ) -> Matrix:
        """The ATP of every product stocked at a location, per channel: bounded calls per page, none per product.

        One gsi2 Query (records at the location), one BatchGetItem of the
        products and the location, one Query of the channels, and one
        BatchGetItem of the page's availability records (per 100 keys each).
        """
        records: dict[str, list[StockRecord]] = defaultdict(list)
        for record in self._stock.records_at_location(tenant_id, location_id):
            if counts(record):
                records[record.product_id].append(record)
        found = self._store.read(tenant_id, Wanted(products=set(records), locations={location_id}))
        location = _location(found, location_id, At("locationId"))
        chosen_channels = self._chosen_channels(tenant_id, channel_ids)
        columns = [c.channel_id for c in chosen_channels]
        needle = (search or "").strip().casefold()
        products = [
            p
            for p in found.products.values()
            if p.active and (not needle or needle in p.name.casefold() or needle in (p.sku or "").casefold())
        ]
        products.sort(key=lambda p: (p.name.casefold(), p.product_id))
        chosen = products[(page - 1) * limit : page * limit]
        allocations = (
            self._store.read(tenant_id, Wanted(allocations={(p.product_id, location_id) for p in chosen})).allocations
            if chosen
            else {}
        )
        rows = []
        for product in chosen:
            stock = figures(records[product.product_id])
            cells = channel_figures(stock.available, allocations.get((product.product_id, location_id)), columns)
            rows.append(MatrixRow(product, stock, {c.channel_id: c.atp for c in cells}))
        return Matrix(location, chosen_channels, rows, len(products))

    def drilldown(self, tenant_id: str, location_id: str, product_id: str) -> Drilldown:
        """Everything behind a product's figures at a location: records, claims, the record and the rules."""
        wanted = Wanted(products={product_id}, locations={location_id}, allocations={(product_id, location_id)})
        found = self._store.read(tenant_id, wanted)
        product = _product(found, product_id, At("productMasterId"))
        location = _location(found, location_id, At("locationId"))
        records = [r for r in self._stock.records_for_product(tenant_id, product_id) if r.location_id == location_id]
        records.sort(key=lambda r: (r.bin_id or "", r.lot_id or "", r.stock_id))
        reservations: list[Reservation] = []
        holds: list[Hold] = []
        for record in records:
            reservations.extend(self._stock.reservations_for_record(tenant_id, record.stock_id, active_only=True))
            holds.extend(h for h in self._stock.holds_for_record(tenant_id, record.stock_id) if h.status == "active")
        channels = {c.channel_id: c for c in self.channels(tenant_id)}
        allocation = found.allocations.get((product_id, location_id))
        place = self._place(product_id, location_id, records, allocation, list(channels), product)
        return Drilldown(product, location, records, reservations, holds, place, channels)

    def summary(self, tenant_id: str, location_id: str | None = None) -> list[ChannelTotal]:
        """Per active channel: the ATP summed over every product and location, and how many products have any."""
        if location_id is not None:
            _location(self._store.read(tenant_id, Wanted(locations={location_id})), location_id, At("locationId"))
        channels = self.channels(tenant_id)
        totals = {c.channel_id: ChannelTotal(c) for c in channels}
        allocations = {(a.product_id, a.location_id): a for a in self._store.allocations(tenant_id, location_id)}
        places: dict[tuple[str, str], Figures] = defaultdict(Figures)
        for record in self._records(tenant_id, location_id):
            if counts(record):
                places[(record.product_id, record.location_id)] += figures([record])
        ids = list(totals)
        for key, place in places.items():
            for figure in channel_figures(place.available, allocations.get(key), ids):
                if figure.atp > 0:
                    totals[figure.channel_id].atp += figure.atp
                    totals[figure.channel_id].products.add(key[0])
        return list(totals.values())

    # -- helpers -------------------------------------------------------------------

    def _records(self, tenant_id: str, location_id: str | None) -> Iterable[StockRecord]:
        if location_id is not None:
            return self._stock.records_at_location(tenant_id, location_id)
        return self._all_records(tenant_id)

    def _all_records(self, tenant_id: str) -> Iterable[StockRecord]:
        cursor = None
        while True:
            page = self._stock.list_records(tenant_id, 1000, cursor)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    def _channel_ids(self, tenant_id: str) -> list[str]:
        return [c.channel_id for c in self.channels(tenant_id)]

    def _chosen_channels(self, tenant_id: str, chosen: Sequence[str] | None) -> list[Channel]:
        known = {c.channel_id: c for c in self.channels(tenant_id)}
        if not chosen:
            return list(known.values())
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise NotFound(
                f"channel {unknown[0]} not found", [Problem(At("channels"), f"unknown channel {unknown[0]}")]
            )
        return [known[c] for c in dict.fromkeys(chosen)]

    def _place(
        self,
        product_id: str,
        location_id: str,
        records: list[StockRecord],
        allocation: Allocation | None,
        channel_ids: list[str],
        product: Product | None,
    ) -> Place:
        stock = figures(records)
        ids = [r.channel_id for r in allocation.channels] if allocation is not None else channel_ids
        return Place(
            product_id, location_id, stock, allocation, channel_figures(stock.available, allocation, ids), product
        )


def _check_found(found: Found, lines: Sequence[CheckLine]) -> None:
    """404 naming `lines[i].<field>` for every product, location or channel that is not there."""
    problems = []
    for i, line in enumerate(lines):
        if not _is_active(found.products.get(line.product_id)):
            problems.append(Problem(At("productMasterId", nested=("lines", i)), "product not found"))
        if line.location_id and not _is_active(found.locations.get(line.location_id)):
            problems.append(Problem(At("locationId", nested=("lines", i)), "location not found"))
        if line.channel_id and not _is_active(found.channels.get(line.channel_id)):
            problems.append(Problem(At("channelId", nested=("lines", i)), "channel not found"))
    if problems:
        raise NotFound("not found", problems)


def _is_active(entity: Product | Location | Channel | None) -> bool:
    return entity is not None and entity.active


def _product(found: Found, product_id: str, at: At | None = None) -> Product:
    product = found.products.get(product_id)
    if product is None or not product.active:
        raise NotFound(f"product {product_id} not found", [Problem(at, "product not found")] if at else None)
    return product


def _location(found: Found, location_id: str, at: At) -> Location:
    location = found.locations.get(location_id)
    if location is None or not location.active:
        raise NotFound(f"location {location_id} not found", [Problem(at, "location not found")])
    return location
