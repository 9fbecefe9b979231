"""001 bins (extension): `GET/POST /api/inventory/bins`."""

from __future__ import annotations

from typing import Any

from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import BIN_ID, EXTENSION, LOCATION_ID, PAGING, READ, TAG_BINS, WRITE
from chalicelib.surfaces.warehouse.models import BinIn, BinsQuery, Page, bin_out, page
from chalicelib.surfaces.warehouse.responses import BinOut
from chalicelib.wiring import catalog_service

BIN = {
    "id": BIN_ID,
    "locationId": LOCATION_ID,
    "code": "A-01-03",
    "zone": "A",
    "type": "storage",
    "capacity": 500,
    "createdAt": "2026-12-06T09:30:00Z",
}


@endpoint(
    warehouse,
    "/api/inventory/bins",
    "POST",
    permissions=WRITE,
    summary="Create bin",
    tag=TAG_BINS,
    body=BinIn,
    status=201,
    extension=True,
    example={"locationId": LOCATION_ID, "code": "A-01-03", "zone": "A", "type": "storage", "capacity": 500},
    response=BinOut,
    response_example=BIN,
    description=(
        f"{EXTENSION}A bin of a location: `code` unique per location in any case (409 naming `code`), `zone`, "
        "`type` (receiving, storage, picking, quarantine, destruction; default storage), `capacity`. Another "
        "company's location is a 400 naming `locationId`. Permission: inventory.write."
    ),
)
def create_bin(call: Call) -> dict[str, Any]:
    body: BinIn = call.body
    created = catalog_service().create_bin(
        call.tenant_id,
        body.locationId,
        body.code,
        call.actor,
        zone=body.zone,
        type=body.type,
        capacity=body.capacity,
        bin_id=call.command_id,
    )
    return bin_out(created)


@endpoint(
    warehouse,
    "/api/inventory/bins",
    "GET",
    permissions=READ,
    summary="List bins",
    tag=TAG_BINS,
    query=BinsQuery,
    response=Page,
    extension=True,
    response_example={"data": [BIN], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=f"{EXTENSION}The company's bins (of `locationId` when given), by location and code. {PAGING} "
    "Permission: inventory.read.",
)
def list_bins(call: Call) -> dict[str, Any]:
    query: BinsQuery = call.query
    service = catalog_service()
    found = (
        service.list_bins(call.tenant_id, query.locationId)
        if query.locationId
        else service.list_all_bins(call.tenant_id)
    )
    found = sorted((b for b in found if b.active), key=lambda b: (b.location_id, b.code.casefold()))
    return page([bin_out(b) for b in found], query)
