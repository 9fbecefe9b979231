"""001 stock requests: every `/api/stock-requests...` route of the document, with its permission.
Rules: `features/stock_requests` (workflow `core/workflows.STOCK_REQUEST`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.workflows import transition_out
from chalicelib.features.stock_requests import MAX_LINES, LineIn, Priority, RequestFilter, StockRequest
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import LOCATION_ID, PAGING, PRODUCT_ID, STOCK_ID
from chalicelib.surfaces.warehouse.models import Id, In, Number, Page, PageQuery, Text, page
from chalicelib.surfaces.warehouse.responses import (
    CategoriesOut,
    DashboardOut,
    DeletedOut,
    FiltersOut,
    ProductMatchesOut,
    RequestLinesOut,
    RequestStatusOut,
    StocklistOut,
    StockRequestOut,
)
from chalicelib.wiring import stock_request_service

TAG = "Warehouse: stock requests"
READ = [Permission.STOCKREQUESTS_READ]
WRITE = [Permission.STOCKREQUESTS_WRITE]
APPROVE = [Permission.STOCKREQUESTS_APPROVE]
REQUEST_ID = "9c1e3a5b-7d9f-4b1d-8e3f-5a7c9e1b3d5f"
LINE_ID = "4e6a8c0b-2d4f-4a6c-9e8a-0c2e4a6b8d0f"
SOURCE = "2c4e6a8f-0b1d-4e3f-9a5c-7e9f1b3d5a7c"
Title = Field(min_length=1, max_length=200)


class RequestLineIn(In):
    productMasterId: Id
    quantity: Number = Field(gt=0)


class RequestIn(In):
    title: str = Title
    category: Text | None = None
    priority: Priority = Priority.NORMAL
    locationId: Id
    sourceLocationId: Id
    neededBy: date | None = None
    notes: Text | None = None
    lines: list[RequestLineIn] = Field(default_factory=list, max_length=MAX_LINES)


class RequestPatch(In):
    title: str | None = Field(None, min_length=1, max_length=200)
    category: Text | None = None
    priority: Priority | None = None
    locationId: Id | None = None
    sourceLocationId: Id | None = None
    neededBy: date | None = None
    notes: Text | None = None
    lines: list[RequestLineIn] | None = Field(None, max_length=MAX_LINES)


class CommentIn(In):
    text: str = Field(min_length=1, max_length=2000)


class TransitionIn(In):
    comment: Text | None = None


class ApproveIn(TransitionIn):
    partial: bool = False


class RejectIn(In):
    reason: str = Field(min_length=1, max_length=2000)


class StatusLineIn(In):
    lineId: Id
    quantity: Number = Field(gt=0)


class StatusIn(In):
    status: Literal["fulfilled", "cancelled"]
    lines: list[StatusLineIn] | None = Field(None, max_length=MAX_LINES)
    comment: Text | None = None


class RequestsQuery(PageQuery):
    status: Literal["draft", "submitted", "approved", "rejected", "fulfilled", "cancelled"] | None = None
    category: Text | None = None
    priority: Priority | None = None
    requestedBy: Id | None = None
    locationId: Id | None = None
    search: Text | None = None


class ProductSearchQuery(In):
    q: Text = ""
    locationId: Id | None = None
    limit: int = Field(50, ge=1, le=200)


class StocklistQuery(In):
    locationId: Id


def request_out(r: StockRequest) -> dict[str, Any]:
    return {
        "id": r.request_id,
        "number": r.reference,
        "title": r.title,
        "category": r.category,
        "priority": r.priority.value,
        "requestedBy": {"id": r.requested_by_id, "name": r.requested_by_name},
        "locationId": r.location_id,
        "sourceLocationId": r.source_location_id,
        "neededBy": r.needed_by,
        "notes": r.notes,
        "status": r.status,
        "allowedTransitions": stock_request_service().allowed(r),
        "rejectionReason": r.rejection_reason,
        "lines": [line_out(line) for line in r.lines],
        "comments": [
            {"id": c.comment_id, "text": c.text, "by": {"id": c.by_id, "name": c.by_name}, "at": c.at}
            for c in r.comments
        ],
        "history": [transition_out(t) for t in r.history],
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "version": r.version,
    }


def line_out(line: Any) -> dict[str, Any]:
    return {
        "id": line.line_id,
        "productMasterId": line.product_id,
        "quantity": line.quantity,
        "approvedQuantity": line.approved_quantity,
        "reservedQuantity": line.reserved,
        "fulfilledQuantity": line.fulfilled_quantity,
    }


def _lines(body_lines: list[RequestLineIn] | None) -> list[LineIn] | None:
    if body_lines is None:
        return None
    return [LineIn(line.productMasterId, line.quantity) for line in body_lines]


LINE = {
    "id": LINE_ID,
    "productMasterId": PRODUCT_ID,
    "quantity": 12,
    "approvedQuantity": 12,
    "reservedQuantity": 12,
    "fulfilledQuantity": 0,
}
EXAMPLE = {
    "id": REQUEST_ID,
    "number": "SR-000042",
    "title": "Kitchen restock",
    "category": "Kitchen",
    "priority": "high",
    "requestedBy": {"id": "key-1", "name": "Kitchen key"},
    "locationId": LOCATION_ID,
    "sourceLocationId": SOURCE,
    "neededBy": "2026-12-10",
    "notes": None,
    "status": "approved",
    "allowedTransitions": ["fulfil", "cancel", "rollback"],
    "rejectionReason": None,
    "lines": [LINE],
    "comments": [],
    "history": [
        {
            "action": "submit",
            "from": "draft",
            "to": "submitted",
            "by": {"id": "key-1", "name": "Kitchen key"},
            "at": "2026-12-06T09:30:00Z",
            "comment": None,
        },
        {
            "action": "approve",
            "from": "submitted",
            "to": "approved",
            "by": {"id": "key-2", "name": "Store manager"},
            "at": "2026-12-06T10:00:00Z",
            "comment": None,
        },
    ],
    "createdAt": "2026-12-06T09:00:00Z",
    "updatedAt": "2026-12-06T10:00:00Z",
    "version": 4,
}
DRAFT = {**EXAMPLE, "status": "draft", "allowedTransitions": ["submit", "cancel"], "history": [], "version": 1}
CREATE = {
    "title": "Kitchen restock",
    "category": "Kitchen",
    "priority": "high",
    "locationId": LOCATION_ID,
    "sourceLocationId": SOURCE,
    "neededBy": "2026-12-10",
    "lines": [{"productMasterId": PRODUCT_ID, "quantity": 12}],
}
PAGE = {"data": [EXAMPLE], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}}
STATE = "An action the request's state does not allow is a 409 naming the current state and the allowed transitions."


@endpoint(
    warehouse,
    "/api/stock-requests",
    "POST",
    permissions=WRITE,
    summary="Create a stock request",
    tag=TAG,
    body=RequestIn,
    status=201,
    example=CREATE,
    response=StockRequestOut,
    response_example=DRAFT,
    description=(
        "A draft request for stock at `locationId` from `sourceLocationId`, numbered `SR-000042` from the company's "
        "counter (a failed request leaves a gap). Lines are optional until submit. Another company's location or "
        "product is a 404 naming it. Permission: stockrequests.write."
    ),
)
def create_request(call: Call) -> dict[str, Any]:
    b: RequestIn = call.body
    fields = {
        "title": b.title.strip(),
        "category": b.category,
        "priority": b.priority,
        "location_id": b.locationId,
        "source_location_id": b.sourceLocationId,
        "needed_by": b.neededBy,
        "notes": b.notes,
    }
    created = stock_request_service().create(
        call.tenant_id, fields, _lines(b.lines) or [], call.actor, command_id=call.command_id
    )
    return request_out(created)


@endpoint(
    warehouse,
    "/api/stock-requests",
    "GET",
    permissions=READ,
    summary="List stock requests",
    tag=TAG,
    query=RequestsQuery,
    response=Page,
    response_example=PAGE,
    description=(
        "Requests, newest number first, filtered by `status`, `category`, `priority`, `requestedBy` (id or name), "
        f"`locationId` (either end) and `search` (title, number, notes). {PAGING} Permission: stockrequests.read."
    ),
)
def list_requests(call: Call) -> dict[str, Any]:
    q: RequestsQuery = call.query
    wanted = RequestFilter(q.status, q.category, q.priority, q.requestedBy, q.locationId, q.search)
    return page([request_out(r) for r in stock_request_service().find(call.tenant_id, wanted)], q)


@endpoint(
    warehouse,
    "/api/stock-requests/by-category",
    "GET",
    permissions=READ,
    summary="Get stock requests by category",
    tag=TAG,
    response=CategoriesOut,
    response_example={
        "data": [{"category": "Kitchen", "count": 3, "byStatus": {"approved": 1, "draft": 2}, "quantity": 40}]
    },
    description="Requests counted per category (null: none), by status, with the quantity asked. "
    "Permission: stockrequests.read.",
)
def by_category(call: Call) -> dict[str, Any]:
    return {"data": stock_request_service().by_category(call.tenant_id)}


@endpoint(
    warehouse,
    "/api/stock-requests/dashboard",
    "GET",
    permissions=READ,
    summary="Get stock requests dashboard data",
    tag=TAG,
    response=DashboardOut,
    response_example={
        "total": 4,
        "byStatus": {"draft": 1, "submitted": 1, "approved": 1, "fulfilled": 1, "cancelled": 0, "rejected": 0},
        "pendingApprovals": 1,
        "averageTimeToApproveSeconds": 1800.0,
        "topRequestedProducts": [{"productMasterId": PRODUCT_ID, "productName": "Flour", "quantity": 40}],
    },
    description="Counts per status, pending approvals (submitted), the average time from submit to approve, and "
    "the five most requested products. Permission: stockrequests.read.",
)
def dashboard(call: Call) -> dict[str, Any]:
    return stock_request_service().dashboard(call.tenant_id)


@endpoint(
    warehouse,
    "/api/stock-requests/filters",
    "GET",
    permissions=READ,
    summary="Get stock request filter options",
    tag=TAG,
    response=FiltersOut,
    response_example={
        "status": ["draft", "submitted", "approved", "rejected", "fulfilled", "cancelled"],
        "priority": ["low", "normal", "high", "urgent"],
        "category": ["Kitchen"],
        "requestedBy": [{"id": "key-1", "name": "Kitchen key"}],
        "locationId": [LOCATION_ID, SOURCE],
    },
    description="The values each list filter can take. Permission: stockrequests.read.",
)
def filters(call: Call) -> dict[str, Any]:
    return stock_request_service().filters(call.tenant_id)


@endpoint(
    warehouse,
    "/api/stock-requests/pending-approvals",
    "GET",
    permissions=APPROVE,
    summary="Get pending approvals",
    tag=TAG,
    query=PageQuery,
    response=Page,
    response_example={**PAGE, "data": [{**EXAMPLE, "status": "submitted", "canApprove": True}]},
    description=(
        "Submitted requests waiting for approval, oldest first; `canApprove` is false on the caller's own "
        f"submissions (whoever submitted cannot approve). {PAGING} Permission: stockrequests.approve."
    ),
)
def pending(call: Call) -> dict[str, Any]:
    q: PageQuery = call.query
    found = sorted(
        stock_request_service().find(call.tenant_id, RequestFilter(status="submitted")), key=lambda r: r.number
    )
    rows = [{**request_out(r), "canApprove": r.submitted_by_id != call.actor.id} for r in found]
    return page(rows, q)


@endpoint(
    warehouse,
    "/api/stock-requests/products/search",
    "GET",
    permissions=[Permission.STOCKREQUESTS_READ, Permission.PRODUCTS_READ],
    summary="Search products for stock requests",
    tag=TAG,
    query=ProductSearchQuery,
    response=ProductMatchesOut,
    response_example={
        "data": [
            {"productMasterId": PRODUCT_ID, "name": "Flour", "sku": "FL-1", "available": 120, "availableAtLocation": 40}
        ]
    },
    description=(
        "Active products whose name or SKU contains `q` (any case), with what is available everywhere and at "
        "`locationId` when given (in-transit stock is not available). Permissions: stockrequests.read and "
        "products.read."
    ),
)
def search_products(call: Call) -> dict[str, Any]:
    q: ProductSearchQuery = call.query
    found = stock_request_service().search_products(call.tenant_id, q.q, q.locationId, q.limit)
    return {
        "data": [
            {"productMasterId": p.product_id, "name": p.name, "sku": p.sku, "available": a, "availableAtLocation": h}
            for p, a, h in found
        ]
    }


@endpoint(
    warehouse,
    "/api/stock-requests/products/stocklist",
    "GET",
    permissions=READ,
    summary="Get stocklist for stock requests",
    tag=TAG,
    looks_up=True,
    query=StocklistQuery,
    response=StocklistOut,
    response_example={
        "locationId": SOURCE,
        "data": [
            {
                "productMasterId": PRODUCT_ID,
                "productName": "Flour",
                "sku": "FL-1",
                "available": 40,
                "records": [{"stockId": STOCK_ID, "binId": None, "lotId": None, "available": 40}],
            }
        ],
    },
    description="What `locationId` (required) can give: its products with stock available, by record. "
    "Permission: stockrequests.read.",
)
def stocklist(call: Call) -> dict[str, Any]:
    q: StocklistQuery = call.query
    data = []
    for product, records in stock_request_service().stocklist(call.tenant_id, q.locationId):
        data.append(
            {
                "productMasterId": records[0].product_id,
                "productName": product.name if product else records[0].name,
                "sku": product.sku if product else None,
                "available": sum((r.available for r in records), Decimal(0)),
                "records": [
                    {"stockId": r.stock_id, "binId": r.bin_id, "lotId": r.lot_id, "available": r.available}
                    for r in records
                ],
            }
        )
    return {"locationId": q.locationId, "data": data}


@endpoint(
    warehouse,
    "/api/stock-requests/{id}",
    "GET",
    permissions=READ,
    summary="Get a specific stock request",
    tag=TAG,
    response=StockRequestOut,
    response_example=EXAMPLE,
    description="One request with lines, comments, history and allowed transitions; another company's id is a 404. "
    "Permission: stockrequests.read.",
)
def get_request(call: Call) -> dict[str, Any]:
    return request_out(stock_request_service().get(call.tenant_id, call.path["id"]))


@endpoint(
    warehouse,
    "/api/stock-requests/{id}",
    "PATCH",
    permissions=WRITE,
    summary="Update a stock request",
    tag=TAG,
    body=RequestPatch,
    example={"priority": "urgent", "lines": [{"productMasterId": PRODUCT_ID, "quantity": 20}]},
    response=StockRequestOut,
    response_example=DRAFT,
    description="Changes the fields given (`lines` replaces them all), only while draft or rejected (else 409 "
    "naming the state). Permission: stockrequests.write.",
)
def patch_request(call: Call) -> dict[str, Any]:
    b: RequestPatch = call.body
    given = b.model_fields_set
    names = {
        "title": "title",
        "category": "category",
        "priority": "priority",
        "locationId": "location_id",
        "sourceLocationId": "source_location_id",
        "neededBy": "needed_by",
        "notes": "notes",
    }
    fields = {names[k]: getattr(b, k) for k in names if k in given}
    for required in ("title", "priority", "location_id", "source_location_id"):
        if required in fields and fields[required] is None:
            field = next(k for k, v in names.items() if v == required)
            raise ValidationFailed(f"{field} cannot be null", [{"field": field, "message": "must not be null"}])
    lines = _lines(b.lines) if "lines" in given else None
    return request_out(stock_request_service().update(call.tenant_id, call.path["id"], fields, lines, call.actor))


@endpoint(
    warehouse,
    "/api/stock-requests/{id}",
    "DELETE",
    permissions=WRITE,
    summary="Delete a stock request",
    tag=TAG,
    response=DeletedOut,
    response_example={"id": REQUEST_ID, "deleted": True},
    description="Deletes a draft or rejected request (else 409 naming the state). Permission: stockrequests.write.",
)
def delete_request(call: Call) -> dict[str, Any]:
    gone = stock_request_service().delete(call.tenant_id, call.path["id"], call.actor)
    return {"id": gone.request_id, "deleted": True}


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/lines",
    "GET",
    permissions=READ,
    summary="Get stock request lines",
    tag=TAG,
    response=RequestLinesOut,
    response_example={"data": [LINE]},
    description="The request's lines with approved, reserved and fulfilled quantities. Permission: stockrequests.read.",
)
def get_lines(call: Call) -> dict[str, Any]:
    return {"data": [line_out(line) for line in stock_request_service().get(call.tenant_id, call.path["id"]).lines]}


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/lines",
    "POST",
    permissions=WRITE,
    summary="Add line to stock request",
    tag=TAG,
    body=RequestLineIn,
    status=201,
    example={"productMasterId": PRODUCT_ID, "quantity": 5},
    response=StockRequestOut,
    response_example=DRAFT,
    description="Adds a line while draft or rejected (else 409); at most 30 lines. Permission: stockrequests.write.",
)
def add_line(call: Call) -> dict[str, Any]:
    b: RequestLineIn = call.body
    added = stock_request_service().add_line(
        call.tenant_id, call.path["id"], LineIn(b.productMasterId, b.quantity), call.actor
    )
    return request_out(added)


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/comment",
    "POST",
    permissions=WRITE,
    summary="Add comment to stock request",
    tag=TAG,
    body=CommentIn,
    status=201,
    example={"text": "Needed before the weekend"},
    response=StockRequestOut,
    response_example={
        **EXAMPLE,
        "comments": [
            {
                "id": LINE_ID,
                "text": "Needed before the weekend",
                "by": {"id": "key-1", "name": "Kitchen key"},
                "at": "2026-12-06T10:05:00Z",
            }
        ],
    },
    description="Adds a comment in any state. Permission: stockrequests.write.",
)
def comment(call: Call) -> dict[str, Any]:
    b: CommentIn = call.body
    return request_out(stock_request_service().comment(call.tenant_id, call.path["id"], b.text, call.actor))


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/submit",
    "POST",
    permissions=WRITE,
    summary="Submit a stock request",
    tag=TAG,
    body=TransitionIn,
    empty_body=True,
    example={"comment": "Please approve"},
    response=StockRequestOut,
    response_example={**EXAMPLE, "status": "submitted", "allowedTransitions": ["approve", "reject", "cancel"]},
    description=f"draft or rejected -> submitted; needs at least one line (400 naming `lines`). {STATE} "
    "Permission: stockrequests.write.",
)
def submit(call: Call) -> dict[str, Any]:
    b: TransitionIn = call.body
    return request_out(stock_request_service().submit(call.tenant_id, call.path["id"], call.actor, b.comment))


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/approve",
    "POST",
    permissions=APPROVE,
    summary="Approve a stock request",
    tag=TAG,
    body=ApproveIn,
    empty_body=True,
    example={"partial": False},
    response=StockRequestOut,
    response_example=EXAMPLE,
    description=(
        "submitted -> approved: every line is reserved at the source location (first expiry first for lots) in "
        "one transaction; short stock is a 409 `INSUFFICIENT_STOCK` naming `lines[i].quantity` unless "
        "`partial: true`, which reserves what there is. Two approvals racing for the last units never both "
        f"succeed. Whoever submitted the request cannot approve it (403). {STATE} Permission: stockrequests.approve."
    ),
)
def approve(call: Call) -> dict[str, Any]:
    b: ApproveIn = call.body
    approved = stock_request_service().approve(
        call.tenant_id, call.path["id"], call.actor, partial=b.partial, comment=b.comment
    )
    return request_out(approved)


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/reject",
    "POST",
    permissions=APPROVE,
    summary="Reject a stock request",
    tag=TAG,
    body=RejectIn,
    example={"reason": "Use the weekly delivery"},
    response=StockRequestOut,
    response_example={**EXAMPLE, "status": "rejected", "rejectionReason": "Use the weekly delivery"},
    description=f"submitted -> rejected; `reason` is required. The submitter cannot reject (403). {STATE} "
    "Permission: stockrequests.approve.",
)
def reject(call: Call) -> dict[str, Any]:
    b: RejectIn = call.body
    return request_out(stock_request_service().reject(call.tenant_id, call.path["id"], b.reason, call.actor))


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/status",
    "GET",
    permissions=READ,
    summary="Get stock request status",
    tag=TAG,
    response=RequestStatusOut,
    response_example={
        "id": REQUEST_ID,
        "number": "SR-000042",
        "status": "approved",
        "allowedTransitions": ["fulfil", "cancel", "rollback"],
        "history": EXAMPLE["history"],
    },
    description="The state, the transitions it allows and the history. Permission: stockrequests.read.",
)
def get_status(call: Call) -> dict[str, Any]:
    r = stock_request_service().get(call.tenant_id, call.path["id"])
    out = request_out(r)
    return {k: out[k] for k in ("id", "number", "status", "allowedTransitions", "history")}


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/status",
    "POST",
    permissions=WRITE,
    summary="Update stock request status",
    tag=TAG,
    body=StatusIn,
    example={"status": "fulfilled", "lines": [{"lineId": LINE_ID, "quantity": 5}]},
    response=StockRequestOut,
    response_example={**EXAMPLE, "lines": [{**LINE, "reservedQuantity": 7, "fulfilledQuantity": 5}]},
    description=(
        "`fulfilled`: the reserved stock moves to the requesting location (all of it, or `lines` partly; the "
        "request stays approved until every approved quantity arrived). `cancelled`: from draft, submitted or "
        f"approved; an approved request's reservations are released. {STATE} Permission: stockrequests.write."
    ),
)
def set_status(call: Call) -> dict[str, Any]:
    b: StatusIn = call.body
    lines: dict[str, Decimal] | None = None
    if b.lines is not None:
        lines = {}
        for line in b.lines:
            lines[line.lineId] = lines.get(line.lineId, Decimal(0)) + line.quantity
    moved = stock_request_service().set_status(
        call.tenant_id, call.path["id"], b.status, call.actor, lines=lines, comment=b.comment
    )
    return request_out(moved)


@endpoint(
    warehouse,
    "/api/stock-requests/{id}/rollback",
    "POST",
    permissions=WRITE,
    summary="Rollback a stock request",
    tag=TAG,
    body=TransitionIn,
    empty_body=True,
    example={"comment": "Approved by mistake"},
    response=StockRequestOut,
    response_example={
        **EXAMPLE,
        "status": "submitted",
        "allowedTransitions": ["approve", "reject", "cancel", "rollback"],
    },
    description=(
        "Undoes the last transition not yet undone, with its stock effect: an approval's reservations are "
        "released; a fulfilment's stock goes back from the requesting location to its source records and is "
        "reserved again (409 when it is no longer available there); a cancelled approved request is reserved "
        "again. Nothing to roll back is a 409. Permission: stockrequests.write."
    ),
)
def rollback(call: Call) -> dict[str, Any]:
    b: TransitionIn = call.body
    return request_out(stock_request_service().rollback(call.tenant_id, call.path["id"], call.actor, b.comment))
