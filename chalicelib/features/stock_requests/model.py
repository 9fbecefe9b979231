"""A stock request (001): stock one location asks of another, through draft -> submitted -> approved ->
fulfilled (or rejected / cancelled), with its reservations at the source while approved."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import ZERO, Entity, Model
from chalicelib.core.workflows import STOCK_REQUEST, Transition, WorkItems


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Claim(Model):
    """A reservation a line holds at the source (or held: `active` False once fulfilled or released)."""

    reservation_id: str
    stock_id: str
    lot_id: str | None = None
    bin_id: str | None = None
    quantity: Decimal
    active: bool = True
    # The transition (index in the history) that made it, so a rollback finds what to undo.
    made_by: int


class Fulfilment(Model):
    """Stock moved from a claim's record to the requesting location by the transition `made_by`."""

    line_id: str
    stock_id: str
    lot_id: str | None = None
    bin_id: str | None = None
    to_stock_id: str
    quantity: Decimal
    made_by: int


class RequestLine(Model):
    line_id: str = Field(default_factory=new_id)
    product_id: str
    quantity: Decimal
    approved_quantity: Decimal = ZERO
    fulfilled_quantity: Decimal = ZERO
    claims: list[Claim] = Field(default_factory=list)

    @property
    def reserved(self) -> Decimal:
        return sum((c.quantity for c in self.claims if c.active), ZERO)


class Comment(Model):
    comment_id: str = Field(default_factory=new_id)
    text: str
    by_id: str
    by_name: str
    at: datetime = Field(default_factory=utcnow)


class StockRequest(Entity):
    request_id: str = Field(default_factory=new_id)
    number: int
    title: str
    category: str | None = None
    priority: Priority = Priority.NORMAL
    requested_by_id: str
    requested_by_name: str
    location_id: str
    source_location_id: str
    needed_by: date | None = None
    notes: str | None = None
    status: str = STOCK_REQUEST.initial
    lines: list[RequestLine] = Field(default_factory=list)
    comments: list[Comment] = Field(default_factory=list)
    history: list[Transition] = Field(default_factory=list)
    fulfilments: list[Fulfilment] = Field(default_factory=list)
    # Indexes in `history` of transitions a rollback has undone (and the rollbacks themselves).
    undone: list[int] = Field(default_factory=list)
    submitted_by_id: str | None = None
    rejection_reason: str | None = None

    @property
    def reference(self) -> str:
        return f"SR-{self.number:06d}"


class StockRequestStore(WorkItems[StockRequest], Protocol):
    def next_number(self, tenant_id: str) -> int:
        """The next request number of the company (one atomic counter, never handed out twice)."""
