"""A transfer of stock (001): between bins of one location at once, or between locations draft ->
shipped -> received (or cancelled), with the stock in transit in between."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Entity, Model
from chalicelib.core.workflows import TRANSFER, Transition


class TransferPick(Model):
    """What one line took from one source record, and where it is now."""

    source_stock_id: str
    bin_id: str | None = None
    lot_id: str | None = None
    quantity: Decimal
    # The in-transit record at the destination (between locations; None for a bin move).
    transit_stock_id: str | None = None
    received: Decimal = ZERO
    returned: Decimal = ZERO

    @property
    def in_transit(self) -> Decimal:
        return self.quantity - self.received - self.returned if self.transit_stock_id else ZERO


class TransferLine(Model):
    line_id: str = Field(default_factory=new_id)
    product_id: str
    lot_id: str | None = None
    quantity: Decimal
    picks: list[TransferPick] = Field(default_factory=list)

    @property
    def shipped(self) -> Decimal:
        return sum((p.quantity for p in self.picks), ZERO)

    @property
    def received(self) -> Decimal:
        return sum((p.received for p in self.picks), ZERO)

    @property
    def returned(self) -> Decimal:
        return sum((p.returned for p in self.picks), ZERO)

    @property
    def in_transit(self) -> Decimal:
        return sum((p.in_transit for p in self.picks), ZERO)


class Transfer(Entity):
    transfer_id: str = Field(default_factory=new_id)
    from_location_id: str
    to_location_id: str
    from_bin_id: str | None = None
    to_bin_id: str | None = None
    notes: str | None = None
    status: str = TRANSFER.initial
    lines: list[TransferLine]
    history: list[Transition] = Field(default_factory=list)
    created_by_id: str
    created_by_name: str

    @property
    def same_location(self) -> bool:
        return self.from_location_id == self.to_location_id
