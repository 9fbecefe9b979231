"""The stock ledger: every quantity change in Stockroom goes through here.

Invariants (checked by storage in the same write that changes the numbers):
- on_hand of a record equals the sum of its movements;
- available = on_hand - reserved - held, and never drops below zero, unless
  the product allows negative stock and the change is an on-hand change;
- reservations and holds never use negative stock.

A command may carry a `command_id`. It becomes the movement id, so a second
delivery of the same command is recognised by storage and answered with the
first result instead of being applied twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pydantic import Field

from chalicelib.core.errors import (
    DuplicateCommand,
    ExpectationFailed,
    InvalidState,
    NotFound,
    ValidationFailed,
    problem,
)
from chalicelib.core.ids import new_id
from chalicelib.core.models import (
    ZERO,
    Actor,
    ClaimStatus,
    Hold,
    Model,
    Movement,
    MovementKind,
    StockRecord,
)
from chalicelib.core.ports import (
    ClaimTransition,
    Page,
    StockChange,
    StockStore,
    Transactions,
    UnitOfWork,
    WarehouseStore,
)
from chalicelib.core.stock.asof_reads import AsOfReads
from chalicelib.core.stock.levels import MAX_SET_RETRIES, LocationLevels, require_positive
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.ownership import require_own_stock
from chalicelib.core.stock.reconcile import Reconciliation
from chalicelib.core.stock.reservations import (
    ORDER_LINK_PREFIX,
    HeldClaim,
    Reservations,
    linked_claims,
    order_link_field,
)

# Records a page when a job walks every record of a company.
RECORD_PAGE = 500

__all__ = [
    "ORDER_LINK_PREFIX",
    "HeldClaim",
    "MovementKind",
    "NewStockRecord",
    "StockService",
    "linked_claims",
    "order_link_field",
]


class NewStockRecord(Model):
    product_id: str
    location_id: str
    bin_id: str | None = None
    lot_id: str | None = None
    owner: str = "INTERN"
    supplier_code: str | None = None
    name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    natural_key: str | None = None
    quantity: Decimal = ZERO
    allow_negative: bool = False
    stock_id: str | None = None
    # The record's numeric id (004), when the caller numbered it.
    number: int | None = None


class StockService(LocationLevels, AsOfReads, Reconciliation, Reservations):
    def __init__(
        self, store: StockStore, transactions: Transactions | None = None, lots: WarehouseStore | None = None
    ) -> None:
        self._store = store
        # Needed only where a caller adds writes of its own stores to a stock command.
        self._transactions = transactions
        # Lots (001): a reservation never takes stock of an expired or quarantined lot.
        self._lots = lots

    # -- records -----------------------------------------------------------

    def create_record(self, tenant_id: str, new: NewStockRecord, actor: Actor) -> StockRecord:
        if new.quantity < 0 and not new.allow_negative:
            raise ValidationFailed("quantity cannot be negative", [_field("quantity", "must be >= 0")])
        record = StockRecord(
            tenant_id=tenant_id,
            stock_id=new.stock_id or new_id(),
            **new.model_dump(exclude={"quantity", "stock_id"}),
            on_hand=new.quantity,
            available=new.quantity,
        )
        movement = None
        if new.quantity != 0:
            movement = self._movement(record, MovementKind.INITIAL, new.quantity, actor, "initial stock", None, None)
        self._store.create_record(record, movement, actor)
        return record

    def create_records(
        self,
        tenant_id: str,
        news: list[NewStockRecord],
        actor: Actor,
        uow: UnitOfWork | None = None,
        *,
        kind: MovementKind = MovementKind.INITIAL,
        reason: str = "initial stock",
    ) -> list[StockRecord]:
        """Create several records, each with its first movement (`kind`), in one transaction (all or none).

        With `uow` the writes join the caller's unit of work, which the caller commits.
        """
        pairs = self.new_records(tenant_id, news, actor, kind=kind, reason=reason)
        if uow is None:
            self._store.create_records(pairs, actor)
        else:
            self._store.create_records(pairs, actor, uow)
        return [record for record, _ in pairs]

    def new_records(
        self,
        tenant_id: str,
        news: list[NewStockRecord],
        actor: Actor,
        *,
        kind: MovementKind = MovementKind.INITIAL,
        reason: str = "initial stock",
    ) -> list[tuple[StockRecord, Movement | None]]:
        """The records and initial movements `create_records` would write, for a caller that commits them itself."""
        pairs: list[tuple[StockRecord, Movement | None]] = []
        for index, new in enumerate(news):
            if new.quantity < 0 and not new.allow_negative:
                raise ValidationFailed("quantity cannot be negative", [problem("quantity", "must be >= 0", index)])
            record = StockRecord(
                tenant_id=tenant_id,
                stock_id=new.stock_id or new_id(),
                **new.model_dump(exclude={"quantity", "stock_id"}),
                on_hand=new.quantity,
                available=new.quantity,
            )
            movement = None
            if new.quantity != 0:
                movement = self._movement(record, kind, new.quantity, actor, reason, None, None)
            pairs.append((record, movement))
        return pairs

    def get(self, tenant_id: str, stock_id: str) -> StockRecord:
        record = self._store.get_record(tenant_id, stock_id)
        if record is None:
            raise NotFound(f"stock record {stock_id} not found")
        return record

    def all_records(self, tenant_id: str) -> Iterator[StockRecord]:
        """Every stock record of a tenant, a page at a time (jobs, exports)."""
        for page in self.record_pages(tenant_id):
            yield from page.items

    def record_pages(self, tenant_id: str, start: dict[str, object] | None = None) -> Iterator[Page[StockRecord]]:
        """A tenant's stock records page by page from `start` (a page's cursor: where a job left off)."""
        cursor = start
        while True:
            page = self._store.list_records(tenant_id, RECORD_PAGE, cursor)
            yield page
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- on-hand changes ---------------------------------------------------

    def adjust(
        self,
        tenant_id: str,
        stock_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        kind: MovementKind = MovementKind.ADJUSTMENT,
        reason: str | None = None,
        reference: str | None = None,
        expected_on_hand: Decimal | None = None,
        command_id: str | None = None,
        record: StockRecord | None = None,
    ) -> Movement:
        """Add `quantity` (negative to remove) to on-hand, with a ledger line."""
        if quantity == 0:
            raise ValidationFailed("quantity must not be zero", [_field("quantity", "must not be zero")])
        record = record or self.get(tenant_id, stock_id)
        movement = self._movement(record, kind, quantity, actor, reason, reference, command_id)
        change = StockChange(
            stock_id=stock_id,
            actor=actor,
            on_hand=quantity,
            negative_allowed=True,
            expected_on_hand=expected_on_hand,
            movement=movement,
        )
        return self._apply_movement(tenant_id, change, movement)

    def counted_change(
        self,
        tenant_id: str,
        record: StockRecord,
        target: Decimal | None,
        actor: Actor,
        *,
        kind: MovementKind,
        reason: str | None,
        expected_version: int,
        set_fields: dict[str, Any] | None = None,
        remove_fields: tuple[str, ...] = (),
    ) -> StockChange:
        """A guarded change of a record read at `record`: its fields, and its on-hand set to `target`.

        The quantity part is the stock rule every surface shares: the difference
        from the figure read becomes one ledger movement of `kind`, guarded on that
        figure (a concurrent change is an ExpectationFailed, never an overwrite).
        Apply it with `apply_changes`, alone or with other writes of the request.
        """
        fields = set_fields or {}
        delta = ZERO if target is None else target - record.on_hand
        movement = None
        if delta != 0:
            moved = record.model_copy(update={k: fields[k] for k in ("product_id", "location_id") if k in fields})
            movement = self._movement(moved, kind, delta, actor, reason, None, None)
        return StockChange(
            stock_id=record.stock_id,
            actor=actor,
            on_hand=delta,
            negative_allowed=True,
            expected_on_hand=record.on_hand if movement else None,
            expected_version=expected_version,
            movement=movement,
            set_fields=fields,
            remove_fields=remove_fields,
            moved_from_product=record.product_id
            if fields.get("product_id", record.product_id) != record.product_id
            else None,
        )

    def apply_changes(self, tenant_id: str, changes: list[StockChange], uow: UnitOfWork | None = None) -> None:
        """Write `changes` (built by this service) in one transaction, or into the caller's unit of work."""
        self._store.apply(tenant_id, changes, uow)

    def set_on_hand(
        self,
        tenant_id: str,
        stock_id: str,
        target: Decimal,
        actor: Actor,
        *,
        kind: MovementKind = MovementKind.COUNT,
        reason: str | None = None,
        reference: str | None = None,
        command_id: str | None = None,
    ) -> Movement | None:
        """Set on-hand to an absolute figure (a count or an audit).

        The delta is computed from a fresh read and applied with the read
        figure as the expectation, so a concurrent change makes it retry
        rather than overwrite. Returns None when nothing had to change.
        """
        for _ in range(MAX_SET_RETRIES):
            record = self.get(tenant_id, stock_id)
            delta = target - record.on_hand
            if delta == 0:
                return None
            try:
                return self.adjust(
                    tenant_id,
                    stock_id,
                    delta,
                    actor,
                    kind=kind,
                    reason=reason,
                    reference=reference,
                    expected_on_hand=record.on_hand,
                    command_id=command_id,
                    record=record,
                )
            except ExpectationFailed:
                continue
            except DuplicateCommand:
                # A redelivered count computes another delta once stock has moved
                # since the first delivery; the command, not the delta, is what repeats.
                first = self._store.get_movement(tenant_id, stock_id, command_id) if command_id else None
                if first is None or (first.kind, first.reason, first.reference) != (kind, reason, reference):
                    raise
                return first
        raise InvalidState("stock record is changing too fast to count; try again")

    def transfer(
        self,
        tenant_id: str,
        from_stock_id: str,
        to_stock_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        reason: str | None = None,
        reference: str | None = None,
        command_id: str | None = None,
    ) -> tuple[Movement, Movement]:
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", [_field("quantity", "must be > 0")])
        if from_stock_id == to_stock_id:
            raise ValidationFailed("cannot transfer to the same record", [_field("toStockId", "same as source")])
        records = self._store.get_records(tenant_id, [from_stock_id, to_stock_id])
        source, target = records.get(from_stock_id), records.get(to_stock_id)
        if source is None or target is None:
            missing = from_stock_id if source is None else to_stock_id
            raise NotFound(f"stock record {missing} not found")
        if source.product_id != target.product_id:
            raise ValidationFailed("records hold different products", [_field("toStockId", "different product")])
        out_id = f"{command_id}:out" if command_id else None
        in_id = f"{command_id}:in" if command_id else None
        out = self._movement(source, MovementKind.TRANSFER_OUT, -quantity, actor, reason, reference, out_id)
        into = self._movement(target, MovementKind.TRANSFER_IN, quantity, actor, reason, reference, in_id)
        changes = [
            StockChange(stock_id=from_stock_id, actor=actor, on_hand=-quantity, movement=out),
            StockChange(stock_id=to_stock_id, actor=actor, on_hand=quantity, movement=into),
        ]
        try:
            self._store.apply(tenant_id, changes)
        except DuplicateCommand:
            return self._replayed(tenant_id, out), self._replayed(tenant_id, into)
        return out, into

    # -- holds -------------------------------------------------------------

    def hold(
        self,
        tenant_id: str,
        stock_id: str,
        quantity: Decimal,
        reason: str,
        actor: Actor,
        *,
        hold_id: str | None = None,
    ) -> Hold:
        require_positive(quantity)
        if not reason.strip():
            raise ValidationFailed("a hold needs a reason", [_field("reason", "must not be empty")])
        record = self.get(tenant_id, stock_id)
        require_own_stock(record, "held")
        hold = Hold(
            tenant_id=tenant_id,
            hold_id=hold_id or new_id(),
            stock_id=stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            quantity=quantity,
            reason=reason,
        )
        change = StockChange(stock_id=stock_id, actor=actor, held=quantity, new_hold=hold)
        try:
            self._store.apply(tenant_id, [change])
        except DuplicateCommand:
            existing = self._store.get_hold(tenant_id, hold.hold_id)
            if existing is None or (existing.stock_id, existing.quantity) != (stock_id, quantity):
                raise
            return existing
        return hold

    def release_hold(self, tenant_id: str, hold_id: str, actor: Actor) -> Hold:
        hold = self._store.get_hold(tenant_id, hold_id)
        if hold is None:
            raise NotFound(f"hold {hold_id} not found")
        if hold.status != ClaimStatus.ACTIVE:
            return hold
        change = StockChange(
            stock_id=hold.stock_id,
            actor=actor,
            held=-hold.quantity,
            floor_available=False,
            hold_transition=ClaimTransition(hold_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED),
        )
        try:
            self._store.apply(tenant_id, [change])
        except InvalidState:
            current = self._store.get_hold(tenant_id, hold_id)
            assert current is not None
            return current
        return hold.model_copy(update={"status": ClaimStatus.RELEASED, "version": hold.version + 1})

    # -- helpers -----------------------------------------------------------

    def _apply_movement(self, tenant_id: str, change: StockChange, movement: Movement) -> Movement:
        try:
            self._store.apply(tenant_id, [change])
        except DuplicateCommand:
            return self._replayed(tenant_id, movement)
        return movement

    def _replayed(self, tenant_id: str, movement: Movement) -> Movement:
        existing = self._store.get_movement(tenant_id, movement.stock_id, movement.movement_id)
        if existing is None or not existing.same_command(movement):
            raise DuplicateCommand(f"command {movement.movement_id} was already used for another change")
        return existing

    # The one builder of a ledger line, shared with the mixins (core/stock/movements.py).
    _movement = staticmethod(movement_of)


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}
