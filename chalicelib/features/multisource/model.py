"""The 004 multi-source inventory in its documented terms, over the core's stock records.

An inventory record IS a core `StockRecord`: `owner` is the documented
`supplier` (`INTERN` for the tenant's own stock), `supplier_code` its
`supplierCode`, `on_hand` its `quantity`; the rest of the documented fields
live in the record's `attributes` (`location`, `companyId`, `costPrice`,
`notes`, `nextDeliveryDate`). Numeric ids come from per-tenant counters:
`StockRecord.number` (record `id`), `Product.number` (`productId`),
`Location.number` (`warehouseId`, 0 for the default location).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from chalicelib.core.bodies import Body
from chalicelib.core.models import Model
from chalicelib.core.values import Number, Text


class LookupKey(StrEnum):
    ID = "id"
    SKU = "sku"
    SOURCE_ID = "sourceId"


class InventoryType(StrEnum):
    LOCAL = "local"
    SUPPLIER = "supplier"


# Documented length limits (characters) and the costPrice precision (10,5).
MAX_SUPPLIER = 35
MAX_SUPPLIER_CODE = 30
MAX_SKU = 30
MAX_LOCATION = 35
MAX_NOTES = 255
COST_DIGITS = 10
COST_SCALE = 5
MAX_BULK = 1000
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
# Filter lists a search takes at most (each entry is one bounded index query or key).
MAX_FILTER_VALUES = 100
# A search reads at most this many matching records before it asks for a narrower filter.
MAX_SEARCH_MATCHES = 10_000


class RecordInput(Body):
    """One record of a bulk upsert, or the fields of a PATCH (documented names; all optional here)."""

    productId: int | None = Field(None, ge=1, description="The product (lookup key `id`)")
    sku: Text | None = Field(None, description="The product's SKU (lookup key `sku`; max 30)")
    sourceId: Text | None = Field(None, description="The product's id in `?source=` (lookup key `sourceId`)")
    quantity: Number | None = Field(None, ge=0)
    supplier: Text | None = Field(None, description="Supplier name (max 35); INTERN for local inventory")
    supplierCode: Text | None = Field(None, description="Supplier's product code (max 30)")
    warehouseId: int | None = Field(None, ge=0, description="Warehouse ID (0 = no warehouse: the default location)")
    companyId: int | None = Field(None, ge=0, description="Associated company ID (0 = none)")
    location: Text | None = Field(None, description="Storage location within the warehouse (max 35)")
    costPrice: Decimal | None = Field(None, description="Cost price, decimal (10,5)")
    notes: Text | None = Field(None, description="Free-text notes (max 255)")
    nextDeliveryDate: datetime | None = None


class InventoryRecord(Model):
    """A record as the document shows it."""

    id: int
    productId: int | None
    quantity: Decimal
    supplier: str
    supplierCode: str | None = None
    sku: str | None = None
    warehouseId: int | None
    companyId: int = 0
    location: str | None = None
    costPrice: Decimal | None = None
    notes: str | None = None
    nextDeliveryDate: str | None = None
    createdAt: str
    lastModifiedAt: str


class ProductInventory(Model):
    """Aggregated quantities of one product (optionally in one warehouse) and its records."""

    productId: int | None
    sku: str | None
    totalQuantity: Decimal
    localQuantity: Decimal
    supplierQuantity: Decimal
    reservedQuantity: Decimal
    availableQuantity: Decimal
    records: list[InventoryRecord]


class SortField(StrEnum):
    ID = "id"
    PRODUCT_ID = "productId"
    QUANTITY = "quantity"
    SUPPLIER = "supplier"
    SUPPLIER_CODE = "supplierCode"
    SKU = "sku"
    WAREHOUSE_ID = "warehouseId"
    COMPANY_ID = "companyId"
    LOCATION = "location"
    COST_PRICE = "costPrice"
    NEXT_DELIVERY_DATE = "nextDeliveryDate"
    CREATED_AT = "createdAt"
    LAST_MODIFIED_AT = "lastModifiedAt"


class SortDirection(StrEnum):
    ASC = "asc"
    DESC = "desc"


class Sort(Body):
    field: SortField
    direction: SortDirection = SortDirection.ASC


class SearchFilter(Body):
    productIds: list[int] | None = Field(None, max_length=MAX_FILTER_VALUES)
    skus: list[Text] | None = Field(None, max_length=MAX_FILTER_VALUES)
    supplier: Text | None = None
    inventoryType: InventoryType | None = None
    warehouseIds: list[int] | None = Field(None, max_length=MAX_FILTER_VALUES)
    location: Text | None = None
    companyId: int | None = Field(None, ge=0)
    minQuantity: Number | None = None
    maxQuantity: Number | None = None
    modifiedSince: datetime | None = None


class SearchQuery(Body):
    """The search body: every part optional; unknown filter or sort fields are a 400."""

    filter: SearchFilter = Field(default_factory=SearchFilter)
    sort: list[Sort] = Field(default_factory=list, max_length=5)
    page: int = Field(1, ge=1)
    pageSize: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class SearchResult(Model):
    data: list[InventoryRecord]
    pagination: dict[str, int]


class BulkResultEntry(Model):
    index: int
    id: int | None = None
    status: str  # "created" | "updated" | "error"
    error: str | None = None


class BulkResult(Model):
    created: int
    updated: int
    failed: int
    results: list[BulkResultEntry]


class ProductView(Model):
    """A product as the 004 extensions show it."""

    productId: int | None
    id: str
    sku: str | None
    name: str
    sourceIds: dict[str, str]
    createdAt: str
    lastModifiedAt: str


def record_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """The documented fields kept in `StockRecord.attributes` (None removes one)."""
    return {k: values.get(k) for k in ("location", "companyId", "costPrice", "notes", "nextDeliveryDate")}
