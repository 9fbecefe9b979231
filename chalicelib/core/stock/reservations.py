"""Reservations of the stock ledger: reserve (in place, or split into a row of its own for an order
line), release, release in bulk, fulfil, expire, and the soft delete of records with their claims.

StockService offers these through the `Reservations` mixin; the ledger helpers it uses (`get`,
`_movement`, `_apply_movement`) stay StockService's. An order's reservation is also stamped on its
record as an order link (`ORDER_LINK_PREFIX`), in the same write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import DuplicateCommand, InvalidState, NotFound, problem
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import SYSTEM, ZERO, Actor, ClaimStatus, Movement, MovementKind, Reservation, StockRecord
from chalicelib.core.ports import ClaimTransition, StockChange, StockStore, Transactions, UnitOfWork, WarehouseStore
from chalicelib.core.stock.levels import MAX_SET_RETRIES, require_positive
from chalicelib.core.stock.lots import require_reservable
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.ownership import require_own_stock

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


class Reservations:
    """Mixin of StockService: reservations and their releases (see the module docstring)."""

    _store: StockStore
    _transactions: Transactions | None
    _lots: WarehouseStore | None

    if TYPE_CHECKING:
        # StockService's ledger helpers.
        def get(self, tenant_id: str, stock_id: str) -> StockRecord: ...

        def _apply_movement(self, tenant_id: str, change: StockChange, movement: Movement) -> Movement: ...

    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation:
        reservation = self._store.get_reservation(tenant_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found")
        return reservation

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
        out = movement_of(record, MovementKind.SPLIT, -quantity, actor, reason, new.stock_id, out_id)
        into = movement_of(new, MovementKind.SPLIT, quantity, actor, reason, record.stock_id, in_id)
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
            [problem("inventoryId", "its reservations are changing")],
        )

    def fulfil(self, tenant_id: str, reservation_id: str, actor: Actor, *, reference: str | None = None) -> Movement:
        """Ship reserved stock: on-hand and reserved fall together; available is unchanged."""
        reservation = self._store.get_reservation(tenant_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found")
        if reservation.status != ClaimStatus.ACTIVE:
            raise InvalidState(f"reservation is {reservation.status.value}")
        # The reservation carries the record's product and location: no read of the record.
        movement = movement_of(
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

    def _check_lot(self, tenant_id: str, record: StockRecord) -> None:
        """One read of the record's lot, when it has one (core/stock/lots.require_reservable)."""
        if record.lot_id is None or self._lots is None:
            return
        lot = self._lots.get_lots(tenant_id, [record.lot_id]).get(record.lot_id)
        require_reservable(record, lot, utcnow().date())


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
