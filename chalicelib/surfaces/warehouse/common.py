"""What every warehouse route shares: tags, permissions, and the place of a body."""

from __future__ import annotations

from chalicelib.core.stock.slots import Place
from chalicelib.core.tenancy.permissions import Permission

TAG_STOCK = "Warehouse: stock"
TAG_ADJUST = "Warehouse: adjustments"
TAG_HOLDS = "Warehouse: holds and expiry"
TAG_BINS = "Warehouse: bins"
EXTENSION = "Extension (not in the 001 document, added in its style). "
READ = [Permission.INVENTORY_READ]
WRITE = [Permission.INVENTORY_WRITE]
ADJUST = [Permission.INVENTORY_ADJUST]
PAGING = (
    "Lists take `page` (from 1) and `limit` and answer `{data, pagination: {page, limit, total, totalPages}}`; "
    "a page or limit out of range is a 400 naming it."
)
LOCATION_ID = "0b6e8c52-5f0a-4d43-9a8e-2f1d7c3b9a01"
PRODUCT_ID = "8f1c0e2a-4b7d-4c1e-9a53-0d2f7b1e6a10"
BIN_ID = "5d2a7c10-9e3b-4f81-a6d4-1b8e0c7f3a22"
LOT_ID = "c41d9f3e-2a8b-5c6d-9e0f-7a1b2c3d4e5f"
STOCK_ID = "e7b3a1c9-4d2f-5a8e-b6c0-9f1d3e5a7b2c"


def place(body: object) -> Place:
    """The place a body names (productMasterId, locationId, binId?, lotId?)."""
    return Place(
        getattr(body, "productMasterId"),  # noqa: B009
        getattr(body, "locationId"),  # noqa: B009
        getattr(body, "binId", None),
        getattr(body, "lotId", None),
    )
