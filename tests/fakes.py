"""In-memory stores with the same semantics as the DynamoDB and S3 ones.

`MemoryTable` plays a DynamoDB table: items under (pk, sk) keys built by
`chalicelib.storage.keys`, so partitions sort as the real ones do, and
`transact` is TransactWriteItems: at most 100 items, each item once, every
condition checked before anything is written, all or nothing, and a refusal
answers each item's condition and its old value (ReturnValuesOnConditionCheckFailure).

Each fake store turns its writes into table operations the way its DynamoDB
twin turns them into transaction items, and maps a refusal to the same
domain error in the same order of precedence. Stores given one MemoryTable
share it as the real ones share the main table: the import store commits
records, products and orders with its checkpoint in one transaction, and the
reference store resolves catalog locations. Reads return copies, so callers
never alias stored state.

`InMemoryFiles` plays the files bucket (S3Files: imports, exports,
certificate documents) and `InMemoryPackStore` the pack cache over the same
objects. The contract tests in tests/integration/test_*_store.py run the same
test functions against each fake and its real store under moto.

Known differences, on paths no caller takes: a write to a missing stock record
or import job by `set_allow_negative`, `set_total`, `finish` or `pause` is a
NotFound here and a botocore ClientError (ConditionalCheckFailed) there; two
operations on one item in a transaction are a ValueError here and a
ClientError (ValidationException) there; reading the lines of a missing file
is a FileNotFoundError here and a ClientError (NoSuchKey) there. Pages give a
cursor only when more items follow (as moto does; DynamoDB itself may end on
a cursor and an empty page, so callers must not count on either).
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

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
from chalicelib.core.imports.jobs import Checkpoint, ChunkPlan, CommitOutcome, ImportJob, ImportStatus, RowError
from chalicelib.core.models import (
    Actor,
    ApiKey,
    Bin,
    ClaimStatus,
    HistoryEvent,
    Hold,
    Location,
    Movement,
    Product,
    Reservation,
    StockRecord,
    Tenant,
)
from chalicelib.core.ports import ClaimTransition, Page, StockChange, UnitOfWork
from chalicelib.core.reference.service import HEAT, LOCATION, ReferenceItem, RefKey, RefKind, Resolved
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
from chalicelib.storage.idempotency_repo import COMPLETED, IN_PROGRESS, StoredRequest

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


# -- stock ---------------------------------------------------------------------------


class InMemoryUnitOfWork:
    """Writes of several fake stores, applied together at commit: all of them, or (restored) none."""

    def __init__(self) -> None:
        self._steps: list[tuple[Any, Callable[[], None]]] = []
        self.committed = False

    def defer(self, store: Any, step: Callable[[], None]) -> None:
        self._steps.append((store, step))

    def commit(self) -> None:
        if self.committed:
            raise RuntimeError("a unit of work is committed once")
        self.committed = True
        stores = {id(store): store for store, _ in self._steps}
        saved = {key: store.snapshot() for key, store in stores.items()}
        try:
            for _, step in self._steps:
                step()
        except Exception:
            for key, store in stores.items():
                store.restore(saved[key])
            raise


class InMemoryTransactions:
    def begin(self, command_id: str | None = None) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork()


def _deferred(uow: UnitOfWork | None) -> InMemoryUnitOfWork | None:
    if uow is not None and not isinstance(uow, InMemoryUnitOfWork):
        raise TypeError("a fake store joins an InMemoryUnitOfWork")
    return uow


class InMemoryStockStore:
    """The StockStore port (storage/stock_repo.DynamoStockStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()
        self.apply_calls = 0

    def snapshot(self) -> tuple[dict[Any, Any], ...]:
        return tuple(dict(d) for d in self._tables())

    def restore(self, saved: tuple[dict[Any, Any], ...]) -> None:
        for table, kept in zip(self._tables(), saved, strict=True):
            table.clear()
            table.update(kept)

    def _tables(self) -> tuple[dict[Any, Any], ...]:
        return (self._records, self._natural_keys, self._movements, self._reservations, self._holds)

    # -- writes ------------------------------------------------------------

    def create_ops(self, record: StockRecord, movement: Movement | None) -> list[Op]:
        """The transaction items that create one record (for callers that add writes of their own)."""
        t = record.tenant_id
        ops = [put_new(_key(keys.stock(t, record.stock_id)), record)]
        if movement is not None:
            ops.append(put_new(_key(keys.movement(t, movement.stock_id, movement.movement_id)), movement))
        if record.natural_key:
            ops.append(put_new(_key(keys.unique(t, "STOCKKEY", record.natural_key)), Guard(record.stock_id)))
        return ops

    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None:
        if self.table.transact(self.create_ops(record, movement)) is not None:
            raise AlreadyExists("a stock record with this identity already exists")

    def create_records(self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor) -> None:
        ops = [op for record, movement in pairs for op in self.create_ops(record, movement)]
        if ops and self.table.transact(ops) is not None:
            raise AlreadyExists("a stock record with this identity already exists")

    def change_ops(self, tenant_id: str, change: StockChange) -> list[tuple[str, Op]]:
        """(role, op) of one StockChange; the roles explain a refusal as DynamoStockStore._raise_for does."""
        t = tenant_id
        now = utcnow()
        ops = [("stock", Op(_key(keys.stock(t, change.stock_id)), _changed(change, now), _stock_ok(change)))]
        if change.movement is not None:
            movement = change.movement
            ops.append(("movement", put_new(_key(keys.movement(t, movement.stock_id, movement.movement_id)), movement)))
        if change.new_reservation is not None:
            claim = change.new_reservation
            ops.append(("claim", put_new(_key(keys.reservation(t, claim.reservation_id)), claim)))
        if change.new_hold is not None:
            ops.append(("claim", put_new(_key(keys.hold(t, change.new_hold.hold_id)), change.new_hold)))
        if change.reservation_transition is not None:
            transition = change.reservation_transition
            ops.append(("transition", _transit(_key(keys.reservation(t, transition.claim_id)), transition, now)))
        if change.hold_transition is not None:
            transition = change.hold_transition
            ops.append(("transition", _transit(_key(keys.hold(t, transition.claim_id)), transition, now)))
        return ops

    def apply(self, tenant_id: str, changes: list[StockChange]) -> None:
        self.apply_calls += 1
        if len({c.stock_id for c in changes}) != len(changes):
            # DynamoDB refuses two operations on one item in a transaction.
            raise ValueError("a transaction may touch each stock record once")
        roles: list[tuple[str, StockChange]] = []
        ops: list[Op] = []
        for change in changes:
            for role, op in self.change_ops(tenant_id, change):
                roles.append((role, change))
                ops.append(op)
        reasons = self.table.transact(ops)
        if reasons is not None:
            raise _stock_refusal(reasons, roles)

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
        roles: list[tuple[str, StockChange]] = []
        ops: list[Op] = []
        for role, op in self.change_ops(tenant_id, source):
            roles.append((role, source))
            ops.append(op)
        # Anything new that already exists means this command ran before: "claim" reports a duplicate.
        created = self.create_ops(record, movement)
        created.append(put_new(_key(keys.reservation(tenant_id, reservation.reservation_id)), reservation))
        roles += [("claim", source)] * len(created)
        ops += created
        reasons = self.table.transact(ops)
        if reasons is not None:
            raise _stock_refusal(reasons, roles)

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

    def reservations_for_record(self, tenant_id: str, stock_id: str) -> list[Reservation]:
        return [r for r in self._reservations(tenant_id) if r.stock_id == stock_id]

    def reservations_for_order(self, tenant_id: str, order_id: str) -> list[Reservation]:
        return [r for r in self._reservations(tenant_id) if r.reference.get("orderId") == order_id]

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
    """What the refused record update means, read from the record as it was (as DynamoStockStore does)."""
    if record is None:
        return NotFound(f"stock record {change.stock_id} not found")
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


def _stock_refusal(reasons: list[Reason], roles: list[tuple[str, StockChange]]) -> Exception:
    """DynamoStockStore._raise_for: duplicates first, then claims no longer active, then the record."""
    failed = [(roles[i], r) for i, r in enumerate(reasons) if r.failed]
    failed_roles = {role for (role, _), _ in failed}
    if "movement" in failed_roles or "claim" in failed_roles:
        return DuplicateCommand("this command was already applied")
    if "transition" in failed_roles:
        return InvalidState("the reservation or hold is no longer active")
    for (role, change), reason in failed:
        if role == "stock":
            return _stock_failure(reason.old, change) or InvalidState("the change could not be applied")
    return InvalidState("the change could not be applied")


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

    def create_tenant(self, tenant: Tenant, key: ApiKey, actor: Actor) -> None:
        ops = [
            put_new(_key(keys.tenant_item(tenant.tenant_id)), tenant),
            put_new(_key(keys.api_key(key.tenant_id, key.key_id)), key),
        ]
        if self.table.transact(ops) is not None:
            raise AlreadyExists("tenant already exists")

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
    return guards


def _location_guards(location: Location) -> list[GuardSpec]:
    return [("LOCNAME", location.name.casefold(), "name")]


class InMemoryCatalogStore:
    """The CatalogStore port (storage/catalog_repo.DynamoCatalogStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    # -- products ----------------------------------------------------------

    def new_product_ops(self, product: Product) -> list[Op]:
        """The transaction items that create a product (for callers that add writes of their own)."""
        t = product.tenant_id
        ops = [put_new(_key(keys.product(t, product.product_id)), product)]
        ops += [
            put_new(_key(keys.unique(t, kind, value)), Guard(product.product_id))
            for kind, value, _ in _product_guards(product)
        ]
        return ops

    def create_product(self, product: Product, actor: Actor) -> None:
        key = _key(keys.product(product.tenant_id, product.product_id))
        self._save(product.tenant_id, product.product_id, key, product, None, _product_guards(product), [])

    def create_products(self, products: list[Product], actor: Actor) -> None:
        ops = [op for product in products for op in self.new_product_ops(product)]
        if ops and self.table.transact(ops) is not None:
            raise AlreadyExists("a product of this request already exists")

    def update_product(self, product: Product, previous: Product, actor: Actor) -> None:
        key = _key(keys.product(product.tenant_id, product.product_id))
        guards, old_guards = _product_guards(product), _product_guards(previous)
        self._save(product.tenant_id, product.product_id, key, product, previous.version, guards, old_guards)

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
        key = _key(keys.location(location.tenant_id, location.location_id))
        self._save(location.tenant_id, location.location_id, key, location, None, _location_guards(location), [])

    def update_location(self, location: Location, previous: Location, actor: Actor) -> None:
        key = _key(keys.location(location.tenant_id, location.location_id))
        guards, old_guards = _location_guards(location), _location_guards(previous)
        self._save(location.tenant_id, location.location_id, key, location, previous.version, guards, old_guards)

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        found: Location | None = self.table.get(_key(keys.location(tenant_id, location_id)))
        return found

    def location_id_by_name(self, tenant_id: str, name: str) -> str | None:
        return self._guard_target(tenant_id, "LOCNAME", name.casefold())

    def list_locations(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[Location]:
        return _page(self.table.query(keys.locations_partition(tenant_id)), limit, cursor)

    def create_bin(self, bin_: Bin, actor: Actor) -> None:
        key = _key(keys.bin_(bin_.tenant_id, bin_.location_id, bin_.bin_id))
        guard = ("BIN", f"{bin_.location_id}#{bin_.code.casefold()}", "code")
        self._save(bin_.tenant_id, bin_.bin_id, key, bin_, None, [guard], [])

    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]:
        return [b for _, b in self.table.query(keys.bin_(tenant_id, location_id, "")["pk"], f"{location_id}#")]

    # -- shared ------------------------------------------------------------

    def _save(
        self,
        tenant_id: str,
        entity_id: str,
        key: Key,
        entity: Any,
        previous_version: int | None,
        guards: list[GuardSpec],
        previous_guards: list[GuardSpec],
    ) -> None:
        """The entity and its guard swaps in one transaction; refusals as DynamoCatalogStore._save."""
        first = put_new(key, entity) if previous_version is None else put(key, entity, _version_is(previous_version))
        added = [g for g in guards if g[:2] not in {p[:2] for p in previous_guards}]
        removed = [g for g in previous_guards if g[:2] not in {n[:2] for n in guards}]
        ops = [first]
        ops += [put_new(_key(keys.unique(tenant_id, kind, value)), Guard(entity_id)) for kind, value, _ in added]
        ops += [delete(_key(keys.unique(tenant_id, kind, value)), _guard_of(entity_id)) for kind, value, _ in removed]
        reasons = self.table.transact(ops)
        if reasons is None:
            return
        failed = [i for i, r in enumerate(reasons) if r.failed]
        if 0 in failed:
            if previous_version is None:
                raise AlreadyExists(f"{entity_id} already exists")
            raise StaleVersion("the record was changed by someone else; read it again")
        clashes = [added[i - 1] for i in failed if 0 < i <= len(added)]
        raise AlreadyExists(
            "already in use: " + ", ".join(f"{name} {value}" for _, value, name in clashes),
            [{"field": name, "message": f"{value} is already in use"} for _, value, name in clashes],
        )

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
        ops: list[Op] = []
        for item in items:
            ops.append(put_new(self._key(item.tenant_id, item.kind, item.ref_id), item))
            if item.heat_code and item.active:
                ops.append(put_new(self._guard(item), Guard(item.ref_id)))
        self._run(ops)

    def update_items(self, pairs: list[tuple[ReferenceItem, ReferenceItem]], actor: Actor) -> None:
        ops: list[Op] = []
        for new, old in pairs:
            ops.append(put(self._key(new.tenant_id, new.kind, new.ref_id), new, _version_is(old.version)))
            new_code = _heat(new.heat_code) if new.heat_code and new.active else None
            old_code = _heat(old.heat_code) if old.heat_code and old.active else None
            if new_code == old_code:
                continue
            if old_code:
                ops.append(delete(self._guard(old), _guard_of(old.ref_id)))
            if new_code:
                ops.append(put_new(self._guard(new), Guard(new.ref_id)))
        self._run(ops)

    def _run(self, ops: list[Op]) -> None:
        reasons = self.table.transact(ops)
        if reasons is None:
            return
        # A guard put that found the heat code taken; a failed guard delete is a stale version, as in DynamoDB.
        clashes = [
            op
            for op, r in zip(ops, reasons, strict=True)
            if r.failed and op.key[0].endswith("#UNIQUE") and op.condition is _absent
        ]
        if clashes:
            codes = [op.key[1].removeprefix("HEAT#") for op in clashes]
            raise AlreadyExists(
                "heat code already has a mill certification: " + ", ".join(codes),
                [{"field": "heatCode", "message": f"{code} is already in use"} for code in codes],
            )
        raise StaleVersion("an entry was changed by someone else; read it again")

    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]:
        found = {i: self.table.get(self._key(tenant_id, kind, i)) for i in ids}
        return {i: item for i, item in found.items() if item is not None}

    def list_active(self, tenant_id: str, kind: RefKind) -> list[ReferenceItem]:
        return [item for _, item in self.table.query(keys.reference_partition(tenant_id, kind.value)) if item.active]

    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]:
        by_key: dict[Key, RefKey] = {}
        for kind, ref in wanted:
            by_key[self._lookup_key(tenant_id, kind, ref)] = (kind, ref)
        found: dict[RefKey, Resolved] = {}
        for key, ref_key in by_key.items():
            item = self.table.get(key)
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
class _Role:
    position: int
    kind: str  # "order", "line", "take" or "free"
    new: bool
    reference: str | None = None


class InMemoryOrderStore:
    """The OrderStore port (storage/order_repo.DynamoOrderStore)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable()

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor) -> None:
        ops, roles = self.transaction_ops(tenant_id, writes)
        if not ops:
            return
        reasons = self.table.transact(ops)
        if reasons is not None:
            raise _order_refusal(reasons, roles)

    def transaction_ops(self, tenant_id: str, writes: list[OrderWrite]) -> tuple[list[Op], list[_Role]]:
        t = tenant_id
        ops: list[Op] = []
        roles: list[_Role] = []
        for position, write in enumerate(writes):
            order = write.order
            listing = keys.order_listing(t, order.active, order.created_at, order.order_id)["gsi1sk"]
            ops.append(_guarded(_key(keys.order(t, order.order_id)), _Listed(order, listing), write.previous_version))
            roles.append(_Role(position, "order", write.previous_version is None))
            for line_write in write.lines:
                ops.append(self._put_line(t, order, line_write))
                roles.append(_Role(position, "line", line_write.previous_version is None))
            if write.free_reference:
                guard = _key(keys.order_reference(t, write.free_reference))
                ops.append(delete(guard, _absent_or_of(order.order_id)))
                roles.append(_Role(position, "free", False, write.free_reference))
            if write.take_reference:
                guard = _key(keys.order_reference(t, write.take_reference))
                ops.append(put_new(guard, Guard(order.order_id)))
                roles.append(_Role(position, "take", True, write.take_reference))
        return ops, roles

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
        for sk, listed in self.table.query(keys.order_partition(tenant_id, order_id)):
            if sk == keys.order(tenant_id, order_id)["sk"]:
                order = listed.entity
            else:
                lines.append(listed.entity)
        return StoredOrder(order, lines) if order is not None else None

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


def _absent_or_of(order_id: str) -> Condition:
    return lambda guard: guard is None or guard.target_id == order_id


def _guarded(key: Key, value: _Listed, previous_version: int | None) -> Op:
    if previous_version is None:
        return put_new(key, value)
    return put(key, value, lambda current: current is not None and current.entity.version == previous_version)


def _order_refusal(reasons: list[Reason], roles: list[_Role]) -> Exception:
    """DynamoOrderStore._failure: a taken reference, then an existing new order, then stale versions."""
    failed = [roles[i] for i, r in enumerate(reasons) if r.failed]
    taken = [role for role in failed if role.kind == "take"]
    if taken:
        return AlreadyExists(
            "orderReference already used by another order: " + ", ".join(r.reference or "" for r in taken),
            [{"field": f"[{r.position}].orderReference", "message": f"{r.reference} is already in use"} for r in taken],
        )
    new_orders = [role for role in failed if role.kind == "order" and role.new]
    if new_orders:
        return AlreadyExists(
            "an order with this id already exists",
            [{"field": f"[{r.position}].orderId", "message": "already exists"} for r in new_orders],
        )
    positions = sorted({role.position for role in failed}) or [0]
    return StaleVersion(
        "the order was changed by someone else; read it again",
        [{"field": f"[{p}].version", "message": "changed since it was read"} for p in positions],
    )


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
        def free(current: ImportJob | None) -> bool:
            if current is None:
                return False
            expired = current.lease_until is not None and keys.stamp(current.lease_until) < keys.stamp(now)
            return current.status == ImportStatus.QUEUED or (current.status == ImportStatus.RUNNING and expired)

        def write(current: ImportJob) -> ImportJob:
            return current.model_copy(
                update={
                    "status": ImportStatus.RUNNING,
                    "lease_until": lease_until,
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

    def _update(self, job: ImportJob, **changes: Any) -> None:
        now = utcnow()

        def write(current: ImportJob) -> ImportJob:
            return current.model_copy(update={**changes, "updated_at": now, "version": current.version + 1})

        if self.table.write(Op(_key(keys.import_job(job.tenant_id, job.job_id)), write, _present)) is not None:
            raise NotFound(f"import job {job.job_id} not found")

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        ops = [self._advance(tenant_id, checkpoint)]
        if checkpoint.errors:
            first = checkpoint.errors[0].line
            ops.append(put(_key(keys.import_errors(tenant_id, checkpoint.job_id, first)), list(checkpoint.errors)))
        for product in plan.products:
            ops += self._catalog.new_product_ops(product)
        for record, movement in plan.creates:
            ops += self._stock.create_ops(record, movement)
        for change in plan.changes:
            ops += [op for _, op in self._stock.change_ops(tenant_id, change)]
        orders = [write for write in plan.feature_writes if isinstance(write, OrderWrite)]
        if len(orders) != len(plan.feature_writes):
            raise TypeError("a chunk holds a feature write this store cannot commit")
        if orders:
            ops += self._orders.transaction_ops(tenant_id, orders)[0]
        reasons = self.table.transact(ops)
        if reasons is None:
            return CommitOutcome.DONE
        if reasons[0].failed:
            return CommitOutcome.LOST
        # A record, order, line or reference guard moved since the plan read it: plan the chunk again.
        return CommitOutcome.CONFLICT

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
            return (
                job is not None and job.checkpoint_line == checkpoint.from_line and job.status == ImportStatus.RUNNING
            )

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
    """The HistoryStore port (storage/history_repo.DynamoHistoryStore): one partition per entity,
    sorted by change time and event id; an event written again overwrites itself."""

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
        return [e for _, e in self.table.query(keys.history_partition(tenant_id, entity_type, entity_id))]

    @staticmethod
    def _key(event: HistoryEvent) -> Key:
        return _key(keys.history(event.tenant_id, event.entity_type, event.entity_id, event.changed_at, event.event_id))


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
