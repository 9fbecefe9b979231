"""What every maker route shares: tags, the `/api` base, and limit/offset pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import Field

from chalicelib.core.models import Model
from chalicelib.core.ports import OffsetPage
from chalicelib.core.tenancy.permissions import Permission

BASE = "/api"
TAG_RESOURCES = "Maker: products and materials"
TAG_LOCATIONS = "Maker: locations"
TAG_TASKS = "Maker: production tasks"
TAG_PEOPLE = "Maker: users and custom statuses"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EXTENSION = "Extension (not in the 002 document, added in its style). "

T = TypeVar("T")

PRODUCTS_READ = [Permission.PRODUCTS_READ]
PRODUCTS_WRITE = [Permission.PRODUCTS_WRITE]
ADJUST = [Permission.INVENTORY_ADJUST]
INVENTORY_READ = [Permission.INVENTORY_READ]
INVENTORY_WRITE = [Permission.INVENTORY_WRITE]
TASKS_READ = [Permission.TASKS_READ]
TASKS_WRITE = [Permission.TASKS_WRITE]
ADMIN = [Permission.ADMIN]

PAGING = (
    f"Paged by `limit` (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}) and `offset` (default 0); a limit above "
    f"{MAX_LIMIT}, a limit below 1, a negative offset or a value that is not a whole number is a 400. "
    "`pagination.totalCount` is the number of items of the whole list, kept by a counter updated with every "
    "create and delete. Items come in a stable order (creation order)."
)


class PageQuery(Model):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Maximum number of results (max: {MAX_LIMIT})")
    offset: int = Field(0, ge=0, description="Number of results to skip")


class Pagination(Model):
    totalCount: int
    offset: int
    limit: int


def page(data: Sequence[Any], total: int, query: PageQuery) -> dict[str, Any]:
    return {"data": list(data), "pagination": {"totalCount": total, "offset": query.offset, "limit": query.limit}}


def page_of(found: OffsetPage[T], out: Callable[[T], Any], query: PageQuery) -> dict[str, Any]:
    """A service's page as the surface shows it: each item through `out`, with its pagination."""
    return page([out(item) for item in found.items], found.total, query)


def page_example(*items: Any, total: int) -> dict[str, Any]:
    """The OpenAPI example of a first page of `total` items."""
    return {"data": list(items), "pagination": {"totalCount": total, "offset": 0, "limit": DEFAULT_LIMIT}}


def number_id(raw: str, what: str) -> int:
    """A numeric path id (task items, batches): anything else names nothing, so it is a 404."""
    from chalicelib.core.errors import NotFound

    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"{what} {raw} not found")
    return int(raw)
