"""In-memory stores with the same semantics as the DynamoDB and S3 ones.

`MemoryTable` plays a DynamoDB table: items under (pk, sk) keys built by
`chalicelib.storage.keys`, so partitions sort as the real ones do, and
`transact` is TransactWriteItems: at most 100 items, each item once, every
condition checked before anything is written, all or nothing, and a refusal
answers each item's condition and its old value (ReturnValuesOnConditionCheckFailure).

Each fake store turns its writes into table operations the way its DynamoDB
twin turns them into transaction items, each with the same `Meaning`, and
adds them to an `InMemoryUnitOfWork` (the fake of storage/transaction's
Transaction): its own, committed at once, or the caller's (`uow`), which the
caller commits. The commit is one `MemoryTable.transact`; the 100-item limit
(TooManyWrites) and the refusal's domain error come from the real
Transaction's check and `explain`, so precedence and messages are the same.
Stores given one MemoryTable share it as the real ones share the main table:
the import store commits records, products and orders with its checkpoint
in one transaction, and the reference store resolves catalog locations. Reads return copies, so callers
never alias stored state.

`InMemoryFiles` plays the files bucket (S3Files: imports, exports,
certificate documents) and `InMemoryPackStore` the pack cache over the same
objects. The contract tests in tests/integration/test_*_store.py run the same
test functions against each fake and its real store under moto.

Not modelled: ClientRequestToken (no response is lost in memory, so no
retry meets its own success; the same command run again is refused by its
conditions, DuplicateCommand as DynamoDB's IdempotentParameterMismatch would
be), and units of work over more than one MemoryTable (a ValueError).
Known differences, on paths no caller takes: a write to a missing stock record
or import job by `set_allow_negative`, `set_total`, `finish` or `pause` is a
NotFound here and a botocore ClientError (ConditionalCheckFailed) there;
reading the lines of a missing file
is a FileNotFoundError here and a ClientError (NoSuchKey) there. Pages give a
cursor only when more items follow (as moto does; DynamoDB itself may end on
a cursor and an empty page, so callers must not count on either).
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel

from chalicelib.core.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    StaleVersion,
    problem,
)
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.imports.jobs import Checkpoint, ChunkPlan, CommitOutcome, ImportJob, ImportStatus, RowError
from chalicelib.core.models import (
    Actor,
    ApiKey,
    Bin,
    ClaimStatus,
    HistoryEvent,
    Hold,
    Location,
    Lot,
    LotStatus,
    Movement,
    Product,
    Reservation,
    StockRecord,
    Tenant,
)
from chalicelib.core.ports import (
    CatalogStore,
    ClaimTransition,
    Found,
    HoldRelease,
    Page,
    StockChange,
    StockStore,
    UnitOfWork,
    Wanted,
)
from chalicelib.core.reference.service import HEAT, LOCATION, ReferenceItem, ReferenceStore, RefKey, RefKind, Resolved
from chalicelib.core.stock.asof import Claims, LedgerWindow, Snapshot
from chalicelib.features.certificates.packs import (
    CERTIFICATES_PREFIX,
    StoredDocument,
    StoredObject,
    certificate_prefix,
    pack_key,
)
from chalicelib.features.orders.model import LineItem, Order
from chalicelib.features.orders.port import LineWrite, OrderWrite, StoredOrder
from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs
from chalicelib.storage.idempotency_repo import COMPLETED, IN_PROGRESS, StoredRequest
from chalicelib.storage.transaction import CheckpointMoved, Meaning, Role, Transaction

TRANSACT_LIMIT = 100

Key = tuple[str, str]
Condition = Callable[[Any], bool]


def _anything(current: Any) -> bool:
    return True


def _absent(current: Any) -> bool:
    return current is None


def _present(current: Any) -> bool:
    return current is not None


def _key(item_key: dict[str, str]) -> Key:
    return item_key["pk"], item_key["sk"]


@dataclass(frozen=True)
class Op:
    """One item of a transaction: `write` gets the current value (None: no item) and returns
    the new one (None deletes it); it runs only if `condition` holds for the current value."""

    key: Key
    write: Callable[[Any], Any]
    condition: Condition = _anything


def put(key: Key, value: Any, condition: Condition = _anything) -> Op:
    return Op(key, lambda _: value, condition)


def put_new(key: Key, value: Any) -> Op:
    return Op(key, lambda _: value, _absent)


def delete(key: Key, condition: Condition = _anything) -> Op:
    return Op(key, lambda _: None, condition)


@dataclass(frozen=True)
class Reason:
    """One item's answer in a refused transaction: did its condition fail, and what was there."""

    failed: bool
    old: Any


@dataclass(frozen=True)
class Guard:
    """A uniqueness guard item: the value it holds belongs to `target_id`."""

    target_id: str


class MemoryTable:
    """A DynamoDB table in a dict: partitions by pk, items by sk, one lock for every writer."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._partitions: dict[str, dict[str, Any]] = {}

    def get(self, key: Key) -> Any:
        with self.lock:
            return copy.deepcopy(self._partitions.get(key[0], {}).get(key[1]))

    def query(self, pk: str, prefix: str = "") -> list[tuple[str, Any]]:
        """(sk, item) of one partition whose sk starts with `prefix`, in sk order."""
        with self.lock:
            found = [(sk, v) for sk, v in self._partitions.get(pk, {}).items() if sk.startswith(prefix)]
            return copy.deepcopy(sorted(found, key=lambda pair: pair[0]))

    def scan(self, pk_prefix: str, sk_prefix: str = "") -> list[tuple[Key, Any]]:
        """Every item whose pk and sk start so (the fakes' stand-in for an index), in key order."""
        with self.lock:
            found = [
                ((pk, sk), v)
                for pk, items in self._partitions.items()
                if pk.startswith(pk_prefix)
                for sk, v in items.items()
                if sk.startswith(sk_prefix)
            ]
            return copy.deepcopy(sorted(found, key=lambda pair: pair[0]))

    def transact(self, ops: list[Op]) -> list[Reason] | None:
        """TransactWriteItems: None when every op was applied, else every op's reason and nothing applied."""
        if len(ops) > TRANSACT_LIMIT:
            raise ValueError(f"a transaction holds at most {TRANSACT_LIMIT} items")
        if len({op.key for op in ops}) != len(ops):
            raise ValueError("a transaction may touch each item once")
        with self.lock:
            current = [self._partitions.get(op.key[0], {}).get(op.key[1]) for op in ops]
            failed = [not op.condition(value) for op, value in zip(ops, current, strict=True)]
            if any(failed):
                return [Reason(f, copy.deepcopy(v)) for f, v in zip(failed, current, strict=True)]
            for op, value in zip(ops, current, strict=True):
                new = op.write(value)
                if new is None:
                    self._partitions.get(op.key[0], {}).pop(op.key[1], None)
                else:
                    self._partitions.setdefault(op.key[0], {})[op.key[1]] = copy.deepcopy(new)
        return None

    def write(self, op: Op) -> Reason | None:
        """A single conditional write (PutItem, UpdateItem, DeleteItem)."""
        reasons = self.transact([op])
        return reasons[0] if reasons else None


def _page(
    ordered: list[tuple[str, Any]], limit: int, cursor: dict[str, object] | None, descending: bool = False
) -> Page[Any]:
    """One page of (sort key, item) pairs already in read order, after the cursor's sort key."""
    if cursor:
        after = str(cursor["after"])
        ordered = [(k, v) for k, v in ordered if (k < after if descending else k > after)]
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page([v for _, v in page], {"after": page[-1][0]} if more else None)


def _version_is(version: int) -> Condition:
    return lambda current: current is not None and current.version == version


def _guard_of(target_id: str) -> Condition:
    return lambda current: current is not None and current.target_id == target_id


# -- the unit of work ----------------------------------------------------------------


class InMemoryUnitOfWork:
    """The core's UnitOfWork as storage/transaction.Transaction is one, over a MemoryTable.

    Stores add their `Op`s with a `Meaning` (what each item is); `commit` runs
    them in ONE `MemoryTable.transact`. Before that, more than 100 items is a
    TooManyWrites and two items on one key a ValueError, from the real
    Transaction's own check; a refusal is explained by the real
    `Transaction.explain` over the same meanings (the failed items and the old
    stock record as DynamoDB would return them), so the fake raises the same
    domain error in the same precedence. All the items of one unit of work
    live in one MemoryTable: build the stores that join it on one table.
    """

    def __init__(self, command_id: str | None = None) -> None:
        self.command_id = command_id
        self.table: MemoryTable | None = None
        self._ops: list[Op] = []
        self._meanings: list[Meaning] = []
        self.committed = False

    def add(self, table: MemoryTable, op: Op, meaning: Meaning) -> None:
        if self.committed:
            raise RuntimeError("this transaction has been committed")
        if self.table is None:
            self.table = table
        elif table is not self.table:
            raise ValueError("the stores of one fake unit of work share one MemoryTable")
        self._ops.append(op)
        self._meanings.append(meaning)

    def __len__(self) -> int:
        return len(self._ops)

    def commit(self) -> None:
        if self.committed:
            raise RuntimeError("a transaction is committed once")
        self.committed = True
        if not self._ops or self.table is None:
            return
        self._as_transaction()._check()
        reasons = self.table.transact(self._ops)
        if reasons is not None:
            raise self.explain(reasons)

    def explain(self, reasons: list[Reason]) -> DomainError:
        """The domain error storage/transaction.Transaction.explain gives for the same refusal."""
        cancellation = [
            {"Code": "ConditionalCheckFailed", "Item": _old_item(reason.old)} if reason.failed else {"Code": "None"}
            for reason in reasons
        ]
        return self._as_transaction().explain(cancellation)

    def _as_transaction(self) -> Transaction:
        """The real Transaction with an item per op (its key only) and the same meanings."""
        view = Transaction(self.command_id)
        for op, meaning in zip(self._ops, self._meanings, strict=True):
            key = {"pk": {"S": op.key[0]}, "sk": {"S": op.key[1]}}
            view.add({"Put": {"TableName": "main", "Item": key}}, meaning)
        return view


def _old_item(old: Any) -> dict[str, Any] | None:
    # What ReturnValuesOnConditionCheckFailure=ALL_OLD returns; only stock records' are read.
    return to_attrs(old.model_dump(mode="python")) if isinstance(old, BaseModel) else None


class InMemoryTransactions:
    """The core's Transactions port (storage/transaction.DynamoTransactions)."""

    def begin(self, command_id: str | None = None) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(command_id)


def _own(uow: UnitOfWork | None) -> tuple[InMemoryUnitOfWork, bool]:
    """storage/transaction.own: the unit of work a store method adds to, and whether it commits it itself."""
    if uow is None:
        return InMemoryUnitOfWork(), True
    if not isinstance(uow, InMemoryUnitOfWork):
        raise TypeError("a fake store adds its writes to an InMemoryUnitOfWork")
    return uow, False


def check(key: Key, condition: Condition) -> Op:
    """A ConditionCheck: the item stays as it is; the transaction goes through only if `condition` holds."""
    return Op(key, lambda current: current, condition)


# -- stock ---------------------------------------------------------------------------


class InMemoryStockStore:
    """The StockStore port (storage/stock_repo.DynamoStockStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()
        self.apply_calls = 0
        self.snapshots: dict[tuple[str, str], list[Snapshot]] = {}
        self.ledger_queries = 0

    # -- writes ------------------------------------------------------------

    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None:
        tx = InMemoryUnitOfWork()
        self.add_create(tx, record, movement)
        tx.commit()

    def create_records(
        self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor, uow: UnitOfWork | None = None
    ) -> None:
        tx, mine = _own(uow)
        for record, movement in pairs:
            self.add_create(tx, record, movement)
        if mine:
            tx.commit()

    def add_create(
        self, tx: InMemoryUnitOfWork, record: StockRecord, movement: Movement | None, role: Role = Role.NEW
    ) -> None:
        """The writes that create `record` (+ its initial movement, + its natural-key guard).

        role NEW: an existing one is AlreadyExists; COMMAND: it means this command ran before.
        """
        t = record.tenant_id
        meaning = Meaning(role, "stock record", record.stock_id)
        tx.add(self.table, put_new(_key(keys.stock(t, record.stock_id)), record), meaning)
        if movement is not None:
            key = _key(keys.movement(t, movement.stock_id, movement.movement_id))
            tx.add(self.table, put_new(key, movement), Meaning(role, "ledger line", movement.movement_id))
        if record.natural_key:
            guard = put_new(_key(keys.unique(t, "STOCKKEY", record.natural_key)), Guard(record.stock_id))
            tx.add(self.table, guard, meaning)
        if record.number is not None:
            numbered = put_new(_key(keys.unique(t, "STOCKNO", str(record.number))), Guard(record.stock_id))
            tx.add(self.table, numbered, meaning)

    def apply(self, tenant_id: str, changes: list[StockChange], uow: UnitOfWork | None = None) -> None:
        self.apply_calls += 1
        tx, mine = _own(uow)
        for change in changes:
            self.add_change(tx, tenant_id, change)
        if mine:
            tx.commit()

    def add_change(self, tx: InMemoryUnitOfWork, tenant_id: str, change: StockChange) -> None:
        """The writes of one StockChange: the record update, its ledger line and claim writes."""
        t = tenant_id
        now = utcnow()
        stock = Meaning(
            Role.STOCK,
            "stock record",
            change.stock_id,
            expected_version=change.expected_version,
            expected_on_hand=change.expected_on_hand,
            needs_active=change.needs_active_record,
        )
        tx.add(self.table, Op(_key(keys.stock(t, change.stock_id)), _changed(change, now), _stock_ok(change)), stock)
        # A ledger line or claim that already exists means this exact command ran before.
        if change.movement is not None:
            movement = change.movement
            key = _key(keys.movement(t, movement.stock_id, movement.movement_id))
            tx.add(self.table, put_new(key, movement), Meaning(Role.COMMAND, "ledger line"))
        if change.new_reservation is not None:
            claim = change.new_reservation
            key = _key(keys.reservation(t, claim.reservation_id))
            tx.add(self.table, put_new(key, claim), Meaning(Role.COMMAND, "reservation"))
        if change.new_hold is not None:
            key = _key(keys.hold(t, change.new_hold.hold_id))
            tx.add(self.table, put_new(key, change.new_hold), Meaning(Role.COMMAND, "hold"))
        for transition in change.all_reservation_transitions:
            op = _transit(_key(keys.reservation(t, transition.claim_id)), transition, now)
            tx.add(self.table, op, Meaning(Role.CLAIM, "reservation", transition.claim_id))
        if change.hold_transition is not None:
            transition = change.hold_transition
            op = _transit(_key(keys.hold(t, transition.claim_id)), transition, now)
            tx.add(self.table, op, Meaning(Role.CLAIM, "hold", transition.claim_id))
        for release in change.hold_releases:
            tx.add(
                self.table,
                _hold_release(_key(keys.hold(t, release.hold_id)), release, now),
                Meaning(Role.CLAIM, "hold"),
            )

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
        self.apply_calls += 1
        tx, mine = _own(uow)
        self.add_change(tx, tenant_id, source)
        # Anything new that already exists means this command ran before (DuplicateCommand).
        self.add_create(tx, record, movement, Role.COMMAND)
        key = _key(keys.reservation(tenant_id, reservation.reservation_id))
        tx.add(self.table, put_new(key, reservation), Meaning(Role.COMMAND, "reservation"))
        if mine:
            tx.commit()

    def set_allow_negative(self, tenant_id: str, stock_id: str, allowed: bool, actor: Actor) -> None:
        now = utcnow()

        def write(record: StockRecord) -> StockRecord:
            return record.model_copy(
                update={"allow_negative": allowed, "version": record.version + 1, "updated_at": now}
            )

        if self.table.write(Op(_key(keys.stock(tenant_id, stock_id)), write, _present)) is not None:
            raise NotFound(f"stock record {stock_id} not found")

    # -- reads -------------------------------------------------------------

    def get_record(self, tenant_id: str, stock_id: str) -> StockRecord | None:
        found: StockRecord | None = self.table.get(_key(keys.stock(tenant_id, stock_id)))
        return found

    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        found = {s: self.get_record(tenant_id, s) for s in stock_ids}
        return {s: r for s, r in found.items() if r is not None}

    def find_by_natural_key(self, tenant_id: str, natural_key: str) -> StockRecord | None:
        guard: Guard | None = self.table.get(_key(keys.unique(tenant_id, "STOCKKEY", natural_key)))
        return self.get_record(tenant_id, guard.target_id) if guard else None

    def get_movement(self, tenant_id: str, stock_id: str, movement_id: str) -> Movement | None:
        found: Movement | None = self.table.get(_key(keys.movement(tenant_id, stock_id, movement_id)))
        return found

    def movements(self, tenant_id: str, stock_id: str) -> Iterator[Movement]:
        return iter([m for _, m in self.table.query(keys.ledger_partition(tenant_id, stock_id))])

    def snapshot_at(self, tenant_id: str, stock_id: str, moment: datetime) -> Snapshot | None:
        self.ledger_queries += 1
        found = [s for s in self.snapshots.get((tenant_id, stock_id), []) if s.at <= moment]
        return max(found, key=lambda s: s.at) if found else None

    def movements_between(self, tenant_id: str, stock_id: str, after: datetime, until: datetime) -> list[Movement]:
        self.ledger_queries += 1
        found = [m for m in self.movements(tenant_id, stock_id) if after < m.occurred_at <= until]
        return sorted(found, key=lambda m: (m.occurred_at, m.movement_id))

    def ledger_windows(self, tenant_id: str, stock_ids: Sequence[str], moment: datetime) -> dict[str, LedgerWindow]:
        found = {}
        for stock_id in dict.fromkeys(stock_ids):
            snapshot = self.snapshot_at(tenant_id, stock_id, moment)
            after = snapshot.at if snapshot else datetime.min.replace(tzinfo=UTC)
            found[stock_id] = LedgerWindow(snapshot, self.movements_between(tenant_id, stock_id, after, moment))
        return found

    def claims_of_records(self, tenant_id: str, stock_ids: Sequence[str]) -> dict[str, Claims]:
        return {
            stock_id: Claims(
                self.reservations_for_record(tenant_id, stock_id), self.holds_for_record(tenant_id, stock_id)
            )
            for stock_id in dict.fromkeys(stock_ids)
        }

    def put_snapshots(self, snapshots: Iterable[Snapshot]) -> None:
        for snapshot in snapshots:
            kept = self.snapshots.setdefault((snapshot.tenant_id, snapshot.stock_id), [])
            kept[:] = [s for s in kept if s.at != snapshot.at] + [snapshot]

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        found: Reservation | None = self.table.get(_key(keys.reservation(tenant_id, reservation_id)))
        return found

    def get_reservations(self, tenant_id: str, reservation_ids: Iterable[str]) -> dict[str, Reservation]:
        found = {r: self.get_reservation(tenant_id, r) for r in reservation_ids}
        return {r: found_ for r, found_ in found.items() if found_ is not None}

    def get_hold(self, tenant_id: str, hold_id: str) -> Hold | None:
        found: Hold | None = self.table.get(_key(keys.hold(tenant_id, hold_id)))
        return found

    def _reservations(self, tenant_id: str) -> list[Reservation]:
        return [r for _, r in self.table.query(keys.reservation(tenant_id, "")["pk"])]

    def reservations_for_record(self, tenant_id: str, stock_id: str, active_only: bool = False) -> list[Reservation]:
        return [
            r
            for r in self._reservations(tenant_id)
            if r.stock_id == stock_id and (not active_only or r.status == ClaimStatus.ACTIVE)
        ]

    def reservations_for_order(self, tenant_id: str, order_id: str, active_only: bool = False) -> list[Reservation]:
        return [
            r
            for r in self._reservations(tenant_id)
            if r.reference.get("orderId") == order_id and (not active_only or r.status == ClaimStatus.ACTIVE)
        ]

    def holds_for_record(self, tenant_id: str, stock_id: str) -> list[Hold]:
        return [h for _, h in self.table.query(keys.hold(tenant_id, "")["pk"]) if h.stock_id == stock_id]

    def expiring_reservations(self, tenant_id: str, before: datetime) -> Iterator[Reservation]:
        # Like the sparse index: only reservations with an expiry that were never transitioned (active ones).
        due = [
            r
            for r in self._reservations(tenant_id)
            if r.status == ClaimStatus.ACTIVE
            and r.expires_at is not None
            and keys.stamp(r.expires_at) < keys.stamp(before)
        ]
        return iter(sorted(due, key=lambda r: keys.expiring_claim(tenant_id, r.expires_at, r.reservation_id)["gsi3sk"]))  # type: ignore[arg-type]

    def records_for_product(self, tenant_id: str, product_id: str) -> list[StockRecord]:
        found = [r for _, r in self.table.query(keys.stocks_partition(tenant_id)) if r.product_id == product_id]
        return sorted(
            found, key=lambda r: keys.stock_by_product(tenant_id, product_id, r.location_id, r.stock_id)["gsi1sk"]
        )

    def records_for_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, list[StockRecord]]:
        return {pid: self.records_for_product(tenant_id, pid) for pid in dict.fromkeys(product_ids)}

    def records_at_location(self, tenant_id: str, location_id: str) -> list[StockRecord]:
        found = [r for _, r in self.table.query(keys.stocks_partition(tenant_id)) if r.location_id == location_id]
        return sorted(found, key=lambda r: (r.product_id, r.stock_id))

    def list_records(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[StockRecord]:
        return _page(self.table.query(keys.stocks_partition(tenant_id)), limit, cursor)


def _stock_ok(change: StockChange) -> Condition:
    """The conditions DynamoStockStore puts on the record's UpdateItem."""

    def ok(record: StockRecord | None) -> bool:
        return record is not None and _stock_failure(record, change) is None

    return ok


def _stock_failure(record: StockRecord | None, change: StockChange) -> Exception | None:
    """Which of the record update's conditions fails (None: all hold); a refusal itself is explained
    by the real Transaction.explain, from the record as it was."""
    if record is None:
        return NotFound(f"stock record {change.stock_id} not found")
    if change.needs_active_record and not record.active:
        return InvalidState(f"stock record {change.stock_id} was deleted meanwhile")
    if change.expected_version is not None and record.version != change.expected_version:
        return StaleVersion(f"stock record is at version {record.version}, not {change.expected_version}")
    if change.expected_on_hand is not None and record.on_hand != change.expected_on_hand:
        return ExpectationFailed(
            f"on hand is {record.on_hand}, not the expected {change.expected_on_hand}",
            [{"field": "expectedQuantity", "message": f"current on hand is {record.on_hand}"}],
        )
    lowers = change.floor_available and change.available < 0
    may_go_negative = change.negative_allowed and record.allow_negative
    if lowers and not may_go_negative and record.available < -change.available:
        return InsufficientStock(
            f"only {record.available} available",
            [{"field": "quantity", "message": f"available is {record.available}"}],
        )
    return None


def _changed(change: StockChange, now: datetime) -> Callable[[StockRecord], StockRecord]:
    def write(record: StockRecord) -> StockRecord:
        moved = record.model_copy(
            update={
                "on_hand": record.on_hand + change.on_hand,
                "reserved": record.reserved + change.reserved,
                "held": record.held + change.held,
                "available": record.available + change.available,
                "version": record.version + 1,
                "updated_at": now,
            }
        )
        return _with_fields(moved, change) if change.set_fields or change.remove_fields else moved

    return write


def _transit(key: Key, transition: ClaimTransition, now: datetime) -> Op:
    def write(claim: Reservation | Hold) -> Reservation | Hold:
        return claim.model_copy(
            update={"status": transition.to_status, "version": claim.version + 1, "updated_at": now}
        )

    return Op(key, write, lambda claim: claim is not None and claim.status == transition.from_status)


def _hold_release(key: Key, release: HoldRelease, now: datetime) -> Op:
    def write(hold: Hold) -> Hold:
        update: dict[str, Any] = {
            "quantity": hold.quantity - release.quantity,
            "released_quantity": hold.released_quantity + release.quantity,
            "version": hold.version + 1,
            "updated_at": now,
        }
        if release.closes:
            update["status"] = release.to_status
        return hold.model_copy(update=update)

    def ok(hold: Hold | None) -> bool:
        if hold is None or hold.status != ClaimStatus.ACTIVE:
            return False
        return hold.quantity == release.quantity if release.closes else hold.quantity >= release.quantity

    return Op(key, write, ok)


class InMemoryWarehouseStore:
    """The WarehouseStore port (storage/warehouse_repo.DynamoWarehouseStore): lots, adjustment documents, holds."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table  # the stock store's table: holds live there

    def get_lots(self, tenant_id: str, lot_ids: Iterable[str]) -> dict[str, Lot]:
        found = {i: self.table.get(_key(keys.lot(tenant_id, i))) for i in lot_ids}
        return {i: lot for i, lot in found.items() if lot is not None}

    def add_new_lot(self, lot: Lot, actor: Actor, uow: UnitOfWork) -> None:
        tx, _ = _own(uow)
        tx.add(
            self.table, put_new(_key(keys.lot(lot.tenant_id, lot.lot_id)), lot), Meaning(Role.NEW, "lot", lot.lot_id)
        )

    def add_lot_status(self, lot: Lot, status: LotStatus, actor: Actor, uow: UnitOfWork) -> None:
        tx, _ = _own(uow)
        moved = lot.model_copy(update={"status": status, "version": lot.version + 1})
        op = put(_key(keys.lot(lot.tenant_id, lot.lot_id)), moved, _version_is(lot.version))
        tx.add(self.table, op, Meaning(Role.VERSION, "lot", lot.lot_id))

    def _lots(self, tenant_id: str) -> list[Lot]:
        return [lot for _, lot in self.table.query(keys.lot(tenant_id, "")["pk"])]

    def lots_expiring_before(self, tenant_id: str, day: date) -> list[Lot]:
        due = [
            lot
            for lot in self._lots(tenant_id)
            if lot.status == LotStatus.ACTIVE and lot.expiry_date is not None and lot.expiry_date < day
        ]
        return sorted(due, key=lambda lot: (lot.expiry_date, lot.lot_id))

    def lots_with_status(self, tenant_id: str, status: LotStatus) -> list[Lot]:
        return [lot for lot in self._lots(tenant_id) if lot.status == status]

    def add_adjustment(self, document: Any, actor: Actor, uow: UnitOfWork) -> None:
        tx, _ = _own(uow)
        key = _key(keys.adjustment(document.tenant_id, document.adjustment_id))
        tx.add(self.table, put_new(key, document), Meaning(Role.COMMAND, "adjustment"))

    def get_adjustment(self, tenant_id: str, adjustment_id: str) -> Any | None:
        return self.table.get(_key(keys.adjustment(tenant_id, adjustment_id)))

    def list_adjustments(self, tenant_id: str, kind: str) -> list[Any]:
        found = [d for _, d in self.table.query(keys.adjustment(tenant_id, "")["pk"]) if d.kind == kind]
        return sorted(found, key=lambda d: (d.created_at, d.adjustment_id), reverse=True)

    def list_holds(self, tenant_id: str) -> list[Hold]:
        return [h for _, h in self.table.query(keys.hold(tenant_id, "")["pk"])]

    def expiring_holds(self, tenant_id: str, before: datetime) -> list[Hold]:
        return [
            h
            for h in self.list_holds(tenant_id)
            if h.status == ClaimStatus.ACTIVE and h.expires_at is not None and h.expires_at < before
        ]


def _with_fields(record: StockRecord, change: StockChange) -> StockRecord:
    """The record with the change's set_fields and remove_fields applied ("attributes.x" is one attribute)."""
    data = record.model_dump()
    for name, value in change.set_fields.items():
        if name.startswith("attributes."):
            data["attributes"][name.removeprefix("attributes.")] = value
        else:
            data[name] = value
    for name in change.remove_fields:
        if name.startswith("attributes."):
            data["attributes"].pop(name.removeprefix("attributes."), None)
        else:
            data.pop(name, None)
    return StockRecord.model_validate(data)


# -- tenants and API keys --------------------------------------------------------------


class InMemoryTenantStore:
    """The TenantStore port (storage/tenant_repo.DynamoTenantStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def create_tenant(self, tenant: Tenant, key: ApiKey, actor: Actor, default_location: Location) -> None:
        """The tenant, its first key and its default location (with its name guard) in one transaction."""
        tx = InMemoryUnitOfWork()
        meaning = Meaning(Role.NEW, "tenant", tenant.tenant_id)
        tx.add(self.table, put_new(_key(keys.tenant_item(tenant.tenant_id)), tenant), meaning)
        tx.add(self.table, put_new(_key(keys.api_key(key.tenant_id, key.key_id)), key), meaning)
        for op in InMemoryCatalogStore(self.table).new_location_ops(default_location):
            tx.add(self.table, op, meaning)
        tx.commit()

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        found: Tenant | None = self.table.get(_key(keys.tenant_item(tenant_id)))
        return found

    def list_tenant_ids(self) -> Iterator[str]:
        sk = keys.tenant_item("")["sk"]
        tenants = [v for (_, found), v in self.table.scan("T#", sk) if found == sk]
        return iter(sorted(t.tenant_id for t in tenants))

    def put_key(self, key: ApiKey, actor: Actor) -> None:
        if self.table.write(put_new(_key(keys.api_key(key.tenant_id, key.key_id)), key)) is not None:
            raise AlreadyExists(f"API key {key.key_id} already exists")

    def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        found: ApiKey | None = self.table.get(_key(keys.api_key(tenant_id, key_id)))
        return found

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        pk, prefix = keys.api_keys_prefix(tenant_id)
        return [k for _, k in self.table.query(pk, prefix)]

    def revoke_key(self, tenant_id: str, key_id: str, actor: Actor) -> ApiKey:
        now = utcnow()

        def write(key: ApiKey) -> ApiKey:
            return key.model_copy(update={"revoked": True, "version": key.version + 1, "updated_at": now})

        item_key = _key(keys.api_key(tenant_id, key_id))
        if self.table.write(Op(item_key, write, _present)) is not None:
            raise NotFound(f"API key {key_id} not found")
        revoked: ApiKey = self.table.get(item_key)
        return revoked


# -- catalog: products, locations, bins ----------------------------------------------------

GuardSpec = tuple[str, str, str]  # (kind, value, field name for the error), as catalog_repo's Guard


def _product_guards(product: Product) -> list[GuardSpec]:
    guards: list[GuardSpec] = []
    if product.sku:
        guards.append(("SKU", product.sku, "sku"))
    guards.extend(("SOURCE", f"{source}#{sid}", f"sourceIds.{source}") for source, sid in product.source_ids.items())
    if product.number:
        guards.append(("PRODUCTNO", str(product.number), "productId"))
    return guards


def _location_guards(location: Location) -> list[GuardSpec]:
    guards = [("LOCNAME", location.name.casefold(), "name")]
    if location.number:
        guards.append(("LOCATIONNO", str(location.number), "warehouseId"))
    return guards


def _guard_role(kind: str) -> Role:
    """A taken numeric-id guard means the entity itself exists again (as DynamoCatalogStore says it)."""
    return Role.NEW if kind == "PRODUCTNO" else Role.GUARD


class InMemoryCatalogStore:
    """The CatalogStore port (storage/catalog_repo.DynamoCatalogStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()
        # Numeric ids as DynamoCatalogStore gives them: a per-tenant counter per kind.
        self.sequences: dict[tuple[str, str], int] = {}

    def _number(self, entity: Product | Location) -> None:
        if entity.number is not None:
            return
        if isinstance(entity, Location) and entity.is_default:
            entity.number = 0
            return
        name = (entity.tenant_id, type(entity).__name__)
        self.sequences[name] = self.sequences.get(name, 0) + 1
        entity.number = self.sequences[name]

    def product_id_by_number(self, tenant_id: str, number: int) -> str | None:
        return self._guard_target(tenant_id, "PRODUCTNO", str(number))

    def location_id_by_number(self, tenant_id: str, number: int) -> str | None:
        return self._guard_target(tenant_id, "LOCATIONNO", str(number))

    # -- products ----------------------------------------------------------

    def create_product(self, product: Product, actor: Actor) -> None:
        self._number(product)
        key = _key(keys.product(product.tenant_id, product.product_id))
        self._save(product.tenant_id, product.product_id, "product", key, product, None, _product_guards(product), [])

    def create_products(self, products: list[Product], actor: Actor, uow: UnitOfWork | None = None) -> None:
        tx, mine = _own(uow)
        for product in products:
            self.add_new_product(tx, product)
        self.add_product_counters(tx, products)
        if mine:
            tx.commit()

    def add_product_counters(self, tx: InMemoryUnitOfWork, products: list[Product]) -> None:
        """One counter move per listing (kind) of the active products, as DynamoCatalogStore does."""
        deltas: dict[tuple[str, str], int] = {}
        for product in products:
            if product.active:
                listing = (product.tenant_id, product.kind)
                deltas[listing] = deltas.get(listing, 0) + 1
        for (tenant_id, kind), delta in deltas.items():
            key = _key(keys.counter(tenant_id, f"gsi3#{kind}"))
            tx.add(self.table, Op(key, lambda current, d=delta: (current or 0) + d), Meaning(Role.PLAIN, "counter"))

    def add_new_product(self, tx: InMemoryUnitOfWork, product: Product) -> None:
        """The writes that create a product and take its guards (for callers that add writes of their own)."""
        self._number(product)
        t = product.tenant_id
        tx.add(
            self.table,
            put_new(_key(keys.product(t, product.product_id)), product),
            Meaning(Role.NEW, "product", product.product_id),
        )
        for kind, value, name in _product_guards(product):
            guard = put_new(_key(keys.unique(t, kind, value)), Guard(product.product_id))
            role = _guard_role(kind)
            field = None if role == Role.NEW else name
            tx.add(self.table, guard, Meaning(role, "product", product.product_id, field=field, value=value))

    def update_product(self, product: Product, previous: Product, actor: Actor) -> None:
        key = _key(keys.product(product.tenant_id, product.product_id))
        guards, old_guards = _product_guards(product), _product_guards(previous)
        self._save(product.tenant_id, product.product_id, "product", key, product, previous.version, guards, old_guards)

    def get_product(self, tenant_id: str, product_id: str) -> Product | None:
        found: Product | None = self.table.get(_key(keys.product(tenant_id, product_id)))
        return found

    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]:
        found = {p: self.get_product(tenant_id, p) for p in product_ids}
        return {p: product for p, product in found.items() if product is not None}

    def product_id_by_sku(self, tenant_id: str, sku: str) -> str | None:
        return self._guard_target(tenant_id, "SKU", sku)

    def product_id_by_source(self, tenant_id: str, source: str, source_id: str) -> str | None:
        return self._guard_target(tenant_id, "SOURCE", f"{source}#{source_id}")

    def list_products(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[Product]:
        return _page(self.table.query(keys.products_partition(tenant_id)), limit, cursor)

    # -- locations and bins ------------------------------------------------

    def create_location(self, location: Location, actor: Actor) -> None:
        self._number(location)
        key = _key(keys.location(location.tenant_id, location.location_id))
        guards = _location_guards(location)
        self._save(location.tenant_id, location.location_id, "location", key, location, None, guards, [])

    def update_location(self, location: Location, previous: Location, actor: Actor) -> None:
        key = _key(keys.location(location.tenant_id, location.location_id))
        guards, old_guards = _location_guards(location), _location_guards(previous)
        self._save(
            location.tenant_id, location.location_id, "location", key, location, previous.version, guards, old_guards
        )

    def write_locations(
        self,
        creates: list[Location],
        updates: list[tuple[Location, Location]],
        actor: Actor,
        uow: UnitOfWork | None = None,
    ) -> None:
        """Every location write of a batch in one transaction; refusals as DynamoCatalogStore.write_locations."""
        ops: list[Op] = []
        # Per op: (what it is, the entry's position, the name it takes), to explain a refusal.
        roles: list[tuple[str, int, str]] = []
        for index, location in enumerate(creates):
            created = self.new_location_ops(location)
            ops += created
            roles += [("new", index, location.name)] + [("guard", index, location.name)] * (len(created) - 1)
        for index, (location, previous) in enumerate(updates):
            t, location_id = location.tenant_id, location.location_id
            ops.append(put(_key(keys.location(t, location_id)), location, _version_is(previous.version)))
            roles.append(("version", index, location.name))
            guards, old_guards = _location_guards(location), _location_guards(previous)
            for kind, value, _ in [g for g in guards if g[:2] not in {p[:2] for p in old_guards}]:
                ops.append(put_new(_key(keys.unique(t, kind, value)), Guard(location_id)))
                roles.append(("guard", index, location.name))
            for kind, value, _ in [g for g in old_guards if g[:2] not in {n[:2] for n in guards}]:
                ops.append(delete(_key(keys.unique(t, kind, value)), _guard_of(location_id)))
                roles.append(("version", index, location.name))
        # Not yet on the unit of work (as `split`): a given `uow` is ignored and the batch commits here.
        if not ops:
            return
        reasons = self.table.transact(ops)
        if reasons is None:
            return
        failed = [roles[i] for i, r in enumerate(reasons) if r.failed]
        # Precedence as Transaction.explain: a taken guard, then an existing entity, then a moved version.
        taken = [problem("name", f"{name} is already in use", i) for role, i, name in failed if role == "guard"]
        if taken:
            raise AlreadyExists("already in use: " + ", ".join(p.at.path for p in taken), taken)
        existing = [problem("id", "already exists", i) for role, i, _ in failed if role == "new"]
        if existing:
            raise AlreadyExists("a location of this request already exists", existing)
        stale = [problem("version", "changed since it was read", i) for _, i, _ in failed]
        raise StaleVersion("the location was changed by someone else; read it again", stale)

    def new_location_ops(self, location: Location) -> list[Op]:
        """The transaction items that create a location: the entity, then its name guard."""
        self._number(location)
        t = location.tenant_id
        ops = [put_new(_key(keys.location(t, location.location_id)), location)]
        ops += [
            put_new(_key(keys.unique(t, kind, value)), Guard(location.location_id))
            for kind, value, _ in _location_guards(location)
        ]
        return ops

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        found: Location | None = self.table.get(_key(keys.location(tenant_id, location_id)))
        return found

    def get_locations(self, tenant_id: str, location_ids: Iterable[str]) -> dict[str, Location]:
        found = {i: self.get_location(tenant_id, i) for i in location_ids}
        return {i: location for i, location in found.items() if location is not None}

    def location_id_by_name(self, tenant_id: str, name: str) -> str | None:
        return self._guard_target(tenant_id, "LOCNAME", name.casefold())

    def location_ids_by_name(self, tenant_id: str, names: Iterable[str]) -> dict[str, str]:
        folded = {name.casefold() for name in names}
        holders = {name: self._guard_target(tenant_id, "LOCNAME", name) for name in folded}
        return {name: holder for name, holder in holders.items() if holder is not None}

    def list_locations(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, active_only: bool = False
    ) -> Page[Location]:
        """As DynamoDB's FilterExpression: `active_only` drops deleted ones from the page read (it may be short)."""
        page: Page[Location] = _page(self.table.query(keys.locations_partition(tenant_id)), limit, cursor)
        if active_only:
            return Page([location for location in page.items if location.active], page.cursor)
        return page

    def create_bin(self, bin_: Bin, actor: Actor) -> None:
        key = _key(keys.bin_(bin_.tenant_id, bin_.location_id, bin_.bin_id))
        guard = ("BIN", f"{bin_.location_id}#{bin_.code.casefold()}", "code")
        self._save(bin_.tenant_id, bin_.bin_id, "bin", key, bin_, None, [guard], [])

    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]:
        return [b for _, b in self.table.query(keys.bin_(tenant_id, location_id, "")["pk"], f"{location_id}#")]

    def get_bin(self, tenant_id: str, location_id: str, bin_id: str) -> Bin | None:
        found: Bin | None = self.table.get(_key(keys.bin_(tenant_id, location_id, bin_id)))
        return found

    def list_all_bins(self, tenant_id: str) -> list[Bin]:
        return [b for _, b in self.table.query(keys.bin_(tenant_id, "", "")["pk"])]

    # -- shared ------------------------------------------------------------

    def _save(
        self,
        tenant_id: str,
        entity_id: str,
        entity_type: str,
        key: Key,
        entity: Any,
        previous_version: int | None,
        guards: list[GuardSpec],
        previous_guards: list[GuardSpec],
    ) -> None:
        """The entity and its guard swaps in one transaction, as DynamoCatalogStore._save."""
        if previous_version is None:
            first = put_new(key, entity)
            meaning = Meaning(Role.NEW, entity_type, entity_id)
        else:
            first = put(key, entity, _version_is(previous_version))
            meaning = Meaning(Role.VERSION, entity_type, entity_id)
        added = [g for g in guards if g[:2] not in {p[:2] for p in previous_guards}]
        removed = [g for g in previous_guards if g[:2] not in {n[:2] for n in guards}]
        tx = InMemoryUnitOfWork()
        tx.add(self.table, first, meaning)
        for kind, value, name in added:
            role = _guard_role(kind)
            taken = Meaning(role, entity_type, entity_id, field=None if role == Role.NEW else name, value=value)
            tx.add(self.table, put_new(_key(keys.unique(tenant_id, kind, value)), Guard(entity_id)), taken)
        for kind, value, _ in removed:
            tx.add(self.table, delete(_key(keys.unique(tenant_id, kind, value)), _guard_of(entity_id)), meaning)
        tx.commit()

    def _guard_target(self, tenant_id: str, kind: str, value: str) -> str | None:
        guard: Guard | None = self.table.get(_key(keys.unique(tenant_id, kind, value)))
        return guard.target_id if guard else None


# -- reference data ------------------------------------------------------------------------


def _heat(code: str) -> str:
    return code.strip().casefold()


class InMemoryReferenceStore:
    """The ReferenceStore port (storage/reference_repo.DynamoReferenceStore).

    Locations are resolved from the table, so a catalog store on the same table supplies them.
    """

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def create_items(self, items: list[ReferenceItem], actor: Actor) -> None:
        tx = InMemoryUnitOfWork()
        for index, item in enumerate(items):
            new = Meaning(Role.NEW, item.kind.value, item.ref_id, field=f"[{index}].id")
            tx.add(self.table, put_new(self._key(item.tenant_id, item.kind, item.ref_id), item), new)
            if item.heat_code and item.active:
                tx.add(self.table, put_new(self._guard(item), Guard(item.ref_id)), self._taken(item))
        tx.commit()

    def update_items(self, pairs: list[tuple[ReferenceItem, ReferenceItem]], actor: Actor) -> None:
        tx = InMemoryUnitOfWork()
        for index, (new, old) in enumerate(pairs):
            changed = Meaning(Role.VERSION, "entry", new.ref_id, field=f"[{index}].version")
            tx.add(
                self.table, put(self._key(new.tenant_id, new.kind, new.ref_id), new, _version_is(old.version)), changed
            )
            new_code = _heat(new.heat_code) if new.heat_code and new.active else None
            old_code = _heat(old.heat_code) if old.heat_code and old.active else None
            if new_code == old_code:
                continue
            if old_code:
                tx.add(self.table, delete(self._guard(old), _guard_of(old.ref_id)), changed)
            if new_code:
                tx.add(self.table, put_new(self._guard(new), Guard(new.ref_id)), self._taken(new))
        tx.commit()

    @staticmethod
    def _taken(item: ReferenceItem) -> Meaning:
        # At most one active mill certification per heat code.
        value = _heat(item.heat_code or "")
        return Meaning(Role.GUARD, "mill certification", item.ref_id, field="heatCode", value=value)

    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]:
        found = {i: self.table.get(self._key(tenant_id, kind, i)) for i in ids}
        return {i: item for i, item in found.items() if item is not None}

    def list_active(self, tenant_id: str, kind: RefKind) -> list[ReferenceItem]:
        return [item for _, item in self.table.query(keys.reference_partition(tenant_id, kind.value)) if item.active]

    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]:
        found: dict[RefKey, Resolved] = {}
        for ref_key in set(wanted):
            item = self.table.get(self._lookup_key(tenant_id, *ref_key))
            if item is None:
                continue
            if ref_key[0] == HEAT:
                found[ref_key] = Resolved(id=item.target_id, label=None, active=True)
            elif ref_key[0] == LOCATION:
                found[ref_key] = Resolved(id=item.location_id, label=item.name, active=item.active)
            else:
                found[ref_key] = Resolved(id=item.ref_id, label=item.label, active=item.active)
        return found

    def _lookup_key(self, tenant_id: str, kind: str, ref: str) -> Key:
        if kind == LOCATION:
            return _key(keys.location(tenant_id, ref))
        if kind == HEAT:
            return _key(keys.unique(tenant_id, "HEAT", _heat(ref)))
        return self._key(tenant_id, RefKind(kind), ref)

    @staticmethod
    def _key(tenant_id: str, kind: RefKind, ref_id: str) -> Key:
        return _key(keys.reference(tenant_id, kind.value, ref_id))

    @staticmethod
    def _guard(item: ReferenceItem) -> Key:
        return _key(keys.unique(item.tenant_id, "HEAT", _heat(item.heat_code or "")))


# -- orders (003) --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listed:
    """An order header or line with the gsi1 sort key it was written with."""

    entity: Any
    listing: str


@dataclass(frozen=True)
class _Register:
    """An order's reservation register (storage/order_repo's CLAIMS item): the ids, and how many reserves."""

    ids: frozenset[str]
    reserves: int


class InMemoryOrderStore:
    """The OrderStore port (storage/order_repo.DynamoOrderStore), with the order's reservation register."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor, uow: UnitOfWork | None = None) -> None:
        tx, mine = _own(uow)
        self.add_writes(tx, tenant_id, writes)
        if mine:
            tx.commit()

    def add_writes(self, tx: InMemoryUnitOfWork, tenant_id: str, writes: list[OrderWrite]) -> None:
        """The writes of `writes`, each with what it means (as DynamoOrderStore.add_writes)."""
        t = tenant_id
        for position, write in enumerate(writes):
            order = write.order
            order_id = order.order_id
            versioned = Meaning(Role.VERSION, "order", order_id, field=f"[{position}].version")
            header = Meaning(Role.NEW, "order", order_id, field=f"[{position}].orderId")
            listing = keys.order_listing(t, order.active, order.created_at, order_id)["gsi1sk"]
            op = _guarded(_key(keys.order(t, order_id)), _Listed(order, listing), write.previous_version)
            tx.add(self.table, op, versioned if write.previous_version is not None else header)
            for line_write in write.lines:
                tx.add(self.table, self._put_line(t, order, line_write), versioned)
            if write.free_reference:
                guard = _key(keys.order_reference(t, write.free_reference))
                tx.add(self.table, delete(guard, _absent_or_of(order_id)), versioned)
            if write.take_reference:
                guard = _key(keys.order_reference(t, write.take_reference))
                taken = Meaning(
                    Role.GUARD, "order", order_id, field=f"[{position}].orderReference", value=write.take_reference
                )
                tx.add(self.table, put_new(guard, Guard(order_id)), taken)
            if write.reserves_seen is not None:
                tx.add(
                    self.table,
                    check(_key(keys.order_claims(t, order_id)), _reserves_are(write.reserves_seen)),
                    versioned,
                )

    def note_reservation(
        self, tenant_id: str, order_id: str, line_item_id: str, reservation_id: str, uow: UnitOfWork
    ) -> None:
        tx, _ = _own(uow)
        line = _key(keys.order_line(tenant_id, order_id, line_item_id))
        alive = Meaning(Role.ALIVE, "line item", line_item_id, field="lineItemId")
        tx.add(self.table, check(line, lambda listed: listed is not None and listed.entity.active), alive)

        def register(current: _Register | None) -> _Register:
            # ADD ids :id, reserves :one: the item is made on the first reserve.
            before = current or _Register(frozenset(), 0)
            return _Register(before.ids | {reservation_id}, before.reserves + 1)

        claims = Op(_key(keys.order_claims(tenant_id, order_id)), register)
        tx.add(self.table, claims, Meaning(Role.PLAIN, "order reservations", order_id))

    @staticmethod
    def _put_line(t: str, order: Order, write: LineWrite) -> Op:
        line = write.line
        active = line.active and order.active
        listing = keys.order_line_listing(t, active, order.created_at, order.order_id, line.line_number)["gsi1sk"]
        return _guarded(
            _key(keys.order_line(t, line.order_id, line.line_item_id)), _Listed(line, listing), write.previous_version
        )

    def get_order(self, tenant_id: str, order_id: str) -> StoredOrder | None:
        order: Order | None = None
        lines: list[LineItem] = []
        register = _Register(frozenset(), 0)
        for sk, found in self.table.query(keys.order_partition(tenant_id, order_id)):
            if sk == keys.order(tenant_id, order_id)["sk"]:
                order = found.entity
            elif sk == keys.order_claims(tenant_id, order_id)["sk"]:
                register = found
            else:
                lines.append(found.entity)
        return StoredOrder(order, lines, register.ids, register.reserves) if order is not None else None

    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        found = {order_id: self.get_order(tenant_id, order_id) for order_id in dict.fromkeys(order_ids)}
        return {order_id: stored for order_id, stored in found.items() if stored is not None}

    def order_headers(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, Order]:
        found = {order_id: self.table.get(_key(keys.order(tenant_id, order_id))) for order_id in order_ids}
        return {order_id: listed.entity for order_id, listed in found.items() if listed is not None}

    def order_ids_by_reference(self, tenant_id: str, references: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for reference in references:
            if not reference.strip():
                continue
            guard: Guard | None = self.table.get(_key(keys.order_reference(tenant_id, reference)))
            if guard is not None:
                found[reference.strip().casefold()] = guard.target_id
        return found

    def list_orders(self, tenant_id: str, active: bool, limit: int, cursor: dict[str, object] | None) -> Page[Order]:
        return self._newest_first(tenant_id, "ORDER", active, limit, cursor)

    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]:
        return self._newest_first(tenant_id, "LINE#", True, limit, cursor)

    def _newest_first(
        self, tenant_id: str, sk_prefix: str, active: bool, limit: int, cursor: dict[str, object] | None
    ) -> Page[Any]:
        prefix = keys.order_listing_prefix(active)
        listed = [
            (v.listing, v.entity)
            for _, v in self.table.scan(keys.order_partition(tenant_id, ""), sk_prefix)
            if v.listing.startswith(prefix)
        ]
        listed.sort(key=lambda pair: pair[0], reverse=True)
        return _page(listed, limit, cursor, descending=True)


def _reserves_are(seen: int) -> Condition:
    # "reserves = :seen", or "attribute_not_exists(reserves)" for an order never reserved.
    if seen:
        return lambda register: register is not None and register.reserves == seen
    return _absent


def _absent_or_of(order_id: str) -> Condition:
    return lambda guard: guard is None or guard.target_id == order_id


def _guarded(key: Key, value: _Listed, previous_version: int | None) -> Op:
    if previous_version is None:
        return put_new(key, value)
    return put(key, value, lambda current: current is not None and current.entity.version == previous_version)


# -- import jobs ---------------------------------------------------------------------------


class InMemoryImportStore:
    """The ImportStore port (storage/import_repo.DynamoImportStore).

    A chunk commits its records, products and orders with the job's checkpoint
    in one transaction on the table, so the stock, catalog and order stores on
    the same table see exactly what the real ones would.
    """

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()
        self._stock = InMemoryStockStore(self.table)
        self._catalog = InMemoryCatalogStore(self.table)
        self._orders = InMemoryOrderStore(self.table)

    def create_job(self, job: ImportJob) -> None:
        # The same job created twice (a redelivered drop): the first one stands.
        self.table.write(put_new(_key(keys.import_job(job.tenant_id, job.job_id)), job))

    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None:
        found: ImportJob | None = self.table.get(_key(keys.import_job(tenant_id, job_id)))
        return found

    def list_jobs(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[ImportJob]:
        jobs = [j for _, j in self.table.query(keys.import_job(tenant_id, "")["pk"])]
        listed = [(keys.import_jobs_by_time(tenant_id, j.created_at, j.job_id)["gsi1sk"], j) for j in jobs]
        listed.sort(key=lambda pair: pair[0], reverse=True)
        return _page(listed, limit, cursor, descending=True)

    def claim(self, job: ImportJob, now: datetime, lease_until: datetime) -> ImportJob | None:
        # Each claim is a new lease owner: only it may move the checkpoint.
        owner = new_id()

        def free(current: ImportJob | None) -> bool:
            if current is None:
                return False
            expired = current.lease_until is not None and keys.stamp(current.lease_until) < keys.stamp(now)
            mine = current.lease_owner == owner  # a retry of this very call, as in DynamoImportStore.claim
            return current.status == ImportStatus.QUEUED or (
                current.status == ImportStatus.RUNNING and (expired or mine)
            )

        def write(current: ImportJob) -> ImportJob:
            return current.model_copy(
                update={
                    "status": ImportStatus.RUNNING,
                    "lease_until": lease_until,
                    "lease_owner": owner,
                    "updated_at": now,
                    "started_at": current.started_at or now,
                    "version": current.version + 1,
                }
            )

        key = _key(keys.import_job(job.tenant_id, job.job_id))
        if self.table.write(Op(key, write, free)) is not None:
            return None
        return self.get_job(job.tenant_id, job.job_id)

    def set_total(self, job: ImportJob, total: int) -> None:
        self._update(job, total=total)

    def finish(self, job: ImportJob, status: ImportStatus, message: str | None) -> None:
        changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "lease_until": None}
        if message:
            changes["message"] = message
        self._update(job, **changes)

    def pause(self, job: ImportJob) -> None:
        self._update(job, lease_until=utcnow())

    def note_failure(self, job: ImportJob, message: str) -> None:
        """Keep why a delivery failed on the running job and give its lease up (nothing if it ended)."""
        now = utcnow()

        def write(current: ImportJob) -> ImportJob:
            changes = {"message": message, "lease_until": now, "updated_at": now, "version": current.version + 1}
            return current.model_copy(update=changes)

        def running(current: ImportJob | None) -> bool:
            return current is not None and current.status == ImportStatus.RUNNING

        self.table.write(Op(_key(keys.import_job(job.tenant_id, job.job_id)), write, running))

    def abandon(self, job: ImportJob, message: str) -> bool:
        """Fail the job unless it has ended (one conditional write)."""
        now = utcnow()

        def write(current: ImportJob) -> ImportJob:
            changes = {
                "status": ImportStatus.FAILED,
                "finished_at": now,
                "message": message,
                "lease_until": None,
                "updated_at": now,
                "version": current.version + 1,
            }
            return current.model_copy(update=changes)

        def unfinished(current: ImportJob | None) -> bool:
            return current is not None and current.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

        return self.table.write(Op(_key(keys.import_job(job.tenant_id, job.job_id)), write, unfinished)) is None

    def _update(self, job: ImportJob, **changes: Any) -> None:
        now = utcnow()

        def write(current: ImportJob) -> ImportJob:
            return current.model_copy(update={**changes, "updated_at": now, "version": current.version + 1})

        if self.table.write(Op(_key(keys.import_job(job.tenant_id, job.job_id)), write, _present)) is not None:
            raise NotFound(f"import job {job.job_id} not found")

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        """The chunk's writes and the job's checkpoint in ONE unit of work, as DynamoImportStore.commit."""
        command = f"import:{tenant_id}:{checkpoint.job_id}:{checkpoint.from_line}:{checkpoint.to_line}"
        tx = InMemoryUnitOfWork(f"{command}:{checkpoint.owner or ''}")
        tx.add(
            self.table, self._advance(tenant_id, checkpoint), Meaning(Role.CHECKPOINT, "import job", checkpoint.job_id)
        )
        if checkpoint.errors:
            first = checkpoint.errors[0].line
            errors = put(_key(keys.import_errors(tenant_id, checkpoint.job_id, first)), list(checkpoint.errors))
            tx.add(self.table, errors, Meaning(Role.PLAIN, "row errors"))
        for product in plan.products:
            self._catalog.add_new_product(tx, product)
        for record, movement in plan.creates:
            self._stock.add_create(tx, record, movement)
        for change in plan.changes:
            self._stock.add_change(tx, tenant_id, change)
        orders = [write for write in plan.feature_writes if isinstance(write, OrderWrite)]
        if len(orders) != len(plan.feature_writes):
            raise TypeError("a chunk holds a feature write this store cannot commit")
        if orders:
            self._orders.add_writes(tx, tenant_id, orders)
        try:
            tx.commit()
        except (CheckpointMoved, DuplicateCommand):
            # The checkpoint was not where this worker left it: the core reads the job to tell why.
            return CommitOutcome.LOST
        except (Conflict, NotFound):
            # A record, product, order or guard moved since the plan read it: plan the chunk again.
            return CommitOutcome.CONFLICT
        return CommitOutcome.DONE

    @staticmethod
    def _advance(tenant_id: str, checkpoint: Checkpoint) -> Op:
        now = utcnow()

        def write(job: ImportJob) -> ImportJob:
            return job.model_copy(
                update={
                    "checkpoint_line": checkpoint.to_line,
                    "processed": job.processed + checkpoint.read,
                    "created": job.created + checkpoint.created,
                    "updated": job.updated + checkpoint.updated,
                    "failed": job.failed + checkpoint.failed,
                    "errors_stored": job.errors_stored + len(checkpoint.errors),
                    "errors_truncated": job.errors_truncated or checkpoint.errors_dropped,
                    "lease_until": checkpoint.lease_until,
                    "updated_at": now,
                    "version": job.version + 1,
                }
            )

        def ours(job: ImportJob | None) -> bool:
            if job is None or job.checkpoint_line != checkpoint.from_line or job.status != ImportStatus.RUNNING:
                return False
            # Only the worker holding the lease moves the job on.
            return not checkpoint.owner or job.lease_owner == checkpoint.owner

        return Op(_key(keys.import_job(tenant_id, checkpoint.job_id)), write, ours)

    def errors(self, tenant_id: str, job_id: str, limit: int) -> list[RowError]:
        found = [
            error for _, chunk in self.table.query(keys.import_errors_partition(tenant_id, job_id)) for error in chunk
        ]
        return found[:limit]


class InMemoryWakeups:
    """The Wakeups port (storage/import_repo.QueueWakeups): the object keys it re-announced, in order."""

    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, job: ImportJob) -> None:
        self.woken.append(job.object_key)


# -- history -------------------------------------------------------------------------------


class InMemoryHistoryStore:
    """The HistoryStore port (storage/history_repo.DynamoHistoryStore): one partition per timeline
    (an entity's, holding its children's events too), sorted by change time and event id; an
    event written again overwrites itself."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def put_events(self, events: Iterable[HistoryEvent]) -> None:
        batch: dict[Key, HistoryEvent] = {}
        for event in events:
            # One batch names a key once: the first of repeats is written, as DynamoHistoryStore does.
            batch.setdefault(self._key(event), event)
        for key, event in batch.items():
            self.table.write(put(key, event))

    def events_for(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """The entity's own events: its partition, less its children's (those naming a parent)."""
        return [e for e in self.timeline(tenant_id, entity_type, entity_id) if not e.parent_id]

    def timeline(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """The entity's partition whole: its events and its children's (an order's lines), oldest first."""
        return [e for _, e in self.table.query(keys.history_partition(tenant_id, entity_type, entity_id))]

    @staticmethod
    def _key(event: HistoryEvent) -> Key:
        # An event whose entity names a parent lives in the parent's partition, as history_repo.history_key.
        owner_type, owner_id = event.entity_type, event.entity_id
        if event.parent_type and event.parent_id:
            owner_type, owner_id = event.parent_type, event.parent_id
        return _key(keys.history(event.tenant_id, owner_type, owner_id, event.changed_at, event.event_id))


# -- idempotency ---------------------------------------------------------------------------


class InMemoryIdempotencyStore:
    """storage/idempotency_repo.DynamoIdempotencyStore: one record per (tenant, Idempotency-Key)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def claim(
        self, tenant_id: str, key: str, fingerprint: str, now: int, lock_seconds: int, ttl_seconds: int
    ) -> StoredRequest | None:
        """Take the key (None), or answer what holds it; the same condition as the real PutItem."""

        def free(held: _Idem | None) -> bool:
            if held is None or (held.expires_at is not None and held.expires_at < now):
                return True
            stale_lock = held.lock_until is not None and held.lock_until < now
            return held.status == IN_PROGRESS and stale_lock and held.fingerprint == fingerprint

        mine = _Idem(IN_PROGRESS, fingerprint, lock_until=now + lock_seconds, expires_at=now + ttl_seconds)
        refused = self.table.write(put(_key(keys.idempotency(tenant_id, key)), mine, free))
        return refused.old.stored() if refused else None

    def complete(self, tenant_id: str, key: str, status: int, body: str, headers: dict[str, str]) -> None:
        def write(held: _Idem | None) -> _Idem:
            # An UpdateItem: a record that is gone is written anew, with only these fields.
            base = held or _Idem(COMPLETED, "")
            return _Idem(COMPLETED, base.fingerprint, base.lock_until, base.expires_at, status, body, dict(headers))

        self.table.write(Op(_key(keys.idempotency(tenant_id, key)), write))

    def release(self, tenant_id: str, key: str) -> None:
        self.table.write(delete(_key(keys.idempotency(tenant_id, key))))


@dataclass(frozen=True)
class _Idem:
    status: str
    fingerprint: str
    lock_until: int | None = None
    expires_at: int | None = None
    response_status: int | None = None
    response_body: str | None = None
    response_headers: dict[str, str] | None = None

    def stored(self) -> StoredRequest:
        return StoredRequest(
            status=self.status,
            fingerprint=self.fingerprint,
            response_status=self.response_status,
            response_body=self.response_body,
            response_headers=self.response_headers,
        )


# -- files bucket (S3) ---------------------------------------------------------------------

READ_CHUNK_BYTES = 256 * 1024  # storage/files.READ_CHUNK_BYTES: a bad byte shows where S3's stream reaches it


@dataclass
class StoredFile:
    body: bytes
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    content_disposition: str | None = None

    @property
    def etag(self) -> str:
        # S3's ETag of a single-part upload: the quoted MD5 of the bytes.
        return '"' + hashlib.md5(self.body, usedforsecurity=False).hexdigest() + '"'


class InMemoryFiles:
    """The files bucket as storage/files.S3Files serves it: the core's FileSource (imports),
    ExportStore (downloads) and DocumentStore (certificate documents)."""

    def __init__(self, bucket: str = "stockroom-files") -> None:
        self.bucket = bucket
        self.objects: dict[str, StoredFile] = {}
        self.reads = 0

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
        filename: str | None = None,
    ) -> None:
        disposition = f'attachment; filename="{filename}"' if filename is not None else None
        self.objects[key] = StoredFile(bytes(body), content_type, dict(metadata or {}), disposition)

    def size(self, key: str) -> int | None:
        found = self.objects.get(key)
        return len(found.body) if found is not None else None

    def copy(self, source_key: str, key: str, metadata: dict[str, str] | None = None) -> None:
        source = self.objects[source_key]
        self.objects[key] = StoredFile(source.body, "text/csv", dict(metadata or {}), None)

    def lines(self, key: str) -> Iterator[str]:
        """As S3Files.lines: UTF-8 (a leading BOM dropped), split on \\n only, line ends kept, read in chunks."""
        if key not in self.objects:
            raise FileNotFoundError(key)
        self.reads += 1
        return self._lines(self.objects[key].body)

    @staticmethod
    def _lines(body: bytes) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        pending = ""
        for start in range(0, len(body), READ_CHUNK_BYTES):
            *complete, pending = (pending + decoder.decode(body[start : start + READ_CHUNK_BYTES])).split("\n")
            for line in complete:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    def presigned_post(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        return {
            "url": f"https://{self.bucket}.s3.amazonaws.com/",
            "fields": {"key": key, "policy": f"content-length-range 1..{max_bytes}, {expires_seconds}s"},
        }

    def download_url(self, key: str, filename: str, content_type: str, expires_seconds: int) -> str:
        query = urlencode(
            {
                "response-content-disposition": f'attachment; filename="{filename}"',
                "response-content-type": content_type,
                "X-Amz-Expires": str(expires_seconds),
            }
        )
        return f"https://s3.amazonaws.com/{self.bucket}/{quote(key)}?{query}"


class InMemoryPackStore:
    """The PackCache port (storage/packs.S3PackStore) over the objects of an InMemoryFiles bucket."""

    def __init__(self, files: InMemoryFiles | None = None) -> None:
        self.files = files or InMemoryFiles()

    def get(self, tenant_id: str, order_id: str, fingerprint: str) -> bytes | None:
        found = self.files.objects.get(pack_key(tenant_id, order_id, fingerprint))
        return found.body if found is not None else None

    def put(self, tenant_id: str, order_id: str, fingerprint: str, pdf: bytes) -> None:
        metadata = {"order-id": order_id, "fingerprint": fingerprint}
        self.files.put(pack_key(tenant_id, order_id, fingerprint), pdf, "application/pdf", metadata)

    def stat(self, keys_: Iterable[str]) -> dict[str, StoredObject]:
        found = {k: self.files.objects.get(k) for k in keys_ if _is_certificate(k)}
        return {k: StoredObject(etag=f.etag, size=len(f.body)) for k, f in found.items() if f is not None}

    def document(self, key: str, max_bytes: int) -> StoredDocument | None:
        found = self.files.objects.get(key) if _is_certificate(key) else None
        if found is None or len(found.body) > max_bytes:
            return None
        return StoredDocument(found.body, found.etag)

    def download_url(self, tenant_id: str, order_id: str, fingerprint: str, filename: str) -> str:
        return self.files.download_url(pack_key(tenant_id, order_id, fingerprint), filename, "application/pdf", 300)


def _is_certificate(key: str) -> bool:
    return key.startswith(f"{CERTIFICATES_PREFIX}/") and not key.startswith(certificate_prefix(""))


class StoreReads:
    """The BatchReads port over separate stores, each asked in turn (DynamoBatchReads asks once).

    Gives the same answers as the DynamoDB version for the same stored items;
    tests/integration/test_batch_reads.py holds the two to that.
    """

    def __init__(
        self,
        stock: StockStore | None = None,
        catalog: CatalogStore | None = None,
        reference: ReferenceStore | None = None,
    ) -> None:
        self._stock = stock
        self._catalog = catalog
        self._reference = reference

    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        found = Found()
        if wanted.records and self._stock is not None:
            found.records = self._stock.get_records(tenant_id, list(wanted.records))
        if wanted.products and self._catalog is not None:
            found.products = set(self._catalog.get_products(tenant_id, list(wanted.products)))
        references = {(kind, ref) for kind, ref in wanted.references if ref}
        if references and self._reference is not None:
            found.references = self._reference.lookup(tenant_id, references)
        return found


class InMemoryClientStore:
    """OAuth2 clients and their per-minute token-request counters (core/tenancy/clients.ClientStore)."""

    def __init__(self) -> None:
        from chalicelib.core.tenancy.clients import OAuthClient

        self.clients: dict[tuple[str, str], OAuthClient] = {}
        self.counters: dict[tuple[str, str, int], int] = {}
        self.reads = 0

    def put_client(self, client: Any, actor: Actor) -> None:
        if (client.tenant_id, client.client_id) in self.clients:
            raise AlreadyExists(f"client {client.client_id} already exists")
        self.clients[(client.tenant_id, client.client_id)] = client.model_copy(deep=True)

    def get_client(self, tenant_id: str, client_id: str) -> Any:
        self.reads += 1
        found = self.clients.get((tenant_id, client_id))
        return found.model_copy(deep=True) if found is not None else None

    def list_clients(self, tenant_id: str) -> list[Any]:
        return [c.model_copy(deep=True) for (t, _), c in self.clients.items() if t == tenant_id]

    def revoke_client(self, tenant_id: str, client_id: str, actor: Actor) -> Any:
        client = self.clients.get((tenant_id, client_id))
        if client is None:
            raise NotFound(f"client {client_id} not found")
        revoked = client.model_copy(update={"revoked": True, "version": client.version + 1, "updated_at": utcnow()})
        self.clients[(tenant_id, client_id)] = revoked
        return revoked.model_copy(deep=True)

    def count_token_request(self, tenant_id: str, client_id: str, window_start: int, limit: int) -> bool:
        key = (tenant_id, client_id, window_start)
        if self.counters.get(key, 0) >= limit:
            return False
        self.counters[key] = self.counters.get(key, 0) + 1
        return True


# -- multi-source inventory (004) ----------------------------------------------------------


class InMemoryMultiSourceStore:
    """The MultiSourceStore port (storage/multisource_repo.DynamoMultiSourceStore) over the shared table.

    `search` walks the table's stock partition (a fake's stand-in for the indexes) with the plan's rules.
    """

    def __init__(self, table: MemoryTable) -> None:
        self.table = table
        self.sequences: dict[str, int] = {}
        self.guard_reads = 0

    def guard_targets(self, tenant_id: str, kind: str, values: Iterable[str]) -> dict[str, str]:
        self.guard_reads += 1
        found = {}
        for value in dict.fromkeys(v for v in values if v):
            guard: Guard | None = self.table.get(_key(keys.unique(tenant_id, kind, value)))
            if guard is not None:
                found[value] = guard.target_id
        return found

    def next_record_numbers(self, tenant_id: str, count: int) -> range:
        last = self.sequences.get(tenant_id, 0)
        self.sequences[tenant_id] = last + count
        return range(last + 1, last + count + 1)

    def number_records(self, tenant_id: str, numbered: list[tuple[str, int]]) -> None:
        tx = InMemoryUnitOfWork()
        for stock_id, number in numbered:

            def write(record: StockRecord, n: int = number) -> StockRecord:
                return record.model_copy(update={"number": n})

            key = _key(keys.stock(tenant_id, stock_id))
            tx.add(self.table, Op(key, write, lambda r: r is not None and r.number is None), Meaning(Role.VERSION))
            guard = put_new(_key(keys.unique(tenant_id, "STOCKNO", str(number))), Guard(stock_id))
            tx.add(self.table, guard, Meaning(Role.NEW, "record id", str(number)))
        tx.commit()

    def search(self, tenant_id: str, plan: Any) -> list[StockRecord]:
        records = [r for _, r in self.table.query(keys.stocks_partition(tenant_id)) if r.active or plan.include_deleted]
        if plan.product_ids:
            records = [r for r in records if r.product_id in plan.product_ids]
        elif plan.location_ids:
            records = [r for r in records if r.location_id in plan.location_ids]
        else:
            kinds = set(plan.types)
            records = [r for r in records if ("local" if r.owner == "INTERN" else "supplier") in kinds]
        if plan.owner is not None:
            records = [r for r in records if r.owner == plan.owner]
        if plan.local_only:
            records = [r for r in records if r.owner == "INTERN"]
        if plan.supplier_only:
            records = [r for r in records if r.owner != "INTERN"]
        if plan.location_ids_filter:
            records = [r for r in records if r.location_id in plan.location_ids_filter]
        if plan.place is not None:
            records = [r for r in records if r.attributes.get("location") == plan.place]
        if plan.company is not None:
            records = [r for r in records if int(r.attributes.get("companyId") or 0) == plan.company]
        if plan.min_quantity is not None:
            records = [r for r in records if r.on_hand >= plan.min_quantity]
        if plan.max_quantity is not None:
            records = [r for r in records if r.on_hand <= plan.max_quantity]
        if plan.modified_since is not None:
            records = [r for r in records if r.updated_at >= plan.modified_since]
        return records[: plan.limit]

    def add_guard(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str, field: str) -> None:
        assert isinstance(uow, InMemoryUnitOfWork)
        op = put_new(_key(keys.unique(tenant_id, kind, value)), Guard(target))
        uow.add(self.table, op, Meaning(Role.GUARD, "inventory record", target, field=field, value=value[:12]))

    def add_guard_release(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str) -> None:
        assert isinstance(uow, InMemoryUnitOfWork)
        op = delete(_key(keys.unique(tenant_id, kind, value)), lambda g: g is None or g.target_id == target)
        uow.add(self.table, op, Meaning(Role.VERSION, "inventory record", target))


class InMemoryWorkItems:
    """The 001 work-item store (storage/workitems.DynamoWorkItems) over a MemoryTable: documents of one
    kind, created `attribute_not_exists`, saved and deleted guarded on their version, in a unit of work."""

    def __init__(self, table: MemoryTable, kind: str, id_field: str, entity: str) -> None:
        self.table = table
        self._kind = kind
        self._id_field = id_field
        self._entity = entity

    def _k(self, tenant_id: str, item_id: str) -> Key:
        return _key(keys.work_item(tenant_id, self._kind, item_id))

    def add_new(self, doc: Any, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = _own(uow)
        item_id = getattr(doc, self._id_field)
        tx.add(self.table, put_new(self._k(doc.tenant_id, item_id), doc), Meaning(Role.NEW, self._entity, item_id))
        if mine:
            tx.commit()

    def add_save(self, doc: Any, read_version: int, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = _own(uow)
        item_id = getattr(doc, self._id_field)
        op = put(self._k(doc.tenant_id, item_id), doc, _version_is(read_version))
        tx.add(self.table, op, Meaning(Role.VERSION, self._entity, item_id, field="id"))
        if mine:
            tx.commit()

    def add_delete(self, doc: Any, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = _own(uow)
        item_id = getattr(doc, self._id_field)
        op = delete(self._k(doc.tenant_id, item_id), _version_is(doc.version))
        tx.add(self.table, op, Meaning(Role.VERSION, self._entity, item_id, field="id"))
        if mine:
            tx.commit()

    def get(self, tenant_id: str, item_id: str) -> Any | None:
        return self.table.get(self._k(tenant_id, item_id))

    def get_many(self, tenant_id: str, item_ids: list[str]) -> dict[str, Any]:
        return {i: d for i in item_ids if (d := self.get(tenant_id, i)) is not None}

    def list_all(self, tenant_id: str) -> list[Any]:
        return [d for _, d in self.table.query(keys.work_items_partition(tenant_id, self._kind))]


class InMemoryStockRequestStore(InMemoryWorkItems):
    def __init__(self, table: MemoryTable) -> None:
        super().__init__(table, "STOCKREQUEST", "request_id", "stockRequest")
        self._last: dict[str, int] = {}

    def next_number(self, tenant_id: str) -> int:
        self._last[tenant_id] = self._last.get(tenant_id, 0) + 1
        return self._last[tenant_id]


# -- webhooks (core/events/webhooks.py) -----------------------------------------------


class InMemoryWebhookStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}

    def create(self, webhook: Any, actor: Any) -> None:
        self.items[(webhook.tenant_id, webhook.webhook_id)] = webhook.model_copy(deep=True)

    def get(self, tenant_id: str, webhook_id: str) -> Any:
        found = self.items.get((tenant_id, webhook_id))
        return found.model_copy(deep=True) if found else None

    def list(self, tenant_id: str) -> list[Any]:
        return [w.model_copy(deep=True) for (t, _), w in self.items.items() if t == tenant_id]

    def replace(self, webhook: Any, expected_version: int, actor: Any) -> None:
        from chalicelib.core.errors import StaleVersion

        current = self.items.get((webhook.tenant_id, webhook.webhook_id))
        if current is None or current.version != expected_version:
            raise StaleVersion("webhook changed meanwhile")
        self.items[(webhook.tenant_id, webhook.webhook_id)] = webhook.model_copy(deep=True)

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        self.items.pop((tenant_id, webhook_id), None)


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Any] = {}

    def get(self, tenant_id: str, webhook_id: str, delivery_id: str) -> Any:
        found = self.items.get((tenant_id, webhook_id, delivery_id))
        return found.model_copy(deep=True) if found else None

    def put(self, delivery: Any) -> None:
        self.items[(delivery.tenant_id, delivery.webhook_id, delivery.delivery_id)] = delivery.model_copy(deep=True)

    def page(self, tenant_id: str, webhook_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[Any]:
        found = sorted(
            (d for (t, w, _), d in self.items.items() if (t, w) == (tenant_id, webhook_id)),
            key=lambda d: d.delivery_id,
        )
        start = int((cursor or {}).get("offset", 0))
        rest = found[start + limit :]
        return Page(found[start : start + limit], {"offset": start + limit} if rest else None)


class InMemoryDeliveryQueue:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.parked: list[Any] = []

    def enqueue(self, jobs: Any) -> None:
        self.sent.extend(jobs)

    def park(self, job: Any) -> None:
        self.parked.append(job)
