"""What the orders feature needs from storage: one all-or-nothing save, and its reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from chalicelib.core.models import Actor
from chalicelib.core.ports import Page, UnitOfWork
from chalicelib.features.orders.model import LineItem, Order

# -- storage port -------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    order: Order
    lines: list[LineItem]  # every line, deleted ones too
    # Every reservation ever made for the order (released ones too: read them to see which are active),
    # and how many reserves the order has seen: a write guarded on it fails if another reserve lands.
    reservation_ids: frozenset[str] = frozenset()
    reserves_seen: int = 0


@dataclass(frozen=True)
class LineWrite:
    line: LineItem
    previous_version: int | None = None  # None: a new line


@dataclass(frozen=True)
class OrderWrite:
    """One order's share of a transaction: its header, the lines that change, and guard moves."""

    order: Order
    previous_version: int | None = None  # None: a new order
    lines: tuple[LineWrite, ...] = ()
    take_reference: str | None = None
    free_reference: str | None = None
    # Guard: no reserve for the order since it was read (StoredOrder.reserves_seen); None: no guard.
    reserves_seen: int | None = None

    @property
    def size(self) -> int:
        guards = (
            (self.take_reference is not None) + (self.free_reference is not None) + (self.reserves_seen is not None)
        )
        return 1 + len(self.lines) + guards


class OrderStore(Protocol):
    """Orders and their lines. `save` writes all or nothing (in the caller's unit of work when given);
    its errors name the write's position: AlreadyExists `[i].orderReference` for a taken reference,
    `[i].orderId` for an existing new order; StaleVersion `[i].version` when a version moved or a
    reserve landed since `reserves_seen` was read."""

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor, uow: UnitOfWork | None = None) -> None: ...
    def note_reservation(
        self, tenant_id: str, order_id: str, line_item_id: str, reservation_id: str, uow: UnitOfWork
    ) -> None:
        """Add to `uow`: the line must still be active (else InvalidState), and the reservation joins the
        order's register (so a delete that read the order before it fails instead of missing it)."""

    def get_order(self, tenant_id: str, order_id: str) -> StoredOrder | None: ...
    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]: ...
    def order_headers(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, Order]: ...
    def order_ids_by_reference(self, tenant_id: str, references: Iterable[str]) -> dict[str, str]: ...
    def list_orders(
        self, tenant_id: str, active: bool, limit: int, cursor: dict[str, object] | None
    ) -> Page[Order]: ...
    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]: ...
