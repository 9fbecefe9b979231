"""004 routes: `/v2/products/{lookupKey}/{key}/inventory[...]`, `/v2/inventory/...`, and `/v2/products`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.core.bodies import Body
from chalicelib.core.errors import ValidationFailed, problem
from chalicelib.core.ids import Id
from chalicelib.core.models import Model
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.values import Text
from chalicelib.features.multisource import (
    MAX_BULK,
    MAX_PAGE_SIZE,
    BulkResult,
    InventoryRecord,
    ProductInventory,
    ProductRef,
    ProductView,
    RecordInput,
    SearchQuery,
    SearchResult,
    inventory_type,
    lookup_key,
)
from chalicelib.http.asof import AS_OF, AsOfQuery
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.multisource import multisource
from chalicelib.wiring import multisource_service

TAG = "Multi-source inventory (v2)"
READ = [Permission.INVENTORY_READ]
WRITE = [Permission.INVENTORY_WRITE]
PRODUCT = "/v2/products/{lookupKey}/{key}"
RECORD = "/v2/inventory/id/{id}"
EXTENSION = "Extension (not in the 004 document, added in its style). "
LOOKUP = (
    "`lookupKey` is `id` (the numeric productId), `sku`, or `sourceId` (the product's id in the system named by "
    "`?source=`, required then); any other value is a 400 listing the allowed ones. An unknown product, or another "
    "company's, is a 404."
)

RECORD_EXAMPLE = {
    "id": 42,
    "productId": 1001,
    "quantity": 150,
    "supplier": "INTERN",
    "supplierCode": None,
    "sku": "WIDGET-L-BLU",
    "warehouseId": 5,
    "companyId": 0,
    "location": "Aisle-B-Shelf-3",
    "costPrice": 12.99,
    "notes": "Reorder at 20 units",
    "nextDeliveryDate": "2025-08-01T00:00:00.000Z",
    "createdAt": "2025-01-15T10:30:00.000Z",
    "lastModifiedAt": "2025-03-01T08:00:00.000Z",
}
SUPPLIER_EXAMPLE = {
    **RECORD_EXAMPLE,
    "id": 43,
    "quantity": 400,
    "supplier": "Acme Corp",
    "supplierCode": "AC-99821",
    "location": None,
    "notes": None,
}
INVENTORY_EXAMPLE = {
    "productId": 1001,
    "sku": "WIDGET-L-BLU",
    "totalQuantity": 550,
    "localQuantity": 150,
    "supplierQuantity": 400,
    "reservedQuantity": 20,
    "availableQuantity": 130,
    "records": [RECORD_EXAMPLE, SUPPLIER_EXAMPLE],
}


class SourceQuery(Model):
    source: str | None = Field(None, description="The source system, required with lookup key `sourceId`")


class InventoryQuery(SourceQuery, AsOfQuery):
    pass


class DeleteQuery(Model):
    force: bool = Field(False, description="Delete a local record that still holds stock, writing it off")


class ProductCreate(Body):
    sku: Text = Field(min_length=1, max_length=30)
    name: Text = Field(min_length=1, max_length=300)
    sourceIds: dict[Id, Id] = Field(
        default_factory=dict, description='External ids by source (names and values are ids): {"shop": "A-17"}'
    )


def _ref(call: Call) -> ProductRef:
    query: SourceQuery = call.query
    return ProductRef(lookup_key(call.path["lookupKey"]), call.path["key"], query.source)


def _number(raw: str, name: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise ValidationFailed(f"{name} must be a non-negative integer", [problem(name, "must be an integer")])
    return int(raw)


@endpoint(
    multisource,
    f"{PRODUCT}/inventory",
    "GET",
    permissions=READ,
    summary="Get aggregated product inventory by lookup key",
    tag=TAG,
    query=InventoryQuery,
    response=ProductInventory,
    response_example=INVENTORY_EXAMPLE,
    description=(
        f"{LOOKUP} `totalQuantity` = local + supplier; `localQuantity`: the company's own (INTERN) stock, the "
        "same stock every other API shows; `supplierQuantity`: stock suppliers hold (never on hand, never "
        "reservable); `reservedQuantity`: what is reserved on the local stock by any surface (orders, stock "
        f"requests, channels); `availableQuantity` = local - reserved - held. {AS_OF} The records are then "
        "those that existed at `asOf`, each `quantity` its on hand then. Permission: inventory.read."
    ),
)
def product_inventory(call: Call) -> ProductInventory:
    query: InventoryQuery = call.query
    return multisource_service().product_inventory(call.tenant_id, _ref(call), as_of=query.asOf)


@endpoint(
    multisource,
    f"{PRODUCT}/inventory/warehouses/{{warehouseId}}",
    "GET",
    permissions=READ,
    summary="Get product inventory scoped to a warehouse",
    tag=TAG,
    query=InventoryQuery,
    response=ProductInventory,
    response_example={**INVENTORY_EXAMPLE, "records": [RECORD_EXAMPLE]},
    description=(
        f"{LOOKUP} Every figure and the records are restricted to one warehouse (`warehouseId` 0: the company's "
        f"default location; unknown: 404). {AS_OF} Permission: inventory.read."
    ),
)
def warehouse_inventory(call: Call) -> ProductInventory:
    query: InventoryQuery = call.query
    warehouse = _number(call.path["warehouseId"], "warehouseId")
    return multisource_service().product_inventory(call.tenant_id, _ref(call), warehouse, as_of=query.asOf)


@endpoint(
    multisource,
    "/v2/inventory/search",
    "POST",
    permissions=READ,
    summary="Search inventory with filtering and pagination",
    tag=TAG,
    body=SearchQuery,
    query=AsOfQuery,
    response=SearchResult,
    example={
        "filter": {"skus": ["WIDGET-L-BLU"], "inventoryType": "local", "minQuantity": 1},
        "sort": [{"field": "quantity", "direction": "desc"}],
        "page": 1,
        "pageSize": 50,
    },
    response_example={"data": [RECORD_EXAMPLE], "pagination": {"page": 1, "pageSize": 50, "totalCount": 1}},
    description=(
        "Filters (all optional): `productIds`, `skus`, `supplier`, `inventoryType` (local|supplier), "
        "`warehouseIds`, `location`, `companyId`, `minQuantity`, `maxQuantity`, `modifiedSince`; `sort` is a list "
        "of `{field, direction}` (asc|desc) over the record's fields; `page` from 1, `pageSize` up to "
        f"{MAX_PAGE_SIZE} (default 50). An unknown filter or sort field is a 400. Reading is served by one index: "
        "the products named, else the warehouses named, else the record type's listing in last-modified order; "
        "the other filters apply in DynamoDB. More than 10,000 matching records is a 400 asking for a narrower "
        "filter. This is a read: it is a POST only because the filter is a body. Permission: inventory.read. "
        f"Extension: the query parameter `asOf`. {AS_OF} The records listed are those that existed then (one "
        "created later is not; one deleted since is), each with its `quantity` then; `minQuantity`, "
        "`maxQuantity` and a `quantity` sort apply to the quantity then (then at most 1,000 records may match "
        "the other filters, else a 400 naming asOf); the other filters and sorts apply to the records as they "
        "are now."
    ),
)
def search(call: Call) -> SearchResult:
    query: AsOfQuery = call.query
    return multisource_service().search(call.tenant_id, call.body, as_of=query.asOf)


@endpoint(
    multisource,
    RECORD,
    "GET",
    permissions=READ,
    summary="Get a single inventory record by ID",
    tag=TAG,
    response=InventoryRecord,
    response_example=RECORD_EXAMPLE,
    description="404 when unknown, deleted or another company's. Permission: inventory.read.",
)
def get_record(call: Call) -> InventoryRecord:
    return multisource_service().get_record(call.tenant_id, _number(call.path["id"], "id"))


@endpoint(
    multisource,
    RECORD,
    "PATCH",
    permissions=WRITE,
    summary="Update an inventory record",
    tag=TAG,
    body=RecordInput,
    response=InventoryRecord,
    example={"quantity": 120, "location": "Aisle-C-Shelf-1", "notes": "Recounted"},
    response_example={**RECORD_EXAMPLE, "quantity": 120, "location": "Aisle-C-Shelf-1", "notes": "Recounted"},
    description=(
        "Changes the fields sent; null clears an optional one. A new `quantity` of a local record is the stock "
        "every other API reads, through one `count` ledger movement. The product cannot change (400); a local "
        "record stays INTERN and a supplier record stays a supplier's. Length limits: supplier 35, supplierCode "
        "30, sku 30, location 35, notes 255; costPrice decimal (10,5): a 400 names the field. A change that "
        "would make the record duplicate another's uniqueness key is a 409. Permission: inventory.write."
    ),
)
def update_record(call: Call) -> InventoryRecord:
    record_id = _number(call.path["id"], "id")
    return multisource_service().update(call.tenant_id, record_id, call.body, call.actor, call.command_id)


@endpoint(
    multisource,
    RECORD,
    "DELETE",
    permissions=WRITE,
    summary="Delete an inventory record",
    tag=TAG,
    query=DeleteQuery,
    status=204,
    description=(
        "Removes the record (its id is never reused; the ledger stays). A local record that still holds stock is "
        "a 409 unless `?force=true`, which writes the stock off through the ledger first (one movement); stock "
        "reserved on it makes even that a 409. Permission: inventory.write."
    ),
)
def delete_record(call: Call) -> Reply:
    query: DeleteQuery = call.query
    multisource_service().delete(
        call.tenant_id, _number(call.path["id"], "id"), call.actor, force=query.force, command_id=call.command_id
    )
    return Reply(status=204)


@endpoint(
    multisource,
    "/v2/inventory/bulk/{lookupKey}/{inventoryType}",
    "POST",
    permissions=WRITE,
    summary="Bulk upsert inventory records",
    tag=TAG,
    query=SourceQuery,
    body=list[dict[str, Any]],
    response=BulkResult,
    example=[
        {"sku": "WIDGET-L-BLU", "quantity": 150, "warehouseId": 5, "location": "Aisle-B-Shelf-3"},
        {"sku": "WIDGET-L-RED", "quantity": 40, "warehouseId": 0, "costPrice": 12.99},
    ],
    response_example={
        "created": 1,
        "updated": 1,
        "failed": 0,
        "results": [
            {"index": 0, "id": 42, "status": "updated", "error": None},
            {"index": 1, "id": 44, "status": "created", "error": None},
        ],
    },
    description=(
        f"A JSON array of up to {MAX_BULK} records, inserted or updated by the uniqueness key (productId, "
        "supplier, supplierCode, location, warehouseId, companyId). Each names its product by the lookup key's "
        "field (`productId`, `sku`, or `sourceId` with `?source=`). Every record is validated first; the answer "
        "lists each one's outcome, 207 when some failed, 200 otherwise. `inventoryType` local: supplier is INTERN "
        "whatever was sent, and the quantity becomes the company's on-hand stock through one `count` movement per "
        "record; supplier: `supplier` is required and never INTERN. Reads and writes are batched (transactions "
        "of up to 100 writes): a failed transaction fails only its own records. Permission: inventory.write."
    ),
)
def bulk_upsert(call: Call) -> Reply:
    kind = inventory_type(call.path["inventoryType"])
    key = lookup_key(call.path["lookupKey"])
    query: SourceQuery = call.query
    result = multisource_service().bulk_upsert(
        call.tenant_id, key, kind, call.body, call.actor, source=query.source, command_id=call.command_id
    )
    return Reply(body=result, status=207 if result.failed else 200)


@endpoint(
    multisource,
    "/v2/products",
    "POST",
    permissions=[Permission.PRODUCTS_WRITE],
    summary="Create a product",
    tag=TAG,
    body=ProductCreate,
    response=ProductView,
    status=201,
    extension=True,
    example={"sku": "WIDGET-L-BLU", "name": "Widget large blue", "sourceIds": {"shop": "A-17"}},
    response_example={
        "productId": 1001,
        "id": "6f1c2b1e-4f7d-4c1a-9d5e-0b8f3a2c7e11",
        "sku": "WIDGET-L-BLU",
        "name": "Widget large blue",
        "sourceIds": {"shop": "A-17"},
        "createdAt": "2025-01-15T10:30:00.000Z",
        "lastModifiedAt": "2025-01-15T10:30:00.000Z",
    },
    description=(
        f"{EXTENSION}Creates a catalog product (the same product every other API shows) with its SKU (unique) "
        "and its ids in outside systems (`sourceIds`, each unique per source): 201 with its numeric `productId`. "
        "A taken SKU or source id is a 409. Permission: products.write."
    ),
)
def create_product(call: Call) -> Reply:
    body: ProductCreate = call.body
    view = multisource_service().create_product(call.tenant_id, body.sku, body.name, body.sourceIds, call.actor)
    return Reply(body=view)


@endpoint(
    multisource,
    PRODUCT,
    "GET",
    permissions=[Permission.PRODUCTS_READ],
    summary="Get a product by lookup key",
    tag=TAG,
    query=SourceQuery,
    response=ProductView,
    extension=True,
    response_example={
        "productId": 1001,
        "id": "6f1c2b1e-4f7d-4c1a-9d5e-0b8f3a2c7e11",
        "sku": "WIDGET-L-BLU",
        "name": "Widget large blue",
        "sourceIds": {"shop": "A-17"},
        "createdAt": "2025-01-15T10:30:00.000Z",
        "lastModifiedAt": "2025-01-15T10:30:00.000Z",
    },
    description=f"{EXTENSION}{LOOKUP} Permission: products.read.",
)
def get_product(call: Call) -> ProductView:
    return multisource_service().get_product(call.tenant_id, _ref(call))
