"""002 products and materials: `/api/products...` and `/api/materials...` (the same routes for each kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.catalog.resources import MAX_BOM_LINES, InitialStock
from chalicelib.core.errors import ValidationFailed
from chalicelib.features.production import LevelRequest
from chalicelib.http.asof import AS_OF, AsOfQuery
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.maker import maker
from chalicelib.surfaces.maker.common import (
    ADJUST,
    BASE,
    EXTENSION,
    PAGING,
    PRODUCTS_READ,
    PRODUCTS_WRITE,
    TAG_RESOURCES,
    PageQuery,
    page_example,
    page_of,
)
from chalicelib.surfaces.maker.models import (
    BlocksOut,
    ResourceCreate,
    ResourceOut,
    ResourcePage,
    ResourcePatch,
    StockLevelUpdate,
    blocks_out,
    resource_out,
)
from chalicelib.wiring import catalog_service, production_service

KINDS = {"products": "product", "materials": "material"}

CANDLE = {
    "id": "8f1c0e2a-4b7d-4c1e-9a53-0d2f7b1e6a10",
    "name": "Handmade Candle",
    "sku": "CANDLE-001",
    "stockLevel": 45,
    "unitType": "pieces",
    "unitPrice": 5.50,
    "minLevel": 10,
    "notes": "Vanilla scented",
    "retailPrice": 15.00,
    "wholesalePrice": 10.00,
    "ean": "1234567890123",
    "minimumQuantity": 1,
    "reorderURLs": ["https://example.com/reorder"],
    "locationStockLevels": {"Main Warehouse": 30, "Retail Store": 15},
    "productionType": "produced",
    "materials": [
        {
            "id": "2d6a1b9e-07c4-4f3a-b8e2-5c9d1a4f7e21",
            "name": "Soy Wax",
            "sku": "WAX-SOY",
            "unitType": "weight.lbs",
            "unitPrice": 3.25,
            "stockLevel": 100,
            "minLevel": 20,
            "quantityUsed": 0.5,
        }
    ],
    "version": 3,
    "createdAt": "2024-03-01T09:00:00Z",
    "updatedAt": "2024-03-02T14:30:00Z",
}
WAX = {
    "id": "2d6a1b9e-07c4-4f3a-b8e2-5c9d1a4f7e21",
    "name": "Soy Wax",
    "sku": "WAX-SOY",
    "stockLevel": 100,
    "unitType": "weight.lbs",
    "unitPrice": 3.25,
    "minLevel": 20,
    "notes": "Food grade soy wax",
    "retailPrice": None,
    "wholesalePrice": None,
    "ean": "9876543210987",
    "minimumQuantity": 10,
    "reorderURLs": ["https://supplier.com/wax"],
    "locationStockLevels": {"Main Warehouse": 80, "Production Floor": 20},
    "productionType": "supplied",
    "materials": [],
    "version": 1,
    "createdAt": "2024-02-20T08:00:00Z",
    "updatedAt": "2024-02-20T08:00:00Z",
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "products": {
        "out": CANDLE,
        "create": {
            "name": "Handmade Candle",
            "sku": "CANDLE-001",
            "unitType": "pieces",
            "unitPrice": 5.50,
            "minLevel": 10,
            "notes": "Vanilla scented",
            "retailPrice": 15.00,
            "wholesalePrice": 10.00,
            "productionType": "produced",
            "materials": [{"id": "2d6a1b9e-07c4-4f3a-b8e2-5c9d1a4f7e21", "quantityUsed": 0.5}],
            "initialStock": {"locationName": "Main Warehouse", "quantity": 30},
        },
        "patch": {
            "name": "Updated Product Name",
            "sku": "NEW-SKU",
            "unitPrice": 6.00,
            "minLevel": 15,
            "notes": "Updated notes",
            "retailPrice": 18.00,
            "reorderURLs": ["https://example.com/reorder-new"],
        },
        "level": {"quantity": 10, "locationName": "Main Warehouse", "updateType": "audit", "notes": "Weekly count"},
    },
    "materials": {
        "out": WAX,
        "create": {
            "name": "Soy Wax",
            "sku": "WAX-SOY",
            "unitType": "weight.lbs",
            "unitPrice": 3.25,
            "minLevel": 20,
            "notes": "Food grade soy wax",
            "productionType": "supplied",
            "reorderURLs": ["https://supplier.com/wax"],
            "initialStock": {"locationName": "Main Warehouse", "quantity": 80},
        },
        "patch": {"name": "Updated Material Name", "unitType": "weight.kg", "unitPrice": 4.00, "minLevel": 25},
        "level": {
            "quantity": 50,
            "locationName": "Main Warehouse",
            "updateType": "restock",
            "notes": "Received shipment from supplier",
        },
    },
}

FIELDS = (
    "`stockLevel` is the sum of `locationStockLevels`, which maps each location's name to the stock there, read "
    "from the company's stock records: a change made through any other API shows here. A bundle's stock is the "
    "smallest whole number of bundles its materials allow at each location."
)


def _register(path_word: str, kind: str) -> None:
    items = f"{BASE}/{path_word}"
    one = f"{items}/{{id}}"
    noun = kind
    examples = EXAMPLES[path_word]

    def named(name: str) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
        def rename(handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
            handler.__name__ = f"{name}_{path_word}"
            return handler

        return rename

    @endpoint(
        maker,
        items,
        "GET",
        permissions=PRODUCTS_READ,
        summary=f"Get {path_word.capitalize()}",
        tag=TAG_RESOURCES,
        query=PageQuery,
        response=ResourcePage,
        description=f"Returns a paginated list of {path_word}. {PAGING} {FIELDS} Permission: products.read.",
        response_example=page_example(examples["out"], total=150),
    )
    @named("list")
    def list_resources(call: Call) -> dict[str, Any]:
        query: PageQuery = call.query
        found = catalog_service().resource_page(call.tenant_id, kind, query.offset, query.limit)
        return page_of(found, resource_out, query)

    @endpoint(
        maker,
        items,
        "POST",
        permissions=PRODUCTS_WRITE,
        summary=f"Create {noun}",
        tag=TAG_RESOURCES,
        body=ResourceCreate,
        response=ResourceOut,
        status=201,
        extension=True,
        example=examples["create"],
        response_example=examples["out"],
        description=(
            f"{EXTENSION}Creates a {noun}: the PATCH fields plus `productionType` (infinite, single, produced, "
            f"supplied or bundle; default {'produced' if kind == 'product' else 'supplied'}), `materials` "
            f"(the bill of materials: `id` of a product or material of this company and `quantityUsed` in its "
            f"unit, at most {MAX_BOM_LINES}) and `initialStock` (`locationName`, `quantity`: the first stock "
            "movement, at the unitPrice). A bundle's unitType is `bundles`, set by the server; `bundles` cannot "
            "be sent. With an Idempotency-Key the id is derived from the key, so a retry cannot create twice. "
            "Answers 201 with the full object. Permission: products.write."
        ),
    )
    @named("create")
    def create_resource(call: Call) -> Reply:
        body: ResourceCreate = call.body
        _refuse_nulls(body)
        fields = body.changes()
        fields.setdefault("production_type", "produced" if kind == "product" else "supplied")
        initial = None
        if body.initialStock is not None:
            location_id = catalog_service().location_named(
                call.tenant_id, body.initialStock.locationName, "initialStock.locationName"
            )
            initial = InitialStock(location_id, body.initialStock.quantity)
        view = catalog_service().create_resource(
            call.tenant_id, kind, fields, call.actor, initial=initial, command_id=call.command_id
        )
        return Reply(body=resource_out(view))

    @endpoint(
        maker,
        one,
        "GET",
        permissions=PRODUCTS_READ,
        summary=f"Get {noun.capitalize()}",
        tag=TAG_RESOURCES,
        response=ResourceOut,
        query=AsOfQuery,
        response_example=examples["out"],
        description=f"Returns a single {noun} by ID (404 when it is unknown, deleted or another company's). "
        f"{FIELDS} {AS_OF} Permission: products.read.",
    )
    @named("get")
    def get_resource(call: Call) -> dict[str, Any]:
        query: AsOfQuery = call.query
        return resource_out(catalog_service().resource(call.tenant_id, kind, call.path["id"], as_of=query.asOf))

    @endpoint(
        maker,
        one,
        "PATCH",
        permissions=PRODUCTS_WRITE,
        summary=f"Update {noun.capitalize()}",
        tag=TAG_RESOURCES,
        body=ResourcePatch,
        response=ResourceOut,
        example=examples["patch"],
        response_example=examples["out"],
        description=(
            f"Updates a {noun}. All fields are optional; only the fields sent change (null clears an optional "
            "one). `unitPrice` can only be updated while the resource has no stock blocks from movements other "
            "than its initial stock (400 otherwise, saying why; see `.../stock-blocks`). `unitType` cannot be "
            "set to `bundles` nor changed from it, and a unit must be one of the documented values. Extensions: "
            "`materials` replaces the bill of materials; `productionType` may change, but never to or from "
            "bundle; `version` guards against a lost update (stale -> 409). Permission: products.write."
        ),
    )
    @named("update")
    def update_resource(call: Call) -> dict[str, Any]:
        body: ResourcePatch = call.body
        _refuse_nulls(body)
        view = catalog_service().update_resource(
            call.tenant_id, kind, call.path["id"], body.changes(), call.actor, body.version
        )
        return resource_out(view)

    @endpoint(
        maker,
        one,
        "DELETE",
        permissions=PRODUCTS_WRITE,
        summary=f"Delete {noun}",
        tag=TAG_RESOURCES,
        status=204,
        extension=True,
        description=(
            f"{EXTENSION}Soft delete, 204. Refused (400) while any of its stock is on hand or an open task "
            "(not done, not deleted) has an item producing it. The ledger and history stay. "
            "Permission: products.write."
        ),
    )
    @named("delete")
    def delete_resource(call: Call) -> Reply:
        production_service().delete_resource(call.tenant_id, kind, call.path["id"], call.actor)
        return Reply(status=204)

    @endpoint(
        maker,
        f"{one}/stock-level-updates",
        "POST",
        permissions=ADJUST,
        summary=f"Update {noun.capitalize()} Stock Level",
        tag=TAG_RESOURCES,
        body=StockLevelUpdate,
        response=ResourceOut,
        example=examples["level"],
        response_example=examples["out"],
        description=(
            f"Updates the stock level of a {noun} at a location, by the location's name (unknown: 400). "
            "audit sets the stock there to `quantity`; restock adds it; loss subtracts it (more than the stock "
            "available there is a 400 and changes nothing); custom does what the custom status `customStatusId` "
            "says (`set`, `add` or `subtract`; missing or unknown: 400). Each update is a ledger movement with its "
            "type and notes (one per stock record it touches), seen in the history and by every other API. A "
            "bundle's stock is derived and cannot be updated (400). Returns the updated resource. "
            "Permission: inventory.adjust."
        ),
    )
    @named("update_level")
    def update_level(call: Call) -> dict[str, Any]:
        body: StockLevelUpdate = call.body
        request = LevelRequest(
            quantity=body.quantity,
            location_name=body.locationName,
            update_type=body.updateType,
            notes=body.notes,
            custom_status_id=body.customStatusId,
        )
        view = production_service().update_stock_level(
            call.tenant_id, kind, call.path["id"], request, call.actor, call.command_id
        )
        return resource_out(view)

    @endpoint(
        maker,
        f"{one}/stock-blocks",
        "GET",
        permissions=PRODUCTS_READ,
        summary=f"Get {noun.capitalize()} Stock Blocks",
        tag=TAG_RESOURCES,
        response=BlocksOut,
        extension=True,
        description=(
            f"{EXTENSION}The open stock blocks, first in first out, derived from the ledger of all of the "
            f"{noun}'s stock records (whichever API moved the stock): every increase opened a block with its "
            "quantity and the unit price at the time, decreases drew the oldest first. The initial stock (the "
            "first stock movement) is valued at the current unitPrice; `totalValue` is the FIFO value. "
            "Transfers between locations move no block. Permission: products.read."
        ),
    )
    @named("blocks")
    def stock_blocks(call: Call) -> dict[str, Any]:
        catalog = catalog_service()
        product = catalog.active_resource(call.tenant_id, kind, call.path["id"])
        blocks = catalog.blocks(call.tenant_id, product)
        places = {b.location_id for b in blocks.open}
        names = {i: loc.name for i, loc in catalog.locations(call.tenant_id, sorted(places)).items()}
        return blocks_out(product, blocks, names)


def _refuse_nulls(body: Any) -> None:
    fields = body.null_required()
    if fields:
        raise ValidationFailed(
            f"{fields[0]} cannot be null", [{"field": name, "message": "cannot be null"} for name in fields]
        )


for _word, _kind in KINDS.items():
    _register(_word, _kind)
