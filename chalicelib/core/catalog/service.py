"""Products (and materials), locations and bins.

Uniqueness (SKU, external source id, location name, bin code) is enforced
by storage with guard items written in the same transaction as the entity.
Updates carry the version the client read; a stale one is a 409.

Locations are also written in batches (`create_locations`,
`update_locations`, `delete_locations`): every entry is checked first (names
present, free and not repeated, one batched read; the locations to change
active and at the version sent, one batched read), then the whole batch
commits in ONE transaction through the store, or nothing does. Surfaces only
translate their field names.

Every company has exactly one default location, where stock without a
location goes (the 000 item without stockLocationId, the 002 `isDefault`
location, the 004 `warehouseId` 0). It is written in the same transaction
as the company itself (TenantService.create_tenant), under a key known
from the company alone (`default_location_id`), so one GetItem finds it.
A company created before default locations existed gets its default on
first need (`ensure_default_location`); two first requests at once both
end up with the same location. The default can be renamed, never deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from chalicelib.core.catalog import units
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
    AlreadyExists,
    InvalidState,
    NotFound,
    Problem,
    StaleVersion,
    ValidationFailed,
    problem,
)
from chalicelib.core.ids import utcnow
from chalicelib.core.limits import BATCH_ENTRIES, TRANSACTION_ITEMS
from chalicelib.core.models import (
    SYSTEM,
    ZERO,
    Actor,
    Bin,
    BinType,
    Location,
    Movement,
    MovementKind,
    Product,
    ProductionType,
    StockRecord,
)
from chalicelib.core.ports import CatalogStore, OffsetPage, Page, StockStore
from chalicelib.core.stock.asof import as_moment, figures_as_of, levels_as_of
from chalicelib.core.stock.blocks import Blocks, fifo_blocks
from chalicelib.core.stock.levels import location_stock_id
from chalicelib.core.values import text_problem

# 002: bundles are derived; a product cannot become one, nor stop being one.
BUNDLE_UNIT = "bundles"
# `number` (004 productId / warehouseId) is given by storage on create, never by a client.
PRODUCT_OWNED = frozenset({"tenant_id", "product_id", "version", "created_at", "updated_at", "number"})
# A company's default location is made with the company; no client makes or unmakes one.
LOCATION_OWNED = frozenset({"tenant_id", "location_id", "version", "created_at", "updated_at", "is_default", "number"})
MAX_LOCATION_NAME_CHARS = 200
LOCATION_PAGE = 500
DEFAULT_LOCATION_NAME = "Default"
# Names tried, in order, when an older company already has a location named "Default".
DEFAULT_LOCATION_NAMES = (DEFAULT_LOCATION_NAME, "Default location", "Default stock location")
DEFAULT_LOCATION_NAMESPACE = uuid.UUID("9d1c5e3a-4b7f-4e2a-8c6d-0f3b2a1e5d47")
E = TypeVar("E", Product, Location)
# A resource created with an Idempotency-Key gets an id derived from it, so a retry finds it.
RESOURCE_NAMESPACE = uuid.UUID("acc180d5-ec24-4811-8000-0000000000a1")


def default_location_id(tenant_id: str) -> str:
    """The id of the company's default location: known from the company alone, so one read finds it."""
    return str(uuid.uuid5(DEFAULT_LOCATION_NAMESPACE, tenant_id))


def default_location(tenant_id: str, name: str = DEFAULT_LOCATION_NAME) -> Location:
    return Location(tenant_id=tenant_id, location_id=default_location_id(tenant_id), name=name, is_default=True)


def ensure_default_location(store: CatalogStore, tenant_id: str, actor: Actor) -> Location:
    """The company's default location, written now if the company predates default locations.

    Safe under a race: the location is created with `attribute_not_exists`,
    so of two first requests one writes it and the other reads it back. If
    an older company already uses the name "Default", the next free name of
    DEFAULT_LOCATION_NAMES is taken.
    """
    location_id = default_location_id(tenant_id)
    found = store.get_location(tenant_id, location_id)
    if found is not None:
        return found
    for name in DEFAULT_LOCATION_NAMES:
        location = default_location(tenant_id, name)
        try:
            store.write_locations([location], [], actor)
        except AlreadyExists:
            found = store.get_location(tenant_id, location_id)
            if found is not None:
                return found  # another request made it first
            continue  # the name is one of the company's own locations
        return location
    raise InvalidState(f"no free name for the default location of {tenant_id}")


@dataclass(frozen=True)
class LocationChange:
    """One entry of a location batch update: the fields to set, and the version the client read."""

    location_id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    expected_version: int | None = None


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
        fields = _without(fields, PRODUCT_OWNED | {"kind", "active"})
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
        changes = _without(changes, PRODUCT_OWNED | {"kind", "active"})
        if "unit_type" in changes:
            check_unit(str(changes["unit_type"]))
            if previous.unit_type == units.BUNDLES:
                raise ValidationFailed(
                    "unitType cannot change to or from bundles", [{"field": "unitType", "message": "bundles"}]
                )
        updated = _next_version(previous, changes, expected_version)
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
        updated = _next_version(previous, {"active": False}, None)
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
        updated = _next_version(previous, {"active": False}, expected_version)
        self._store.update_location(updated, previous, actor)
        return updated


class CatalogService(MakerCatalog):
    def __init__(self, store: CatalogStore, stock: StockStore) -> None:
        self._store = store
        self._stock = stock

    # -- products ----------------------------------------------------------

    def create_product(self, tenant_id: str, fields: dict[str, Any], actor: Actor) -> Product:
        product = Product(tenant_id=tenant_id, **_without(fields, PRODUCT_OWNED))
        if product.unit_type == BUNDLE_UNIT:
            raise ValidationFailed("unitType bundles cannot be set", [_field("unitType", "bundles is read-only")])
        self._check_materials(tenant_id, product)
        self._store.create_product(product, actor)
        return product

    def update_product(
        self,
        tenant_id: str,
        product_id: str,
        changes: dict[str, Any],
        actor: Actor,
        expected_version: int | None = None,
    ) -> Product:
        previous = self.get_product(tenant_id, product_id)
        changes = _without(changes, PRODUCT_OWNED)
        unit = changes.get("unit_type", previous.unit_type)
        if (unit == BUNDLE_UNIT) != (previous.unit_type == BUNDLE_UNIT):
            raise ValidationFailed("unitType cannot change to or from bundles", [_field("unitType", "bundles")])
        updated = _next_version(previous, changes, expected_version)
        self._check_materials(tenant_id, updated)
        self._store.update_product(updated, previous, actor)
        if updated.allow_negative != previous.allow_negative:
            # Stock records carry the flag so their conditional writes can use it.
            for record in self._stock.records_for_product(tenant_id, product_id):
                self._stock.set_allow_negative(tenant_id, record.stock_id, updated.allow_negative, actor)
        return updated

    def get_product(self, tenant_id: str, product_id: str) -> Product:
        product = self._store.get_product(tenant_id, product_id)
        if product is None:
            raise NotFound(f"product {product_id} not found")
        return product

    def get_products(self, tenant_id: str, product_ids: list[str]) -> dict[str, Product]:
        return self._store.get_products(tenant_id, product_ids)

    def product_by_sku(self, tenant_id: str, sku: str) -> Product:
        product_id = self._store.product_id_by_sku(tenant_id, sku)
        if product_id is None:
            raise NotFound(f"no product with SKU {sku}")
        return self.get_product(tenant_id, product_id)

    def product_by_source(self, tenant_id: str, source: str, source_id: str) -> Product:
        product_id = self._store.product_id_by_source(tenant_id, source, source_id)
        if product_id is None:
            raise NotFound(f"no product with {source} id {source_id}")
        return self.get_product(tenant_id, product_id)

    def list_products(self, tenant_id: str, limit: int, cursor: dict[str, object] | None = None) -> Page[Product]:
        return self._store.list_products(tenant_id, limit, cursor)

    def _check_materials(self, tenant_id: str, product: Product) -> None:
        wanted = [line.product_id for line in product.materials]
        if not wanted:
            return
        if product.product_id in wanted:
            raise ValidationFailed("a product cannot be its own material", [_field("materials", "self reference")])
        found = self._store.get_products(tenant_id, wanted)
        missing = [pid for pid in wanted if pid not in found]
        if missing:
            raise ValidationFailed(
                "unknown materials",
                [_field(f"materials[{wanted.index(pid)}].productId", f"{pid} not found") for pid in missing],
            )

    # -- locations and bins ------------------------------------------------

    def create_location(self, tenant_id: str, fields: dict[str, Any], actor: Actor) -> Location:
        _named(fields)
        location = Location(tenant_id=tenant_id, **_without(fields, LOCATION_OWNED))
        self._store.create_location(location, actor)
        return location

    def create_locations(self, tenant_id: str, entries: Sequence[Mapping[str, Any]], actor: Actor) -> list[Location]:
        """Create every location of the batch, or none. Names are required, unique (any case), not repeated."""
        _check_batch(entries)
        errors: list[Problem] = []
        locations: list[Location] = []
        for index, entry in enumerate(entries):
            values = _without(dict(entry), LOCATION_OWNED)
            values["name"] = str(values.get("name") or "").strip()
            errors += _name_problems(index, values["name"])
            locations.append(Location(tenant_id=tenant_id, **values))
        if errors:
            raise ValidationFailed(f"invalid location: {errors[0].at.path}", errors)
        self._check_names_free(tenant_id, list(enumerate(locations)))
        _check_writes(2 * len(locations))
        self._store.write_locations(locations, [], actor)
        return locations

    def update_locations(self, tenant_id: str, changes: Sequence[LocationChange], actor: Actor) -> list[Location]:
        """Change every location of the batch, or none: each must be active and at the version sent."""
        _check_batch(changes)
        current = self._active_locations(tenant_id, [change.location_id for change in changes])
        errors: list[Problem] = []
        pairs: list[tuple[Location, Location]] = []
        for index, change in enumerate(changes):
            previous = current[change.location_id]
            values = _without(dict(change.fields), LOCATION_OWNED)
            if "name" in values:
                values["name"] = str(values["name"] or "").strip()
                errors += _name_problems(index, values["name"])
            if values.get("active") is False and previous.is_default:
                raise InvalidState(
                    "the default location cannot be deleted",
                    [problem("id", "is the company's default location: it cannot be deleted", index)],
                )
            if change.expected_version is not None and change.expected_version != previous.version:
                raise StaleVersion(
                    f"location {previous.location_id} is at version {previous.version}, not {change.expected_version}",
                    [problem("version", f"current version is {previous.version}", index)],
                )
            pairs.append((_next_version(previous, values, None), previous))
        if errors:
            raise ValidationFailed(f"invalid location: {errors[0].at.path}", errors)
        renamed = [(i, new) for i, (new, old) in enumerate(pairs) if new.name.casefold() != old.name.casefold()]
        self._check_names_free(tenant_id, renamed)
        _check_writes(len(pairs) + 2 * len(renamed))
        self._store.write_locations([], pairs, actor)
        return [new for new, _ in pairs]

    def delete_locations(self, tenant_id: str, location_ids: Sequence[str], actor: Actor) -> list[str]:
        """Soft-delete every location of the batch, or none; the default location is never deleted."""
        changes = [LocationChange(location_id, {"active": False}) for location_id in location_ids]
        self.update_locations(tenant_id, changes, actor)
        return list(location_ids)

    def active_locations(self, tenant_id: str) -> list[Location]:
        """Every active location of the company, page by page (deleted ones are left out by DynamoDB)."""
        found: list[Location] = []
        cursor: dict[str, object] | None = None
        while True:
            page = self._store.list_locations(tenant_id, LOCATION_PAGE, cursor, active_only=True)
            found += [location for location in page.items if location.active]
            if page.cursor is None:
                return found
            cursor = page.cursor

    def _active_locations(self, tenant_id: str, location_ids: list[str]) -> dict[str, Location]:
        """The locations a batch changes: each active, of this company, and named once (one batched read)."""
        found = {k: v for k, v in self._store.get_locations(tenant_id, location_ids).items() if v.active}
        missing = [
            problem("id", "not found" if i in found else "not found (listed twice)", index)
            for index, i in enumerate(location_ids)
            if i not in found or location_ids.index(i) != index
        ]
        if missing:
            raise NotFound(f"location {location_ids[missing[0].at.index or 0]} not found", missing)
        return found

    def _check_names_free(self, tenant_id: str, entries: list[tuple[int, Location]]) -> None:
        """No two entries share a name (any case), and no other location holds one (one batched read)."""
        if not entries:
            return
        holders = self._store.location_ids_by_name(tenant_id, [location.name for _, location in entries])
        seen: set[str] = set()
        clashes: list[Problem] = []
        for index, location in entries:
            name = location.name.casefold()
            holder = holders.get(name)
            if name in seen or (holder is not None and holder != location.location_id):
                clashes.append(problem("name", "already in use", index))
            seen.add(name)
        if clashes:
            name = entries[[i for i, _ in entries].index(clashes[0].at.index or 0)][1].name
            raise AlreadyExists(f"location {name} already exists", clashes)

    def update_location(
        self,
        tenant_id: str,
        location_id: str,
        changes: dict[str, Any],
        actor: Actor,
        expected_version: int | None = None,
    ) -> Location:
        previous = self.get_location(tenant_id, location_id)
        if changes.get("active") is False and previous.is_default:
            raise InvalidState("the default location cannot be deleted", [problem("id", "is the default location")])
        if "name" in changes:
            _named(changes)
        updated = _next_version(previous, _without(changes, LOCATION_OWNED), expected_version)
        self._store.update_location(updated, previous, actor)
        return updated

    def get_location(self, tenant_id: str, location_id: str) -> Location:
        location = self._store.get_location(tenant_id, location_id)
        if location is None:
            raise NotFound(f"location {location_id} not found")
        return location

    def location_by_name(self, tenant_id: str, name: str) -> Location:
        location_id = self._store.location_id_by_name(tenant_id, name)
        if location_id is None:
            raise NotFound(f"no location named {name}")
        return self.get_location(tenant_id, location_id)

    def list_locations(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None = None, active_only: bool = False
    ) -> Page[Location]:
        return self._store.list_locations(tenant_id, limit, cursor, active_only)

    def create_bin(
        self,
        tenant_id: str,
        location_id: str,
        code: str,
        actor: Actor,
        *,
        zone: str | None = None,
        type: BinType = BinType.STORAGE,
        capacity: Decimal | None = None,
        bin_id: str | None = None,
    ) -> Bin:
        """A bin of an active location; its code is unique per location in any case (409 naming `code`)."""
        self.active_location(tenant_id, location_id, field="locationId")
        if not code.strip():
            raise ValidationFailed("bin code is required", [_field("code", "must not be empty")])
        if capacity is not None and capacity < 0:
            raise ValidationFailed("capacity cannot be negative", [_field("capacity", "must be >= 0")])
        bin_ = Bin(
            tenant_id=tenant_id,
            location_id=location_id,
            code=code.strip(),
            zone=zone.strip() if zone and zone.strip() else None,
            type=type,
            capacity=capacity,
            **({"bin_id": bin_id} if bin_id else {}),
        )
        self._store.create_bin(bin_, actor)
        return bin_

    def get_bin(self, tenant_id: str, location_id: str, bin_id: str) -> Bin | None:
        return self._store.get_bin(tenant_id, location_id, bin_id)

    def list_all_bins(self, tenant_id: str) -> list[Bin]:
        return self._store.list_all_bins(tenant_id)

    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]:
        return self._store.list_bins(tenant_id, location_id)


def _next_version(previous: E, changes: dict[str, Any], expected: int | None) -> E:
    if expected is not None and expected != previous.version:
        raise StaleVersion(f"version is {previous.version}, not {expected}")
    merged = {**previous.model_dump(), **changes, "version": previous.version + 1, "updated_at": utcnow()}
    return type(previous).model_validate(merged)


def _named(fields: dict[str, Any]) -> None:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("a location needs a name", [_field("name", "must not be empty")])
    fields["name"] = name.strip()


def _without(fields: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in owned}


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


def _name_problems(index: int, name: str) -> list[Problem]:
    message = text_problem(name, MAX_LOCATION_NAME_CHARS) if name else "is required"
    return [problem("name", message, index)] if message else []


def _check_batch(entries: Iterable[Any]) -> None:
    count = len(list(entries))
    if not count:
        raise ValidationFailed("at least one entry is required", [_field("body", "empty")])
    if count > BATCH_ENTRIES:
        raise ValidationFailed(f"at most {BATCH_ENTRIES} entries per request", [_field("body", "too many")])


def _check_writes(writes: int) -> None:
    """A batch is one transaction: say so before DynamoDB refuses it."""
    if writes > TRANSACTION_ITEMS:
        raise ValidationFailed(
            f"this request needs {writes} writes; at most {TRANSACTION_ITEMS} fit in one transaction "
            "(each location is one write, and each name it takes or gives up one more): send fewer entries",
            [_field("body", f"{writes} writes, at most {TRANSACTION_ITEMS}")],
        )
