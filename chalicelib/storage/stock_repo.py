"""DynamoDB implementation of the core's StockStore.

Every StockChange becomes one conditional Update of the stock record; the
ledger line and any reservation or hold changes ride in the same
transaction (`storage/transaction.Transaction`), so they commit together or
not at all. A caller's unit of work can carry them along with other stores'
writes. Every change but a release conditions on the record being active.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ClaimStatus, Hold, Movement, Reservation, StockRecord
from chalicelib.core.ports import ClaimTransition, HoldRelease, Page, StockChange, UnitOfWork
from chalicelib.core.stock.asof import Claims, LedgerWindow, Snapshot
from chalicelib.core.stock.ownership import is_own_stock
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record, to_value
from chalicelib.storage.dynamo import batch_get, batch_write, ddb, query_all, query_page
from chalicelib.storage.transaction import Meaning, Role, Transaction, own

# The entity_type of a product's stock keys item (keys.product_stock): no history, no domain events.
PRODUCT_STOCK_ENTITY = "productStock"

# Queries of one request that run at once (the records of an as-of page, each with its own ledger).
PARALLEL_QUERIES = 16

T = TypeVar("T")
# Items of the first page of an as-of read of a record's ledger index (a day of movements fits in it).
LEDGER_PAGE = 1000


class DynamoStockStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- writes ------------------------------------------------------------

    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None:
        tx = Transaction()
        self.add_create(tx, record, movement, actor)
        tx.commit()

    def create_records(
        self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor, uow: UnitOfWork | None = None
    ) -> None:
        """Several new records and their initial movements in one transaction (at most 100 writes)."""
        tx, mine = own(uow)
        for record, movement in pairs:
            self.add_create(tx, record, movement, actor)
        if mine:
            tx.commit()

    def create_items(self, record: StockRecord, movement: Movement | None, actor: Actor) -> list[dict[str, Any]]:
        """The raw items that create one record (a benchmark's bare batch write copies them)."""
        return [item for item, _ in self._create_items(record, movement, actor, Role.NEW)]

    def add_create(
        self, tx: Transaction, record: StockRecord, movement: Movement | None, actor: Actor, role: Role = Role.NEW
    ) -> None:
        """Add the writes that create `record` (+ its initial movement, + its natural-key guard).

        role NEW: an existing one is AlreadyExists; COMMAND: it means this command ran before.
        """
        for item, meaning in self._create_items(record, movement, actor, role):
            tx.add(item, meaning)
        self.add_product_key(tx, record.tenant_id, record.product_id, record.stock_id)

    def add_product_key(self, tx: Transaction, tenant_id: str, product_id: str, stock_id: str) -> None:
        """The record's key joins its product's stock keys (keys.product_stock), in the record's transaction."""
        key = to_attrs(keys.product_stock(tenant_id, product_id))
        meaning = Meaning(Role.PLAIN, "product stock keys")
        cap = (keys.PRODUCT_STOCK_KEYS_CAP, keys.PRODUCT_STOCK_FULL)
        tx.add_set_member(self._table, key, "stock_ids", stock_id, meaning, entity_type=PRODUCT_STOCK_ENTITY, cap=cap)

    def remove_product_key(self, tx: Transaction, tenant_id: str, product_id: str, stock_id: str) -> None:
        """The record's key leaves the product's stock keys, in the transaction that moves it away. When the
        transaction also adds a record to that product, the removal follows the commit, guarded on the record
        still being another product's (`Transaction.remove_set_member`)."""
        key = to_attrs(keys.product_stock(tenant_id, product_id))
        guard = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_attrs(keys.stock(tenant_id, stock_id)),
                "ConditionExpression": "product_id <> :left",
                "ExpressionAttributeValues": to_attrs({":left": product_id}),
            }
        }
        meaning = Meaning(Role.PLAIN, "product stock keys")
        tx.remove_set_member(
            self._table, key, "stock_ids", stock_id, meaning, entity_type=PRODUCT_STOCK_ENTITY, guard=guard
        )

    def _create_items(
        self, record: StockRecord, movement: Movement | None, actor: Actor, role: Role
    ) -> Iterator[tuple[dict[str, Any], Meaning]]:
        t = record.tenant_id
        item_keys = {
            **keys.stock(t, record.stock_id),
            **keys.stock_by_product(t, record.product_id, record.location_id, record.stock_id),
            **keys.stock_by_location(t, record.location_id, record.product_id, record.stock_id),
            **keys.stock_by_type(t, is_own_stock(record), record.updated_at, record.stock_id),
        }
        meaning = Meaning(role, "stock record", record.stock_id)
        item = record_item(record, item_keys, "stock", record.stock_id, actor, record.name)
        if movement is not None:
            item["last_movement"] = to_value(last_movement(movement))
        yield self._put_new(item), meaning
        if movement is not None:
            yield self._put_new(self._movement_item(movement)), Meaning(role, "ledger line", movement.movement_id)
        if record.natural_key:
            guard = {**keys.unique(t, "STOCKKEY", record.natural_key), "target_id": record.stock_id}
            yield self._put_new(to_attrs({**guard, "entity_type": "guard"})), meaning
        if record.number is not None:
            # The record's numeric id (004) maps back to it; the counter never hands a number out twice.
            numbered = {**keys.unique(t, "STOCKNO", str(record.number)), "target_id": record.stock_id}
            yield self._put_new(to_attrs({**numbered, "entity_type": "guard"})), meaning

    def apply(self, tenant_id: str, changes: list[StockChange], uow: UnitOfWork | None = None) -> None:
        """Every change in ONE transaction (a lone record update too: its token makes a retry apply once)."""
        tx, mine = own(uow)
        for change in changes:
            self.add_change(tx, tenant_id, change)
        if mine:
            tx.commit()

    def add_change(self, tx: Transaction, tenant_id: str, change: StockChange) -> None:
        """Add the writes of one StockChange: the record update, its ledger line and claim writes."""
        for item, meaning in self._change_items(tenant_id, change):
            tx.add(item, meaning)
        if "product_id" in change.set_fields:
            # Moved to another product (000 rename): it joins that product's keys and leaves the old one's
            # (so a product's keys stay bounded by its records). A change that does not say where the record
            # came from leaves it in the old keys, where a read of that product drops it (its product_id
            # no longer matches).
            product_id = str(change.set_fields["product_id"])
            self.add_product_key(tx, tenant_id, product_id, change.stock_id)
            left = change.moved_from_product
            if left is not None and left != product_id:
                self.remove_product_key(tx, tenant_id, left, change.stock_id)

    def _change_items(self, t: str, change: StockChange) -> Iterator[tuple[dict[str, Any], Meaning]]:
        yield (
            {"Update": self._stock_update(t, change)},
            Meaning(
                Role.STOCK,
                "stock record",
                change.stock_id,
                expected_version=change.expected_version,
                expected_on_hand=change.expected_on_hand,
                needs_active=change.needs_active_record,
            ),
        )
        # A ledger line or claim that already exists means this exact command ran before.
        if change.movement is not None:
            movement = change.movement
            yield self._put_new(self._movement_item(movement)), Meaning(Role.COMMAND, "ledger line")
        if change.new_reservation is not None:
            reservation = change.new_reservation
            yield self._put_new(self._reservation_item(reservation, change.actor)), Meaning(Role.COMMAND, "reservation")
        if change.new_hold is not None:
            yield self._put_new(self._hold_item(change.new_hold, change.actor)), Meaning(Role.COMMAND, "hold")
        for transition in change.all_reservation_transitions:
            key = keys.reservation(t, transition.claim_id)
            item = {"Update": self._transition(key, transition, change.actor)}
            yield item, Meaning(Role.CLAIM, "reservation", transition.claim_id)
        if change.hold_transition is not None:
            key = keys.hold(t, change.hold_transition.claim_id)
            item = {"Update": self._transition(key, change.hold_transition, change.actor)}
            yield item, Meaning(Role.CLAIM, "hold", change.hold_transition.claim_id)
        for release in change.hold_releases:
            item = {"Update": self._hold_release(t, release, change.actor)}
            yield item, Meaning(Role.CLAIM, "hold", release.hold_id, field="quantity")

    def _hold_release(self, t: str, release: HoldRelease, actor: Actor) -> dict[str, Any]:
        """Lower an active hold by `quantity` (guarded: it holds at least that); closing it leaves the expiry index."""
        now = utcnow()
        values: dict[str, Any] = {
            ":q": release.quantity,
            ":active": ClaimStatus.ACTIVE,
            ":one": Decimal(1),
            ":zero": Decimal(0),
            ":now": now,
            ":by": actor.id,
            ":byname": actor.name,
        }
        update = (
            "SET quantity = quantity - :q, released_quantity = if_not_exists(released_quantity, :zero) + :q, "
            "version = version + :one, updated_at = :now, changed_at = :now, changed_by_id = :by, "
            "changed_by_name = :byname"
        )
        condition = "#status = :active AND quantity >= :q"
        if release.closes:
            values[":to"] = release.to_status
            update += ", #status = :to REMOVE gsi3pk, gsi3sk"
            condition = "#status = :active AND quantity = :q"
        return {
            "TableName": self._table,
            "Key": to_attrs(keys.hold(t, release.hold_id)),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_attrs(values),
        }

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
            # The record's place in its type's last-modified listing (gsi3) moves with every change.
            ":modified": keys.modified_sort(now, change.stock_id),
        }
        conditions = ["attribute_exists(pk)"]
        if change.needs_active_record:
            # A deleted record takes no new commitments: a change racing its delete fails (409).
            values[":active"] = True
            conditions.append("active = :active")
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
        # The movement this update writes, named on the record, so the stream's stock.changed event can say
        # what moved the figures (chalicelib/core/events/mapping.py); an update without one clears it.
        if change.movement is not None:
            values[":lm"] = last_movement(change.movement)
            sets.append("last_movement = :lm")
        else:
            removes.append("last_movement")
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_attrs(keys.stock(t, change.stock_id)),
            "UpdateExpression": (
                "SET on_hand = on_hand + :oh, reserved = reserved + :r, held = held + :h, "
                "available = available + :a, version = version + :one, updated_at = :now, "
                "changed_at = :now, changed_by_id = :by, changed_by_name = :byname, gsi3sk = :modified"
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

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _movement_item(self, movement: Movement) -> dict[str, Any]:
        t = movement.tenant_id
        item_keys = {
            **keys.movement(t, movement.stock_id, movement.movement_id),
            **keys.movement_by_time(t, movement.occurred_at, movement.movement_id),
            **keys.record_movement_by_time(t, movement.stock_id, movement.occurred_at, movement.movement_id),
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
        if hold.expires_at is not None:
            # Until it is released: the hold-expiry schedule finds it on gsi3 (never a Scan).
            item_keys.update(keys.expiring_hold(t, hold.expires_at, hold.hold_id))
        return record_item(hold, item_keys, "hold", hold.hold_id, actor, hold.reason)

    def split(
        self,
        tenant_id: str,
        source: StockChange,
        record: StockRecord,
        movement: Movement,
        reservation: Reservation,
        actor: Actor,
        uow: UnitOfWork | None = None,
    ) -> None:
        """Take quantity off `source` and create `record` holding it, reserved, in ONE transaction.

        The source's guards (active, available >= quantity) and the new record,
        its ledger line and its reservation commit together or not at all.
        Anything new that exists already means this command ran before
        (DuplicateCommand).
        """
        tx, mine = own(uow)
        self.add_change(tx, tenant_id, source)
        self.add_create(tx, record, movement, actor, Role.COMMAND)
        tx.add(self._put_new(self._reservation_item(reservation, actor)), Meaning(Role.COMMAND, "reservation"))
        if mine:
            tx.commit()

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

    # -- the ledger in time (as-of reads, snapshots) ------------------------

    def snapshot_at(self, tenant_id: str, stock_id: str, moment: datetime) -> Snapshot | None:
        """The record's latest snapshot at or before `moment`: one Query, one item."""
        items, _ = query_page(
            self._table,
            limit=1,
            KeyConditionExpression="pk = :pk AND sk <= :at",
            ExpressionAttributeValues=to_attrs(
                {":pk": keys.snapshots_partition(tenant_id, stock_id), ":at": keys.stamp(moment)}
            ),
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        if not items:
            return None
        return _snapshot(tenant_id, stock_id, items[0])

    def ledger_windows(self, tenant_id: str, stock_ids: Sequence[str], moment: datetime) -> dict[str, LedgerWindow]:
        """Each record's latest snapshot at or before `moment` and its movements since: one Query a record
        (up to PARALLEL_QUERIES at a time)."""
        return _each(stock_ids, lambda stock_id: self._ledger_window(tenant_id, stock_id, moment))

    def _ledger_window(self, tenant_id: str, stock_id: str, moment: datetime) -> LedgerWindow:
        """The record's gsi2 ledger read backwards from `moment` until its first snapshot.

        Snapshots sit in that index after the movements they cover, so the first page normally holds
        the movements since the latest snapshot and then the snapshot. When it does not and more
        follow (a day of more than LEDGER_PAGE movements, or snapshots written before they were
        indexed), the snapshot is read from its own partition and the movements since it by time (two
        more Queries). With no snapshot before the moment, the record's ledger partition (one more
        Query, all pages): it holds every movement, also those written before the time index existed.
        """
        high = keys.snapshot_by_time(tenant_id, stock_id, moment)["gsi2sk"]
        items, more = query_page(
            self._table,
            limit=LEDGER_PAGE,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND gsi2sk <= :high",
            ExpressionAttributeValues=to_attrs({":pk": keys.record_ledger(tenant_id, stock_id), ":high": high}),
            ScanIndexForward=False,
        )
        movements: list[Movement] = []
        for item in items:
            if _is_snapshot(item):
                movements.reverse()
                return LedgerWindow(_snapshot(tenant_id, stock_id, item), movements)
            movements.append(to_record(Movement, item))
        snapshot = self.snapshot_at(tenant_id, stock_id, moment) if more else None
        if snapshot is None:
            # No snapshot before the moment (a record younger than a day, an old moment): the ledger
            # partition itself, which holds every movement, also those written before the time index.
            return LedgerWindow(None, [m for m in self.movements(tenant_id, stock_id) if m.occurred_at <= moment])
        return LedgerWindow(snapshot, self.movements_between(tenant_id, stock_id, snapshot.at, moment))

    def claims_of_records(self, tenant_id: str, stock_ids: Sequence[str]) -> dict[str, Claims]:
        """Each record's reservations and holds: one Query a record of its claims index (gsi1), both kinds."""
        return _each(stock_ids, lambda stock_id: self._claims_of_record(tenant_id, stock_id))

    def _claims_of_record(self, tenant_id: str, stock_id: str) -> Claims:
        claims = Claims()
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.claims_of_stock(tenant_id, stock_id)}),
        )
        for item in items:
            sort = item["gsi1sk"]["S"]
            if sort.startswith("RES#"):
                claims.reservations.append(to_record(Reservation, item))
            elif sort.startswith("HOLD#"):
                claims.holds.append(to_record(Hold, item))
        return claims

    def movements_between(self, tenant_id: str, stock_id: str, after: datetime, until: datetime) -> list[Movement]:
        """Movements with after < occurred_at <= until, oldest first: one Query of the record's gsi2 ledger."""
        low = keys.stamp(after + timedelta(microseconds=1))
        high = keys.stamp(until) + "#~"  # after every movement id of that microsecond
        items = query_all(
            self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :low AND :high",
            ExpressionAttributeValues=to_attrs(
                {":pk": keys.record_ledger(tenant_id, stock_id), ":low": low, ":high": high}
            ),
        )
        return [to_record(Movement, item) for item in items if not _is_snapshot(item)]

    def put_snapshots(self, snapshots: Iterable[Snapshot]) -> None:
        """Write snapshots, 25 per BatchWriteItem (no entity_type: neither history nor events see them)."""
        requests = [
            {
                "PutRequest": {
                    "Item": to_attrs(
                        {
                            **keys.snapshot(s.tenant_id, s.stock_id, s.at),
                            **keys.snapshot_by_time(s.tenant_id, s.stock_id, s.at),
                            "tenant_id": s.tenant_id,
                            "stock_id": s.stock_id,
                            "at": keys.stamp(s.at),
                            "on_hand": s.on_hand,
                            "movements": s.movements,
                        }
                    )
                }
            }
            for s in snapshots
        ]
        batch_write(self._table, requests)

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        return self._get(Reservation, keys.reservation(tenant_id, reservation_id))

    def get_reservations(self, tenant_id: str, reservation_ids: Iterable[str]) -> dict[str, Reservation]:
        """Reservations by id, read consistently (one BatchGetItem per 100)."""
        wanted = [to_attrs(keys.reservation(tenant_id, r)) for r in reservation_ids]
        if not wanted:
            return {}
        found = [to_record(Reservation, item) for item in batch_get(self._table, wanted)]
        return {r.reservation_id: r for r in found}

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

    def records_for_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, list[StockRecord]]:
        """The records of each product (deleted ones included), by known keys: the products' stock keys
        (BatchGetItem, 100 products a call), then the records (BatchGetItem, 100 records a call), both
        strongly consistent. 100 products with 2 records each cost 1 + 2 calls, not 100 Queries. A product
        whose keys are full (more records than `keys.PRODUCT_STOCK_KEYS_CAP`) costs one gsi1 Query."""
        wanted = list(dict.fromkeys(product_ids))
        if not wanted:
            return {}
        key_items = batch_get(
            self._table,
            [to_attrs(keys.product_stock(tenant_id, pid)) for pid in wanted],
            projection=f"sk, stock_ids, {keys.PRODUCT_STOCK_FULL}",
        )
        full = {item["sk"]["S"] for item in key_items if keys.PRODUCT_STOCK_FULL in item}
        listed = [item for item in key_items if item["sk"]["S"] not in full]
        stock_ids = sorted({sid for item in listed for sid in item.get("stock_ids", {}).get("SS", [])})
        found: dict[str, list[StockRecord]] = {pid: [] for pid in wanted}
        for record in self.get_records(tenant_id, stock_ids).values():
            # A record moved to another product since stays in the old one's keys: it is that one's now.
            if record.product_id in found and record.product_id not in full:
                found[record.product_id].append(record)
        for product_id in sorted(full):
            # Its keys stopped at the cap: its index has every record (eventually consistent, as a Query is).
            found[product_id] = self.records_for_product(tenant_id, product_id)
        for records in found.values():
            records.sort(key=lambda r: (r.location_id, r.stock_id))  # the gsi1 order (STOCK#<location>#<id>)
        return found

    def records_at_location(self, tenant_id: str, location_id: str) -> list[StockRecord]:
        items = query_all(
            self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND begins_with(gsi2sk, :prefix)",
            ExpressionAttributeValues=to_attrs(
                {":pk": f"{keys.tenant(tenant_id)}#LOCATION#{location_id}", ":prefix": "STOCK#"}
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


def last_movement(movement: Movement) -> dict[str, Any]:
    """What a stock record says about the movement its latest update wrote."""
    return {
        "id": movement.movement_id,
        "kind": str(movement.kind),
        "quantity": movement.quantity,
        "reason": movement.reason,
        "reference": movement.reference,
    }


def _is_snapshot(item: dict[str, Any]) -> bool:
    return item.get("gsi2sk", {}).get("S", "").endswith(keys.SNAPSHOT_MARK)


def _snapshot(tenant_id: str, stock_id: str, item: dict[str, Any]) -> Snapshot:
    data = from_attrs(item)
    return Snapshot(
        tenant_id=tenant_id,
        stock_id=stock_id,
        at=datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00")),
        on_hand=Decimal(str(data["on_hand"])),
        movements=int(data.get("movements") or 0),
    )


def _each(stock_ids: Sequence[str], read: Callable[[str], T]) -> dict[str, T]:
    """`read` of each record, up to PARALLEL_QUERIES at a time (one round trip each, so a page of n
    records costs ceil(n / PARALLEL_QUERIES) sequential rounds)."""
    wanted = list(dict.fromkeys(stock_ids))
    if len(wanted) <= 1:
        return {stock_id: read(stock_id) for stock_id in wanted}
    with ThreadPoolExecutor(max_workers=min(PARALLEL_QUERIES, len(wanted))) as pool:
        return dict(zip(wanted, pool.map(read, wanted), strict=True))
