"""Storage of the `backfill` job (`core/backfill.py`): pages of items written before numbering and
the newer index entries, each fixed by one conditional write, and the job's cursor.

Numbers come from the create paths' own functions (`DynamoCatalogStore.number_products` /
`number_locations`: the per-tenant counters, 0 for a default location) and their guards from
`DynamoCatalogStore.add_number_guard`; index entries from `keys.stock_by_type` and
`keys.record_movement_by_time`, the builders the create paths use; the stock keys pass ADDs to
`keys.product_stock` what `DynamoStockStore.add_product_key` would have.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.backfill import Cursor, Fixed
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, Location, Movement, Product, StockRecord
from chalicelib.core.stock.ownership import is_own_stock
from chalicelib.observability import logger
from chalicelib.storage import keys
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.codec import from_attrs, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, is_conditional_failure
from chalicelib.storage.job_cursors import DynamoJobCursors
from chalicelib.storage.stock_repo import PRODUCT_STOCK_ENTITY
from chalicelib.storage.transaction import Meaning, Role, Transaction

JOB = "backfill"
# Who history names for a number the backfill gave.
BACKFILL_ACTOR = Actor.model_construct(id="system", name="Stockroom backfill")


class DynamoBackfillStore:
    def __init__(self, table: str) -> None:
        self._table = table
        self._catalog = DynamoCatalogStore(table)
        self._cursors = DynamoJobCursors(table)

    def fix_page(self, tenant_id: str, phase: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        fixers: dict[str, Callable[[str, dict[str, Any] | None, int], Fixed]] = {
            "products": self._products,
            "locations": self._locations,
            "records": self._records,
            "ledger": self._ledger,
            "keys": self._keys,
        }
        return fixers[phase](tenant_id, start, limit)

    # -- the passes ----------------------------------------------------------------------------

    def _products(self, tenant_id: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        """Products without `number`: numbered in one counter call, each set by its own transaction."""
        items, last, read = self._page(keys.products_partition(tenant_id), start, limit, "#number", "number")
        products = [to_record(Product, item) for item in items]
        self._catalog.number_products(products)
        written = sum(self._set_number(p, keys.product(tenant_id, p.product_id), "product") for p in products)
        return Fixed(read, written, len(products) - written, last)

    def _locations(self, tenant_id: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        items, last, read = self._page(keys.locations_partition(tenant_id), start, limit, "#number", "number")
        locations = [to_record(Location, item) for item in items]
        self._catalog.number_locations(locations)
        written = sum(self._set_number(loc, keys.location(tenant_id, loc.location_id), "location") for loc in locations)
        return Fixed(read, written, len(locations) - written, last)

    def _records(self, tenant_id: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        """Stock records without a gsi3 partition: their type's `STOCKTYPE` entry (sorted by updated_at;
        a change since may have set gsi3sk already, which is kept)."""
        items, last, read = self._page(keys.stocks_partition(tenant_id), start, limit, "gsi3pk")
        written = 0
        for item in items:
            record = to_record(StockRecord, item)
            entry = keys.stock_by_type(tenant_id, is_own_stock(record), record.updated_at, record.stock_id)
            written += self._set_index(keys.stock(tenant_id, record.stock_id), "gsi3", entry)
        return Fixed(read, written, len(items) - written, last)

    def _ledger(self, tenant_id: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        """Ledger lines without a gsi2 entry, found through the tenant ledger by time (gsi1 `T#t#LEDGER`,
        which every movement has carried from the first): their record's `BYTIME` entry."""
        items, last, read = self._page(keys.ledger_by_time_partition(tenant_id), start, limit, "gsi2pk", index="gsi1")
        written = 0
        for item in items:
            movement = to_record(Movement, item)
            entry = keys.record_movement_by_time(
                tenant_id, movement.stock_id, movement.occurred_at, movement.movement_id
            )
            key = keys.movement(tenant_id, movement.stock_id, movement.movement_id)
            written += self._set_index(key, "gsi2", entry)
        return Fixed(read, written, len(items) - written, last)

    def _keys(self, tenant_id: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        """Every stock record of the page (active or not: as-of reads need deleted ones) in its current
        product's stock keys: the page's products' keys items (one BatchGetItem), then per product that
        lacks some of the page's ids ONE UpdateItem that ADDs them all. A second run reads the same and
        writes nothing. `written` counts the ids added."""
        items, last, read = self._page(
            keys.stocks_partition(tenant_id), start, limit, None, projection="pk, sk, product_id"
        )
        by_product: dict[str, set[str]] = {}
        for item in items:
            if "product_id" in item:
                by_product.setdefault(item["product_id"]["S"], set()).add(item["sk"]["S"])
        if not by_product:
            return Fixed(read, 0, 0, last)
        held = batch_get(
            self._table,
            [to_attrs(keys.product_stock(tenant_id, product_id)) for product_id in by_product],
            projection=f"sk, stock_ids, {keys.PRODUCT_STOCK_FULL}",
        )
        # Full keys take no more ids (their product is read by its index): nothing is missing from them.
        full = {item["sk"]["S"] for item in held if keys.PRODUCT_STOCK_FULL in item}
        known = {item["sk"]["S"]: set(item.get("stock_ids", {}).get("SS", [])) for item in held}
        written = 0
        for product_id, stock_ids in sorted(by_product.items()):
            missing = sorted(stock_ids - known.get(product_id, set()))
            if not missing or product_id in full:
                continue
            # A record moved away between the page read and this write leaves an id its new product's keys
            # also hold: reads drop it there (its product_id decides), as for any stale id.
            written += self._add_product_keys(tenant_id, product_id, missing)
        return Fixed(read, written, 0, last)

    def _add_product_keys(self, tenant_id: str, product_id: str, missing: list[str]) -> int:
        """ADD `missing` to the product's keys within their cap (keys.PRODUCT_STOCK_KEYS_CAP); past it, flag
        them full instead (the product is then read by its index). The ids added."""
        key = to_attrs(keys.product_stock(tenant_id, product_id))
        entity = {":entity": {"S": PRODUCT_STOCK_ENTITY}}
        room = keys.PRODUCT_STOCK_KEYS_CAP - len(missing)
        if room >= 0:
            try:
                ddb().update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="ADD stock_ids :ids SET entity_type = :entity",
                    ConditionExpression="attribute_not_exists(#full) AND (attribute_not_exists(stock_ids) "
                    "OR size(stock_ids) <= :room)",
                    ExpressionAttributeNames={"#full": keys.PRODUCT_STOCK_FULL},
                    ExpressionAttributeValues={":ids": {"SS": missing}, ":room": {"N": str(room)}, **entity},
                )
                return len(missing)
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        ddb().update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression="SET #full = :full, entity_type = :entity",
            ExpressionAttributeNames={"#full": keys.PRODUCT_STOCK_FULL},
            ExpressionAttributeValues={":full": {"BOOL": True}, **entity},
        )
        return 0

    # -- writes --------------------------------------------------------------------------------

    def _set_number(self, entity: Product | Location, key: dict[str, str], kind: str) -> int:
        """SET the entity's number (if it still has none, at the version read: an edit in between wins and
        the next run numbers it) and take its guard, in one transaction. 1 if written, 0 if raced."""
        tx = Transaction()
        now = utcnow()
        update = {
            "Update": {
                "TableName": self._table,
                "Key": to_attrs(key),
                "UpdateExpression": (
                    "SET #number = :n, version = version + :one, changed_at = :now, "
                    "changed_by_id = :by, changed_by_name = :byname"
                ),
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#number) AND version = :v",
                "ExpressionAttributeNames": {"#number": "number"},
                "ExpressionAttributeValues": to_attrs(
                    {
                        ":n": Decimal(entity.number or 0),
                        ":one": Decimal(1),
                        ":now": now,
                        ":by": BACKFILL_ACTOR.id,
                        ":byname": BACKFILL_ACTOR.name,
                        ":v": Decimal(entity.version),
                    }
                ),
            }
        }
        entity_id = key["sk"]
        tx.add(update, Meaning(Role.VERSION, kind, entity_id))
        self._catalog.add_number_guard(tx, entity)
        try:
            tx.commit()
        except Conflict as exc:
            # Changed meanwhile (numbered, edited or deleted): its number stays unused (a gap, as after any
            # failed create); the next run reads it again.
            logger.info(
                "backfill skipped a changed item", extra={"entity": kind, "entity_id": entity_id, "why": exc.code}
            )
            return 0
        return 1

    def _set_index(self, key: dict[str, str], index: str, entry: dict[str, str]) -> int:
        """SET an index entry on an item that has none (1), or nothing if it has one by now (0)."""
        pk, sk = f"{index}pk", f"{index}sk"
        try:
            ddb().update_item(
                TableName=self._table,
                Key=to_attrs(key),
                UpdateExpression=f"SET {pk} = :pk, {sk} = if_not_exists({sk}, :sk)",
                ConditionExpression=f"attribute_exists(pk) AND attribute_not_exists({pk})",
                ExpressionAttributeValues=to_attrs({":pk": entry[pk], ":sk": entry[sk]}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return 0
        return 1

    # -- reads ---------------------------------------------------------------------------------

    def _page(
        self,
        partition: str,
        start: dict[str, Any] | None,
        limit: int,
        missing: str | None,
        name: str | None = None,
        index: str | None = None,
        projection: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
        """One Query page of `limit` items of the partition, those lacking `missing` (filtered in DynamoDB;
        None: every item), the key to go on from, and how many items the page read."""
        params: dict[str, Any] = {
            "KeyConditionExpression": f"{'gsi1pk' if index else 'pk'} = :pk",
            "ExpressionAttributeValues": to_attrs({":pk": partition}),
        }
        if missing is not None:
            params["FilterExpression"] = f"attribute_not_exists({missing})"
        if name is not None and missing is not None:
            params["ExpressionAttributeNames"] = {missing: name}
        if projection is not None:
            params["ProjectionExpression"] = projection
        if index:
            params["IndexName"] = index
        else:
            params["ConsistentRead"] = True
        response = ddb().query(
            TableName=self._table, Limit=limit, **params, **({"ExclusiveStartKey": to_attrs(start)} if start else {})
        )
        last = response.get("LastEvaluatedKey")
        return response.get("Items", []), from_attrs(last) if last else None, int(response.get("ScannedCount", 0))

    # -- the cursor ----------------------------------------------------------------------------

    def load_cursor(self, tenant_id: str) -> Cursor | None:
        data = self._cursors.load(tenant_id, JOB)
        return Cursor(str(data["phase"]), data.get("start")) if data else None

    def save_cursor(self, tenant_id: str, cursor: Cursor) -> None:
        self._cursors.save(tenant_id, JOB, {"phase": cursor.phase, "start": cursor.start})

    def clear_cursor(self, tenant_id: str) -> None:
        self._cursors.clear(tenant_id, JOB)
