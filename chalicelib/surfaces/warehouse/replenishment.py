"""001 replenishment: `/api/inventory/replenishment` (records), `.../config`, `.../suggestions`.
Rules: `features/replenishment` (workflow `core/workflows.REPLENISHMENT`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.workflows import REPLENISHMENT, transition_out
from chalicelib.features.replenishment import (
    ConfigFilter,
    Method,
    Replenishment,
    ReplenishmentConfig,
    Suggestion,
)
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import LOCATION_ID, PAGING, PRODUCT_ID
from chalicelib.surfaces.warehouse.models import Id, In, Number, Page, PageQuery, Text, page
from chalicelib.surfaces.warehouse.responses import ReplenishmentConfigOut, ReplenishmentOut, SuggestionsOut
from chalicelib.wiring import replenishment_service

TAG = "Warehouse: replenishment"
READ = [Permission.REPLENISHMENT_READ]
WRITE = [Permission.REPLENISHMENT_WRITE]
RECORD_ID = "0a2c4e6f-8b0d-4f2a-9c4e-6a8c0e2f4b6d"
SOURCE = "2c4e6a8f-0b1d-4e3f-9a5c-7e9f1b3d5a7c"
TRANSFER_ID = "8e0a2c4f-6b8d-4a0c-9e2a-4c6e8a0b2d4f"


class ConfigIn(In):
    productMasterId: Id
    locationId: Id
    method: Method = Method.MIN_MAX
    minQuantity: Number = Field(ge=0)
    maxQuantity: Number = Field(ge=0)
    reorderQuantity: Number | None = Field(None, gt=0)
    packSize: Number | None = Field(None, gt=0)
    leadTimeDays: int | None = Field(None, ge=0, le=3650)
    safetyStock: Number | None = Field(None, ge=0)
    sourceLocationId: Id | None = None


class ConfigQuery(PageQuery):
    productMasterId: Id | None = None
    locationId: Id | None = None


class SuggestionsIn(In):
    locationId: Id | None = None


class RecordIn(In):
    """Create `{productMasterId, locationId, quantity, sourceLocationId?}`, or move one `{recordId, action}`."""

    productMasterId: Id | None = None
    locationId: Id | None = None
    quantity: Number | None = Field(None, gt=0)
    sourceLocationId: Id | None = None
    recordId: Id | None = None
    action: Literal["order", "receive", "cancel"] | None = None
    comment: Text | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RecordIn:
        if self.recordId is None:
            for name in ("productMasterId", "locationId", "quantity"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name} is required to create a record")
        elif self.action is None:
            raise ValueError("action is required with recordId")
        return self


class RecordsQuery(PageQuery):
    status: Literal["open", "ordered", "received", "cancelled"] | None = None
    productMasterId: Id | None = None
    locationId: Id | None = None


def config_out(c: ReplenishmentConfig) -> dict[str, Any]:
    return {
        "productMasterId": c.product_id,
        "locationId": c.location_id,
        "method": c.method.value,
        "minQuantity": c.min_quantity,
        "maxQuantity": c.max_quantity,
        "reorderQuantity": c.reorder_quantity,
        "packSize": c.pack_size,
        "leadTimeDays": c.lead_time_days,
        "safetyStock": c.safety_stock,
        "sourceLocationId": c.source_location_id,
        "updatedAt": c.updated_at,
        "version": c.version,
    }


def suggestion_out(s: Suggestion) -> dict[str, Any]:
    return {
        "productMasterId": s.product_id,
        "locationId": s.location_id,
        "available": s.available,
        "incoming": s.incoming,
        "reorderPoint": s.reorder_point,
        "suggestedQuantity": s.suggested_quantity,
        "sourceLocationId": s.source_location_id,
        "reason": s.reason,
    }


def record_out(r: Replenishment) -> dict[str, Any]:
    return {
        "id": r.record_id,
        "productMasterId": r.product_id,
        "locationId": r.location_id,
        "quantity": r.quantity,
        "sourceLocationId": r.source_location_id,
        "transferId": r.transfer_id,
        "status": r.status,
        "allowedTransitions": REPLENISHMENT.allowed(r.status),
        "origin": r.origin,
        "reason": r.reason,
        "history": [transition_out(t) for t in r.history],
        "createdBy": {"id": r.created_by_id, "name": r.created_by_name},
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "version": r.version,
    }


CONFIG = {
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "method": "min_max",
    "minQuantity": 20,
    "maxQuantity": 100,
    "reorderQuantity": None,
    "packSize": 12,
    "leadTimeDays": 3,
    "safetyStock": None,
    "sourceLocationId": SOURCE,
    "updatedAt": "2026-12-06T09:00:00Z",
    "version": 1,
}
SUGGESTION = {
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "available": 8,
    "incoming": 0,
    "reorderPoint": 20,
    "suggestedQuantity": 96,
    "sourceLocationId": SOURCE,
    "reason": "available 8 + incoming 0 is below the reorder point 20",
}
RECORD = {
    "id": RECORD_ID,
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "quantity": 96,
    "sourceLocationId": SOURCE,
    "transferId": TRANSFER_ID,
    "status": "ordered",
    "allowedTransitions": ["receive", "cancel"],
    "origin": "manual",
    "reason": None,
    "history": [
        {
            "action": "order",
            "from": "open",
            "to": "ordered",
            "by": {"id": "key-1", "name": "Planner"},
            "at": "2026-12-06T09:00:00Z",
            "comment": f"transfer {TRANSFER_ID}",
        }
    ],
    "createdBy": {"id": "key-1", "name": "Planner"},
    "createdAt": "2026-12-06T09:00:00Z",
    "updatedAt": "2026-12-06T09:00:00Z",
    "version": 1,
}


@endpoint(
    warehouse,
    "/api/inventory/replenishment/config",
    "POST",
    permissions=WRITE,
    summary="Update replenishment configuration",
    tag=TAG,
    body=ConfigIn,
    example={k: v for k, v in CONFIG.items() if k not in {"updatedAt", "version", "reorderQuantity", "safetyStock"}},
    response=ReplenishmentConfigOut,
    response_example=CONFIG,
    description=(
        "Sets the configuration of a product at a location (replacing what was there): `min_max` reorders up to "
        "`maxQuantity` when available + incoming falls below `minQuantity`; `reorder_point` reorders "
        "`reorderQuantity` (else up to max) below `minQuantity` + `safetyStock`. Quantities round up to `packSize`. "
        "With `sourceLocationId` records are fulfilled by a transfer from there. Permission: replenishment.write."
    ),
)
def set_config(call: Call) -> dict[str, Any]:
    b: ConfigIn = call.body
    config = ReplenishmentConfig(
        tenant_id=call.tenant_id,
        product_id=b.productMasterId,
        location_id=b.locationId,
        method=b.method,
        min_quantity=b.minQuantity,
        max_quantity=b.maxQuantity,
        reorder_quantity=b.reorderQuantity,
        pack_size=b.packSize,
        lead_time_days=b.leadTimeDays,
        safety_stock=b.safetyStock,
        source_location_id=b.sourceLocationId,
    )
    return config_out(replenishment_service().set_config(call.tenant_id, config, call.actor))


@endpoint(
    warehouse,
    "/api/inventory/replenishment/config",
    "GET",
    permissions=READ,
    summary="Get replenishment configuration",
    tag=TAG,
    query=ConfigQuery,
    response=Page,
    response_example={"data": [CONFIG], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=f"The configuration, by product and location, filtered by `productMasterId` and `locationId`. {PAGING} "
    "Permission: replenishment.read.",
)
def get_config(call: Call) -> dict[str, Any]:
    q: ConfigQuery = call.query
    found = replenishment_service().configs(call.tenant_id, ConfigFilter(q.productMasterId, q.locationId))
    return page([config_out(c) for c in found], q)


@endpoint(
    warehouse,
    "/api/inventory/replenishment/suggestions",
    "POST",
    permissions=READ,
    summary="Get replenishment suggestions",
    tag=TAG,
    body=SuggestionsIn,
    empty_body=True,
    example={"locationId": LOCATION_ID},
    response=SuggestionsOut,
    response_example={"data": [SUGGESTION]},
    description=(
        "For every configured pair (at `locationId` when given) whose available + incoming (outstanding "
        "replenishment records, transfers in transit) is below its reorder point: the quantity to order and why. "
        "Changes nothing. Permission: replenishment.read."
    ),
)
def suggestions(call: Call) -> dict[str, Any]:
    b: SuggestionsIn = call.body
    return {"data": [suggestion_out(s) for s in replenishment_service().suggestions(call.tenant_id, b.locationId)]}


@endpoint(
    warehouse,
    "/api/inventory/replenishment",
    "POST",
    permissions=WRITE,
    summary="Create replenishment record",
    tag=TAG,
    body=RecordIn,
    status=201,
    example={"productMasterId": PRODUCT_ID, "locationId": LOCATION_ID, "quantity": 96, "sourceLocationId": SOURCE},
    response=ReplenishmentOut,
    response_example=RECORD,
    description=(
        "Creates a record `{productMasterId, locationId, quantity, sourceLocationId?}` (from a suggestion or by "
        "hand): at most one open or ordered record per product and location (409 naming `productMasterId`). With "
        "`sourceLocationId` a draft transfer from there is created and the record is `ordered`. Or moves a record: "
        "`{recordId, action: order|receive|cancel}` (a transfer-backed record's receive ships and receives its "
        "transfer; cancel cancels it, returning what was in transit). An action its state does not allow is a 409 "
        "naming the state and the allowed transitions. Permission: replenishment.write."
    ),
)
def create_record(call: Call) -> dict[str, Any]:
    b: RecordIn = call.body
    service = replenishment_service()
    if b.recordId is not None:
        assert b.action is not None
        return record_out(service.act(call.tenant_id, b.recordId, b.action, call.actor, b.comment))
    assert b.productMasterId and b.locationId and b.quantity is not None
    created = service.create(
        call.tenant_id,
        b.productMasterId,
        b.locationId,
        b.quantity,
        call.actor,
        source_location_id=b.sourceLocationId,
        reason=b.comment,
        record_id=call.command_id,
    )
    return record_out(created)


@endpoint(
    warehouse,
    "/api/inventory/replenishment",
    "GET",
    permissions=READ,
    summary="List replenishment records",
    tag=TAG,
    query=RecordsQuery,
    response=Page,
    response_example={"data": [RECORD], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=f"Records, newest first, filtered by `status`, `productMasterId`, `locationId`. {PAGING} "
    "Permission: replenishment.read.",
)
def list_records(call: Call) -> dict[str, Any]:
    q: RecordsQuery = call.query
    found = replenishment_service().records(call.tenant_id, q.status, q.productMasterId, q.locationId)
    return page([record_out(r) for r in found], q)
