"""001 put-away: `GET/POST /api/inventory/put-away`. Rules: `features/putaway` (workflow
`core/workflows.PUT_AWAY`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from chalicelib.core.workflows import PUT_AWAY, transition_out
from chalicelib.features.putaway import PutAwayTask
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import BIN_ID, LOCATION_ID, LOT_ID, PAGING, PRODUCT_ID, READ, WRITE
from chalicelib.surfaces.warehouse.models import Id, In, Number, Page, PageQuery, page
from chalicelib.surfaces.warehouse.responses import PutAwayOut
from chalicelib.wiring import putaway_service

TAG = "Warehouse: put-away"
TASK_ID = "5b7d9f1a-3c5e-4a7c-8e9a-1c3e5a7b9d1f"
STORAGE_BIN = "7c9e1a3b-5d7f-4c9e-8a1c-3e5a7c9b1d3f"


class PutAwayIn(In):
    """Create `{productMasterId, fromBinId, quantity, lotId?, toBinId?}` or complete `{taskId, action, toBinId?}`."""

    productMasterId: Id | None = None
    fromBinId: Id | None = None
    quantity: Number | None = Field(None, gt=0)
    lotId: Id | None = None
    toBinId: Id | None = None
    taskId: Id | None = None
    action: Literal["complete", "cancel"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PutAwayIn:
        if self.taskId is None:
            for name in ("productMasterId", "fromBinId", "quantity"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name} is required to create a task")
        elif self.action is None:
            raise ValueError("action is required with taskId")
        return self


class TasksQuery(PageQuery):
    status: Literal["open", "completed", "cancelled"] | None = None


def task_out(t: PutAwayTask) -> dict[str, Any]:
    return {
        "id": t.task_id,
        "taskId": t.task_id,
        "productMasterId": t.product_id,
        "locationId": t.location_id,
        "fromBinId": t.from_bin_id,
        "toBinId": t.to_bin_id,
        "suggested": t.suggested,
        "lotId": t.lot_id,
        "quantity": t.quantity,
        "status": t.status,
        "allowedTransitions": PUT_AWAY.allowed(t.status),
        "history": [transition_out(h) for h in t.history],
        "createdBy": {"id": t.created_by_id, "name": t.created_by_name},
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
        "version": t.version,
    }


TASK = {
    "id": TASK_ID,
    "taskId": TASK_ID,
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "fromBinId": BIN_ID,
    "toBinId": STORAGE_BIN,
    "suggested": True,
    "lotId": LOT_ID,
    "quantity": 24,
    "status": "open",
    "allowedTransitions": ["complete", "cancel"],
    "history": [],
    "createdBy": {"id": "key-1", "name": "Receiving"},
    "createdAt": "2026-12-06T09:00:00Z",
    "updatedAt": "2026-12-06T09:00:00Z",
    "version": 1,
}


@endpoint(
    warehouse,
    "/api/inventory/put-away",
    "POST",
    permissions=WRITE,
    summary="Create put-away task",
    tag=TAG,
    body=PutAwayIn,
    status=201,
    example={"productMasterId": PRODUCT_ID, "fromBinId": BIN_ID, "quantity": 24, "lotId": LOT_ID},
    response=PutAwayOut,
    response_example=TASK,
    description=(
        "Creates a task `{productMasterId, fromBinId, quantity, lotId?, toBinId?}`: without `toBinId` the "
        "suggested bin is a bin of the location already holding the product and lot (with room), else the "
        "emptiest storage bin with room (`suggested: true`; none is a 409 naming `toBinId`). Less available in "
        '`fromBinId` is a 409. `{taskId, action: "complete", toBinId?}` completes it: the stock moves from '
        'the source bin to the target bin in one transaction with the task; `{taskId, action: "cancel"}` '
        "cancels it. An action its state does not allow is a 409 naming the state and the allowed transitions. "
        "Permission: inventory.write."
    ),
)
def put_away(call: Call) -> dict[str, Any]:
    b: PutAwayIn = call.body
    service = putaway_service()
    if b.taskId is not None:
        assert b.action is not None
        return task_out(service.act(call.tenant_id, b.taskId, b.action, call.actor, to_bin_id=b.toBinId))
    assert b.productMasterId and b.fromBinId and b.quantity is not None
    created = service.create(
        call.tenant_id,
        b.productMasterId,
        b.fromBinId,
        b.quantity,
        call.actor,
        lot_id=b.lotId,
        to_bin_id=b.toBinId,
        command_id=call.command_id,
    )
    return task_out(created)


@endpoint(
    warehouse,
    "/api/inventory/put-away",
    "GET",
    permissions=READ,
    summary="List put-away tasks",
    tag=TAG,
    query=TasksQuery,
    response=Page,
    response_example={"data": [TASK], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=f"Tasks, newest first, filtered by `status` (open, completed, cancelled). {PAGING} "
    "Permission: inventory.read.",
)
def list_tasks(call: Call) -> dict[str, Any]:
    q: TasksQuery = call.query
    return page([task_out(t) for t in putaway_service().tasks(call.tenant_id, q.status)], q)
