"""In-memory stores with the same semantics as the DynamoDB ones.

They check the same conditions, raise the same domain errors in the same
order of precedence, and apply a list of changes all or nothing under one
lock, so unit tests of the services exercise the real rules without AWS.
tests/integration/test_stock_store.py runs one contract against both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TypeVar

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
from chalicelib.core.models import Actor, ApiKey, ClaimStatus, Hold, Movement, Reservation, StockRecord, Tenant
from chalicelib.core.ports import CatalogStore, ClaimTransition, Found, Page, StockChange, StockStore, Wanted
from chalicelib.core.reference.service import ReferenceStore

Claim = TypeVar("Claim", Reservation, Hold)


class InMemoryStockStore:
    """Every read returns a copy, so callers never alias stored state, as with a real database."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[tuple[str, str], StockRecord] = {}
        self._natural_keys: dict[tuple[str, str], str] = {}
        self._movements: dict[tuple[str, str, str], Movement] = {}
        self._reservations: dict[tuple[str, str], Reservation] = {}
        self._holds: dict[tuple[str, str], Hold] = {}
        self.apply_calls = 0

    # -- writes ------------------------------------------------------------

    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None:
        t = record.tenant_id
        with self._lock:
            taken = (t, record.stock_id) in self._records
            taken |= bool(record.natural_key) and (t, record.natural_key or "") in self._natural_keys
            taken |= movement is not None and (t, movement.stock_id, movement.movement_id) in self._movements
            if taken:
                raise AlreadyExists("a stock record with this identity already exists")
            self._records[(t, record.stock_id)] = record.model_copy(deep=True)
            if record.natural_key:
                self._natural_keys[(t, record.natural_key)] = record.stock_id
            if movement is not None:
                self._movements[(t, movement.stock_id, movement.movement_id)] = movement.model_copy(deep=True)

    def create_records(self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor) -> None:
        with self._lock:
            created: list[StockRecord] = []
            try:
                for record, movement in pairs:
                    self.create_record(record, movement, actor)
                    created.append(record)
            except AlreadyExists:
                # All or nothing, as the one DynamoDB transaction.
                for record in created:
                    self._forget(record)
                raise

    def _forget(self, record: StockRecord) -> None:
        t = record.tenant_id
        self._records.pop((t, record.stock_id), None)
        if record.natural_key:
            self._natural_keys.pop((t, record.natural_key), None)
        for key in [k for k in self._movements if k[:2] == (t, record.stock_id)]:
            del self._movements[key]

    def apply(self, tenant_id: str, changes: list[StockChange]) -> None:
        with self._lock:
            self.apply_calls += 1
            if len({c.stock_id for c in changes}) != len(changes):
                # DynamoDB refuses two operations on one item in a transaction.
                raise ValueError("a transaction may touch each stock record once")
            self._check(tenant_id, changes)
            for change in changes:
                self._commit(tenant_id, change)

    def _check(self, t: str, changes: list[StockChange]) -> None:
        """Raise what the DynamoDB store raises: duplicates first, then claims, then the record."""
        for change in changes:
            duplicate = change.movement is not None and (t, change.stock_id, change.movement.movement_id) in (
                self._movements
            )
            duplicate |= change.new_reservation is not None and (
                (t, change.new_reservation.reservation_id) in self._reservations
            )
            duplicate |= change.new_hold is not None and (t, change.new_hold.hold_id) in self._holds
            if duplicate:
                raise DuplicateCommand("this command was already applied")
        for change in changes:
            if not self._transition_ok(self._reservations, t, change.reservation_transition) or not (
                self._transition_ok(self._holds, t, change.hold_transition)
            ):
                raise InvalidState("the reservation or hold is no longer active")
        for change in changes:
            failure = self._stock_failure(self._records.get((t, change.stock_id)), change)
            if failure is not None:
                raise failure

    @staticmethod
    def _transition_ok(
        claims: Mapping[tuple[str, str], Reservation | Hold], t: str, transition: ClaimTransition | None
    ) -> bool:
        if transition is None:
            return True
        claim = claims.get((t, transition.claim_id))
        return claim is not None and claim.status == transition.from_status

    @staticmethod
    def _stock_failure(record: StockRecord | None, change: StockChange) -> Exception | None:
        if record is None:
            return NotFound(f"stock record {change.stock_id} not found")
        if change.expected_version is not None and record.version != change.expected_version:
            return StaleVersion(f"stock record is at version {record.version}, not {change.expected_version}")
        if change.expected_on_hand is not None and record.on_hand != change.expected_on_hand:
            return ExpectationFailed(f"on hand is {record.on_hand}, not the expected {change.expected_on_hand}")
        lowers = change.floor_available and change.available < 0
        may_go_negative = change.negative_allowed and record.allow_negative
        if lowers and not may_go_negative and record.available < -change.available:
            return InsufficientStock(f"only {record.available} available")
        return None

    def _commit(self, t: str, change: StockChange) -> None:
        now = utcnow()
        record = self._records[(t, change.stock_id)]
        self._records[(t, change.stock_id)] = record.model_copy(
            update={
                "on_hand": record.on_hand + change.on_hand,
                "reserved": record.reserved + change.reserved,
                "held": record.held + change.held,
                "available": record.available + change.available,
                "version": record.version + 1,
                "updated_at": now,
            }
        )
        if change.set_fields or change.remove_fields:
            self._records[(t, change.stock_id)] = _with_fields(self._records[(t, change.stock_id)], change)
        if change.movement is not None:
            self._movements[(t, change.stock_id, change.movement.movement_id)] = change.movement.model_copy(deep=True)
        if change.new_reservation is not None:
            self._reservations[(t, change.new_reservation.reservation_id)] = change.new_reservation.model_copy(
                deep=True
            )
        if change.new_hold is not None:
            self._holds[(t, change.new_hold.hold_id)] = change.new_hold.model_copy(deep=True)
        self._transit(self._reservations, t, change.reservation_transition, now)
        self._transit(self._holds, t, change.hold_transition, now)

    @staticmethod
    def _transit(
        claims: dict[tuple[str, str], Claim], t: str, transition: ClaimTransition | None, now: datetime
    ) -> None:
        if transition is None:
            return
        claim = claims[(t, transition.claim_id)]
        claims[(t, transition.claim_id)] = claim.model_copy(
            update={"status": transition.to_status, "version": claim.version + 1, "updated_at": now}
        )

    def split(
        self,
        tenant_id: str,
        source: StockChange,
        record: StockRecord,
        movement: Movement,
        reservation: Reservation,
        actor: Actor,
    ) -> None:
        t = tenant_id
        with self._lock:
            self.apply_calls += 1
            duplicate = (t, record.stock_id) in self._records
            duplicate |= (t, movement.stock_id, movement.movement_id) in self._movements
            duplicate |= (t, reservation.reservation_id) in self._reservations
            if duplicate:
                raise DuplicateCommand("this command was already applied")
            self._check(t, [source])
            self._commit(t, source)
            self._records[(t, record.stock_id)] = record.model_copy(deep=True)
            self._movements[(t, movement.stock_id, movement.movement_id)] = movement.model_copy(deep=True)
            self._reservations[(t, reservation.reservation_id)] = reservation.model_copy(deep=True)

    def set_allow_negative(self, tenant_id: str, stock_id: str, allowed: bool, actor: Actor) -> None:
        with self._lock:
            record = self._records.get((tenant_id, stock_id))
            if record is None:
                raise NotFound(f"stock record {stock_id} not found")
            self._records[(tenant_id, stock_id)] = record.model_copy(
                update={"allow_negative": allowed, "version": record.version + 1, "updated_at": utcnow()}
            )

    # -- reads -------------------------------------------------------------

    def get_record(self, tenant_id: str, stock_id: str) -> StockRecord | None:
        with self._lock:
            record = self._records.get((tenant_id, stock_id))
            return record.model_copy(deep=True) if record else None

    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        found = {s: self.get_record(tenant_id, s) for s in stock_ids}
        return {s: r for s, r in found.items() if r is not None}

    def find_by_natural_key(self, tenant_id: str, natural_key: str) -> StockRecord | None:
        with self._lock:
            stock_id = self._natural_keys.get((tenant_id, natural_key))
        return self.get_record(tenant_id, stock_id) if stock_id else None

    def get_movement(self, tenant_id: str, stock_id: str, movement_id: str) -> Movement | None:
        with self._lock:
            movement = self._movements.get((tenant_id, stock_id, movement_id))
            return movement.model_copy(deep=True) if movement else None

    def movements(self, tenant_id: str, stock_id: str) -> Iterator[Movement]:
        with self._lock:
            found = [
                m.model_copy(deep=True) for (t, s, _), m in self._movements.items() if (t, s) == (tenant_id, stock_id)
            ]
        # The ledger partition is sorted by movement id, like the table's sort key.
        return iter(sorted(found, key=lambda m: m.movement_id))

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        with self._lock:
            found = self._reservations.get((tenant_id, reservation_id))
            return found.model_copy(deep=True) if found else None

    def get_hold(self, tenant_id: str, hold_id: str) -> Hold | None:
        with self._lock:
            found = self._holds.get((tenant_id, hold_id))
            return found.model_copy(deep=True) if found else None

    def reservations_for_record(self, tenant_id: str, stock_id: str, active_only: bool = False) -> list[Reservation]:
        with self._lock:
            found = [r.model_copy(deep=True) for (t, _), r in self._reservations.items() if t == tenant_id]
        mine = (r for r in found if r.stock_id == stock_id and (not active_only or r.status == ClaimStatus.ACTIVE))
        return sorted(mine, key=lambda r: r.reservation_id)

    def reservations_for_order(self, tenant_id: str, order_id: str, active_only: bool = False) -> list[Reservation]:
        with self._lock:
            found = [r.model_copy(deep=True) for (t, _), r in self._reservations.items() if t == tenant_id]
        mine = (
            r
            for r in found
            if r.reference.get("orderId") == order_id and (not active_only or r.status == ClaimStatus.ACTIVE)
        )
        return sorted(mine, key=lambda r: r.reservation_id)

    def holds_for_record(self, tenant_id: str, stock_id: str) -> list[Hold]:
        with self._lock:
            found = [h.model_copy(deep=True) for (t, _), h in self._holds.items() if t == tenant_id]
        return sorted((h for h in found if h.stock_id == stock_id), key=lambda h: h.hold_id)

    def expiring_reservations(self, tenant_id: str, before: datetime) -> Iterator[Reservation]:
        # Like the sparse index: only active reservations with an expiry are listed.
        with self._lock:
            found = [
                r.model_copy(deep=True)
                for (t, _), r in self._reservations.items()
                if t == tenant_id and r.status == ClaimStatus.ACTIVE and r.expires_at and r.expires_at < before
            ]
        return iter(sorted(found, key=lambda r: (r.expires_at, r.reservation_id)))

    def records_for_product(self, tenant_id: str, product_id: str) -> list[StockRecord]:
        with self._lock:
            found = [
                r.model_copy(deep=True)
                for (t, _), r in self._records.items()
                if t == tenant_id and r.product_id == product_id
            ]
        return sorted(found, key=lambda r: (r.location_id, r.stock_id))

    def list_records(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[StockRecord]:
        after = str(cursor["after"]) if cursor else ""
        with self._lock:
            ids = sorted(s for (t, s) in self._records if t == tenant_id and s > after)
        page = [r for r in (self.get_record(tenant_id, s) for s in ids[:limit]) if r is not None]
        more = len(ids) > limit
        return Page(page, {"after": page[-1].stock_id} if more else None)


class InMemoryTenantStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}
        self._keys: dict[tuple[str, str], ApiKey] = {}

    def create_tenant(self, tenant: Tenant, key: ApiKey, actor: Actor) -> None:
        with self._lock:
            if tenant.tenant_id in self._tenants or (key.tenant_id, key.key_id) in self._keys:
                raise AlreadyExists("tenant already exists")
            self._tenants[tenant.tenant_id] = tenant.model_copy(deep=True)
            self._keys[(key.tenant_id, key.key_id)] = key.model_copy(deep=True)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            found = self._tenants.get(tenant_id)
            return found.model_copy(deep=True) if found else None

    def list_tenant_ids(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._tenants))

    def put_key(self, key: ApiKey, actor: Actor) -> None:
        with self._lock:
            if (key.tenant_id, key.key_id) in self._keys:
                raise AlreadyExists(f"API key {key.key_id} already exists")
            self._keys[(key.tenant_id, key.key_id)] = key.model_copy(deep=True)

    def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        with self._lock:
            found = self._keys.get((tenant_id, key_id))
            return found.model_copy(deep=True) if found else None

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        with self._lock:
            found = [k.model_copy(deep=True) for (t, _), k in self._keys.items() if t == tenant_id]
        return sorted(found, key=lambda k: k.key_id)

    def revoke_key(self, tenant_id: str, key_id: str, actor: Actor) -> ApiKey:
        with self._lock:
            key = self._keys.get((tenant_id, key_id))
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            revoked = key.model_copy(update={"revoked": True, "version": key.version + 1, "updated_at": utcnow()})
            self._keys[(tenant_id, key_id)] = revoked
            return revoked.model_copy(deep=True)


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
