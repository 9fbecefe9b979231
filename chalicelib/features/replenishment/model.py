"""Replenishment (001): per product and location, when and how much to reorder; records of reorders."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Entity
from chalicelib.core.ports import UnitOfWork
from chalicelib.core.workflows import REPLENISHMENT, Transition, WorkItems


class Method(StrEnum):
    MIN_MAX = "min_max"
    REORDER_POINT = "reorder_point"


class ReplenishmentConfig(Entity):
    product_id: str
    location_id: str
    method: Method = Method.MIN_MAX
    min_quantity: Decimal
    max_quantity: Decimal
    reorder_quantity: Decimal | None = None
    pack_size: Decimal | None = None
    lead_time_days: int | None = None
    safety_stock: Decimal | None = None
    source_location_id: str | None = None

    @property
    def config_id(self) -> str:
        return f"{self.product_id}#{self.location_id}"


class Replenishment(Entity):
    record_id: str = Field(default_factory=new_id)
    product_id: str
    location_id: str
    quantity: Decimal
    source_location_id: str | None = None
    transfer_id: str | None = None
    status: str = REPLENISHMENT.initial
    origin: str = "manual"  # manual, suggestion, schedule
    reason: str | None = None
    history: list[Transition] = Field(default_factory=list)
    created_by_id: str
    created_by_name: str

    @property
    def outstanding(self) -> bool:
        return self.status in {"open", "ordered"}


class ConfigStore(Protocol):
    def put_config(self, config: ReplenishmentConfig, actor: Actor) -> None: ...
    def configs(self, tenant_id: str, product_id: str | None = None) -> Iterator[ReplenishmentConfig]:
        """The company's configuration (a Query of its partition, narrowed to a product by key prefix)."""


class ReplenishmentStore(WorkItems[Replenishment], ConfigStore, Protocol):
    def add_open_guard(self, record: Replenishment, uow: UnitOfWork) -> None:
        """Claim the pair's one open record (AlreadyExists when another is open)."""

    def add_guard_release(self, record: Replenishment, uow: UnitOfWork) -> None:
        """Free the pair once its record is no longer outstanding (guarded on it being this record's)."""
