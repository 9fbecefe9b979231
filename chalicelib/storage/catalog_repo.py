"""Products, locations and bins in the main table, with uniqueness guards."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core.errors import AlreadyExists, StaleVersion
from chalicelib.core.models import Actor, Bin, Location, Product
from chalicelib.core.ports import Page
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all, query_page, transact

Guard = tuple[str, str, str]  # (kind, value, field name for the error)


def _product_guards(product: Product) -> list[Guard]:
    guards: list[Guard] = []
    if product.sku:
        guards.append(("SKU", product.sku, "sku"))
    guards.extend(("SOURCE", f"{source}#{sid}", f"sourceIds.{source}") for source, sid in product.source_ids.items())
    return guards


def _location_guards(location: Location) -> list[Guard]:
    return [("LOCNAME", location.name.casefold(), "name")]


class DynamoCatalogStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- products ----------------------------------------------------------

    def create_product(self, product: Product, actor: Actor) -> None:
        item = record_item(
            product,
            keys.product(product.tenant_id, product.product_id),
            "product",
            product.product_id,
            actor,
            product.name,
        )
        self._save(product.tenant_id, product.product_id, item, None, _product_guards(product), [])

    def create_products(self, products: list[Product], actor: Actor) -> None:
        """Create products (with their guards) in ONE transaction; any of them existing writes none."""
        writes = [write for product in products for write in self.new_product_items(product, actor)]
        if not writes:
            return
        reasons = transact(writes)
        if reasons is not None:
            raise AlreadyExists("a product of this request already exists")

    def new_product_items(self, product: Product, actor: Actor) -> list[dict[str, Any]]:
        """The transaction items that create a product (for callers that add writes of their own)."""
        item = record_item(
            product,
            keys.product(product.tenant_id, product.product_id),
            "product",
            product.product_id,
            actor,
            product.name,
        )
        writes = [{"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]
        writes += [
            self._put_guard(product.tenant_id, kind, value, product.product_id)
            for kind, value, _ in _product_guards(product)
        ]
        return writes

    def update_product(self, product: Product, previous: Product, actor: Actor) -> None:
        item = record_item(
            product,
            keys.product(product.tenant_id, product.product_id),
            "product",
            product.product_id,
            actor,
            product.name,
        )
        self._save(
            product.tenant_id,
            product.product_id,
            item,
            previous.version,
            _product_guards(product),
            _product_guards(previous),
        )

    def get_product(self, tenant_id: str, product_id: str) -> Product | None:
        return self._get(Product, keys.product(tenant_id, product_id))

    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]:
        wanted = [to_attrs(keys.product(tenant_id, p)) for p in product_ids]
        found = [to_record(Product, item) for item in batch_get(self._table, wanted)]
        return {p.product_id: p for p in found}

    def product_id_by_sku(self, tenant_id: str, sku: str) -> str | None:
        return self._guard_target(tenant_id, "SKU", sku)

    def product_id_by_source(self, tenant_id: str, source: str, source_id: str) -> str | None:
        return self._guard_target(tenant_id, "SOURCE", f"{source}#{source_id}")

    def list_products(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[Product]:
        return self._page(Product, keys.products_partition(tenant_id), limit, cursor)

    # -- locations and bins ------------------------------------------------

    def create_location(self, location: Location, actor: Actor) -> None:
        item = self._location_item(location, actor)
        self._save(location.tenant_id, location.location_id, item, None, _location_guards(location), [])

    def update_location(self, location: Location, previous: Location, actor: Actor) -> None:
        item = self._location_item(location, actor)
        self._save(
            location.tenant_id,
            location.location_id,
            item,
            previous.version,
            _location_guards(location),
            _location_guards(previous),
        )

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        return self._get(Location, keys.location(tenant_id, location_id))

    def location_id_by_name(self, tenant_id: str, name: str) -> str | None:
        return self._guard_target(tenant_id, "LOCNAME", name.casefold())

    def list_locations(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, active_only: bool = False
    ) -> Page[Location]:
        """One page of locations; `active_only` leaves deleted ones out in DynamoDB (a page may be short)."""
        return self._page(Location, keys.locations_partition(tenant_id), limit, cursor, active_only)

    def create_bin(self, bin_: Bin, actor: Actor) -> None:
        item = record_item(
            bin_, keys.bin_(bin_.tenant_id, bin_.location_id, bin_.bin_id), "bin", bin_.bin_id, actor, bin_.code
        )
        guard = ("BIN", f"{bin_.location_id}#{bin_.code.casefold()}", "code")
        self._save(bin_.tenant_id, bin_.bin_id, item, None, [guard], [])

    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]:
        pk = keys.bin_(tenant_id, location_id, "")["pk"]
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_attrs({":pk": pk, ":prefix": f"{location_id}#"}),
            ConsistentRead=True,
        )
        return [to_record(Bin, item) for item in items]

    # -- shared ------------------------------------------------------------

    def _location_item(self, location: Location, actor: Actor) -> dict[str, Any]:
        key = keys.location(location.tenant_id, location.location_id)
        return record_item(location, key, "location", location.location_id, actor, location.name)

    def _save(
        self,
        tenant_id: str,
        entity_id: str,
        item: dict[str, Any],
        previous_version: int | None,
        guards: list[Guard],
        previous_guards: list[Guard],
    ) -> None:
        """Write the entity and swap its guard items in one transaction."""
        if previous_version is None:
            entity = {
                "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
            }
        else:
            entity = {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": to_attrs({":v": previous_version}),
                }
            }
        added = [g for g in guards if g[:2] not in {p[:2] for p in previous_guards}]
        removed = [g for g in previous_guards if g[:2] not in {n[:2] for n in guards}]
        writes = [entity]
        writes += [self._put_guard(tenant_id, kind, value, entity_id) for kind, value, _ in added]
        writes += [self._delete_guard(tenant_id, kind, value, entity_id) for kind, value, _ in removed]
        reasons = transact(writes)
        if reasons is None:
            return
        failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
        if 0 in failed:
            if previous_version is None:
                raise AlreadyExists(f"{entity_id} already exists")
            raise StaleVersion("the record was changed by someone else; read it again")
        clashes = [added[i - 1] for i in failed if 0 < i <= len(added)]
        raise AlreadyExists(
            "already in use: " + ", ".join(f"{field} {value}" for _, value, field in clashes),
            [{"field": field, "message": f"{value} is already in use"} for _, value, field in clashes],
        )

    def _put_guard(self, tenant_id: str, kind: str, value: str, target: str) -> dict[str, Any]:
        item = {**keys.unique(tenant_id, kind, value), "target_id": target, "entity_type": "guard"}
        return {
            "Put": {"TableName": self._table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def _delete_guard(self, tenant_id: str, kind: str, value: str, target: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": to_attrs(keys.unique(tenant_id, kind, value)),
                "ConditionExpression": "target_id = :t",
                "ExpressionAttributeValues": to_attrs({":t": target}),
            }
        }

    def _guard_target(self, tenant_id: str, kind: str, value: str) -> str | None:
        item = (
            ddb()
            .get_item(TableName=self._table, Key=to_attrs(keys.unique(tenant_id, kind, value)), ConsistentRead=True)
            .get("Item")
        )
        return str(item["target_id"]["S"]) if item else None

    def _get(self, model: Any, key: dict[str, str]) -> Any:
        item = ddb().get_item(TableName=self._table, Key=to_attrs(key), ConsistentRead=True).get("Item")
        return to_record(model, item) if item else None

    def _page(
        self, model: Any, partition: str, limit: int, cursor: dict[str, object] | None, active_only: bool = False
    ) -> Page[Any]:
        filtered: dict[str, Any] = {"ExpressionAttributeValues": to_attrs({":pk": partition})}
        if active_only:
            filtered = {
                "FilterExpression": "active = :yes",
                "ExpressionAttributeValues": to_attrs({":pk": partition, ":yes": True}),
            }
        items, last = query_page(
            self._table,
            limit=limit,
            start=to_attrs(cursor) if cursor else None,
            KeyConditionExpression="pk = :pk",
            ConsistentRead=True,
            **filtered,
        )
        return Page([to_record(model, i) for i in items], from_attrs(last) if last else None)
