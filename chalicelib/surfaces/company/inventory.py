"""000 inventory routes: `/companies/{companyId}/inventory...` over the core InventoryService."""

from __future__ import annotations

from typing import Any

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.company_inventory.service import MAX_ITEMS
from chalicelib.http.asof import AS_OF, AsOfQuery
from chalicelib.http.pagination import NEXT_TOKEN, ListQuery, decode_token, encode_token, page_size
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.common import PREFIX, TAG_INVENTORY
from chalicelib.surfaces.company.models import (
    DeleteIds,
    DeleteResult,
    HistoryOut,
    InventoryCreate,
    InventoryOut,
    InventoryUpdate,
    TagEvaluation,
    UnreservedLinkOut,
    history_out,
    item_out,
)
from chalicelib.wiring import inventory_service

ITEMS = f"{PREFIX}/inventory"


class InventoryListQuery(ListQuery, AsOfQuery):
    """A page of items, optionally as they were at `asOf`."""


ITEM = f"{ITEMS}/{{inventoryId}}"
READ = [Permission.INVENTORY_READ]
WRITE = [Permission.INVENTORY_WRITE]


@endpoint(
    company,
    ITEMS,
    "GET",
    permissions=READ,
    summary="List inventory items for a company",
    tag=TAG_INVENTORY,
    company_param="companyId",
    query=InventoryListQuery,
    response=list[InventoryOut],
    description=(
        "Active items only, as a JSON array, with labels resolved. Paged: when more items remain the "
        f"response carries an `{NEXT_TOKEN}` header; pass it back as `nextToken`. A page may hold fewer "
        "than `limit` items (deleted rows are skipped), so only a missing header means the end. "
        f"Permission: inventory.read. {AS_OF} With `asOf` the items are those that existed then: one "
        "created later is not listed, one deleted since is, with its `quantity` then (send the same "
        "`asOf` with every page)."
    ),
)
def list_items(call: Call) -> Reply:
    tenant = call.tenant_id
    query: InventoryListQuery = call.query
    limit = page_size(query.limit)
    cursor = decode_token(tenant, query.nextToken, scope=call.list_scope)
    page = inventory_service().page(tenant, limit, cursor, as_of=query.asOf)
    token = encode_token(tenant, page.cursor, scope=call.list_scope)
    return Reply(body=[item_out(i) for i in page.items], headers={NEXT_TOKEN: token} if token else {})


@endpoint(
    company,
    ITEMS,
    "POST",
    permissions=WRITE,
    summary="Create new inventory items",
    tag=TAG_INVENTORY,
    company_param="companyId",
    body=list[InventoryCreate],
    response=list[InventoryOut],
    status=201,
    description=(
        f"A JSON array of up to {MAX_ITEMS} items, written in one transaction: every item is validated first "
        "(fields, and type, material, supplierId, stockLocationId and tags must name active ones of this company: "
        "else 404 naming the field), and "
        "one bad item writes nothing; the error names `[index].field`. Server-owned fields (inventoryId, "
        "companyId, createdAt, updatedAt, labels, millCertificationId, linkedOrders) are ignored. "
        "`quantity` becomes an initial ledger movement. `stockLocationId` is optional, as documented: an item "
        "without one goes to the company's default stock location (listed with the others under "
        "/stock-locations). `tags` sets manual tags. With an Idempotency-Key "
        "the ids are derived from the key, so a retry cannot create twice. Permission: inventory.write."
    ),
)
def create_items(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    inputs = [item.to_input() for item in call.body]
    created = inventory_service().create(tenant, inputs, call.actor, call.command_id)
    return [item_out(i) for i in created]


@endpoint(
    company,
    ITEMS,
    "PUT",
    permissions=WRITE,
    summary="Update existing inventory items",
    tag=TAG_INVENTORY,
    company_param="companyId",
    body=list[InventoryUpdate],
    response=list[InventoryOut],
    description=(
        f"A JSON array of up to {MAX_ITEMS} items, each with its inventoryId; only the fields sent change (null "
        "clears an optional field). All items commit in one transaction or none do. A new `quantity` is "
        "recorded as a ledger adjustment against the quantity read (compare-and-set), so it shows in "
        "history and every surface. Send `version` to guard against lost updates (stale -> 409); "
        "without it the version read is used. `tags` replaces the manual tags; rule-based tags are "
        "kept. Permission: inventory.write."
    ),
)
def update_items(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    inputs = [item.to_input(item.inventoryId, item.version) for item in call.body]
    return [item_out(i) for i in inventory_service().update(tenant, inputs, call.actor)]


@endpoint(
    company,
    ITEMS,
    "DELETE",
    permissions=WRITE,
    summary="Delete inventory items",
    tag=TAG_INVENTORY,
    company_param="companyId",
    body=DeleteIds,
    response=DeleteResult,
    description=(
        'Soft delete (active = false) of every id in `{"ids": [...]}` in one transaction: an unknown id, '
        "or one of another company, is a 404 and nothing is deleted. Deleting an item releases its active "
        "reservations. The ledger and history stay. Permission: inventory.write."
    ),
)
def delete_items(call: Call) -> DeleteResult:
    tenant = call.tenant_id
    body: DeleteIds = call.body
    deleted = inventory_service().delete(tenant, body.ids, call.actor)
    return DeleteResult(deletedCount=len(deleted), deletedIds=deleted)


@endpoint(
    company,
    ITEM,
    "GET",
    permissions=READ,
    summary="Get an inventory item by ID",
    tag=TAG_INVENTORY,
    company_param="companyId",
    query=AsOfQuery,
    response=InventoryOut,
    description=(
        f"Permission: inventory.read. A deleted item, or one of another company, is a 404. {AS_OF} "
        "An item created after `asOf` is a 404; `quantity` is its on hand then."
    ),
)
def get_item(call: Call) -> dict[str, Any]:
    tenant = call.tenant_id
    query: AsOfQuery = call.query
    return item_out(inventory_service().get(tenant, call.path["inventoryId"], as_of=query.asOf))


@endpoint(
    company,
    f"{ITEM}/history",
    "GET",
    permissions=READ,
    summary="Get inventory item change history",
    tag=TAG_INVENTORY,
    company_param="companyId",
    response=list[HistoryOut],
    description=(
        "Field-level audit events, oldest first, in the document's field names (quantity, heatCode, ...), "
        "with old and new values. changeType is CREATE, UPDATE, DELETE, RESTORE or REMOVE. Events are "
        "written from the table stream, so a change shows up within moments. Permission: inventory.read."
    ),
)
def item_history(call: Call) -> list[dict[str, Any]]:
    tenant = call.tenant_id
    return [history_out(e) for e in inventory_service().history(tenant, call.path["inventoryId"])]


@endpoint(
    company,
    f"{ITEM}/tags/evaluate",
    "POST",
    permissions=WRITE,
    summary="Evaluate inventory tags",
    tag=TAG_INVENTORY,
    company_param="companyId",
    response=TagEvaluation,
    description=(
        "Evaluates the active tag rules against the item and replaces its rule-based tag assignments "
        "with the tags of the rules it matches; manual tags are kept. assignedTagCount is the number of "
        "rule-based tags now assigned. It writes, so it needs inventory.write."
    ),
)
def evaluate_tags(call: Call) -> TagEvaluation:
    tenant = call.tenant_id
    stock_id = call.path["inventoryId"]
    count = inventory_service().evaluate_tags(tenant, stock_id, call.actor)
    return TagEvaluation(inventoryId=stock_id, companyId=tenant, assignedTagCount=count)


@endpoint(
    company,
    f"{ITEM}/unreserve",
    "POST",
    permissions=WRITE,
    summary="Unreserve stock from the inventory page",
    tag=TAG_INVENTORY,
    company_param="companyId",
    response=list[UnreservedLinkOut],
    description=(
        "Releases every active reservation link of the item and renames the row "
        "'<name> - Prev Reserved (<orderReference>)', using the most recently created link's order "
        "reference when there are several. Split rows stay standalone stock (no merge-back). Returns the "
        "removed links; an item with no links answers [] and keeps its name. Permission: inventory.write."
    ),
)
def unreserve(call: Call) -> list[UnreservedLinkOut]:
    tenant = call.tenant_id
    stock_id = call.path["inventoryId"]
    links = inventory_service().unreserve(tenant, stock_id, call.actor)
    return [
        UnreservedLinkOut(
            linkId=link.link_id, companyId=tenant, orderLineItemId=link.order_line_item_id, inventoryId=stock_id
        )
        for link in links
    ]
