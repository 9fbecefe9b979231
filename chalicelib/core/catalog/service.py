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

The default location and the location batch entry live in `locations.py`; the
002 reads and writes in `maker.py` (the `MakerCatalog` mixin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.fields import LOCATION_OWNED, PRODUCT_OWNED, next_version, without
from chalicelib.core.catalog.locations import (
    LocationChange,
    default_location,
    default_location_id,
    ensure_default_location,
)
from chalicelib.core.catalog.maker import MakerCatalog
from chalicelib.core.errors import (
    AlreadyExists,
    InvalidState,
    NotFound,
    Problem,
    StaleVersion,
    ValidationFailed,
    problem,
)
from chalicelib.core.limits import BATCH_ENTRIES, TRANSACTION_ITEMS
from chalicelib.core.models import (
    Actor,
    Bin,
    BinType,
    Location,
    Product,
)
from chalicelib.core.ports import CatalogStore, Page, StockStore
from chalicelib.core.values import text_problem

# Names other modules import from here (their homes are locations.py and maker.py).
__all__ = [
    "CatalogService",
    "LocationChange",
    "MakerCatalog",
    "default_location",
    "default_location_id",
    "ensure_default_location",
]

# 002: bundles are derived; a product cannot become one, nor stop being one.
BUNDLE_UNIT = "bundles"
MAX_LOCATION_NAME_CHARS = 200
LOCATION_PAGE = 500


class CatalogService(MakerCatalog):
    def __init__(self, store: CatalogStore, stock: StockStore) -> None:
        self._store = store
        self._stock = stock

    # -- products ----------------------------------------------------------

    def create_product(self, tenant_id: str, fields: dict[str, Any], actor: Actor) -> Product:
        product = Product(tenant_id=tenant_id, **without(fields, PRODUCT_OWNED))
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
        changes = without(changes, PRODUCT_OWNED)
        unit = changes.get("unit_type", previous.unit_type)
        if (unit == BUNDLE_UNIT) != (previous.unit_type == BUNDLE_UNIT):
            raise ValidationFailed("unitType cannot change to or from bundles", [_field("unitType", "bundles")])
        updated = next_version(previous, changes, expected_version)
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
        location = Location(tenant_id=tenant_id, **without(fields, LOCATION_OWNED))
        self._store.create_location(location, actor)
        return location

    def create_locations(self, tenant_id: str, entries: Sequence[Mapping[str, Any]], actor: Actor) -> list[Location]:
        """Create every location of the batch, or none. Names are required, unique (any case), not repeated."""
        _check_batch(entries)
        errors: list[Problem] = []
        locations: list[Location] = []
        for index, entry in enumerate(entries):
            values = without(dict(entry), LOCATION_OWNED)
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
            values = without(dict(change.fields), LOCATION_OWNED)
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
            pairs.append((next_version(previous, values, None), previous))
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
        updated = next_version(previous, without(changes, LOCATION_OWNED), expected_version)
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


def _named(fields: dict[str, Any]) -> None:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("a location needs a name", [_field("name", "must not be empty")])
    fields["name"] = name.strip()


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
