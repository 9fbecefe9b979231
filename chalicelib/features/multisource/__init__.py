"""Multi-source inventory (004): local (INTERN) and supplier records over the core's stock records.

What other code may use of it: the service, its inputs and its views.
"""

from chalicelib.features.multisource.model import (
    MAX_BULK,
    MAX_PAGE_SIZE,
    BulkResult,
    InventoryRecord,
    InventoryType,
    LookupKey,
    ProductInventory,
    ProductView,
    RecordInput,
    SearchQuery,
    SearchResult,
)
from chalicelib.features.multisource.rules import inventory_type, lookup_key
from chalicelib.features.multisource.service import MultiSourceService, ProductRef

__all__ = [
    "MAX_BULK",
    "MAX_PAGE_SIZE",
    "BulkResult",
    "InventoryRecord",
    "InventoryType",
    "LookupKey",
    "MultiSourceService",
    "ProductInventory",
    "ProductRef",
    "ProductView",
    "RecordInput",
    "SearchQuery",
    "SearchResult",
    "inventory_type",
    "lookup_key",
]
