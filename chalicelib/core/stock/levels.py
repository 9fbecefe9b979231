"""Stock of a product at a location: 002 stock-level updates and production draws.

A product's stock at a location is every active record of it there, whichever
surface made it; increases go to the location's own record (one per product
and location, `location_stock_id`), decreases draw the location's record first,
then the others oldest first, each guarded on what it draws. StockService
offers these through `LocationLevels`; the ledger rules stay StockService's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    ValidationFailed,
)
from chalicelib.core.ids import new_id
from chalicelib.core.models import (
    SYSTEM,
    ZERO,
    Actor,
    Movement,
    MovementKind,
    Product,
    ProductionType,
    StockRecord,
)
from chalicelib.core.ports import (
    NewRecordWrite,
    StockChange,
    StockStore,
    StockWrite,
    UnitOfWork,
)
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.ownership import own_stock

MAX_SET_RETRIES = 5

# The record a product's stock at a location goes to when no particular record is named
# (002 stock-level updates, production): one per product and location, with a derived id.
LOCATION_RECORD_NAMESPACE = uuid.UUID("acc180d5-ec24-4811-8000-000000000002")


def location_stock_id(tenant_id: str, product_id: str, location_id: str) -> str:
    return str(uuid.uuid5(LOCATION_RECORD_NAMESPACE, f"{tenant_id}\0{product_id}\0{location_id}"))


class LevelChange(StrEnum):
    """What a stock-level update does to the stock of a product at a location."""

    SET = "set"  # an audit: the location now holds exactly `quantity`
    ADD = "add"  # a restock
    SUBTRACT = "subtract"  # a loss


@dataclass(frozen=True)
class LevelUpdate:
    change: LevelChange
    quantity: Decimal
    kind: MovementKind
    reason: str | None = None
    reference: str | None = None


class ShortStock(ValidationFailed):
    """Less stock available at the location than a decrease needs (400: nothing was written)."""

    code = "INSUFFICIENT_STOCK"

    def __init__(self, product_id: str, location_id: str, available: Decimal, need: Decimal) -> None:
        super().__init__(
            f"only {available} available, {need} needed",
            [{"field": "quantity", "message": f"only {available} available at the location"}],
        )
        self.product_id = product_id
        self.location_id = location_id
        self.available = available
        self.need = need


def draw_order(records: Iterable[StockRecord], location_record_id: str) -> list[StockRecord]:
    """The location's own record first, then the others oldest first (000 rows, lots)."""
    return sorted(records, key=lambda r: (r.stock_id != location_record_id, r.created_at, r.stock_id))


class LocationLevels:
    """Mixin of StockService: plans and applies changes of a product's stock at a location."""

    _store: StockStore

    def records_of(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, list[StockRecord]]:
        """The active records of each product's own (INTERN) stock (one index query per product, run together).

        Supplier records (004) are never on hand here: `core/stock/ownership`.
        """
        found = self._store.records_for_products(tenant_id, list(dict.fromkeys(product_ids)))
        return {pid: own_stock(records) for pid, records in found.items()}

    def records_at(self, tenant_id: str, product_id: str, location_id: str) -> list[StockRecord]:
        return [r for r in self.records_of(tenant_id, [product_id]).get(product_id, []) if r.location_id == location_id]

    def plan_increase(
        self,
        tenant_id: str,
        product: Product,
        location_id: str,
        records: list[StockRecord],
        quantity: Decimal,
        actor: Actor,
        *,
        kind: MovementKind,
        reason: str | None = None,
        reference: str | None = None,
        movement_id: str | None = None,
        reverses: str | None = None,
        guard_on_hand: bool = False,
    ) -> StockWrite:
        """Add `quantity` at the location: to its own record, created (with this movement) if missing."""
        require_positive(quantity)
        own_id = location_stock_id(tenant_id, product.product_id, location_id)
        own = next((r for r in records if r.stock_id == own_id), None)
        movement = Movement(
            tenant_id=tenant_id,
            movement_id=movement_id or new_id(),
            stock_id=own_id,
            product_id=product.product_id,
            location_id=location_id,
            kind=kind,
            quantity=quantity,
            reason=reason,
            reference=reference,
            actor=actor,
            unit_price=product.unit_price,
            reverses=reverses,
        )
        return increase_write(own, movement, product, guard=guard_on_hand)

    def plan_decrease(
        self,
        tenant_id: str,
        product_id: str,
        location_id: str,
        records: list[StockRecord],
        quantity: Decimal,
        actor: Actor,
        *,
        kind: MovementKind,
        reason: str | None = None,
        reference: str | None = None,
        movement_id: str | None = None,
        reverses: str | None = None,
        guard_on_hand: bool = False,
        draw_from: str | None = None,
    ) -> list[StockChange]:
        """Take `quantity` off the location's available stock: its own record first, then the others.

        Each record drawn is one change guarded on `available >= drawn`, so a writer that took the
        stock first makes the whole transaction fail rather than go below zero. `draw_from` names
        the only record to draw (undoing a production). Raises ShortStock when the location holds
        less than `quantity` available.
        """
        require_positive(quantity)
        own_id = location_stock_id(tenant_id, product_id, location_id)
        candidates = [r for r in draw_order(records, own_id) if draw_from in (None, r.stock_id)]
        available = sum((max(r.available, ZERO) for r in candidates), ZERO)
        if available < quantity:
            raise ShortStock(product_id, location_id, available, quantity)
        changes: list[StockChange] = []
        need = quantity
        for record in candidates:
            take = min(max(record.available, ZERO), need)
            if take <= 0:
                continue
            index = len(changes)
            movement = Movement(
                tenant_id=tenant_id,
                movement_id=(f"{movement_id}:{index}" if index else movement_id) if movement_id else new_id(),
                stock_id=record.stock_id,
                product_id=product_id,
                location_id=location_id,
                kind=kind,
                quantity=-take,
                reason=reason,
                reference=reference,
                actor=actor,
                reverses=reverses,
            )
            changes.append(
                StockChange(
                    stock_id=record.stock_id,
                    actor=actor,
                    on_hand=-take,
                    expected_on_hand=record.on_hand if guard_on_hand else None,
                    movement=movement,
                )
            )
            need -= take
            if need == 0:
                break
        return changes

    def records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        return self._store.get_records(tenant_id, list(dict.fromkeys(stock_ids)))

    def plan_undo(
        self,
        record: StockRecord,
        *,
        movement_id: str,
        original_id: str,
        quantity: Decimal,
        actor: Actor,
        reason: str | None = None,
        reference: str | None = None,
    ) -> StockChange:
        """The change that takes back exactly `quantity` that movement `original_id` put on (or took off) `record`.

        Taking back an increase is guarded like any decrease (available >= quantity; ShortStock when the record no
        longer holds it); giving back a decrease needs no guard.
        """
        if quantity == 0:
            raise ValidationFailed("nothing to undo", [_field("quantity", "must not be zero")])
        if quantity > 0 and record.available < quantity:
            raise ShortStock(record.product_id, record.location_id, max(record.available, ZERO), quantity)
        movement = movement_of(
            record, MovementKind.CORRECTION, -quantity, actor, reason, reference, movement_id, reverses=original_id
        )
        return StockChange(stock_id=record.stock_id, actor=actor, on_hand=-quantity, movement=movement)

    def update_level(
        self,
        tenant_id: str,
        product: Product,
        location_id: str,
        update: LevelUpdate,
        actor: Actor,
        *,
        command_id: str | None = None,
    ) -> list[Movement]:
        """Set, add to or subtract from a product's stock at a location, as ledger movements.

        One write: a new record with its movement, one guarded change, or (a decrease over
        several records at the location) one transaction. A set computes its delta from a read and
        guards every record it touches on the figure read, retrying when another writer got in
        between. Returns the movements written (none when a set found the figure already right).
        """
        if product.production_type == ProductionType.BUNDLE:
            raise ValidationFailed(
                "a bundle's stock is derived from its materials and cannot be updated",
                [{"field": "productionType", "message": "bundle"}],
            )
        if update.quantity < 0:
            raise ValidationFailed("quantity cannot be negative", [_field("quantity", "must be >= 0")])
        if update.change != LevelChange.SET and update.quantity == 0:
            raise ValidationFailed("quantity must be positive", [_field("quantity", "must be > 0")])
        for _ in range(MAX_SET_RETRIES):
            records = self.records_at(tenant_id, product.product_id, location_id)
            here = sum((r.on_hand for r in records), ZERO)
            delta = {
                LevelChange.SET: update.quantity - here,
                LevelChange.ADD: update.quantity,
                LevelChange.SUBTRACT: -update.quantity,
            }[update.change]
            if delta == 0:
                return []
            if delta > 0 and product.production_type == ProductionType.SINGLE:
                check_single(product, self.records_of(tenant_id, [product.product_id])[product.product_id], delta)
            guard = update.change == LevelChange.SET
            common: dict[str, Any] = {
                "kind": update.kind,
                "reason": update.reason,
                "reference": update.reference,
                "movement_id": command_id,
                "guard_on_hand": guard,
            }
            try:
                if delta > 0:
                    write = self.plan_increase(tenant_id, product, location_id, records, delta, actor, **common)
                    return self._commit_one(tenant_id, write)
                changes = self.plan_decrease(
                    tenant_id, product.product_id, location_id, records, -delta, actor, **common
                )
                self._store.apply(tenant_id, changes)
                return [c.movement for c in changes if c.movement is not None]
            except (ExpectationFailed, AlreadyExists, InsufficientStock):
                continue
            except DuplicateCommand:
                if command_id is None:
                    raise
                first = self._store.get_movement(
                    tenant_id, location_stock_id(tenant_id, product.product_id, location_id), command_id
                )
                if first is None or (first.kind, first.reference) != (update.kind, update.reference):
                    raise
                return [first]
        raise InvalidState("the stock at this location is changing too fast; try again")

    def add_writes(self, tenant_id: str, writes: list[StockWrite], actor: Actor, uow: UnitOfWork) -> None:
        """Add planned stock writes (new records with their first movement, guarded changes) to a caller's
        unit of work, which the caller commits with writes of its own (a production batch)."""
        creates = [(w.record, w.movement) for w in writes if isinstance(w, NewRecordWrite)]
        changes = [w for w in writes if isinstance(w, StockChange)]
        if creates:
            self._store.create_records(creates, actor, uow)
        if changes:
            self._store.apply(tenant_id, changes, uow)

    def _commit_one(self, tenant_id: str, write: StockWrite) -> list[Movement]:
        if isinstance(write, NewRecordWrite):
            self._store.create_record(write.record, write.movement, write.movement.actor if write.movement else SYSTEM)
            return [write.movement] if write.movement else []
        self._store.apply(tenant_id, [write])
        return [write.movement] if write.movement else []


def check_single(product: Product, records: Iterable[StockRecord], adding: Decimal) -> None:
    """A one-of-a-kind resource never holds more than 1 in all (read figure; 400 otherwise)."""
    total = sum((r.on_hand for r in records if r.active), ZERO)
    if total + adding > 1:
        raise ValidationFailed(
            f"{product.name} is one of a kind: it holds {total}, so it cannot take {adding} more",
            [{"field": "quantity", "message": "a single resource holds at most 1"}],
        )


def require_positive(quantity: Decimal) -> None:
    if quantity <= 0:
        raise ValidationFailed("quantity must be positive", [_field("quantity", "must be > 0")])


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


def increase_write(
    own: StockRecord | None,
    movement: Movement,
    product: Product,
    *,
    guard: bool,
    bin_id: str | None = None,
    lot_id: str | None = None,
) -> StockWrite:
    """An increase onto its own record: the record created with the movement when missing, else one change
    (guarded on the on-hand read when `guard`). The one home of this rule for 002 levels and 001 slots."""
    if own is None:
        record = StockRecord(
            tenant_id=movement.tenant_id,
            stock_id=movement.stock_id,
            product_id=movement.product_id,
            location_id=movement.location_id,
            bin_id=bin_id,
            lot_id=lot_id,
            name=product.name,
            on_hand=movement.quantity,
            available=movement.quantity,
            allow_negative=product.allow_negative,
        )
        return NewRecordWrite(record, movement)
    return StockChange(
        stock_id=movement.stock_id,
        actor=movement.actor,
        on_hand=movement.quantity,
        expected_on_hand=own.on_hand if guard else None,
        movement=movement,
    )
