"""Products (and materials), locations and bins.

Uniqueness (SKU, external source id, location name, bin code) is enforced
by storage with guard items written in the same transaction as the entity.
Updates carry the version the client read; a stale one is a 409.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.core.errors import NotFound, StaleVersion, ValidationFailed
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, Bin, Location, Product
from chalicelib.core.ports import CatalogStore, Page, StockStore

# 002: bundles are derived; a product cannot become one, nor stop being one.
BUNDLE_UNIT = "bundles"
PRODUCT_OWNED = frozenset({"tenant_id", "product_id", "version", "created_at", "updated_at"})
LOCATION_OWNED = frozenset({"tenant_id", "location_id", "version", "created_at", "updated_at"})
E = TypeVar("E", Product, Location)


class CatalogService:
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
        location = Location(tenant_id=tenant_id, **_without(fields, LOCATION_OWNED))
        self._store.create_location(location, actor)
        return location

    def update_location(
        self,
        tenant_id: str,
        location_id: str,
        changes: dict[str, Any],
        actor: Actor,
        expected_version: int | None = None,
    ) -> Location:
        previous = self.get_location(tenant_id, location_id)
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

    def create_bin(self, tenant_id: str, location_id: str, code: str, actor: Actor) -> Bin:
        self.get_location(tenant_id, location_id)
        if not code.strip():
            raise ValidationFailed("bin code is required", [_field("code", "must not be empty")])
        bin_ = Bin(tenant_id=tenant_id, location_id=location_id, code=code.strip())
        self._store.create_bin(bin_, actor)
        return bin_

    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]:
        return self._store.list_bins(tenant_id, location_id)


def _next_version(previous: E, changes: dict[str, Any], expected: int | None) -> E:
    if expected is not None and expected != previous.version:
        raise StaleVersion(f"version is {previous.version}, not {expected}")
    merged = {**previous.model_dump(), **changes, "version": previous.version + 1, "updated_at": utcnow()}
    return type(previous).model_validate(merged)


def _without(fields: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in owned}


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}
