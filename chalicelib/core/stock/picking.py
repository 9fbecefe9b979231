"""Picking stock when no record is named: FEFO for lot-controlled products (001), for every caller.

`pick` plans which records give how much (first expiry first, never an expired or
quarantined lot, `lots.fefo`); `reserve_picked` reserves that plan in ONE transaction,
one guarded write per record. Stock requests, transfers and replenishment (issue 16)
reserve through here; a 003 order reservation names its row, so it picks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chalicelib.core.errors import DuplicateCommand, InsufficientStock, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor, Reservation, StockRecord
from chalicelib.core.ports import StockChange
from chalicelib.core.stock.slots import Place, WarehouseBase, field_error


@dataclass(frozen=True)
class Pick:
    """Take `quantity` of `record`."""

    record: StockRecord
    quantity: Decimal


class Picking(WarehouseBase):
    """Mixin of WarehouseStock: which stock to take, and reserving it."""

    def pick(self, tenant_id: str, place: Place, quantity: Decimal) -> list[Pick]:
        """The records (and how much of each) that give `quantity` of available stock at the place.

        A lot-controlled product without a lot named goes first expiry first and never takes an
        expired or quarantined lot; otherwise the place's own record first, then the oldest.
        Less available than `quantity` is a 409 insufficient_stock.
        """
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", field_error("quantity", "must be > 0"))
        product = self.check_place(tenant_id, place)
        ordered = self.draw_order(tenant_id, product, place, self.records_at_place(tenant_id, place))
        picks: list[Pick] = []
        need = quantity
        for record in ordered:
            take = min(max(record.available, ZERO), need)
            if take > 0:
                picks.append(Pick(record, take))
                need -= take
            if need == 0:
                return picks
        available = quantity - need
        raise InsufficientStock(
            f"only {available} available, {quantity} needed", field_error("quantity", f"only {available} available")
        )

    def reserve_picked(
        self,
        tenant_id: str,
        picks: list[Pick],
        actor: Actor,
        *,
        reference: dict[str, str] | None = None,
        expires_at: datetime | None = None,
        command_id: str | None = None,
    ) -> list[Reservation]:
        """Reserve each pick in ONE transaction (each write guarded on `available >= taken`)."""
        base = command_id or new_id()
        reservations = [
            Reservation(
                tenant_id=tenant_id,
                reservation_id=f"{base}:{index}",
                stock_id=p.record.stock_id,
                product_id=p.record.product_id,
                location_id=p.record.location_id,
                quantity=p.quantity,
                reference=dict(reference or {}),
                expires_at=expires_at,
            )
            for index, p in enumerate(picks)
        ]
        changes = [
            StockChange(stock_id=r.stock_id, actor=actor, reserved=r.quantity, new_reservation=r) for r in reservations
        ]
        try:
            self._stock.apply_changes(tenant_id, changes)
        except DuplicateCommand:
            found = self._store.get_reservations(tenant_id, [r.reservation_id for r in reservations])
            if len(found) != len(reservations):
                raise
            return [found[r.reservation_id] for r in reservations]
        return reservations
