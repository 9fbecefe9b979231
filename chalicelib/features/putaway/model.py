"""A put-away task (001): stock to move from a receiving bin to a storage bin."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import Entity
from chalicelib.core.workflows import PUT_AWAY, Transition


class PutAwayTask(Entity):
    task_id: str = Field(default_factory=new_id)
    product_id: str
    location_id: str
    from_bin_id: str
    to_bin_id: str | None = None
    suggested: bool = False
    lot_id: str | None = None
    quantity: Decimal
    status: str = PUT_AWAY.initial
    history: list[Transition] = Field(default_factory=list)
    created_by_id: str
    created_by_name: str
