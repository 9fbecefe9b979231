"""Permission strings. 001 documents the inventory ones; the rest extend them."""

from __future__ import annotations

from enum import StrEnum

from chalicelib.core.inventory_import import KIND as INVENTORY_KIND
from chalicelib.core.order_import import LINES_KIND, ORDERS_KIND


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


# What guards an import job, by its kind: (read it, start it).
_IMPORT_PERMISSIONS: dict[str, tuple[Permission, Permission]] = {
    INVENTORY_KIND: (Permission.INVENTORY_READ, Permission.INVENTORY_WRITE),
    ORDERS_KIND: (Permission.ORDERS_READ, Permission.ORDERS_WRITE),
    LINES_KIND: (Permission.ORDERS_READ, Permission.ORDERS_WRITE),
}
# The routes of import jobs of every kind take a key that may read (or start) at least one kind.
IMPORT_READ_ANY: tuple[str, ...] = tuple(sorted({read.value for read, _ in _IMPORT_PERMISSIONS.values()}))
IMPORT_WRITE_ANY: tuple[str, ...] = tuple(sorted({write.value for _, write in _IMPORT_PERMISSIONS.values()}))


def import_permission(kind: str, *, write: bool = False) -> str:
    """The permission that reads (or, with `write`, starts) an import job of `kind`.

    A kind missing from the map needs `admin`, so a new kind is never open to
    more keys than intended before someone decides who may see it.
    """
    read, start = _IMPORT_PERMISSIONS.get(kind, (Permission.ADMIN, Permission.ADMIN))
    return (start if write else read).value


def import_kinds() -> tuple[str, ...]:
    """The import kinds that have permissions of their own."""
    return tuple(_IMPORT_PERMISSIONS)
