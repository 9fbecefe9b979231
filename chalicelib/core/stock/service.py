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

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
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
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import (
    SYSTEM,
    ZERO,
    Actor,
    ClaimStatus,
    Hold,
    Model,
    Movement,
    MovementKind,
    Reservation,
    StockRecord,
)
from chalicelib.core.ports import (
    ClaimTransition,
    StockChange,
    StockStore,
    Transactions,
    UnitOfWork,
    WarehouseStore,
)
from chalicelib.core.stock.asof_reads import AsOfReads
from chalicelib.core.stock.levels import MAX_SET_RETRIES, LocationLevels, require_positive
from chalicelib.core.stock.lots import require_reservable
from chalicelib.core.stock.ownership import require_own_stock
from chalicelib.core.stock.reconcile import Reconciliation

# A reservation for an order is also stamped on its stock record, under
# attributes["order_link:<reservation id>"], in the same write, so a page of
# records shows its linked orders (000 linkedOrders) without a read per record.
ORDER_LINK_PREFIX = "order_link:"


def order_link_field(reservation_id: str) -> str:
    return f"attributes.{ORDER_LINK_PREFIX}{reservation_id}"


def _order_link(reservation: Reservation) -> dict[str, Any] | None:
    reference = reservation.reference
    # Both, as 000 linkedOrders shows them; a channel or bare reservation is no order link.
    if not (reference.get("orderId") and reference.get("orderReference")):
        return None
    link: dict[str, Any] = {k: reference[k] for k in ("orderId", "orderReference", "lineItemId") if reference.get(k)}
    # The quantity lets a delete release the record's reservations without reading them.
    return {**link, "at": reservation.created_at.isoformat(), "quantity": reservation.quantity}


@dataclass(frozen=True)
class HeldClaim:
    """An active reservation as a release needs it: its id and how much it holds."""

    reservation_id: str
    quantity: Decimal


def linked_claims(record: StockRecord) -> list[HeldClaim] | None:
    """The record's active reservations from its order links, or None when the links do not cover them all.

    Links carry their quantity (links written before they did do not); when
    the quantities add up to the record's reserved figure, every active
    reservation is an order link and nothing needs to be read.
    """
    claims = []
    for name, link in record.attributes.items():
        if not name.startswith(ORDER_LINK_PREFIX) or not isinstance(link, dict) or "quantity" not in link:
            continue
        claims.append(HeldClaim(name.removeprefix(ORDER_LINK_PREFIX), Decimal(str(link["quantity"]))))
    if sum((c.quantity for c in claims), ZERO) != record.reserved:
        return None
    return claims


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


class StockService(LocationLevels, AsOfReads, Reconciliation):
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

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation:
        reservation = self._store.get_reservation(tenant_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found")
        return reservation

    def get(self, tenant_id: str, stock_id: str) -> StockRecord:
        record = self._store.get_record(tenant_id, stock_id)
        if record is None:
            raise NotFound(f"stock record {stock_id} not found")
        return record

    def all_records(self, tenant_id: str) -> Iterator[StockRecord]:
        """Every stock record of a tenant, a page at a time (jobs, exports)."""
        cursor = None
        while True:
            page = self._store.list_records(tenant_id, 500, cursor)
            yield from page.items
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

    # -- reservations ------------------------------------------------------

    def reserve(
        self,
        tenant_id: str,
        stock_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        reference: dict[str, str] | None = None,
        expires_at: datetime | None = None,
        reservation_id: str | None = None,
    ) -> Reservation:
        require_positive(quantity)
        record = self.get(tenant_id, stock_id)
        self._check_lot(tenant_id, record)
        require_own_stock(record)
        reservation = Reservation(
            tenant_id=tenant_id,
            reservation_id=reservation_id or new_id(),
            stock_id=stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            quantity=quantity,
            reference=reference or {},
            expires_at=expires_at,
        )
        link = _order_link(reservation)
        change = StockChange(
            stock_id=stock_id,
            actor=actor,
            reserved=quantity,
            new_reservation=reservation,
            set_fields={order_link_field(reservation.reservation_id): link} if link else {},
        )
        try:
            self._store.apply(tenant_id, [change])
        except DuplicateCommand:
            existing = self._store.get_reservation(tenant_id, reservation.reservation_id)
            if existing is None or (existing.stock_id, existing.quantity) != (stock_id, quantity):
                raise
            return existing
        return reservation

    def split_and_reserve(
        self,
        tenant_id: str,
        stock_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        reference: dict[str, str],
        name: str | None = None,
        record: StockRecord | None = None,
        new_stock_id: str | None = None,
        reservation_id: str | None = None,
        command_id: str | None = None,
        also: Callable[[UnitOfWork, Reservation], None] | None = None,
    ) -> Reservation:
        """Reserve `quantity` of a record for an order line, in a row of its own unless it is the whole row.

        quantity < on hand: ONE transaction takes the quantity off the record
        (guard: available >= quantity; a `split` movement out) and creates a
        new record with the same product, place and attributes (order links
        aside), named `name`, holding exactly that quantity (a `split`
        movement in), all of it reserved with its order link.
        quantity == on hand: the record itself is reserved, guarded on its
        on hand being unchanged since it was read and on available.
        The returned reservation's stock_id is the row that holds it.
        A redelivered command (same ids) answers with the first reservation.
        `also(uow, reservation)` adds the caller's own writes (the order line's
        guards, say) to the same transaction.
        """
        require_positive(quantity)
        record = record or self.get(tenant_id, stock_id)
        self._check_lot(tenant_id, record)
        require_own_stock(record)
        reservation = Reservation(
            tenant_id=tenant_id,
            reservation_id=reservation_id or new_id(),
            stock_id=stock_id if quantity == record.on_hand else new_stock_id or new_id(),
            product_id=record.product_id,
            location_id=record.location_id,
            quantity=quantity,
            reference=reference,
        )
        link = _order_link(reservation)
        uow = None
        if also is not None:
            if self._transactions is None:
                raise RuntimeError("StockService needs a Transactions port to join a caller's writes")
            uow = self._transactions.begin(command_id)
        try:
            if reservation.stock_id == stock_id:
                change = StockChange(
                    stock_id=stock_id,
                    actor=actor,
                    reserved=quantity,
                    expected_on_hand=quantity,
                    new_reservation=reservation,
                    set_fields={order_link_field(reservation.reservation_id): link} if link else {},
                )
                if uow is None:
                    self._store.apply(tenant_id, [change])
                else:
                    self._store.apply(tenant_id, [change], uow)
            else:
                self._split(tenant_id, record, reservation, link, name, actor, command_id, uow)
            if uow is not None and also is not None:
                also(uow, reservation)
                uow.commit()
        except DuplicateCommand:
            existing = self._store.get_reservation(tenant_id, reservation.reservation_id)
            if existing is None or (existing.quantity, existing.reference) != (quantity, reference):
                raise
            return existing
        return reservation

    def _split(
        self,
        tenant_id: str,
        record: StockRecord,
        reservation: Reservation,
        link: dict[str, str] | None,
        name: str | None,
        actor: Actor,
        command_id: str | None,
        uow: UnitOfWork | None,
    ) -> None:
        quantity = reservation.quantity
        attributes = {k: v for k, v in record.attributes.items() if not k.startswith(ORDER_LINK_PREFIX)}
        if link:
            attributes[f"{ORDER_LINK_PREFIX}{reservation.reservation_id}"] = link
        new = StockRecord(
            tenant_id=tenant_id,
            stock_id=reservation.stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            bin_id=record.bin_id,
            lot_id=record.lot_id,
            owner=record.owner,
            supplier_code=record.supplier_code,
            name=name if name is not None else record.name,
            attributes=attributes,
            on_hand=quantity,
            reserved=quantity,
            available=ZERO,
            allow_negative=record.allow_negative,
        )
        order = reservation.reference.get("orderReference") or reservation.reference.get("orderId")
        reason = f"split for order {order}" if order else "split"
        out_id = f"{command_id}:out" if command_id else None
        in_id = f"{command_id}:in" if command_id else None
        # Each ledger line names the other row, so the split can be traced both ways.
        out = self._movement(record, MovementKind.SPLIT, -quantity, actor, reason, new.stock_id, out_id)
        into = self._movement(new, MovementKind.SPLIT, quantity, actor, reason, record.stock_id, in_id)
        source = StockChange(stock_id=record.stock_id, actor=actor, on_hand=-quantity, movement=out)
        if uow is None:
            self._store.split(tenant_id, source, new, into, reservation, actor)
        else:
            self._store.split(tenant_id, source, new, into, reservation, actor, uow)

    def release(
        self,
        tenant_id: str,
        reservation_id: str,
        actor: Actor,
        *,
        to_status: ClaimStatus = ClaimStatus.RELEASED,
        known: Reservation | None = None,
    ) -> Reservation:
        """Give reserved stock back to available. Releasing twice is a no-op.

        `known`: the reservation as the caller just read it (from an index, say). Its row and quantity
        never change and the write is guarded on the reservation still being active, so it saves a read.
        """
        reservation = known if known is not None else self._store.get_reservation(tenant_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found")
        if reservation.status != ClaimStatus.ACTIVE:
            return reservation
        change = StockChange(
            stock_id=reservation.stock_id,
            actor=actor,
            reserved=-reservation.quantity,
            floor_available=False,
            reservation_transition=ClaimTransition(reservation_id, ClaimStatus.ACTIVE, to_status),
            remove_fields=(order_link_field(reservation_id),),
        )
        try:
            self._store.apply(tenant_id, [change])
        except InvalidState:
            # Someone else released it between our read and our write.
            current = self._store.get_reservation(tenant_id, reservation_id)
            assert current is not None
            return current
        return reservation.model_copy(update={"status": to_status, "version": reservation.version + 1})

    def release_all(
        self,
        tenant_id: str,
        reservations: Iterable[Reservation],
        actor: Actor,
        *,
        uow: UnitOfWork | None = None,
        set_fields: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Reservation]:
        """Release the active ones of `reservations` in ONE transaction: one write per stock record.

        `set_fields` (by stock id) changes those records' fields in the same
        write (the 000 unreserve renames the row). With `uow` the writes join
        the caller's unit of work. A reservation released by someone else
        meanwhile cancels it all (InvalidState). Returns the released ones.
        """
        active = [r for r in reservations if r.status == ClaimStatus.ACTIVE]
        by_record: dict[str, list[HeldClaim]] = {}
        for reservation in active:
            by_record.setdefault(reservation.stock_id, []).append(
                HeldClaim(reservation.reservation_id, reservation.quantity)
            )
        fields = set_fields or {}
        for stock_id in fields:
            by_record.setdefault(stock_id, [])
        changes = [
            _releasing(stock_id, claims, actor, set_fields=fields.get(stock_id, {}))
            for stock_id, claims in by_record.items()
        ]
        if changes:
            if uow is None:
                self._store.apply(tenant_id, changes)
            else:
                self._store.apply(tenant_id, changes, uow)
        return [r.model_copy(update={"status": ClaimStatus.RELEASED, "version": r.version + 1}) for r in active]

    def deactivate(self, tenant_id: str, records: list[StockRecord], actor: Actor) -> None:
        """Soft-delete records and release every active reservation on them, in ONE transaction.

        Each record's write is guarded on the version that was read, so a
        reserve (or any change) landing in between makes this a 409 instead
        of leaving a reservation on a deleted row; and every change but a
        release refuses a deleted record, so a reserve landing after it is a
        409 too. The reservations come from the records' order links when
        those account for everything reserved (no read at all), else from the
        record's claims index, checked against the record's reserved figure.
        """
        changes = []
        for record in records:
            claims = self._active_claims(tenant_id, record)
            links = tuple(f"attributes.{name}" for name in record.attributes if name.startswith(ORDER_LINK_PREFIX))
            changes.append(
                _releasing(
                    record.stock_id,
                    claims,
                    actor,
                    set_fields={"active": False},
                    expected_version=record.version,
                    also_remove=links,
                )
            )
        self._store.apply(tenant_id, changes)

    def _active_claims(self, tenant_id: str, record: StockRecord) -> list[HeldClaim]:
        if record.reserved == 0:
            return []
        linked = linked_claims(record)
        if linked is not None:
            return linked
        for _ in range(MAX_SET_RETRIES):
            found = [
                HeldClaim(r.reservation_id, r.quantity)
                for r in self._store.reservations_for_record(tenant_id, record.stock_id)
                if r.status == ClaimStatus.ACTIVE
            ]
            # The claims index is eventually consistent: it must account for what the record says.
            if sum((c.quantity for c in found), ZERO) == record.reserved:
                return found
        raise InvalidState(
            f"the reservations of stock record {record.stock_id} are changing; try again",
            [_field("inventoryId", "its reservations are changing")],
        )

    def fulfil(self, tenant_id: str, reservation_id: str, actor: Actor, *, reference: str | None = None) -> Movement:
        """Ship reserved stock: on-hand and reserved fall together; available is unchanged."""
        reservation = self._store.get_reservation(tenant_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found")
        if reservation.status != ClaimStatus.ACTIVE:
            raise InvalidState(f"reservation is {reservation.status.value}")
        # The reservation carries the record's product and location: no read of the record.
        movement = self._movement(
            reservation,
            MovementKind.SHIPMENT,
            -reservation.quantity,
            actor,
            "reservation fulfilled",
            reference,
            f"fulfil:{reservation_id}",
        )
        change = StockChange(
            stock_id=reservation.stock_id,
            actor=actor,
            on_hand=-reservation.quantity,
            reserved=-reservation.quantity,
            floor_available=False,
            movement=movement,
            reservation_transition=ClaimTransition(reservation_id, ClaimStatus.ACTIVE, ClaimStatus.FULFILLED),
            remove_fields=(order_link_field(reservation_id),),
        )
        return self._apply_movement(tenant_id, change, movement)

    def expire_reservations(self, tenant_id: str, now: datetime | None = None) -> int:
        """Release every active reservation whose expiry has passed."""
        now = now or utcnow()
        count = 0
        for reservation in list(self._store.expiring_reservations(tenant_id, now)):
            if reservation.status == ClaimStatus.ACTIVE:
                self.release(tenant_id, reservation.reservation_id, SYSTEM, to_status=ClaimStatus.EXPIRED)
                count += 1
        return count

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

    def _check_lot(self, tenant_id: str, record: StockRecord) -> None:
        """One read of the record's lot, when it has one (core/stock/lots.require_reservable)."""
        if record.lot_id is None or self._lots is None:
            return
        lot = self._lots.get_lots(tenant_id, [record.lot_id]).get(record.lot_id)
        require_reservable(record, lot, utcnow().date())

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

    @staticmethod
    def _movement(
        record: StockRecord | Reservation,
        kind: MovementKind,
        quantity: Decimal,
        actor: Actor,
        reason: str | None,
        reference: str | None,
        command_id: str | None,
    ) -> Movement:
        return Movement(
            tenant_id=record.tenant_id,
            movement_id=command_id or new_id(),
            stock_id=record.stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            kind=kind,
            quantity=quantity,
            reason=reason,
            reference=reference,
            actor=actor,
        )


def _releasing(
    stock_id: str,
    claims: list[HeldClaim],
    actor: Actor,
    *,
    set_fields: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    also_remove: tuple[str, ...] = (),
) -> StockChange:
    """One write to a record that releases `claims` on it (and changes `set_fields`)."""
    transitions = tuple(ClaimTransition(c.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED) for c in claims)
    removed = tuple(dict.fromkeys((*(order_link_field(c.reservation_id) for c in claims), *also_remove)))
    return StockChange(
        stock_id=stock_id,
        actor=actor,
        reserved=-sum((c.quantity for c in claims), ZERO),
        floor_available=False,
        expected_version=expected_version,
        reservation_transitions=transitions,
        set_fields=dict(set_fields or {}),
        remove_fields=removed,
    )


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}
