"""Permission strings. 001 documents the inventory ones; the rest extend them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from chalicelib.core.errors import Forbidden, ValidationFailed


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


def known_permissions(value: list[str]) -> list[str]:
    """A request body's permission list, sorted and without repeats; ValueError naming any unknown one."""
    unknown = sorted(set(value) - ALL_PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(unknown)}")
    return sorted(set(value))


def grantable(
    wanted: Iterable[str], granted_by: frozenset[str] | None, *, field: str, refusal: str, granter: str
) -> list[str]:
    """The permissions a new credential (an API key, an OAuth2 client) gets: sorted, every one known, and
    none beyond `granted_by`, the granting caller's own (None: no cap, as for the platform's own keys).

    An unknown one is a 400 on `field`; one beyond the caller's is a 403 (`refusal` and `granter` word it).
    """
    permissions = sorted(set(wanted))
    unknown = sorted(set(permissions) - ALL_PERMISSIONS)
    if unknown:
        raise ValidationFailed(f"unknown {field}", [{"field": field, "message": f"unknown: {', '.join(unknown)}"}])
    beyond = sorted(set(permissions) - granted_by) if granted_by is not None else []
    if beyond:
        raise Forbidden(
            f"{refusal}: {', '.join(beyond)}",
            [{"field": field, "message": f"not held by {granter}: {', '.join(beyond)}"}],
        )
    return permissions
