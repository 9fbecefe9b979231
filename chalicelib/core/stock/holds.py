"""Holds by place and quantity (001): place, release (partly), list, and expire them.

A hold sits on one stock record: it raises `held` and lowers `available` in
the same conditional write that creates it (guarded on `available >= q`), so
a hold and a reservation racing for the last units never both succeed. A
release lowers the hold by a quantity (the whole of it closes it); the
schedule releases holds past their `expires_at`, found on the hold expiry
index.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chalicelib.core.errors import DuplicateCommand, InsufficientStock, InvalidState, NotFound, ValidationFailed
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import SYSTEM, Actor, ClaimStatus, Hold
from chalicelib.core.ports import HoldRelease, StockChange
from chalicelib.core.stock.slots import Place, WarehouseBase, field_error

MAX_REASON = 500


class Holds(WarehouseBase):
    """Mixin of WarehouseStock: holds on stock at a place."""

    def place_hold(
        self,
        tenant_id: str,
        place: Place,
        quantity: Decimal,
        reason: str,
        actor: Actor,
        *,
        expires_at: datetime | None = None,
        hold_id: str | None = None,
    ) -> Hold:
        """Hold `quantity` of one record at the place (FEFO for a lot-controlled product without a lot).

        More than any one record there has available is a 409 insufficient_stock.
        """
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", field_error("quantity", "must be > 0"))
        if not reason.strip():
            raise ValidationFailed("a hold needs a reason", field_error("reason", "must not be empty"))
        if expires_at is not None and expires_at <= utcnow():
            raise ValidationFailed("expiresAt is in the past", field_error("expiresAt", "must be in the future"))
        product = self.check_place(tenant_id, place)
        ordered = self.draw_order(tenant_id, product, place, self.records_at_place(tenant_id, place))
        record = next((r for r in ordered if r.available >= quantity), None)
        if record is None:
            best = max((r.available for r in ordered), default=Decimal(0))
            raise InsufficientStock(
                f"no stock record here has {quantity} available (at most {best})",
                field_error("quantity", f"at most {best} available in one record"),
            )
        hold = Hold(
            tenant_id=tenant_id,
            hold_id=hold_id or new_id(),
            stock_id=record.stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            bin_id=record.bin_id,
            lot_id=record.lot_id,
            quantity=quantity,
            reason=reason.strip(),
            expires_at=expires_at,
        )
        change = StockChange(stock_id=record.stock_id, actor=actor, held=quantity, new_hold=hold)
        try:
            self._stock.apply_changes(tenant_id, [change])
        except DuplicateCommand:
            existing = self._store.get_hold(tenant_id, hold.hold_id)
            if existing is None or existing.quantity + existing.released_quantity != quantity:
                raise
            return existing
        return hold

    def release_hold_quantity(
        self,
        tenant_id: str,
        hold_id: str,
        actor: Actor,
        quantity: Decimal | None = None,
        *,
        to_status: ClaimStatus = ClaimStatus.RELEASED,
    ) -> Hold:
        """Give back `quantity` of the hold (all of it when None); releasing all closes it.

        A hold that is no longer active, or holds less than `quantity`, is a 409.
        """
        hold = self._store.get_hold(tenant_id, hold_id)
        if hold is None:
            raise NotFound(f"hold {hold_id} not found", field_error("holdId", "not found"))
        if hold.status != ClaimStatus.ACTIVE:
            raise InvalidState(f"hold {hold_id} is {hold.status.value}", field_error("holdId", hold.status.value))
        amount = hold.quantity if quantity is None else quantity
        if amount <= 0:
            raise ValidationFailed("quantity must be positive", field_error("quantity", "must be > 0"))
        if amount > hold.quantity:
            raise InvalidState(
                f"the hold holds {hold.quantity}", field_error("quantity", f"at most {hold.quantity} is held")
            )
        closes = amount == hold.quantity
        change = StockChange(
            stock_id=hold.stock_id,
            actor=actor,
            held=-amount,
            floor_available=False,
            hold_releases=(HoldRelease(hold_id, amount, closes, to_status),),
        )
        self._stock.apply_changes(tenant_id, [change])
        return hold.model_copy(
            update={
                "quantity": hold.quantity - amount,
                "released_quantity": hold.released_quantity + amount,
                "status": to_status if closes else ClaimStatus.ACTIVE,
                "version": hold.version + 1,
            }
        )

    def holds(self, tenant_id: str, status: ClaimStatus | None = None) -> list[Hold]:
        """The company's holds (one Query of the holds partition), newest first, of `status` when given."""
        found = [h for h in self._warehouse.list_holds(tenant_id) if status is None or h.status == status]
        return sorted(found, key=lambda h: (h.created_at, h.hold_id), reverse=True)

    def expire_holds(self, tenant_id: str, now: datetime | None = None) -> dict[str, int]:
        """Release every active hold past its expiresAt (the `hold-expiry` job): a Query on the expiry index.

        Running it twice releases nothing the second time (a released hold leaves the index).
        """
        now = now or utcnow()
        released = 0
        for hold in self._warehouse.expiring_holds(tenant_id, now):
            try:
                self.release_hold_quantity(tenant_id, hold.hold_id, SYSTEM, to_status=ClaimStatus.EXPIRED)
            except InvalidState:
                continue  # released meanwhile
            released += 1
        return {"holdsExpired": released}
