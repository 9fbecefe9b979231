"""Products, locations and bins in the main table, with uniqueness guards.

Active products and locations are listed in creation order (`storage/listing`:
products under `T#t#LIST#product` or `T#t#LIST#material` by kind, locations
under `T#t#LIST#location`, on gsi3) and counted by counter items written in
the same transaction as every create and soft delete. A soft-deleted entity
leaves its listing and frees its guards (SKU, source ids, location name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core.models import Actor, Bin, Location, Movement, Product, StockRecord
from chalicelib.core.ports import OffsetPage, Page, UnitOfWork
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all, query_page
from chalicelib.storage.listing import Listing, add_counters, next_numbers, offset_page
from chalicelib.storage.transaction import Meaning, Role, Transaction, own

Guard = tuple[str, str, str]  # (kind, value, field name for the error)

# Numeric ids (004 `productId`, `warehouseId`): per-tenant sequences `T#t#SEQ / <name>`, each number
# mapped to its entity by a guard `T#t#UNIQUE / <kind>#<n>` that lives as long as the entity's item.
PRODUCT_NUMBERS = "product-number"
LOCATION_NUMBERS = "location-number"
PRODUCT_NUMBER_GUARD = "PRODUCTNO"
LOCATION_NUMBER_GUARD = "LOCATIONNO"


def _product_guards(product: Product) -> list[Guard]:
    guards: list[Guard] = []
    if not product.active:
        return guards
    if product.sku:
        guards.append(("SKU", product.sku, "sku"))
    guards.extend(("SOURCE", f"{source}#{sid}", f"sourceIds.{source}") for source, sid in product.source_ids.items())
    return guards


def _location_guards(location: Location) -> list[Guard]:
    """The name guard and the numeric-id guard (004 warehouseId), held while the location is active:
    a deleted location's name is free again and its warehouseId names nothing (numbers are never reused)."""
    if not location.active:
        return []
    guards: list[Guard] = [("LOCNAME", location.name.casefold(), "name")]
    if location.number:
        guards.append((LOCATION_NUMBER_GUARD, str(location.number), "warehouseId"))
    return guards


def product_listing(product: Product) -> Listing:
    return Listing(product.tenant_id, product.kind)


def location_listing(tenant_id: str) -> Listing:
    return Listing(tenant_id, "location")


def _listed(entity: Product | Location, listing: Listing, entity_id: str) -> dict[str, str]:
    return listing.entry(keys.created_sort(entity.created_at, entity_id)) if entity.active else {}


def _swapped(guards: list[Guard], previous: list[Guard]) -> tuple[list[Guard], list[Guard]]:
    """The guards to take and the guards to give up when an entity's guards go from `previous` to `guards`."""
    added = [g for g in guards if g[:2] not in {p[:2] for p in previous}]
    removed = [g for g in previous if g[:2] not in {n[:2] for n in guards}]
    return added, removed


class DynamoCatalogStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- numeric ids ---------------------------------------------------------

    def number_products(self, products: Iterable[Product]) -> None:
        """Give each new product without one its numeric id: one counter UpdateItem for them all."""
        unnumbered = [p for p in products if p.number is None]
        if unnumbered:
            block = next_numbers(self._table, unnumbered[0].tenant_id, PRODUCT_NUMBERS, len(unnumbered))
            for product, number in zip(unnumbered, block, strict=True):
                product.number = number

    def number_locations(self, locations: Iterable[Location]) -> None:
        """Give each new location without one its numeric id: 0 for the default location, else the counter's."""
        unnumbered = []
        for location in locations:
            if location.number is None and location.is_default:
                location.number = 0
            elif location.number is None:
                unnumbered.append(location)
        if unnumbered:
            block = next_numbers(self._table, unnumbered[0].tenant_id, LOCATION_NUMBERS, len(unnumbered))
            for location, number in zip(unnumbered, block, strict=True):
                location.number = number

    def product_id_by_number(self, tenant_id: str, number: int) -> str | None:
        return self._guard_target(tenant_id, PRODUCT_NUMBER_GUARD, str(number))

    def location_id_by_number(self, tenant_id: str, number: int) -> str | None:
        return self._guard_target(tenant_id, LOCATION_NUMBER_GUARD, str(number))

    def _add_number_guard(self, tx: Transaction, product: Product) -> None:
        """A product's numeric-id guard: kept for good (a deleted product's number names nothing active).
        (A location's is one of `_location_guards`, freed with its name when it is deleted.)"""
        if not product.number:
            return
        value = str(product.number)
        # Taken: this very product was created already (its number travels with it), as for its own key.
        meaning = Meaning(Role.NEW, "product", product.product_id, value=value)
        tx.add(self._put_guard(product.tenant_id, PRODUCT_NUMBER_GUARD, value, product.product_id), meaning)

    def add_number_guard(self, tx: Transaction, entity: Product | Location) -> None:
        """The guard mapping an entity's numeric id to it, as its create path takes it (the backfill
        numbers entities written before numbering through this and `number_products` /
        `number_locations`)."""
        if isinstance(entity, Product):
            self._add_number_guard(tx, entity)
            return
        for kind, value, field in _location_guards(entity):
            if kind == LOCATION_NUMBER_GUARD:
                taken = Meaning(Role.GUARD, "location", entity.location_id, field=field, value=value)
                tx.add(self._put_guard(entity.tenant_id, kind, value, entity.location_id), taken)

    # -- products ----------------------------------------------------------

    def _product_item(self, product: Product, actor: Actor) -> dict[str, Any]:
        item_keys = {
            **keys.product(product.tenant_id, product.product_id),
            **_listed(product, product_listing(product), product.product_id),
        }
        return record_item(product, item_keys, "product", product.product_id, actor, product.name)

    def create_product(self, product: Product, actor: Actor) -> None:
        self.number_products([product])
        item = self._product_item(product, actor)
        counters = {product_listing(product): int(product.active)}
        tx = Transaction()
        self._add_number_guard(tx, product)
        self._save(product.tenant_id, product.product_id, item, None, _product_guards(product), [], counters, tx)

    def create_product_with_stock(
        self, product: Product, record: StockRecord, movement: Movement | None, actor: Actor
    ) -> None:
        """A product and its first stock record (with its initial movement) in ONE transaction."""
        from chalicelib.storage.stock_repo import DynamoStockStore

        self.number_products([product])
        item = self._product_item(product, actor)
        tx = Transaction()
        self._add_number_guard(tx, product)
        DynamoStockStore(self._table).add_create(tx, record, movement, actor)
        counters = {product_listing(product): int(product.active)}
        self._save(product.tenant_id, product.product_id, item, None, _product_guards(product), [], counters, tx)

    def create_products(self, products: list[Product], actor: Actor, uow: UnitOfWork | None = None) -> None:
        """Create products (with their guards) in ONE transaction; any of them existing writes none."""
        tx, mine = own(uow)
        self.number_products(products)
        for product in products:
            self.add_new_product(tx, product, actor)
        self.add_product_counters(tx, products)
        if mine:
            tx.commit()

    def add_product_counters(self, tx: Transaction, products: list[Product]) -> None:
        """Add the counter moves for creating `products`: one per listing, whatever their number.

        A caller that adds `add_new_product` writes to a transaction of its own adds these once.
        """
        deltas: dict[Listing, int] = {}
        for product in products:
            if product.active:
                deltas[product_listing(product)] = deltas.get(product_listing(product), 0) + 1
        add_counters(tx, self._table, deltas)

    def add_new_product(self, tx: Transaction, product: Product, actor: Actor) -> None:
        """Add the writes that create a product and take its guards (for callers that add writes of their own;
        they add `add_product_counters` of all their products once). Number a batch first with
        `number_products` (one counter call); an unnumbered product costs one here."""
        self.number_products([product])
        item = self._product_item(product, actor)
        put = {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        tx.add(put, Meaning(Role.NEW, "product", product.product_id))
        for kind, value, field in _product_guards(product):
            guard = self._put_guard(product.tenant_id, kind, value, product.product_id)
            tx.add(guard, Meaning(Role.GUARD, "product", product.product_id, field=field, value=value))
        self._add_number_guard(tx, product)

    def update_product(self, product: Product, previous: Product, actor: Actor) -> None:
        item = self._product_item(product, actor)
        delta = int(product.active) - int(previous.active)
        self._save(
            product.tenant_id,
            product.product_id,
            item,
            previous.version,
            _product_guards(product),
            _product_guards(previous),
            {product_listing(product): delta},
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

    def page_products(self, tenant_id: str, kind: str, offset: int, limit: int) -> OffsetPage[Product]:
        """Active products of one kind in creation order, and how many there are (one Query at offset 0)."""
        page = offset_page(self._table, Listing(tenant_id, kind), offset, limit)
        return OffsetPage([to_record(Product, item) for item in page.items], page.total or 0)

    # -- locations and bins ------------------------------------------------

    def create_location(self, location: Location, actor: Actor) -> None:
        self.number_locations([location])
        item = self._location_item(location, actor)
        counters = {location_listing(location.tenant_id): int(location.active)}
        self._save(location.tenant_id, location.location_id, item, None, _location_guards(location), [], counters)

    def update_location(self, location: Location, previous: Location, actor: Actor) -> None:
        item = self._location_item(location, actor)
        delta = int(location.active) - int(previous.active)
        self._save(
            location.tenant_id,
            location.location_id,
            item,
            previous.version,
            _location_guards(location),
            _location_guards(previous),
            {location_listing(location.tenant_id): delta},
        )

    def write_locations(
        self,
        creates: list[Location],
        updates: list[tuple[Location, Location]],
        actor: Actor,
        uow: UnitOfWork | None = None,
    ) -> None:
        """Every location write of a batch in ONE transaction (entity Puts and name guard swaps).

        Each item's meaning names the entry's position in its list, so a
        cancellation is an AlreadyExists at `[i].name` / `[i].id` or a
        StaleVersion at `[i].version` (Transaction.explain).
        """
        tx, mine = own(uow)
        self.number_locations(creates)
        for index, location in enumerate(creates):
            self.add_new_location(tx, location, actor, index)
        listed = sum(int(location.active) for location in creates)
        listed += sum(int(location.active) - int(previous.active) for location, previous in updates)
        if creates or updates:
            self.add_location_counter(tx, (creates or [u[0] for u in updates])[0].tenant_id, listed)
        for index, (location, previous) in enumerate(updates):
            changed = Meaning(Role.VERSION, "location", location.location_id, field="version", index=index)
            tx.add(self._entity_put(self._location_item(location, actor), previous.version), changed)
            added, removed = _swapped(_location_guards(location), _location_guards(previous))
            for kind, value, field in added:
                taken = Meaning(Role.GUARD, "location", location.location_id, field=field, value=value, index=index)
                tx.add(self._put_guard(location.tenant_id, kind, value, location.location_id), taken)
            for kind, value, _ in removed:
                tx.add(self._delete_guard(location.tenant_id, kind, value, location.location_id), changed)
        if mine:
            tx.commit()

    def add_location_counter(self, tx: Transaction, tenant_id: str, delta: int) -> None:
        """Move the count of listed locations once per transaction (a creating caller adds it itself)."""
        add_counters(tx, self._table, {location_listing(tenant_id): delta})

    def add_new_location(self, tx: Transaction, location: Location, actor: Actor, index: int | None = None) -> None:
        """Add the writes that create a location and take its name guard (tenant create adds its default)."""
        self.number_locations([location])
        created = Meaning(Role.NEW, "location", location.location_id, field="id", index=index)
        tx.add(self._entity_put(self._location_item(location, actor), None), created)
        for kind, value, field in _location_guards(location):
            taken = Meaning(Role.GUARD, "location", location.location_id, field=field, value=value, index=index)
            tx.add(self._put_guard(location.tenant_id, kind, value, location.location_id), taken)

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        return self._get(Location, keys.location(tenant_id, location_id))

    def get_locations(self, tenant_id: str, location_ids: Iterable[str]) -> dict[str, Location]:
        wanted = [to_attrs(keys.location(tenant_id, i)) for i in location_ids]
        found = [to_record(Location, item) for item in batch_get(self._table, wanted)] if wanted else []
        return {location.location_id: location for location in found}

    def location_id_by_name(self, tenant_id: str, name: str) -> str | None:
        return self._guard_target(tenant_id, "LOCNAME", name.casefold())

    def location_ids_by_name(self, tenant_id: str, names: Iterable[str]) -> dict[str, str]:
        folded = {name.casefold() for name in names}
        wanted = [to_attrs(keys.unique(tenant_id, "LOCNAME", name)) for name in folded]
        items = batch_get(self._table, wanted) if wanted else []
        prefix = "LOCNAME#"
        return {item["sk"]["S"].removeprefix(prefix): item["target_id"]["S"] for item in items}

    def list_locations(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, active_only: bool = False
    ) -> Page[Location]:
        """One page of locations; `active_only` leaves deleted ones out in DynamoDB (a page may be short)."""
        return self._page(Location, keys.locations_partition(tenant_id), limit, cursor, active_only)

    def page_locations(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[Location]:
        page = offset_page(self._table, location_listing(tenant_id), offset, limit)
        return OffsetPage([to_record(Location, item) for item in page.items], page.total or 0)

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

    def get_bin(self, tenant_id: str, location_id: str, bin_id: str) -> Bin | None:
        return self._get(Bin, keys.bin_(tenant_id, location_id, bin_id))

    def list_all_bins(self, tenant_id: str) -> list[Bin]:
        """Every bin of the company, by location then id: one Query of `T#t#BIN`."""
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.bin_(tenant_id, "", "")["pk"]}),
            ConsistentRead=True,
        )
        return [to_record(Bin, item) for item in items]

    # -- shared ------------------------------------------------------------

    def _location_item(self, location: Location, actor: Actor) -> dict[str, Any]:
        key = {
            **keys.location(location.tenant_id, location.location_id),
            **_listed(location, location_listing(location.tenant_id), location.location_id),
        }
        return record_item(location, key, "location", location.location_id, actor, location.name)

    def _save(
        self,
        tenant_id: str,
        entity_id: str,
        item: dict[str, Any],
        previous_version: int | None,
        guards: list[Guard],
        previous_guards: list[Guard],
        counters: Mapping[Listing, int] | None = None,
        tx: Transaction | None = None,
    ) -> None:
        """Write the entity and swap its guard items in one transaction (with its counter moves, and the
        writes `tx` holds already: a product's first stock)."""
        entity_type = str(item["entity_type"]["S"])
        entity = self._entity_put(item, previous_version)
        if previous_version is None:
            meaning = Meaning(Role.NEW, entity_type, entity_id)
        else:
            meaning = Meaning(Role.VERSION, entity_type, entity_id)
        added, removed = _swapped(guards, previous_guards)
        tx = tx if tx is not None else Transaction()
        tx.add(entity, meaning)
        for kind, value, field in added:
            taken = Meaning(Role.GUARD, entity_type, entity_id, field=field, value=value)
            tx.add(self._put_guard(tenant_id, kind, value, entity_id), taken)
        for kind, value, _ in removed:
            tx.add(self._delete_guard(tenant_id, kind, value, entity_id), meaning)
        add_counters(tx, self._table, counters or {})
        tx.commit()

    def _entity_put(self, item: dict[str, Any], previous_version: int | None) -> dict[str, Any]:
        """A Put that creates (`attribute_not_exists`) or replaces the version read (`version = :v`)."""
        if previous_version is None:
            return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": to_attrs({":v": previous_version}),
            }
        }

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
