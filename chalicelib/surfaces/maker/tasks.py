"""002 production tasks and batches: `/api/tasks...` and `/api/task-batches/{id}`."""

from __future__ import annotations

from typing import Any

from chalicelib.features.production import ItemDraft, TaskChanges, TaskDraft, TaskStatus
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.maker import maker
from chalicelib.surfaces.maker.common import (
    BASE,
    PAGING,
    TAG_TASKS,
    TASKS_READ,
    TASKS_WRITE,
    number_id,
    page_example,
    page_of,
)
from chalicelib.surfaces.maker.models import (
    BatchIn,
    BatchOut,
    TaskCreate,
    TaskOut,
    TaskPage,
    TaskPatch,
    TaskQuery,
    task_out,
)
from chalicelib.wiring import production_service

TASKS = f"{BASE}/tasks"
TASK = f"{TASKS}/{{id}}"
BATCHES = f"{TASK}/items/{{item_id}}/batches"
BATCH = f"{BASE}/task-batches/{{id}}"

TASK_EXAMPLE = {
    "id": "3b0f6d5e-2a8c-4f0e-8d7b-9c1e2a3f4b5c",
    "name": "Produce 50 Candles",
    "status": "pending",
    "order": 1,
    "LocationId": "loc_789",
    "UserId": "user_456",
    "due": "2024-03-15T10:00:00Z",
    "completedAt": None,
    "notes": "Rush order for weekend market",
    "createdAt": "2024-03-01T09:00:00Z",
    "updatedAt": "2024-03-01T09:00:00Z",
    "Items": [
        {
            "id": 1,
            "ResourceId": "asdf123",
            "quantity": 50,
            "unitType": "pieces",
            "completed": False,
            "Product": {
                "id": "asdf123",
                "name": "Handmade Candle",
                "sku": "CANDLE-001",
                "unitType": "pieces",
                "stockLevel": 45,
                "type": "product",
            },
            "Batches": [
                {
                    "id": 1,
                    "UserId": "user_456",
                    "quantity": 25,
                    "createdAt": "2024-03-02T14:30:00Z",
                    "updatedAt": "2024-03-02T14:30:00Z",
                }
            ],
        }
    ],
    "version": 2,
}
ITEMS = (
    "Items name their resource `ProductId` in requests and show it as `ResourceId`, with `Product` (its id, name, "
    "sku, unitType, stockLevel and type: product or material) and `Batches`. Item and batch ids are integers. An "
    "item is `completed` when its batches reach its quantity; a task whose items are all completed becomes `done` "
    "with `completedAt` set."
)


@endpoint(
    maker,
    TASKS,
    "GET",
    permissions=TASKS_READ,
    summary="Get Tasks",
    tag=TAG_TASKS,
    query=TaskQuery,
    response=TaskPage,
    description=(
        f"Returns a paginated list of tasks, by `order`. {PAGING} Filters: `status` (pending, in-progress, done) "
        "and `UserId` (a user's ID or email address; an unknown one matches no task); `totalCount` counts the "
        f"filtered list. Deleted tasks are never listed. {ITEMS} Permission: tasks.read."
    ),
    response_example=page_example(TASK_EXAMPLE, total=25),
)
def list_tasks(call: Call) -> dict[str, Any]:
    query: TaskQuery = call.query
    status = TaskStatus(query.status) if query.status else None
    found = production_service().task_page(call.tenant_id, query.offset, query.limit, status, query.UserId)
    return page_of(found, task_out, query)


@endpoint(
    maker,
    TASK,
    "GET",
    permissions=TASKS_READ,
    summary="Get Task",
    tag=TAG_TASKS,
    response=TaskOut,
    response_example=TASK_EXAMPLE,
    description=f"Returns a single task by ID (404 when unknown, deleted or another company's). {ITEMS} "
    "Permission: tasks.read.",
)
def get_task(call: Call) -> dict[str, Any]:
    return task_out(production_service().task(call.tenant_id, call.path["id"]))


@endpoint(
    maker,
    TASKS,
    "POST",
    permissions=TASKS_WRITE,
    summary="Create Task",
    tag=TAG_TASKS,
    body=TaskCreate,
    response=TaskOut,
    status=201,
    example={
        "name": "Produce 50 Candles",
        "Assignee": "user@example.com",
        "Items": [{"ProductId": "asdf123", "quantity": 50, "unitType": "pieces"}],
        "LocationId": "loc_789",
        "due": "2024-03-15T10:00:00Z",
        "notes": "Rush order for weekend market",
        "status": "pending",
    },
    response_example={**TASK_EXAMPLE, "Items": [{**TASK_EXAMPLE["Items"][0], "Batches": []}], "version": 1},  # type: ignore[index]
    description=(
        "Creates a task; `order` numbers the company's tasks 1, 2, ... `Items` cannot be empty (at most 50); each "
        "item's `quantity` must be > 0 and its `ProductId` a product or material of this company (400 naming "
        "`Items[i].ProductId`; a bundle cannot be produced: its stock is derived). An item's `unitType` defaults "
        "to the resource's own unit (pieces for most) and must be of the same dimension (grams for a material "
        "kept in kg, not litres: 400 naming `Items[i].unitType`). `Assignee` takes a user ID or the email of a "
        "user of this company, `UserId` a user ID (400 when unknown); `LocationId` an active location of this "
        "company (400 when unknown). Batches are made at the task's location, or at the default location when it "
        "has none. Permission: tasks.write."
    ),
)
def create_task(call: Call) -> Reply:
    body: TaskCreate = call.body
    draft = TaskDraft(
        name=body.name,
        items=[ItemDraft(i.ProductId, i.quantity, i.unitType) for i in body.Items],
        assignee=body.Assignee,
        user_id=body.UserId,
        location_id=body.LocationId,
        due=body.due,
        notes=body.notes,
        status=TaskStatus(body.status),
    )
    return Reply(body=task_out(production_service().create_task(call.tenant_id, draft, call.actor)))


@endpoint(
    maker,
    TASK,
    "PATCH",
    permissions=TASKS_WRITE,
    summary="Update Task",
    tag=TAG_TASKS,
    body=TaskPatch,
    response=TaskOut,
    example={
        "name": "Produce 75 Candles",
        "Assignee": "newuser@example.com",
        "status": "in-progress",
        "LocationId": "loc_790",
        "due": "2024-03-16T10:00:00Z",
        "notes": "Updated quantity and deadline",
    },
    response_example={**TASK_EXAMPLE, "name": "Produce 75 Candles", "status": "in-progress"},
    description=(
        "Updates the fields sent: `name` (cannot be empty), `Assignee` / `UserId` (null unassigns), `status` "
        "(done sets completedAt, leaving done clears it), `LocationId`, `due`, `notes` (null unsets). Send the "
        "`version` you read to guard against a lost update (stale -> 409); without it the write is still guarded "
        "on the version the server read. Permission: tasks.write."
    ),
)
def update_task(call: Call) -> dict[str, Any]:
    body: TaskPatch = call.body
    given = {
        "name": "name",
        "Assignee": "assignee",
        "UserId": "user_id",
        "status": "status",
        "LocationId": "location_id",
        "due": "due",
        "notes": "notes",
    }
    changes = TaskChanges(
        given=frozenset(core for doc, core in given.items() if doc in body.model_fields_set),
        name=body.name,
        assignee=body.Assignee,
        user_id=body.UserId,
        status=TaskStatus(body.status) if body.status else None,
        location_id=body.LocationId,
        due=body.due,
        notes=body.notes,
        version=body.version,
    )
    return task_out(production_service().update_task(call.tenant_id, call.path["id"], changes, call.actor))


@endpoint(
    maker,
    TASK,
    "DELETE",
    permissions=TASKS_WRITE,
    summary="Delete Task",
    tag=TAG_TASKS,
    status=204,
    description=(
        "Deletes a task (soft delete), 204. It leaves every list and count; its batches and the stock they "
        "produced and consumed stay. Permission: tasks.write."
    ),
)
def delete_task(call: Call) -> Reply:
    production_service().delete_task(call.tenant_id, call.path["id"], call.actor)
    return Reply(status=204)


@endpoint(
    maker,
    BATCHES,
    "POST",
    permissions=TASKS_WRITE,
    summary="Create Task Batch",
    tag=TAG_TASKS,
    body=BatchIn,
    response=BatchOut,
    status=201,
    example={"quantity": 25},
    response_example={
        "id": 1,
        "TaskResourceId": 1,
        "UserId": None,
        "quantity": 25,
        "createdAt": "2024-03-02T14:30:00Z",
        "updatedAt": "2024-03-02T14:30:00Z",
    },
    description=(
        "Creates a production batch for a task item, in ONE transaction: `quantity` (> 0, in the item's "
        "unitType, converted exactly to the resource's unit) of the item's resource is added at the task's "
        "location (the default location when it has none), and each material of its bill of materials is "
        "consumed there (`quantityUsed` x the quantity, in the material's unit; an infinite material is never "
        "consumed; a bundle material stands for its components). If any material is short it is a 400 naming "
        "the material, and nothing changes; two batches racing for the last of a material never both succeed. "
        "`UserId` (extension) names who produced it. Answers 201 with the batch. Permission: tasks.write."
    ),
)
def create_batch(call: Call) -> Reply:
    body: BatchIn = call.body
    item_id = number_id(call.path["item_id"], "task item")
    batch = production_service().create_batch(
        call.tenant_id,
        call.path["id"],
        item_id,
        body.quantity,
        call.actor,
        user=body.UserId,
        command_id=call.command_id,
    )
    return Reply(
        body={
            "id": batch.batch_id,
            "TaskResourceId": batch.item_id,
            "UserId": batch.user_id,
            "quantity": batch.quantity,
            "createdAt": batch.created_at,
            "updatedAt": batch.updated_at,
        }
    )


@endpoint(
    maker,
    BATCH,
    "DELETE",
    permissions=TASKS_WRITE,
    summary="Delete Task Batch",
    tag=TAG_TASKS,
    status=204,
    description=(
        "Deletes a task batch and reverses its production exactly, in one transaction: the produced quantity is "
        "taken back from the stock record it went to and every material given back to the records it came "
        "from. A 400 when the produced stock is no longer there to remove. The task's items and status follow "
        "(a done task whose item is no longer complete is in-progress again). 204. Permission: tasks.write."
    ),
)
def delete_batch(call: Call) -> Reply:
    production_service().delete_batch(call.tenant_id, number_id(call.path["id"], "batch"), call.actor)
    return Reply(status=204)
