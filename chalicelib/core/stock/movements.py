"""The one builder of a ledger line (`Movement`) for a change to a stock record or reservation."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Movement, MovementKind, Reservation, StockRecord


def movement_of(
    record: StockRecord | Reservation,
    kind: MovementKind,
    quantity: Decimal,
    actor: Actor,
    reason: str | None,
    reference: str | None,
    command_id: str | None,
    *,
    reverses: str | None = None,
) -> Movement:
    """The ledger line of `quantity` on `record` (`command_id`: its id when the change is a command's)."""
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
        reverses=reverses,
    )
