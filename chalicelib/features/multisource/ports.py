"""What the multi-source feature needs from storage (`storage/multisource_repo.py` implements it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from chalicelib.core.models import StockRecord
from chalicelib.core.ports import UnitOfWork

# Guard kinds (`T#t#UNIQUE / <kind>#<value>` -> target_id) the feature reads.
STOCK_KEY = "STOCKKEY"  # the documented uniqueness key -> stock id
STOCK_NUMBER = "STOCKNO"  # record id -> stock id
PRODUCT_NUMBER = "PRODUCTNO"  # productId -> product id
LOCATION_NUMBER = "LOCATIONNO"  # warehouseId -> location id
SKU = "SKU"  # sku -> product id
SOURCE = "SOURCE"  # <source>#<id> -> product id


@dataclass(frozen=True)
class SearchPlan:
    """How a search reads: ONE driving index (each entry a bounded Query), the rest as filters.

    Exactly one of `product_ids` (gsi1, per product), `location_ids` (gsi2, per
    location) or `types` (gsi3, the record-type partitions `local` / `supplier`
    in last-modified order) drives. Every other field filters in DynamoDB.
    """

    product_ids: tuple[str, ...] = ()
    location_ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    # Filters applied to what the driving index reads.
    owner: str | None = None
    local_only: bool = False
    supplier_only: bool = False
    location_ids_filter: tuple[str, ...] = ()
    place: str | None = None
    company: int | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    modified_since: datetime | None = None
    # An as-of search also reads records deleted since (core/stock/asof.existed_at decides which count).
    include_deleted: bool = False
    limit: int = 10_001
    extra: dict[str, str] = field(default_factory=dict)


class MultiSourceStore(Protocol):
    def guard_targets(self, tenant_id: str, kind: str, values: Iterable[str]) -> dict[str, str]:
        """Batched guard reads: value -> target id for the values that exist (BatchGetItem, 100 a call)."""
        ...

    def next_record_numbers(self, tenant_id: str, count: int) -> range:
        """`count` new record ids from the tenant's counter (one UpdateItem; a failure leaves a gap)."""
        ...

    def number_records(self, tenant_id: str, numbered: list[tuple[str, int]]) -> None:
        """Give existing records (of other surfaces) their ids: SET number if it has none + its guard,
        per 50 records one transaction. A record numbered meanwhile cancels it (Conflict)."""
        ...

    def search(self, tenant_id: str, plan: SearchPlan) -> list[StockRecord]:
        """The records the plan's driving index holds that pass its filters, at most `plan.limit`."""
        ...

    def add_guard(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str, field: str) -> None:
        """Take a guard in `uow` (taken already: AlreadyExists naming `field`)."""
        ...

    def add_guard_release(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str) -> None:
        """Give a guard up in `uow` (only if it still names `target`)."""
        ...
