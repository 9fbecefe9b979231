"""What the orders feature needs from storage: one all-or-nothing save, and its reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from chalicelib.core.models import Actor
from chalicelib.core.ports import Page
from chalicelib.features.orders.model import LineItem, Order

# -- storage port -------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    order: Order
    lines: list[LineItem]  # every line, deleted ones too


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

    @property
    def size(self) -> int:
        return 1 + len(self.lines) + (self.take_reference is not None) + (self.free_reference is not None)


class OrderStore(Protocol):
    """Orders and their lines. `save` writes all or nothing; its errors name the write's position:
    AlreadyExists `[i].orderReference` for a taken reference, `[i].orderId` for an existing new order;
    StaleVersion `[i].version` when a version moved."""

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor) -> None: ...
    def get_order(self, tenant_id: str, order_id: str) -> StoredOrder | None: ...
    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]: ...
    def order_headers(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, Order]: ...
    def order_ids_by_reference(self, tenant_id: str, references: Iterable[str]) -> dict[str, str]: ...
    def list_orders(
        self, tenant_id: str, active: bool, limit: int, cursor: dict[str, object] | None
    ) -> Page[Order]: ...
    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]: ...
