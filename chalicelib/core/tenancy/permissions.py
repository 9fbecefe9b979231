"""Permission strings. 001 documents the inventory ones; the rest extend them."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    INVENTORY_READ = "inventory.read"
    INVENTORY_WRITE = "inventory.write"
    INVENTORY_ADJUST = "inventory.adjust"
    INVENTORY_CYCLECOUNT = "inventory.cyclecount"
    REPLENISHMENT_READ = "replenishment.read"
    REPLENISHMENT_WRITE = "replenishment.write"
    TRANSFERS_READ = "transfers.read"
    TRANSFERS_WRITE = "transfers.write"
    STOCKREQUESTS_READ = "stockrequests.read"
    STOCKREQUESTS_WRITE = "stockrequests.write"
    STOCKREQUESTS_APPROVE = "stockrequests.approve"
    PRODUCTS_READ = "products.read"
    PRODUCTS_WRITE = "products.write"
    ORDERS_READ = "orders.read"
    ORDERS_WRITE = "orders.write"
    TASKS_READ = "tasks.read"
    TASKS_WRITE = "tasks.write"
    ADMIN = "admin"


ALL_PERMISSIONS: frozenset[str] = frozenset(p.value for p in Permission)


def parse_permissions(text: str) -> frozenset[str]:
    """Parse a comma-separated list; `*` or `all` means every permission."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if names & {"*", "all"}:
        return ALL_PERMISSIONS
    unknown = names - ALL_PERMISSIONS
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(sorted(unknown))}")
    return frozenset(names)
