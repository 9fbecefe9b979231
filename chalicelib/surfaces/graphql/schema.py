"""The GraphQL schema of the multi-source inventory (004): an Apollo Federation v2 subgraph.

Types mirror the REST v2 JSON field for field (numeric ids, exact `Decimal` quantities and prices,
ISO 8601 `DateTime`s). `Product @key(fields: "id")` (the numeric productId) carries its aggregated
inventory; `Inventory @key(fields: "id")` is one record. Every field resolver is in `resolvers.py`;
this module only declares.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info
from strawberry.types.scalar import ScalarDefinition

from chalicelib.surfaces.graphql import resolvers
from chalicelib.surfaces.graphql.execution import log_unexpected
from chalicelib.surfaces.graphql.limits import extensions

MAX_LIST_ARGUMENT = 500
AsOf = Annotated[
    datetime | None,
    strawberry.argument(
        description="ISO 8601 moment (naive means UTC): the figures as they were then, from the ledger; "
        "in the future is BAD_USER_INPUT naming asOf"
    ),
]


def _decimal_value(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        raise ValueError("Decimal takes a number or a numeric string")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ValueError("Decimal takes a finite number")
    return number


def _decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    if isinstance(node, IntValueNode | FloatValueNode | StringValueNode):
        return _decimal_value(node.value)
    raise ValueError("Decimal takes a number or a numeric string")


def _datetime_value(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime takes an ISO 8601 string")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None


def _datetime_literal(node: ValueNode, _variables: Any = None) -> datetime:
    if isinstance(node, StringValueNode):
        return _datetime_value(node.value)
    raise ValueError("DateTime takes an ISO 8601 string")


# Fields are annotated Decimal and datetime; these are their GraphQL scalars (the schema's scalar_map,
# in place of strawberry's own, which would write a Decimal as a string).
SCALARS: dict[object, ScalarDefinition] = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description="An exact decimal number, written as a JSON number (never rounded through a float); "
        "a numeric string is accepted as input",
        serialize=lambda value: value,
        parse_value=_decimal_value,
        parse_literal=_decimal_literal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 date-time in UTC, e.g. 2025-01-15T10:30:00.000Z",
        serialize=lambda value: value,
        parse_value=_datetime_value,
        parse_literal=_datetime_literal,
    ),
}


@strawberry.federation.type(keys=["id"], description="One inventory record (the REST v2 record, field for field)")
class Inventory:
    id: int
    productId: int | None
    quantity: Decimal
    supplier: str = strawberry.field(description="INTERN for local inventory")
    supplierCode: str | None
    sku: str | None
    warehouseId: int | None = strawberry.field(description="0 = no warehouse (the company's default location)")
    companyId: int = strawberry.field(description="A business partner of the record (0 = none); never the tenant")
    location: str | None = strawberry.field(description="Storage location within the warehouse")
    costPrice: Decimal | None
    notes: str | None
    nextDeliveryDate: str | None = strawberry.field(description="ISO 8601, e.g. 2025-08-01T00:00:00.000Z")
    createdAt: str = strawberry.field(description="ISO 8601, e.g. 2025-01-15T10:30:00.000Z")
    lastModifiedAt: str

    @strawberry.field(description="The record's product, with its aggregated inventory")
    async def product(self, info: Info) -> Product | None:
        return await resolvers.product_of_record(info, self.productId)

    @classmethod
    async def resolve_reference(cls, info: Info, id: Any) -> Inventory | None:
        return await resolvers.inventory_by_id(info, id)


@strawberry.federation.type(keys=["id"], description="A product (by its numeric id) with its aggregated inventory")
class Product:
    id: int
    sku: str | None
    totalQuantity: Decimal
    localQuantity: Decimal
    supplierQuantity: Decimal
    reservedQuantity: Decimal = strawberry.field(
        description="What the core holds reserved for the product (orders, stock requests, reservations)"
    )
    availableQuantity: Decimal = strawberry.field(description="local - reserved - held")
    records: list[Inventory]

    @strawberry.field(
        description="The product's inventory in one warehouse and/or as it was at a moment (asOf, ISO 8601, "
        "not in the future); batched with every other such field of the document (inventory.read)"
    )
    async def inventory(self, info: Info, warehouseId: int | None = None, asOf: AsOf = None) -> ProductInventory:
        return await resolvers.inventory_of_product(info, self.id, warehouseId, asOf)

    @classmethod
    async def resolve_reference(cls, info: Info, id: Any) -> Product | None:
        return await resolvers.product_by_id(info, id)


@strawberry.type(
    description="A product's inventory, aggregated over its records (REST: GET /v2/products/.../inventory)"
)
class ProductInventory:
    productId: int | None
    sku: str | None
    warehouseId: int | None = strawberry.field(description="Set when every figure is restricted to one warehouse")
    totalQuantity: Decimal
    localQuantity: Decimal
    supplierQuantity: Decimal
    reservedQuantity: Decimal
    availableQuantity: Decimal
    records: list[Inventory]


@strawberry.type
class Pagination:
    page: int
    pageSize: int
    totalCount: int


@strawberry.type
class InventoryPage:
    data: list[Inventory]
    pagination: Pagination


@strawberry.input(description="Every filter is optional; all given ones must hold")
class InventoryFilter:
    productIds: list[int] | None = None
    skus: list[str] | None = None
    supplier: str | None = None
    inventoryType: str | None = strawberry.field(default=None, description="local or supplier")
    warehouseIds: list[int] | None = None
    location: str | None = None
    companyId: int | None = None
    minQuantity: Decimal | None = None
    maxQuantity: Decimal | None = None
    modifiedSince: datetime | None = None


@strawberry.input
class SortInput:
    field: str
    direction: str = strawberry.field(default="asc", description="asc or desc")


@strawberry.input(description="The fields a PATCH /v2/inventory/id/{id} takes; only those given change")
class InventoryUpdateInput:
    quantity: Decimal | None = strawberry.UNSET
    supplierCode: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    warehouseId: int | None = strawberry.UNSET
    companyId: int | None = strawberry.UNSET
    costPrice: Decimal | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    nextDeliveryDate: datetime | None = strawberry.UNSET


@strawberry.input(description="One record of a bulk upsert; the product is named by the lookup key's field")
class InventoryRecordInput:
    productId: int | None = strawberry.UNSET
    sku: str | None = strawberry.UNSET
    sourceId: str | None = strawberry.UNSET
    quantity: Decimal | None = strawberry.UNSET
    supplier: str | None = strawberry.UNSET
    supplierCode: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    warehouseId: int | None = strawberry.UNSET
    companyId: int | None = strawberry.UNSET
    costPrice: Decimal | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    nextDeliveryDate: datetime | None = strawberry.UNSET


@strawberry.type
class BulkResult:
    index: int
    id: int | None
    status: str = strawberry.field(description="created, updated or error")
    error: str | None


@strawberry.type
class BulkUpsertResult:
    created: int
    updated: int
    failed: int
    results: list[BulkResult]


@strawberry.type
class DeleteResult:
    id: int
    deleted: bool


@strawberry.input(description="A CSV column and the record field its cells fill")
class FieldMappingInput:
    column: str
    field: str


@strawberry.type
class ImportRowError:
    line: int = strawberry.field(description="Row number in the file; the header is line 1")
    field: str
    message: str


@strawberry.type(description="An asynchronous CSV import (the same jobs as /companies/{companyId}/imports)")
class ImportJob:
    jobId: str
    kind: str
    status: str = strawberry.field(description="queued, running, completed or failed")
    total: int | None
    processed: int
    created: int
    updated: int
    failed: int
    message: str | None
    createdAt: datetime | None
    startedAt: datetime | None
    finishedAt: datetime | None

    @strawberry.field(description="The bad rows' problems, by line (read only when asked for)")
    async def errors(self, info: Info) -> list[ImportRowError]:
        return await resolvers.import_errors(info, self.jobId)


@strawberry.type
class UploadField:
    name: str
    value: str


@strawberry.type(description="A presigned S3 POST for a CSV file; pass `key` as importInventoryCsv's upload")
class InventoryUpload:
    key: str
    url: str
    fields: list[UploadField] = strawberry.field(description="Send these form fields first, then the file as `file`")
    maxBytes: int
    expiresAt: datetime


@strawberry.type
class Query:
    @strawberry.field(
        description="One inventory record by id; with asOf, as it was then (a record deleted since included, "
        "one created later NOT_FOUND) (inventory.read)"
    )
    async def inventory(self, info: Info, id: int, asOf: AsOf = None) -> Inventory:
        return await resolvers.inventory(info, id, asOf)

    @strawberry.field(
        description="A product's aggregated inventory; lookupKey is id, sku or sourceId (which needs source); "
        "warehouseId restricts every figure to one warehouse; asOf gives every figure as it was then "
        "(inventory.read). Several of these fields in one document (aliases) share one batched read."
    )
    async def productInventory(
        self,
        info: Info,
        lookupKey: str,
        key: str,
        source: str | None = None,
        warehouseId: int | None = None,
        asOf: AsOf = None,
    ) -> ProductInventory:
        return await resolvers.product_inventory(info, lookupKey, key, source, warehouseId, asOf)

    @strawberry.field(
        description="Search inventory records, one page at a time (pageSize at most 500); with asOf, the "
        "records as they were then, their figures from the ledger (inventory.read)"
    )
    async def searchInventory(
        self,
        info: Info,
        filter: InventoryFilter | None = None,
        sort: list[SortInput] | None = None,
        page: int | None = None,
        pageSize: int | None = None,
        asOf: AsOf = None,
    ) -> InventoryPage:
        return await resolvers.search_inventory(info, filter, sort, page, pageSize, asOf)

    @strawberry.field(description="An import job started by importInventoryCsv (inventory.read)")
    async def importJob(self, info: Info, id: str) -> ImportJob:
        return await resolvers.import_job(info, id)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Change an inventory record's fields (inventory.write)")
    async def updateInventory(self, info: Info, id: int, input: InventoryUpdateInput) -> Inventory:
        return await resolvers.update_inventory(info, id, input)

    @strawberry.mutation(
        description="Delete a record; a local record that still holds stock is a CONFLICT unless force writes "
        "the stock off through the ledger (inventory.write)"
    )
    async def deleteInventory(self, info: Info, id: int, force: bool = False) -> DeleteResult:
        return await resolvers.delete_inventory(info, id, force)

    @strawberry.mutation(
        description="Create or update up to 1,000 records by their uniqueness key; lookupKey names the product "
        "field of each record (id -> productId, sku, sourceId, which needs source), inventoryType is local or "
        "supplier (inventory.write)"
    )
    async def bulkUpsertInventory(
        self,
        info: Info,
        lookupKey: str,
        inventoryType: str,
        records: list[InventoryRecordInput],
        source: str | None = None,
    ) -> BulkUpsertResult:
        return await resolvers.bulk_upsert(info, lookupKey, inventoryType, records, source)

    @strawberry.mutation(
        description="A presigned S3 POST for a CSV file too big to send as text; then call importInventoryCsv "
        "with its key (inventory.write)"
    )
    async def createInventoryUpload(self, info: Info) -> InventoryUpload:
        return await resolvers.create_upload(info)

    @strawberry.mutation(
        description="Start an asynchronous CSV import of inventory records through the import queue. `upload` "
        "is the CSV text or the key createInventoryUpload returned; fieldMappings name the record field of "
        "each CSV column (columns not mapped are taken by their own name when it is a field). Rows follow "
        "the bulk upsert's rules; source is needed with lookupKey sourceId; follow the job with importJob "
        "(inventory.write)"
    )
    async def importInventoryCsv(
        self,
        info: Info,
        lookupKey: str,
        inventoryType: str,
        fieldMappings: list[FieldMappingInput],
        upload: str,
        source: str | None = None,
    ) -> ImportJob:
        return await resolvers.import_csv(info, lookupKey, inventoryType, fieldMappings, upload, source)


class StockroomSchema(FederationSchema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        # A client's mistake is its answer, not a log line; only unexpected failures are logged.
        log_unexpected(errors)

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        # strawberry would fail a representation of an unknown type (or none) as an unexpected error:
        # it is the client's, so it is BAD_USER_INPUT naming the representation, before any read.
        resolvers.check_representations(representations)
        return super().entities_resolver(info, representations)


@cache
def schema() -> StockroomSchema:
    return StockroomSchema(
        query=Query,
        mutation=Mutation,
        types=[Product, Inventory],
        extensions=extensions(),
        config=StrawberryConfig(scalar_map=SCALARS),
        federation_version="2.5",
    )


def sdl() -> str:
    """The subgraph's SDL, as `_service { sdl }` answers it (federation directives included)."""
    return schema().as_str()
