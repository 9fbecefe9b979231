"""The 002 (maker) reads and writes of resources and locations: `MakerCatalog`, a mixin of
`CatalogService`."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog import units
from chalicelib.core.catalog.fields import PRODUCT_OWNED, next_version, without
from chalicelib.core.catalog.locations import ensure_default_location
from chalicelib.core.catalog.resources import (
    KINDS,
    InitialStock,
    Levels,
    MaterialLine,
    ResourceView,
    bundle_levels,
    check_bom,
    check_production_type,
    check_unit,
    record_levels,
)
from chalicelib.core.errors import (
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from chalicelib.core.models import (
    SYSTEM,
    ZERO,
    Actor,
    Location,
    Movement,
    MovementKind,
    Product,
    ProductionType,
    StockRecord,
)
from chalicelib.core.ports import CatalogStore, OffsetPage, StockStore
from chalicelib.core.stock.asof import as_moment, figures_as_of, levels_as_of
from chalicelib.core.stock.blocks import Blocks, fifo_blocks
from chalicelib.core.stock.levels import location_stock_id

# A resource created with an Idempotency-Key gets an id derived from it, so a retry finds it.
RESOURCE_NAMESPACE = uuid.UUID("acc180d5-ec24-4811-8000-0000000000a1")


class MakerCatalog:
    """Mixin of CatalogService: the 002 reads and writes of resources and locations."""

    _store: CatalogStore
    _stock: StockStore

    def default_location(self, tenant_id: str, actor: Actor) -> Location:
        """The company's default location (one GetItem; written first for a company that predates it)."""
        return ensure_default_location(self._store, tenant_id, actor)

    # -- resources (products and materials) ----------------------------------

    def resource_page(self, tenant_id: str, kind: str, offset: int, limit: int) -> OffsetPage[ResourceView]:
        page = self._store.page_products(tenant_id, kind, offset, limit)
        return OffsetPage(self.views(tenant_id, page.items), page.total)

    def resource(self, tenant_id: str, kind: str, product_id: str, as_of: datetime | None = None) -> ResourceView:
        """The resource as it is, with its stock figures as they were at `as_of` when given (from the ledger)."""
        return self.views(tenant_id, [self.active_resource(tenant_id, kind, product_id)], as_of=as_of)[0]

    def active_resource(self, tenant_id: str, kind: str | None, product_id: str) -> Product:
        """An active product (of `kind`, when given); anything else, another company's included, is a 404."""
        product = self._store.get_product(tenant_id, product_id)
        if product is None or not product.active or (kind is not None and product.kind != kind):
            raise NotFound(f"{kind or 'resource'} {product_id} not found")
        return product

    def views(
        self,
        tenant_id: str,
        products: list[Product],
        known: dict[str, Product] | None = None,
        as_of: datetime | None = None,
    ) -> list[ResourceView]:
        """The resources with their stock and bill of materials: one BatchGetItem for materials not at hand
        (`known` ones are), one index Query per resource and material (run together), one BatchGetItem for
        location names."""
        known = {**(known or {}), **{p.product_id: p for p in products}}
        wanted = {line.product_id for p in products for line in p.materials} - known.keys()
        if wanted:
            known.update(self._store.get_products(tenant_id, sorted(wanted)))
        levels = self.levels(tenant_id, list(known.values()), known, as_of=as_of)
        place_ids = {place for pid in known for place in levels[pid].by_location}
        places = self._store.get_locations(tenant_id, sorted(place_ids))
        # A deleted location's name may be in use again: its figure (zero, unless written since) is kept apart.
        names = {i: loc.name if loc.active else f"{loc.name} (deleted)" for i, loc in places.items()}
        views = []
        for product in products:
            lines = [
                MaterialLine(known[line.product_id], line.quantity_used, levels[line.product_id].total)
                for line in product.materials
                if line.product_id in known
            ]
            # Keyed by name, in name order (a location deleted since keeps its id as the key).
            by_name = dict(
                sorted(
                    (names.get(place, place), quantity)
                    for place, quantity in levels[product.product_id].by_location.items()
                    if quantity != 0 or (place in places and places[place].active)
                )
            )
            views.append(ResourceView(product, levels[product.product_id], by_name, lines))
        return views

    def levels(
        self,
        tenant_id: str,
        products: list[Product],
        known: dict[str, Product] | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, Levels]:
        """Stock per location of each product (a bundle's derived from its materials', read along);
        with `as_of`, as it was then (core/stock/asof.py: a snapshot and a movement range per record)."""
        known = dict(known or {})
        known.update({p.product_id: p for p in products})
        missing = {
            line.product_id
            for p in products
            if p.production_type == ProductionType.BUNDLE
            for line in p.materials
            if line.product_id not in known
        }
        if missing:
            known.update(self._store.get_products(tenant_id, sorted(missing)))
        needed = {p.product_id for p in products} | {
            line.product_id for p in products if p.production_type == ProductionType.BUNDLE for line in p.materials
        }
        records = self._stock.records_for_products(tenant_id, sorted(needed & known.keys()))
        if as_of is None:
            levels = {pid: record_levels(found) for pid, found in records.items()}
        else:
            moment = as_moment(as_of)
            every = [r for found in records.values() for r in found]
            figures = figures_as_of(every, moment, self._stock)
            levels = {pid: Levels(levels_as_of(figures, found)) for pid, found in records.items()}
        for product in products:
            if product.production_type == ProductionType.BUNDLE:
                bom = [(line, known[line.product_id]) for line in product.materials if line.product_id in known]
                levels[product.product_id] = bundle_levels(bom, levels)
        return {p.product_id: levels.get(p.product_id, Levels({})) for p in [*products, *known.values()]}

    def create_resource(
        self,
        tenant_id: str,
        kind: str,
        fields: dict[str, Any],
        actor: Actor,
        *,
        initial: InitialStock | None = None,
        command_id: str | None = None,
    ) -> ResourceView:
        """A product or material, with its bill of materials and (optionally) its initial stock, in one write."""
        if kind not in KINDS:
            raise ValueError(f"unknown resource kind {kind}")
        fields = without(fields, PRODUCT_OWNED | {"kind", "active"})
        check_unit(str(fields.get("unit_type") or units.PIECES))
        if fields.get("production_type") == ProductionType.BUNDLE:
            fields["unit_type"] = units.BUNDLES
        product_id = str(uuid.uuid5(RESOURCE_NAMESPACE, command_id)) if command_id else None
        if product_id is not None:
            done = self._store.get_product(tenant_id, product_id)
            if done is not None:
                return self.views(tenant_id, [done])[0]  # a retry of a create that already ran
        product = Product(
            tenant_id=tenant_id, kind=kind, **fields, **({"product_id": product_id} if product_id else {})
        )
        materials = self._check_bom(tenant_id, product)
        if initial is None or (initial.quantity == 0):
            self._store.create_product(product, actor)
        else:
            record, movement = self._initial_stock(product, initial, actor)
            self._store.create_product_with_stock(product, record, movement, actor)
        return self.views(tenant_id, [product], materials)[0]

    def _initial_stock(self, product: Product, initial: InitialStock, actor: Actor) -> tuple[StockRecord, Movement]:
        if product.production_type == ProductionType.BUNDLE:
            raise ValidationFailed(
                "a bundle's stock is derived from its materials", [{"field": "initialStock", "message": "bundle"}]
            )
        if initial.quantity < 0:
            raise ValidationFailed(
                "initial stock cannot be negative", [{"field": "initialStock.quantity", "message": "must be >= 0"}]
            )
        if product.production_type == ProductionType.SINGLE and initial.quantity > 1:
            raise ValidationFailed(
                "a single resource holds at most 1", [{"field": "initialStock.quantity", "message": "must be <= 1"}]
            )
        stock_id = location_stock_id(product.tenant_id, product.product_id, initial.location_id)
        record = StockRecord(
            tenant_id=product.tenant_id,
            stock_id=stock_id,
            product_id=product.product_id,
            location_id=initial.location_id,
            name=product.name,
            on_hand=initial.quantity,
            available=initial.quantity,
            allow_negative=product.allow_negative,
        )
        movement = Movement(
            tenant_id=product.tenant_id,
            stock_id=stock_id,
            product_id=product.product_id,
            location_id=initial.location_id,
            kind=MovementKind.INITIAL,
            quantity=initial.quantity,
            reason="initial stock",
            actor=actor,
            unit_price=product.unit_price,
        )
        return record, movement

    def update_resource(
        self,
        tenant_id: str,
        kind: str,
        product_id: str,
        changes: dict[str, Any],
        actor: Actor,
        expected_version: int | None = None,
    ) -> ResourceView:
        previous = self.active_resource(tenant_id, kind, product_id)
        changes = without(changes, PRODUCT_OWNED | {"kind", "active"})
        if "unit_type" in changes:
            check_unit(str(changes["unit_type"]))
            if previous.unit_type == units.BUNDLES:
                raise ValidationFailed(
                    "unitType cannot change to or from bundles", [{"field": "unitType", "message": "bundles"}]
                )
        updated = next_version(previous, changes, expected_version)
        check_production_type(previous, updated)
        materials = self._check_bom(tenant_id, updated)
        if "unit_price" in changes and updated.unit_price != previous.unit_price:
            blocking = self.blocks(tenant_id, previous).non_initial_open()
            if blocking:
                raise ValidationFailed(
                    "unitPrice can only change while the resource has no stock blocks from movements other than its "
                    f"initial stock; it has {len(blocking)} (the oldest from a {blocking[0].kind.value} of "
                    f"{blocking[0].quantity}). Those blocks keep the price they were brought in at.",
                    [{"field": "unitPrice", "message": "stock blocks from non-initial movements exist"}],
                )
        self._store.update_product(updated, previous, actor)
        return self.views(tenant_id, [updated], materials)[0]

    def delete_resource(
        self, tenant_id: str, kind: str, product_id: str, actor: Actor, expected_version: int | None = None
    ) -> Product:
        """Soft delete: refused (400) while any of its stock is on hand. The ledger and history stay."""
        previous = self.active_resource(tenant_id, kind, product_id)
        if expected_version is not None and expected_version != previous.version:
            raise StaleVersion(f"version is {previous.version}, not {expected_version}")
        if previous.production_type != ProductionType.BUNDLE:
            held = record_levels(self._stock.records_for_product(tenant_id, product_id))
            on_hand = {place: q for place, q in held.by_location.items() if q != 0}
            if on_hand:
                names = self._store.get_locations(tenant_id, sorted(on_hand))
                where = ", ".join(f"{q} at {names[p].name if p in names else p}" for p, q in on_hand.items())
                raise ValidationFailed(
                    f"{previous.name} still has stock on hand ({where}); bring it to zero first",
                    [{"field": "id", "message": "stock on hand"}],
                )
        updated = next_version(previous, {"active": False}, None)
        self._store.update_product(updated, previous, actor)
        return updated

    def _check_bom(self, tenant_id: str, product: Product) -> dict[str, Product]:
        """Check the bill of materials; the materials read, for the answer."""
        wanted = sorted({line.product_id for line in product.materials})
        materials = self._store.get_products(tenant_id, wanted) if wanted else {}
        check_bom(product, materials)
        return materials

    def blocks(self, tenant_id: str, product: Product) -> Blocks:
        """FIFO stock blocks of a resource, from the ledger of every one of its records."""
        records = {r.stock_id: r for r in self._stock.records_for_product(tenant_id, product.product_id)}
        movements = [m for stock_id in records for m in self._stock.movements(tenant_id, stock_id)]

        def price(movement: Movement, initial: bool) -> Decimal | None:
            if initial:
                return product.unit_price  # the initial stock is valued at the resource's price
            if movement.unit_price is not None:
                return movement.unit_price
            record = records.get(movement.stock_id)
            piece_price = record.attributes.get("unit_price") if record else None  # a 000 row's own price
            return Decimal(str(piece_price)) if piece_price is not None else product.unit_price

        return fifo_blocks(movements, price)

    # -- locations -------------------------------------------------------------

    def locations(self, tenant_id: str, location_ids: list[str]) -> dict[str, Location]:
        return self._store.get_locations(tenant_id, location_ids) if location_ids else {}

    def location_page(self, tenant_id: str, offset: int, limit: int, actor: Actor) -> OffsetPage[Location]:
        self.default_location(tenant_id, actor)
        return self._store.page_locations(tenant_id, offset, limit)

    def active_location(self, tenant_id: str, location_id: str, field: str | None = None) -> Location:
        """An active location of this company: a 404, or a 400 naming `field` when the id came in a body."""
        location = self._store.get_location(tenant_id, location_id)
        if location is None or not location.active:
            if field:
                raise ValidationFailed(f"location {location_id} not found", [{"field": field, "message": "not found"}])
            raise NotFound(f"location {location_id} not found")
        return location

    def location_named(self, tenant_id: str, name: str, field: str = "locationName", actor: Actor = SYSTEM) -> str:
        """The id of the active location with this name (any case); a 400 naming `field` when there is none.

        One read: a location's name guard exists exactly while the location is active. A miss makes
        sure the default location exists (it may not have been needed yet) and takes it if it is the one.
        """
        location_id = self._store.location_id_by_name(tenant_id, name.strip())
        if location_id is None:
            default = self.default_location(tenant_id, actor)
            if default.name.casefold() == name.strip().casefold():
                return default.location_id
            raise ValidationFailed(
                f"no location named {name}", [{"field": field, "message": f"unknown location {name}"}]
            )
        return location_id

    def delete_location(
        self, tenant_id: str, location_id: str, actor: Actor, expected_version: int | None = None
    ) -> Location:
        """Soft delete: refused (400) for the default location and while stock is there."""
        previous = self.active_location(tenant_id, location_id)
        if previous.is_default:
            raise ValidationFailed(
                "the default location cannot be deleted", [{"field": "id", "message": "default location"}]
            )
        held = [r for r in self._stock.records_at_location(tenant_id, location_id) if r.active and r.on_hand != 0]
        if held:
            total = sum((r.on_hand for r in held), ZERO)
            raise ValidationFailed(
                f"{previous.name} still holds stock ({total} in {len(held)} stock record(s)); move or count it out",
                [{"field": "id", "message": "stock at this location"}],
            )
        updated = next_version(previous, {"active": False}, expected_version)
        self._store.update_location(updated, previous, actor)
        return updated
