"""DynamoDB implementation of the core's StockStore.

Every StockChange becomes one conditional UpdateItem on the stock record;
the ledger line and any reservation or hold change ride in the same
TransactWriteItems call, so they commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    StaleVersion,
)
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ClaimStatus, Hold, Movement, Reservation, StockRecord
from chalicelib.core.ports import ClaimTransition, Page, StockChange
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all, query_page, transact


class DynamoStockStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- writes ------------------------------------------------------------

    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None:
        t = record.tenant_id
        item_keys = {
            **keys.stock(t, record.stock_id),
            **keys.stock_by_product(t, record.product_id, record.location_id, record.stock_id),
            **keys.stock_by_location(t, record.location_id, record.product_id, record.stock_id),
        }
        items = [self._put_new(record_item(record, item_keys, "stock", record.stock_id, actor, record.name))]
        if movement is not None:
            items.append(self._put_new(self._movement_item(movement)))
        if record.natural_key:
            guard = {**keys.unique(t, "STOCKKEY", record.natural_key), "target_id": record.stock_id}
            items.append(self._put_new(to_attrs({**guard, "entity_type": "guard"})))
        if transact(items) is not None:
            raise AlreadyExists("a stock record with this identity already exists")

    def create_records(self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor) -> None:
        """Several new records and their initial movements in one transaction (at most 100 writes)."""
        items = [item for record, movement in pairs for item in self.create_items(record, movement, actor)]
        if items and transact(items) is not None:
            raise AlreadyExists("a stock record with this identity already exists")

    def create_items(self, record: StockRecord, movement: Movement | None, actor: Actor) -> list[dict[str, Any]]:
        """The transaction items that create one record (for callers that add writes of their own)."""
        t = record.tenant_id
        item_keys = {
            **keys.stock(t, record.stock_id),
            **keys.stock_by_product(t, record.product_id, record.location_id, record.stock_id),
            **keys.stock_by_location(t, record.location_id, record.product_id, record.stock_id),
        }
        items = [self._put_new(record_item(record, item_keys, "stock", record.stock_id, actor, record.name))]
        if movement is not None:
            items.append(self._put_new(self._movement_item(movement)))
        if record.natural_key:
            guard = {**keys.unique(t, "STOCKKEY", record.natural_key), "target_id": record.stock_id}
            items.append(self._put_new(to_attrs({**guard, "entity_type": "guard"})))
        return items

    def change_items(self, tenant_id: str, change: StockChange) -> list[dict[str, Any]]:
        """The transaction items of one StockChange (for callers that add writes of their own)."""
        return [item for _, item in self._change_items(tenant_id, change)]

    def apply(self, tenant_id: str, changes: list[StockChange]) -> None:
        items: list[dict[str, Any]] = []
        roles: list[tuple[str, StockChange]] = []
        for change in changes:
            for role, item in self._change_items(tenant_id, change):
                items.append(item)
                roles.append((role, change))
        if len(items) == 1:
            self._update_one(items[0]["Update"], changes[0])
            return
        reasons = transact(items)
        if reasons is not None:
            self._raise_for(reasons, roles)

    def _change_items(self, t: str, change: StockChange) -> Iterator[tuple[str, dict[str, Any]]]:
        yield "stock", {"Update": self._stock_update(t, change)}
        if change.movement is not None:
            yield "movement", self._put_new(self._movement_item(change.movement))
        if change.new_reservation is not None:
            yield "claim", self._put_new(self._reservation_item(change.new_reservation, change.actor))
        if change.new_hold is not None:
            yield "claim", self._put_new(self._hold_item(change.new_hold, change.actor))
        if change.reservation_transition is not None:
            key = keys.reservation(t, change.reservation_transition.claim_id)
            yield "transition", {"Update": self._transition(key, change.reservation_transition, change.actor)}
        if change.hold_transition is not None:
            key = keys.hold(t, change.hold_transition.claim_id)
            yield "transition", {"Update": self._transition(key, change.hold_transition, change.actor)}

    def _stock_update(self, t: str, change: StockChange) -> dict[str, Any]:
        now = utcnow()
        values: dict[str, Any] = {
            ":oh": change.on_hand,
            ":r": change.reserved,
            ":h": change.held,
            ":a": change.available,
            ":one": Decimal(1),
            ":now": now,
            ":by": change.actor.id,
            ":byname": change.actor.name,
        }
        conditions = ["attribute_exists(pk)"]
        if change.floor_available and change.available < 0:
            values[":need"] = -change.available
            if change.negative_allowed:
                values[":true"] = True
                conditions.append("(available >= :need OR allow_negative = :true)")
            else:
                conditions.append("available >= :need")
        if change.expected_on_hand is not None:
            values[":expected"] = change.expected_on_hand
            conditions.append("on_hand = :expected")
        if change.expected_version is not None:
            values[":version"] = Decimal(change.expected_version)
            conditions.append("version = :version")
        sets, removes, names = self._field_updates(t, change, values)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_attrs(keys.stock(t, change.stock_id)),
            "UpdateExpression": (
                "SET on_hand = on_hand + :oh, reserved = reserved + :r, held = held + :h, "
                "available = available + :a, version = version + :one, updated_at = :now, "
                "changed_at = :now, changed_by_id = :by, changed_by_name = :byname"
                + "".join(f", {s}" for s in sets)
                + (" REMOVE " + ", ".join(removes) if removes else "")
            ),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": to_attrs(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return update

    @staticmethod
    def _field_updates(
        t: str, change: StockChange, values: dict[str, Any]
    ) -> tuple[list[str], list[str], dict[str, str]]:
        """SET and REMOVE clauses for the change's record fields (paths like "attributes.x")."""
        names: dict[str, str] = {}

        def path(dotted: str) -> str:
            parts = []
            for part in dotted.split("."):
                placeholder = f"#f{len(names)}"
                names[placeholder] = part
                parts.append(placeholder)
            return ".".join(parts)

        fields = dict(change.set_fields)
        if "product_id" in fields or "location_id" in fields:
            product_id, location_id = str(fields["product_id"]), str(fields["location_id"])
            fields.update(keys.stock_by_product(t, product_id, location_id, change.stock_id))
            fields.update(keys.stock_by_location(t, location_id, product_id, change.stock_id))
        if "name" in fields:
            fields["entity_label"] = fields["name"]
        sets = []
        for index, (name, value) in enumerate(fields.items()):
            values[f":set{index}"] = value
            sets.append(f"{path(name)} = :set{index}")
        removes = [path(name) for name in change.remove_fields]
        return sets, removes, names

    def _transition(self, key: dict[str, str], transition: ClaimTransition, actor: Actor) -> dict[str, Any]:
        now = utcnow()
        return {
            "TableName": self._table,
            "Key": to_attrs(key),
            "UpdateExpression": (
                "SET #status = :to, version = version + :one, updated_at = :now, changed_at = :now, "
                "changed_by_id = :by, changed_by_name = :byname REMOVE gsi3pk, gsi3sk"
            ),
            "ConditionExpression": "#status = :from",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_attrs(
                {
                    ":to": transition.to_status,
                    ":from": transition.from_status,
                    ":one": Decimal(1),
                    ":now": now,
                    ":by": actor.id,
                    ":byname": actor.name,
                }
            ),
        }

    def _update_one(self, update: dict[str, Any], change: StockChange) -> None:
        from botocore.exceptions import ClientError

        try:
            ddb().update_item(**update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            raise self._stock_failure(change, old) from None

    def _raise_for(self, reasons: list[dict[str, Any]], roles: list[tuple[str, StockChange]]) -> None:
        failed = [(roles[i], r) for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
        failed_roles = {role for (role, _), _ in failed}
        # A ledger line or claim that already exists means this exact command
        # ran before: the caller answers with the first result.
        if "movement" in failed_roles or "claim" in failed_roles:
            raise DuplicateCommand("this command was already applied")
        if "transition" in failed_roles:
            raise InvalidState("the reservation or hold is no longer active")
        for (role, change), reason in failed:
            if role == "stock":
                raise self._stock_failure(change, reason.get("Item"))
        raise InvalidState("the change could not be applied")

    def _stock_failure(self, change: StockChange, old: dict[str, Any] | None) -> Exception:
        current = from_attrs(old) if old else None
        if not current:
            return NotFound(f"stock record {change.stock_id} not found")
        if change.expected_version is not None and Decimal(current["version"]) != change.expected_version:
            return StaleVersion(f"stock record is at version {current['version']}, not {change.expected_version}")
        if change.expected_on_hand is not None and Decimal(current["on_hand"]) != change.expected_on_hand:
            return ExpectationFailed(
                f"on hand is {current['on_hand']}, not the expected {change.expected_on_hand}",
                [{"field": "expectedQuantity", "message": f"current on hand is {current['on_hand']}"}],
            )
        return InsufficientStock(
            f"only {current['available']} available",
            [{"field": "quantity", "message": f"available is {current['available']}"}],
        )

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _movement_item(self, movement: Movement) -> dict[str, Any]:
        t = movement.tenant_id
        item_keys = {
            **keys.movement(t, movement.stock_id, movement.movement_id),
            **keys.movement_by_time(t, movement.occurred_at, movement.movement_id),
        }
        return record_item(movement, item_keys, "movement", movement.movement_id, movement.actor)

    def _reservation_item(self, reservation: Reservation, actor: Actor) -> dict[str, Any]:
        t = reservation.tenant_id
        item_keys = {
            **keys.reservation(t, reservation.reservation_id),
            **keys.claim_by_stock(t, reservation.stock_id, "RES", reservation.reservation_id),
        }
        if reservation.expires_at is not None:
            item_keys.update(keys.expiring_claim(t, reservation.expires_at, reservation.reservation_id))
        if reservation.reference.get("orderId"):
            # An order finds its reservations through gsi2 (delete, unreserve, certificate pack).
            item_keys.update(keys.claim_by_order(t, reservation.reference["orderId"], reservation.reservation_id))
        return record_item(reservation, item_keys, "reservation", reservation.reservation_id, actor)

    def _hold_item(self, hold: Hold, actor: Actor) -> dict[str, Any]:
        t = hold.tenant_id
        item_keys = {**keys.hold(t, hold.hold_id), **keys.claim_by_stock(t, hold.stock_id, "HOLD", hold.hold_id)}
        return record_item(hold, item_keys, "hold", hold.hold_id, actor, hold.reason)

    def split(
        self,
        tenant_id: str,
        source: StockChange,
        record: StockRecord,
        movement: Movement,
        reservation: Reservation,
        actor: Actor,
    ) -> None:
        """Take quantity off `source` and create `record` holding it, reserved, in ONE transaction.

        The source's guards (available >= quantity) and the new record, its
        ledger line and its reservation commit together or not at all.
        """
        roles: list[tuple[str, StockChange]] = []
        items: list[dict[str, Any]] = []
        for role, item in self._change_items(tenant_id, source):
            roles.append((role, source))
            items.append(item)
        # Anything new that already exists means this command ran before: "claim" reports a duplicate.
        created = self.create_items(record, movement, actor)
        created.append(self._put_new(self._reservation_item(reservation, actor)))
        roles += [("claim", source)] * len(created)
        items += created
        reasons = transact(items)
        if reasons is not None:
            self._raise_for(reasons, roles)

    # -- reads -------------------------------------------------------------

    def get_record(self, tenant_id: str, stock_id: str) -> StockRecord | None:
        return self._get(StockRecord, keys.stock(tenant_id, stock_id))

    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        wanted = [to_attrs(keys.stock(tenant_id, s)) for s in stock_ids]
        records = [to_record(StockRecord, item) for item in batch_get(self._table, wanted)]
        return {r.stock_id: r for r in records}

    def find_by_natural_key(self, tenant_id: str, natural_key: str) -> StockRecord | None:
        guard = (
            ddb()
            .get_item(
                TableName=self._table,
                Key=to_attrs(keys.unique(tenant_id, "STOCKKEY", natural_key)),
                ConsistentRead=True,
            )
            .get("Item")
        )
        if guard is None:
            return None
        return self.get_record(tenant_id, guard["target_id"]["S"])

    def get_movement(self, tenant_id: str, stock_id: str, movement_id: str) -> Movement | None:
        return self._get(Movement, keys.movement(tenant_id, stock_id, movement_id))

    def movements(self, tenant_id: str, stock_id: str) -> Iterator[Movement]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.ledger_partition(tenant_id, stock_id)}),
            ConsistentRead=True,
        )
        return (to_record(Movement, item) for item in items)

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        return self._get(Reservation, keys.reservation(tenant_id, reservation_id))

    def get_hold(self, tenant_id: str, hold_id: str) -> Hold | None:
        return self._get(Hold, keys.hold(tenant_id, hold_id))

    def reservations_for_record(self, tenant_id: str, stock_id: str, active_only: bool = False) -> list[Reservation]:
        """The record's reservations (gsi1); `active_only` leaves the others out in DynamoDB (FilterExpression)."""
        return [to_record(Reservation, i) for i in self._claims(tenant_id, stock_id, "RES#", active_only)]

    def holds_for_record(self, tenant_id: str, stock_id: str) -> list[Hold]:
        return [to_record(Hold, i) for i in self._claims(tenant_id, stock_id, "HOLD#")]

    def reservations_for_order(self, tenant_id: str, order_id: str, active_only: bool = False) -> list[Reservation]:
        """The reservations made for the order (gsi2, written when the reference names the order), any status
        or, with `active_only`, the active ones (FilterExpression: released ones never leave DynamoDB)."""
        values: dict[str, Any] = {":pk": keys.claims_of_order(tenant_id, order_id), ":prefix": "RES#"}
        items = query_all(
            self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND begins_with(gsi2sk, :prefix)",
            **_status_filter(values, active_only),
        )
        return [to_record(Reservation, item) for item in items]

    def _claims(
        self, tenant_id: str, stock_id: str, prefix: str, active_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        values: dict[str, Any] = {":pk": keys.claims_of_stock(tenant_id, stock_id), ":prefix": prefix}
        return query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            **_status_filter(values, active_only),
        )

    def expiring_reservations(self, tenant_id: str, before: datetime) -> Iterator[Reservation]:
        items = query_all(
            self._table,
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :pk AND gsi3sk < :before",
            ExpressionAttributeValues=to_attrs({":pk": keys.expiring(tenant_id), ":before": keys.stamp(before)}),
        )
        return (to_record(Reservation, item) for item in items)

    def records_for_product(self, tenant_id: str, product_id: str) -> list[StockRecord]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            ExpressionAttributeValues=to_attrs(
                {":pk": f"{keys.tenant(tenant_id)}#PRODUCT#{product_id}", ":prefix": "STOCK#"}
            ),
        )
        return [to_record(StockRecord, item) for item in items]

    def list_records(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[StockRecord]:
        items, last = query_page(
            self._table,
            limit=limit,
            start=to_attrs(cursor) if cursor else None,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.stocks_partition(tenant_id)}),
            ConsistentRead=True,
        )
        return Page([to_record(StockRecord, i) for i in items], from_attrs(last) if last else None)

    def set_allow_negative(self, tenant_id: str, stock_id: str, allowed: bool, actor: Actor) -> None:
        ddb().update_item(
            TableName=self._table,
            Key=to_attrs(keys.stock(tenant_id, stock_id)),
            UpdateExpression=(
                "SET allow_negative = :allowed, version = version + :one, updated_at = :now, "
                "changed_at = :now, changed_by_id = :by, changed_by_name = :byname"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_attrs(
                {":allowed": allowed, ":one": 1, ":now": utcnow(), ":by": actor.id, ":byname": actor.name}
            ),
        )

    def _get(self, model: Any, key: dict[str, str]) -> Any:
        item = ddb().get_item(TableName=self._table, Key=to_attrs(key), ConsistentRead=True).get("Item")
        return to_record(model, item) if item else None


def _status_filter(values: dict[str, Any], active_only: bool) -> dict[str, Any]:
    """Query parameters with `values`, and a FilterExpression keeping active claims when `active_only`."""
    if not active_only:
        return {"ExpressionAttributeValues": to_attrs(values)}
    return {
        "FilterExpression": "#status = :active",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": to_attrs({**values, ":active": ClaimStatus.ACTIVE}),
    }
