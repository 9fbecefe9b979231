"""Request and response bodies of the 003 document, in its field names, and their translation to the core.

Request models refuse unknown fields (a 400 naming them), but the
document's responses carry server-owned fields (companyId, customerName,
createdAt, updatedAt, active) that clients send back: they can never set
them, so those are dropped silently (`read_only`, from the answer models).
The document lists no line-item fields; the ones here are what a metals
stockholder writes on an order line.

Translators for other modules of this surface:
- `order_out(view)`: the documented order fields (list form) plus version, no lines;
- `order_with_lines_out(view)`: the same plus `lineItems`;
- `details_out(view)`: the document's second form (its field order) plus version and `lineItems`;
- `line_out(line)`: one line item.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from chalicelib.core.bodies import Body, answer_fields
from chalicelib.core.ids import Id, UniqueIds
from chalicelib.core.models import Model
from chalicelib.core.values import DATE_TEXT, IsoDate, Number, Text, Version
from chalicelib.features.orders.model import (
    LINE_INPUT_FIELDS,
    MAX_LINE_NUMBER,
    MAX_NOTES_CHARS,
    MAX_REFERENCE_CHARS,
    MAX_TEXT_CHARS,
    MAX_WRITES,
    ORDER_INPUT_FIELDS,
    STATUSES,
    LineInput,
    LineItem,
    OrderInput,
    OrderView,
    ReserveResult,
    documented,
)

# Documented request field -> core field.
ORDER_CORE_NAMES: dict[str, str] = {documented(core): core for core in ORDER_INPUT_FIELDS}
LINE_CORE_NAMES: dict[str, str] = {documented(core): core for core in LINE_INPUT_FIELDS}
MAX_LINES = MAX_WRITES - 1  # one order and its lines fit one transaction

STATUS_TEXT = "One of " + ", ".join(STATUSES) + " (any case; spaces and hyphens read as underscores). Default open."


# -- requests -----------------------------------------------------------------


class LineItemIn(Body):
    """A line item as a client sends it, nested in an order."""

    lineItemId: Id | None = Field(
        None,
        description="GUID of an existing line to update; omit it (or send a new GUID) to add a line",
    )
    version: Version | None = Field(None, description="The line's version read; a stale one is a 409")
    lineNumber: int | None = Field(
        None, ge=1, le=MAX_LINE_NUMBER, description="Position on the order; default: the next free number"
    )
    productName: Text | None = Field(
        None, max_length=MAX_TEXT_CHARS, description="What is ordered, e.g. 'Round bar 50mm'"
    )
    type: Text | None = Field(
        None, max_length=MAX_TEXT_CHARS, description="Inventory type id (inventory-types) of this company"
    )
    material: Text | None = Field(
        None,
        max_length=MAX_TEXT_CHARS,
        description="Inventory material (grade) id (inventory-materials) of this company",
    )
    diameter: Number | None = Field(None, ge=0, description="Diameter in mm")
    length: Number | None = Field(None, ge=0, description="Length in mm")
    width: Number | None = Field(None, ge=0, description="Width in mm")
    depth: Number | None = Field(None, ge=0, description="Depth (thickness) in mm")
    quantity: Number | None = Field(None, gt=0, description="Pieces ordered, > 0; required for a new line")
    weight: Number | None = Field(None, ge=0, description="Weight in kg")
    requiredHeatCode: Text | None = Field(
        None, max_length=MAX_REFERENCE_CHARS, description="The heat code the customer requires"
    )
    certificationRequired: bool | None = Field(None, description="Whether a mill certificate must ship with it")
    notes: Text | None = Field(None, max_length=MAX_NOTES_CHARS)

    def to_input(self) -> LineInput:
        sent = self.model_fields_set
        values = {core: getattr(self, doc) for doc, core in LINE_CORE_NAMES.items()}
        given = frozenset(core for doc, core in LINE_CORE_NAMES.items() if doc in sent)
        return LineInput(given=given, line_item_id=self.lineItemId, version=self.version, **values)


class OrderFields(Body):
    orderReference: Text | None = Field(
        None,
        max_length=MAX_REFERENCE_CHARS,
        description="The customer's order reference; unique (any case) among active orders",
    )
    quantity: Number | None = Field(
        None,
        ge=0,
        description="Kept only for an order without line items; with lines it is the sum of their quantities",
    )
    orderDate: IsoDate | None = None
    deliveryDate: IsoDate | None = Field(None, description=f"{DATE_TEXT}; not before orderDate")
    site: Text | None = Field(None, max_length=MAX_TEXT_CHARS, description="Delivery site")
    status: Text | None = Field(None, max_length=50, description=STATUS_TEXT)
    relatedOrganisationId: Id | None = Field(
        None,
        description="The customer: an organisation id of this company; sets customerName",
    )
    lineItems: list[LineItemIn] | None = Field(None, max_length=MAX_LINES)

    def to_input(self, order_id: str | None = None, version: int | None = None) -> OrderInput:
        sent = self.model_fields_set
        given = frozenset(core for doc, core in ORDER_CORE_NAMES.items() if doc in sent)
        return OrderInput(
            given=given,
            order_id=order_id,
            version=version,
            order_reference=self.orderReference,
            quantity=self.quantity,
            order_date=self.orderDate,
            delivery_date=self.deliveryDate,
            site=self.site,
            status=self.status,
            related_organisation_id=self.relatedOrganisationId,
            line_items=tuple(line.to_input() for line in self.lineItems) if self.lineItems is not None else None,
        )


class OrderCreate(OrderFields):
    orderReference: Text = Field(
        min_length=1,
        max_length=MAX_REFERENCE_CHARS,
        description="The customer's order reference; unique (any case) among active orders",
    )


class OrderUpdate(OrderFields):
    orderId: Id
    version: Version | None = Field(None, description="The order's version read; a stale one is a 409")
    lineItems: list[LineItemIn] | None = Field(
        None,
        max_length=MAX_LINES,
        description="The complete list of the order's lines: active lines missing from it are soft-deleted "
        "(and their reservations released). Omit it to leave the lines as they are.",
    )


class OrderIds(Body):
    ids: UniqueIds = Field(min_length=1, max_length=100, description="Order ids")


QUERY_NOT_BODY = " A query parameter, not a body field: the route takes no body (a JSON body is a 400)."


class ReserveQuery(Model):
    """The reserve route's inputs: query parameters, as the 003 document defines them."""

    inventoryId: Id = Field(description="The inventory item (inventoryId) to reserve from." + QUERY_NOT_BODY)
    reserveQuantity: Number = Field(gt=0, description="The quantity to reserve, > 0." + QUERY_NOT_BODY)
    split: Literal["0", "1"] = Field(
        description="1: move reserveQuantity into a new row and reserve it; 0: reserve the whole row "
        "(reserveQuantity must equal its full quantity). Exactly 1 or 0." + QUERY_NOT_BODY
    )


# -- responses ----------------------------------------------------------------


class LineItemOut(Model):
    lineItemId: str
    orderId: str
    lineNumber: int = Field(description="Position on the order, unique among its active lines")
    productName: str
    type: str | None = Field(description="Inventory type id")
    material: str | None = Field(description="Inventory material (grade) id")
    diameter: Decimal | None = Field(description="mm")
    length: Decimal | None = Field(description="mm")
    width: Decimal | None = Field(description="mm")
    depth: Decimal | None = Field(description="mm")
    quantity: Decimal = Field(description="Pieces ordered")
    weight: Decimal | None = Field(description="kg")
    requiredHeatCode: str | None
    certificationRequired: bool
    notes: str | None
    active: bool
    version: int
    createdAt: datetime
    updatedAt: datetime


class OrderOut(Model):
    createdAt: datetime
    updatedAt: datetime
    orderReference: str
    quantity: Decimal = Field(description="The sum of the active line quantities when the order has lines")
    orderDate: date | None
    deliveryDate: date | None
    site: str | None
    status: str
    active: bool
    relatedOrganisationId: str | None
    customerName: str | None = Field(description="The name of the related organisation (server-owned)")
    orderId: str
    companyId: str
    version: int


class OrderWithLinesOut(OrderOut):
    lineItems: list[LineItemOut] = Field(description="Active line items in lineNumber order")


class OrderDetailsOut(Model):
    """The document's second form of an order, in its field order."""

    orderId: str
    companyId: str
    orderReference: str
    quantity: Decimal
    orderDate: date | None
    deliveryDate: date | None
    site: str | None
    status: str
    active: bool
    relatedOrganisationId: str | None
    customerName: str | None
    createdAt: datetime
    updatedAt: datetime
    version: int
    lineItems: list[LineItemOut]


class OrdersDeleted(Model):
    deletedCount: int = Field(description="Number of orders deleted")
    deletedIds: list[str] = Field(description="Ids of the orders deleted")


class OrdersRestored(Model):
    """The document names the restore result's fields like the delete's."""

    deletedCount: int = Field(description="Number of orders RESTORED (the document's field name)")
    deletedIds: list[str] = Field(description="Ids of the orders RESTORED (the document's field name)")


class ReserveOut(Model):
    linkedInventoryId: str = Field(description="The row now reserved: the new split row, or the original")
    originalInventoryId: str
    wasSplit: bool
    orderLineItemId: str


class UnreserveOut(Model):
    linkId: str = Field(description="The removed reservation link")
    companyId: str
    orderLineItemId: str
    inventoryId: str


# What a client read and sends back unchanged: accepted, ignored.
LineItemIn.read_only = answer_fields(LineItemOut)
OrderFields.read_only = answer_fields(OrderWithLinesOut, OrderDetailsOut)


# -- translators ----------------------------------------------------------------


def line_out(line: LineItem) -> dict[str, Any]:
    return {
        "lineItemId": line.line_item_id,
        "orderId": line.order_id,
        "lineNumber": line.line_number,
        "productName": line.product_name,
        "type": line.type,
        "material": line.material,
        "diameter": line.diameter,
        "length": line.length,
        "width": line.width,
        "depth": line.depth,
        "quantity": line.quantity,
        "weight": line.weight,
        "requiredHeatCode": line.required_heat_code,
        "certificationRequired": line.certification_required,
        "notes": line.notes,
        "active": line.active,
        "version": line.version,
        "createdAt": line.created_at,
        "updatedAt": line.updated_at,
    }


def _order_fields(view: OrderView) -> dict[str, Any]:
    order = view.order
    return {
        "createdAt": order.created_at,
        "updatedAt": order.updated_at,
        "orderReference": order.order_reference,
        "quantity": order.quantity,
        "orderDate": order.order_date,
        "deliveryDate": order.delivery_date,
        "site": order.site,
        "status": order.status,
        "active": order.active,
        "relatedOrganisationId": order.related_organisation_id,
        "customerName": view.customer_name,
        "orderId": order.order_id,
        "companyId": order.tenant_id,
        "version": order.version,
        "lineItems": [line_out(line) for line in view.line_items],
    }


def order_out(view: OrderView) -> dict[str, Any]:
    """The list form: the documented order fields and version, without lines."""
    fields = _order_fields(view)
    return {name: fields[name] for name in OrderOut.model_fields}


def order_with_lines_out(view: OrderView) -> dict[str, Any]:
    fields = _order_fields(view)
    return {name: fields[name] for name in OrderWithLinesOut.model_fields}


def details_out(view: OrderView) -> dict[str, Any]:
    fields = _order_fields(view)
    return {name: fields[name] for name in OrderDetailsOut.model_fields}


def reserve_out(result: ReserveResult) -> ReserveOut:
    return ReserveOut(
        linkedInventoryId=result.linked_inventory_id,
        originalInventoryId=result.original_inventory_id,
        wasSplit=result.was_split,
        orderLineItemId=result.order_line_item_id,
    )
