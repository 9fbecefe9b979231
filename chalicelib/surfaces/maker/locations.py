"""002 locations: `/api/locations` (documented GET; create, read one, update and delete added in its style)."""

from __future__ import annotations

from typing import Any

from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.maker import maker
from chalicelib.surfaces.maker.common import (
    BASE,
    EXTENSION,
    INVENTORY_READ,
    INVENTORY_WRITE,
    PAGING,
    TAG_LOCATIONS,
    PageQuery,
    page_example,
    page_of,
)
from chalicelib.surfaces.maker.models import LocationCreate, LocationOut, LocationPage, LocationPatch, location_out
from chalicelib.wiring import catalog_service

LOCATIONS = f"{BASE}/locations"
LOCATION = f"{LOCATIONS}/{{id}}"
MAIN = {
    "id": "loc_789",
    "name": "Main Warehouse",
    "isDefault": True,
    "hideMaterials": False,
    "address1": "123 Storage St",
    "address2": "Unit 5",
    "city": "Portland",
    "state": "OR",
    "zip": "97201",
    "country": "US",
    "version": 1,
    "warehouseId": 0,
}
STORE = {
    "id": "loc_790",
    "name": "Retail Store",
    "isDefault": False,
    "hideMaterials": True,
    "address1": "456 Main St",
    "address2": None,
    "city": "Portland",
    "state": "OR",
    "zip": "97202",
    "country": "US",
    "version": 1,
    "warehouseId": 3,
}
SHARED = (
    "Locations are the company's core locations: the same places every other API shows (000 stock locations, "
    "001 locations), with their addresses."
)


@endpoint(
    maker,
    LOCATIONS,
    "GET",
    permissions=INVENTORY_READ,
    summary="Get Locations",
    tag=TAG_LOCATIONS,
    query=PageQuery,
    response=LocationPage,
    description=(
        f"Returns a paginated list of locations. {PAGING} {SHARED} Every company has exactly one default "
        "location (`isDefault`), where stock without a location goes. Permission: inventory.read."
    ),
    response_example=page_example(MAIN, STORE, total=2),
)
def list_locations(call: Call) -> dict[str, Any]:
    query: PageQuery = call.query
    found = catalog_service().location_page(call.tenant_id, query.offset, query.limit, call.actor)
    return page_of(found, location_out, query)


@endpoint(
    maker,
    LOCATIONS,
    "POST",
    permissions=INVENTORY_WRITE,
    summary="Create Location",
    tag=TAG_LOCATIONS,
    body=LocationCreate,
    response=LocationOut,
    status=201,
    extension=True,
    example={k: v for k, v in STORE.items() if k not in {"id", "isDefault", "version"}},
    response_example=STORE,
    description=(
        f"{EXTENSION}Creates a location: `name` (unique in the company, any case: 409 when taken), "
        "`hideMaterials`, and the address fields. `isDefault` is the server's: the default location is made with "
        "the company. 201 with the location. Permission: inventory.write."
    ),
)
def create_location(call: Call) -> Reply:
    body: LocationCreate = call.body
    location = catalog_service().create_location(call.tenant_id, body.changes(), call.actor)
    return Reply(body=location_out(location))


@endpoint(
    maker,
    LOCATION,
    "GET",
    permissions=INVENTORY_READ,
    summary="Get Location",
    tag=TAG_LOCATIONS,
    response=LocationOut,
    extension=True,
    response_example=MAIN,
    description=f"{EXTENSION}One location by ID (404 when unknown, deleted or another company's). "
    "Permission: inventory.read.",
)
def get_location(call: Call) -> dict[str, Any]:
    return location_out(catalog_service().active_location(call.tenant_id, call.path["id"]))


@endpoint(
    maker,
    LOCATION,
    "PATCH",
    permissions=INVENTORY_WRITE,
    summary="Update Location",
    tag=TAG_LOCATIONS,
    body=LocationPatch,
    response=LocationOut,
    extension=True,
    example={"name": "Retail Store (downtown)", "hideMaterials": False, "address2": "Suite 2"},
    response_example=STORE,
    description=(
        f"{EXTENSION}Changes the fields sent (null clears an address field; `name` cannot be emptied and must stay "
        "unique). A renamed location keeps its stock: `locationStockLevels` show the new name. `version` guards "
        "against a lost update (stale -> 409). Permission: inventory.write."
    ),
)
def update_location(call: Call) -> dict[str, Any]:
    body: LocationPatch = call.body
    catalog = catalog_service()
    current = catalog.active_location(call.tenant_id, call.path["id"])
    updated = catalog.update_location(
        call.tenant_id, current.location_id, body.changes(current), call.actor, body.version
    )
    return location_out(updated)


@endpoint(
    maker,
    LOCATION,
    "DELETE",
    permissions=INVENTORY_WRITE,
    summary="Delete Location",
    tag=TAG_LOCATIONS,
    status=204,
    extension=True,
    description=(
        f"{EXTENSION}Soft delete, 204. Refused (400) for the default location and while any stock is there "
        "(move it or count it out first). Its name is free again afterwards. Permission: inventory.write."
    ),
)
def delete_location(call: Call) -> Reply:
    catalog_service().delete_location(call.tenant_id, call.path["id"], call.actor)
    return Reply(status=204)
