"""What the availability feature needs from storage (implemented in storage/availability_repo.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.core.models import Actor, Location, Product
from chalicelib.features.availability.model import Allocation, Channel


@dataclass
class Wanted:
    """Items to read together, in one BatchGetItem (per 100 keys)."""

    products: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)
    allocations: set[tuple[str, str]] = field(default_factory=set)  # (product id, location id)
    channels: set[str] = field(default_factory=set)


@dataclass
class Found:
    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    allocations: dict[tuple[str, str], Allocation] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)


class AvailabilityStore(Protocol):
    def create_channel(self, channel: Channel, actor: Actor) -> None:
        """Write a new channel; its code taken (any case) is an AlreadyExists naming `code`."""
        ...

    def channels(self, tenant_id: str) -> list[Channel]: ...

    def put_allocation(self, allocation: Allocation, actor: Actor, previous_version: int | None) -> None:
        """Write the record if it is still at `previous_version` (None: if there is none), else StaleVersion."""
        ...

    def allocations(self, tenant_id: str, location_id: str | None = None) -> list[Allocation]: ...

    def allocations_of_product(self, tenant_id: str, product_id: str) -> list[Allocation]: ...

    def read(self, tenant_id: str, wanted: Wanted) -> Found: ...
