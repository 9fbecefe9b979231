"""DynamoDB implementation of the core's OrderStore.

An order and its lines are one item collection, `pk=T#<t>#ORDER#<order id>`
with `sk=ORDER` for the header and `sk=LINE#<line id>` for each line, so
reading an order with its lines is one Query. Headers carry a gsi1 entry
(`T#<t>#ORDERS`, `A#` or `D#` + creation stamp) for the active and deleted
lists; lines carry one (`T#<t>#ORDERLINES`, `A#` or `D#` + their order's
creation stamp and id + inverted line number) so an export reads every
active line of a tenant page by page, newest order first, without a Query
per order. The orderReference guard `T#<t>#UNIQUE / ORDERREF#<casefolded>` is
taken, moved and freed in the same transaction as its order.

`sk=CLAIMS` is the order's reservation register: each reserve adds its
reservation id and counts itself there, in the reserve's own transaction,
which also checks that the line is still active. A delete (or an update that
removes lines) reads the register with the order, releases what is still
active in its own transaction, and guards on the count: a reserve landing in
between fails one of the two, never leaves a reservation on a deleted order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core.models import Actor
from chalicelib.core.ports import Page, UnitOfWork
from chalicelib.features.orders.model import LINE_ENTITY, ORDER_ENTITY, LineItem, Order
from chalicelib.features.orders.port import LineWrite, OrderWrite, StoredOrder
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, query_all, query_page
from chalicelib.storage.transaction import Meaning, Role, Transaction, own

HEADER_SK = "ORDER"
LINE_PREFIX = "LINE#"
CLAIMS_SK = "CLAIMS"

# Order Queries sent at once by get_orders (the DynamoDB client pools up to 32 connections).
PARALLEL_QUERIES = 16


class DynamoOrderStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- writes ------------------------------------------------------------

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor, uow: UnitOfWork | None = None) -> None:
        tx, mine = own(uow)
        self.add_writes(tx, tenant_id, writes, actor)
        if mine:
            tx.commit()

    def add_writes(self, tx: Transaction, tenant_id: str, writes: list[OrderWrite], actor: Actor) -> None:
        """Add the writes of `writes` to a transaction, each with what it means (to explain a cancellation).

        `save` commits them alone; the CSV import commits them with its job checkpoint.
        """
        for position, write in enumerate(writes):
            order_id = write.order.order_id
            versioned = Meaning(Role.VERSION, "order", order_id, field="version", index=position)
            header = Meaning(Role.NEW, "order", order_id, field="orderId", index=position)
            tx.add(
                self._put_order(tenant_id, write, actor), versioned if write.previous_version is not None else header
            )
            for line_write in write.lines:
                tx.add(self._put_line(tenant_id, write.order, line_write, actor), versioned)
            if write.free_reference:
                tx.add(self._free(tenant_id, write.free_reference, order_id), versioned)
            if write.take_reference:
                taken = Meaning(
                    Role.GUARD, "order", order_id, field="orderReference", value=write.take_reference, index=position
                )
                tx.add(self._take(tenant_id, write.take_reference, order_id), taken)
            if write.reserves_seen is not None:
                tx.add(self._no_reserve_since(tenant_id, order_id, write.reserves_seen), versioned)

    def note_reservation(
        self, tenant_id: str, order_id: str, line_item_id: str, reservation_id: str, uow: UnitOfWork
    ) -> None:
        tx, _ = own(uow)
        line_key = to_attrs(keys.order_line(tenant_id, order_id, line_item_id))
        alive = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": line_key,
                "ConditionExpression": "active = :true",
                "ExpressionAttributeValues": to_attrs({":true": True}),
            }
        }
        tx.add(alive, Meaning(Role.ALIVE, "line item", line_item_id, field="lineItemId"))
        register = {
            "Update": {
                "TableName": self._table,
                "Key": to_attrs(keys.order_claims(tenant_id, order_id)),
                "UpdateExpression": "ADD ids :id, reserves :one",
                "ExpressionAttributeValues": {":id": {"SS": [reservation_id]}, ":one": {"N": "1"}},
            }
        }
        tx.add(register, Meaning(Role.PLAIN, "order reservations", order_id))

    def _no_reserve_since(self, t: str, order_id: str, seen: int) -> dict[str, Any]:
        check: dict[str, Any] = {"TableName": self._table, "Key": to_attrs(keys.order_claims(t, order_id))}
        if seen:
            check["ConditionExpression"] = "reserves = :seen"
            check["ExpressionAttributeValues"] = to_attrs({":seen": seen})
        else:
            check["ConditionExpression"] = "attribute_not_exists(reserves)"
        return {"ConditionCheck": check}

    def _put_order(self, t: str, write: OrderWrite, actor: Actor) -> dict[str, Any]:
        order = write.order
        item_keys = {
            **keys.order(t, order.order_id),
            **keys.order_listing(t, order.active, order.created_at, order.order_id),
        }
        item = record_item(order, item_keys, ORDER_ENTITY, order.order_id, actor, order.order_reference)
        return {"Put": self._guarded(item, write.previous_version)}

    def _put_line(self, t: str, order: Order, write: LineWrite, actor: Actor) -> dict[str, Any]:
        line = write.line
        # Every line write comes with its order's header write, so the order's state is at hand:
        # a line is listed as active only while its order is (a delete deactivates both anyway).
        item_keys = {
            **keys.order_line(t, line.order_id, line.line_item_id),
            **keys.order_line_listing(
                t, line.active and order.active, order.created_at, order.order_id, line.line_number
            ),
        }
        # A line's history lives in its order's timeline (one Query answers the order's history).
        parent = (ORDER_ENTITY, line.order_id)
        item = record_item(line, item_keys, LINE_ENTITY, line.line_item_id, actor, line.product_name, parent)
        return {"Put": self._guarded(item, write.previous_version)}

    def _guarded(self, item: dict[str, Any], previous_version: int | None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        if previous_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = to_attrs({":v": previous_version})
        return put

    def _take(self, t: str, reference: str, order_id: str) -> dict[str, Any]:
        guard = {**keys.order_reference(t, reference), "target_id": order_id, "entity_type": "guard"}
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_attrs(guard),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _free(self, t: str, reference: str, order_id: str) -> dict[str, Any]:
        # Only the order's own guard; a missing one (nothing to free) is fine.
        return {
            "Delete": {
                "TableName": self._table,
                "Key": to_attrs(keys.order_reference(t, reference)),
                "ConditionExpression": "attribute_not_exists(pk) OR target_id = :id",
                "ExpressionAttributeValues": to_attrs({":id": order_id}),
            }
        }

    # -- reads -------------------------------------------------------------

    def get_order(self, tenant_id: str, order_id: str) -> StoredOrder | None:
        """The header and every line (deleted ones too) in one Query."""
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.order_partition(tenant_id, order_id)}),
            ConsistentRead=True,
        )
        order: Order | None = None
        lines: list[LineItem] = []
        reservation_ids: frozenset[str] = frozenset()
        reserves = 0
        for item in items:
            sk = item["sk"]["S"]
            if sk == HEADER_SK:
                order = to_record(Order, item)
            elif sk.startswith(LINE_PREFIX):
                lines.append(to_record(LineItem, item))
            elif sk == CLAIMS_SK:
                reservation_ids = frozenset(item.get("ids", {}).get("SS", []))
                reserves = int(item.get("reserves", {}).get("N", "0"))
        return StoredOrder(order, lines, reservation_ids, reserves) if order is not None else None

    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        """Each order with its lines: one Query per order (an order is its own item collection), sent
        together, so a batch of orders costs one round trip of wall time rather than one per order."""
        wanted = list(dict.fromkeys(order_ids))
        if len(wanted) <= 1:
            found = [self.get_order(tenant_id, order_id) for order_id in wanted]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(len(wanted), PARALLEL_QUERIES)) as pool:
                found = list(pool.map(lambda order_id: self.get_order(tenant_id, order_id), wanted))
        return {stored.order.order_id: stored for stored in found if stored is not None}

    def order_headers(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, Order]:
        wanted = [to_attrs(keys.order(tenant_id, order_id)) for order_id in order_ids]
        if not wanted:
            return {}
        orders = [to_record(Order, item) for item in batch_get(self._table, wanted)]
        return {order.order_id: order for order in orders}

    def order_ids_by_reference(self, tenant_id: str, references: Iterable[str]) -> dict[str, str]:
        """The active order holding each orderReference (any case), from the uniqueness guards.

        One BatchGetItem per 100 references; the answer is keyed by the
        trimmed, casefolded reference, and leaves out references no active order holds.
        """
        guards = {keys.order_reference(tenant_id, r)["sk"]: r for r in references if r.strip()}
        if not guards:
            return {}
        wanted = [to_attrs(keys.order_reference(tenant_id, r)) for r in guards.values()]
        found = batch_get(self._table, wanted)
        return {guards[item["sk"]["S"]].strip().casefold(): item["target_id"]["S"] for item in found}

    def list_orders(self, tenant_id: str, active: bool, limit: int, cursor: dict[str, object] | None) -> Page[Order]:
        """One page of active or deleted order headers, newest first (one Query on gsi1)."""
        items, last = self._newest_first(keys.orders_index(tenant_id), active, limit, cursor)
        return Page([to_record(Order, i) for i in items], last)

    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]:
        """One page of the tenant's active lines of active orders (one Query on gsi1).

        Newest order first, as `list_orders`; within an order, by line number.
        """
        items, last = self._newest_first(keys.order_lines_index(tenant_id), True, limit, cursor)
        return Page([to_record(LineItem, i) for i in items], last)

    def _newest_first(
        self, index_key: str, active: bool, limit: int, cursor: dict[str, object] | None
    ) -> tuple[list[dict[str, Any]], dict[str, object] | None]:
        items, last = query_page(
            self._table,
            limit=limit,
            start=to_attrs(cursor) if cursor else None,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            ExpressionAttributeValues=to_attrs({":pk": index_key, ":prefix": keys.order_listing_prefix(active)}),
            ScanIndexForward=False,
        )
        return items, from_attrs(last) if last else None
