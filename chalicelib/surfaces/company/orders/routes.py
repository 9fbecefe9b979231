"""003 order routes: `/companies/{companyId}/orders...` over the core OrderService (JSON only)."""

from __future__ import annotations

from typing import Any

from chalicelib.http.pagination import NEXT_TOKEN, ListQuery, decode_token, encode_token, page_size
from chalicelib.http.routing import Call, Link, Reply, endpoint
from chalicelib.surfaces.company.models import HistoryOut, history_out
from chalicelib.surfaces.company.orders import orders
from chalicelib.surfaces.company.orders.common import LINE, ORDER, ORDERS, READ, TAG_ORDERS, WRITE
from chalicelib.surfaces.company.orders.models import (
    OrderCreate,
    OrderDetailsOut,
    OrderIds,
    OrderOut,
    OrdersDeleted,
    OrdersRestored,
    OrderUpdate,
    OrderWithLinesOut,
    ReserveOut,
    ReserveQuery,
    UnreserveOut,
    details_out,
    order_out,
    order_with_lines_out,
    reserve_out,
)
from chalicelib.wiring import order_service

CUSTOMER = "customerName is the name of the organisation in relatedOrganisationId, resolved by the server."
QUANTITY = (
    "An order with active line items has quantity = the sum of their quantities (a client value is "
    "ignored); an order without lines keeps the quantity sent."
)
LINE_FIELDS = (
    "Line items: lineItemId, lineNumber, productName, type (inventory-type id), material (inventory-material "
    "id), diameter/length/width/depth (mm), quantity (> 0), weight (kg), requiredHeatCode, "
    "certificationRequired, notes."
)
OWNED = "Server-owned fields (companyId, customerName, createdAt, updatedAt, active) are ignored."


def _page(call: Call, active: bool) -> Reply:
    tenant = call.tenant_id
    query: ListQuery = call.query
    limit = page_size(query.limit)
    page = order_service().page(
        tenant, limit, decode_token(tenant, query.nextToken, scope=call.list_scope), active=active
    )
    token = encode_token(tenant, page.cursor, scope=call.list_scope)
    return Reply(body=[order_out(v) for v in page.items], headers={NEXT_TOKEN: token} if token else {})


# The first created order's id leads to its GET, details, history, and to reserving stock for its first line.
_FIRST_ORDER = (("companyId", "$request.path.companyId"), ("orderId", "$response.body#/0/orderId"))
CREATED_ORDER_LINKS = (
    Link("GetOrder", "GET", ORDER, _FIRST_ORDER),
    Link("GetOrderDetails", "GET", f"{ORDER}/details", _FIRST_ORDER),
    Link("GetOrderHistory", "GET", f"{ORDER}/history", _FIRST_ORDER),
    Link(
        "ReserveForFirstLine",
        "POST",
        f"{LINE}/reserve",
        (*_FIRST_ORDER, ("lineItemId", "$response.body#/0/lineItems/0/lineItemId")),
    ),
)

PAGING = (
    f"Paged: when more orders remain the response carries an `{NEXT_TOKEN}` header; pass it back as "
    "`nextToken`. Only a missing header means the end."
)


@endpoint(
    orders,
    ORDERS,
    "GET",
    permissions=READ,
    summary="List orders",
    tag=TAG_ORDERS,
    company_param="companyId",
    query=ListQuery,
    response=list[OrderOut],
    description=(
        f"Active orders of the company, newest first, without their line items. {CUSTOMER} {PAGING} "
        "Permission: orders.read."
    ),
)
def list_orders(call: Call) -> Reply:
    return _page(call, active=True)


@endpoint(
    orders,
    ORDERS,
    "POST",
    permissions=WRITE,
    summary="Create orders with optional line items",
    tag=TAG_ORDERS,
    company_param="companyId",
    body=list[OrderCreate],
    response=list[OrderWithLinesOut],
    status=201,
    links=CREATED_ORDER_LINKS,
    description=(
        "A JSON array of orders, each with an optional `lineItems` array. Every order and line is "
        "validated first and all are written in one transaction (at most 100 writes: each order, line and "
        "orderReference is one); one bad entry writes nothing and the error names `[index].field` or "
        "`[index].lineItems[j].field`. orderReference is unique (any case) among active orders (409). "
        "relatedOrganisationId, type and material must name active ones of this company (else 404 naming the "
        "field; with other bad fields, one 400 naming all). "
        f"{CUSTOMER} {QUANTITY} {LINE_FIELDS} {OWNED} With an Idempotency-Key the ids derive from the "
        "key, so a retry cannot create twice. Permission: orders.write."
    ),
)
def create_orders(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    inputs = [order.to_input() for order in call.body]
    created = order_service().create(tenant, inputs, call.actor, call.command_id)
    return [order_with_lines_out(v) for v in created]


@endpoint(
    orders,
    ORDERS,
    "PUT",
    permissions=WRITE,
    summary="Update orders with nested line items",
    tag=TAG_ORDERS,
    company_param="companyId",
    body=list[OrderUpdate],
    response=list[OrderWithLinesOut],
    description=(
        "A JSON array of orders, each with its orderId; only the order fields sent change. `lineItems`, when "
        "sent, is the order's complete list: a line with a known lineItemId is updated, a line without one "
        "is added, and active lines missing from it are soft-deleted and their reservations released. "
        "Send `version` (order or line) to guard against lost updates: a stale one is a 409 and nothing "
        f"changes. All orders commit in one transaction or none do. {CUSTOMER} {QUANTITY} {OWNED} "
        "Permission: orders.write."
    ),
)
def update_orders(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    inputs = [order.to_input(order.orderId, order.version) for order in call.body]
    return [order_with_lines_out(v) for v in order_service().update(tenant, inputs, call.actor)]


@endpoint(
    orders,
    ORDERS,
    "DELETE",
    permissions=WRITE,
    summary="Delete orders",
    tag=TAG_ORDERS,
    company_param="companyId",
    body=OrderIds,
    response=OrdersDeleted,
    description=(
        'Soft delete (active = false) of every order in `{"ids": [...]}` and its active line items, in one '
        "transaction: an unknown id, or one of another company, is a 404 and nothing is deleted. Deleting an "
        "order releases every reservation of its lines, so the stock is available again, and frees its "
        "orderReference. History stays. Permission: orders.write."
    ),
)
def delete_orders(call: Call) -> OrdersDeleted:
    tenant = call.tenant_id
    body: OrderIds = call.body
    deleted = order_service().delete(tenant, body.ids, call.actor)
    return OrdersDeleted(deletedCount=len(deleted), deletedIds=deleted)


@endpoint(
    orders,
    f"{ORDERS}/deleted",
    "GET",
    permissions=READ,
    summary="List deleted orders",
    tag=TAG_ORDERS,
    company_param="companyId",
    query=ListQuery,
    response=list[OrderOut],
    description=f"Soft-deleted orders (active = false), newest first. {CUSTOMER} {PAGING} Permission: orders.read.",
)
def list_deleted_orders(call: Call) -> Reply:
    return _page(call, active=False)


@endpoint(
    orders,
    f"{ORDERS}/restore",
    "POST",
    permissions=WRITE,
    summary="Restore deleted orders",
    tag=TAG_ORDERS,
    company_param="companyId",
    body=OrderIds,
    response=OrdersRestored,
    description=(
        'Reactivates every deleted order in `{"ids": [...]}` and the line items that were deleted with it, '
        "in one transaction (lines an update removed earlier stay removed). An id that is not a deleted "
        "order of this company is a 404; an orderReference now used by another active order is a 409; "
        "either way nothing is restored. Reservations released by the delete are NOT taken back: the stock "
        "may have been reserved or used since, so reserve the lines again. The response uses the "
        "document's field names: `deletedCount` and `deletedIds` count and list the RESTORED orders. "
        "Permission: orders.write."
    ),
)
def restore_orders(call: Call) -> OrdersRestored:
    tenant = call.tenant_id
    body: OrderIds = call.body
    restored = order_service().restore(tenant, body.ids, call.actor)
    return OrdersRestored(deletedCount=len(restored), deletedIds=restored)


@endpoint(
    orders,
    ORDER,
    "GET",
    permissions=READ,
    summary="Get an order by ID with nested line items",
    tag=TAG_ORDERS,
    company_param="companyId",
    response=OrderWithLinesOut,
    description=(
        f"The order with its active line items in lineNumber order. {CUSTOMER} A deleted order, or one of "
        "another company, is a 404. Permission: orders.read."
    ),
)
def get_order(call: Call) -> dict[str, Any]:
    tenant = call.tenant_id
    return order_with_lines_out(order_service().get(tenant, call.path["orderId"]))


@endpoint(
    orders,
    f"{ORDER}/details",
    "GET",
    permissions=READ,
    summary="Get order details with line items",
    tag=TAG_ORDERS,
    company_param="companyId",
    response=OrderDetailsOut,
    description=(
        "The document's second form of an order: the same fields in its order (orderId and companyId "
        f"first), with `lineItems`. {CUSTOMER} A deleted order, or one of another company, is a 404. "
        "Permission: orders.read."
    ),
)
def get_order_details(call: Call) -> dict[str, Any]:
    tenant = call.tenant_id
    return details_out(order_service().get(tenant, call.path["orderId"]))


@endpoint(
    orders,
    f"{ORDER}/history",
    "GET",
    permissions=READ,
    summary="Get order change history",
    tag=TAG_ORDERS,
    company_param="companyId",
    response=list[HistoryOut],
    description=(
        "Field-level audit events of the order (entityType `order`) and its line items (entityType "
        "`orderLineItem`, removed lines included) interleaved in one timeline, oldest first, in the "
        "document's field names with old and new values. changeType is CREATE, UPDATE, DELETE, RESTORE or "
        "REMOVE. Events are written from the table stream, so a change shows up within moments. A deleted "
        "order keeps its history. Permission: orders.read."
    ),
)
def order_history(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    return [history_out(e) for e in order_service().history(tenant, call.path["orderId"])]


@endpoint(
    orders,
    f"{LINE}/reserve",
    "POST",
    permissions=WRITE,
    summary="Reserve inventory for an order line item",
    tag=TAG_ORDERS,
    company_param="companyId",
    query=ReserveQuery,
    response=ReserveOut,
    description=(
        "Takes **query parameters**, not a body: `?inventoryId=...&reserveQuantity=...&split=0|1` (a JSON "
        "body is a 400 saying so). "
        "Atomically reserves stock of inventory item `inventoryId` for the line; it never reserves more "
        "than the item has available, even under concurrent requests (409 when short). `split` must be "
        "exactly 1 or 0. split=1: reserveQuantity moves into a new inventory row named "
        "'<productName> (<orderReference>)', which is reserved and linked (the full quantity reserves the "
        "row itself). split=0: reserveQuantity must equal the row's full quantity (400 otherwise) and the "
        "row itself is reserved. The reservation shows in the inventory item's linkedOrders and lowers its "
        "available quantity on every surface. With an Idempotency-Key a retry reserves once. "
        "Permission: orders.write."
    ),
)
def reserve(call: Call) -> ReserveOut:
    tenant = call.tenant_id
    query: ReserveQuery = call.query
    result = order_service().reserve(
        tenant,
        call.path["orderId"],
        call.path["lineItemId"],
        query.inventoryId,
        query.reserveQuantity,
        query.split == "1",
        call.actor,
        call.command_id,
    )
    return reserve_out(result)


@endpoint(
    orders,
    f"{LINE}/reservations/{{inventoryId}}",
    "DELETE",
    permissions=WRITE,
    summary="Unreserve inventory from an order line item",
    tag=TAG_ORDERS,
    company_param="companyId",
    response=UnreserveOut,
    description=(
        "Releases the line's reservation on the inventory item and removes the traceability link; the "
        "stock is available again. It does not undo a split: a split row stays as standalone stock. "
        "Returns the removed link (the most recent one when there were several). A line with no "
        "reservation on that item is a 404. Permission: orders.write."
    ),
)
def unreserve(call: Call) -> UnreserveOut:
    tenant = call.tenant_id
    result = order_service().unreserve(
        tenant, call.path["orderId"], call.path["lineItemId"], call.path["inventoryId"], call.actor
    )
    return UnreserveOut(
        linkId=result.link_id,
        companyId=tenant,
        orderLineItemId=result.order_line_item_id,
        inventoryId=result.inventory_id,
    )
