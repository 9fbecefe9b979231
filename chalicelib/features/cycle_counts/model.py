"""A cycle count batch (001): lines to count with the quantity expected when the batch was made."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import Entity, Model, Movement
from chalicelib.core.workflows import CYCLE_COUNT, Transition, WorkItems


class CountLine(Model):
    line_id: str = Field(default_factory=new_id)
    product_id: str
    bin_id: str | None = None
    lot_id: str | None = None
    # On hand at the place when the batch was made: the variance is counted - this, whatever moved since.
    expected_quantity: Decimal
    counted_quantity: Decimal | None = None
    # None while open; accepted / rejected once resolved; a recount clears the count.
    resolution: str | None = None
    adjustment_id: str | None = None

    @property
    def variance(self) -> Decimal | None:
        return None if self.counted_quantity is None else self.counted_quantity - self.expected_quantity


class CycleCount(Entity):
    batch_id: str = Field(default_factory=new_id)
    name: str
    location_id: str
    blind: bool = False
    status: str = CYCLE_COUNT.initial
    abc_classes: list[str] = Field(default_factory=list)
    lines: list[CountLine]
    history: list[Transition] = Field(default_factory=list)
    created_by_id: str
    created_by_name: str

    @property
    def shows_expected(self) -> bool:
        """A blind batch keeps the expected quantities to itself until review."""
        return not self.blind or self.status in {"review", "completed"}


class CycleCountStore(WorkItems[CycleCount], Protocol):
    def movements_between(self, tenant_id: str, start: datetime, end: datetime) -> Iterator[Movement]:
        """The company's ledger lines in time order (a Query on the ledger's time index, gsi1 `T#t#LEDGER`)."""
