"""The 003 order and its line items: fields, limits, inputs and what reads return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import Field, field_serializer

from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Entity

# One DynamoDB transaction holds at most 100 writes.
MAX_WRITES = 100
MAX_REFERENCE_CHARS = 100
MAX_TEXT_CHARS = 200
MAX_NOTES_CHARS = 2000
# Six digits: the line-items index sorts lines by number inside its key (storage/keys.order_line_listing).
MAX_LINE_NUMBER = 999_999
STATUSES = ("open", "confirmed", "in_progress", "dispatched", "completed", "cancelled")
DEFAULT_STATUS = "open"
ORDER_ENTITY = "order"
LINE_ENTITY = "order_line"
DIMENSIONS = ("diameter", "length", "width", "depth")
# Line text fields where an empty string means "none".
OPTIONAL_TEXT = ("type", "material", "required_heat_code")

ORDER_INPUT_FIELDS = (
    "order_reference",
    "quantity",
    "order_date",
    "delivery_date",
    "site",
    "status",
    "related_organisation_id",
)
LINE_INPUT_FIELDS = (
    "line_number",
    "product_name",
    "type",
    "material",
    *DIMENSIONS,
    "quantity",
    "weight",
    "required_heat_code",
    "certification_required",
    "notes",
)

# Core field -> documented 003 field, for errors and history.
DOCUMENTED: dict[str, str] = {
    "order_id": "orderId",
    "tenant_id": "companyId",
    "order_reference": "orderReference",
    "quantity": "quantity",
    "order_date": "orderDate",
    "delivery_date": "deliveryDate",
    "site": "site",
    "status": "status",
    "active": "active",
    "related_organisation_id": "relatedOrganisationId",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "version": "version",
    "line_item_id": "lineItemId",
    "line_number": "lineNumber",
    "product_name": "productName",
    "type": "type",
    "material": "material",
    "diameter": "diameter",
    "length": "length",
    "width": "width",
    "depth": "depth",
    "weight": "weight",
    "required_heat_code": "requiredHeatCode",
    "certification_required": "certificationRequired",
    "notes": "notes",
}
DOCUMENTED_ENTITY = {ORDER_ENTITY: "order", LINE_ENTITY: "orderLineItem"}
# Bookkeeping of the line item that says nothing to a 003 user.
HIDDEN_FIELDS = frozenset({"deleted_with_order"})


def documented(core_field: str) -> str:
    return DOCUMENTED.get(core_field, core_field)


# -- model -------------------------------------------------------------------


class Order(Entity):
    order_id: str = Field(default_factory=new_id)
    order_reference: str
    quantity: Decimal = ZERO
    order_date: date | None = None
    delivery_date: date | None = None
    site: str | None = None
    status: str = DEFAULT_STATUS
    related_organisation_id: str | None = None
    active: bool = True

    @field_serializer("order_date", "delivery_date")
    def _iso_date(self, value: date | None) -> str | None:
        # Stored and compared as ISO text: DynamoDB has no date type.
        return value.isoformat() if value else None


class LineItem(Entity):
    """One line of an order, as a metals stockholder writes it: what, how big, how many, what paperwork."""

    line_item_id: str = Field(default_factory=new_id)
    order_id: str
    line_number: int
    product_name: str
    type: str | None = None  # inventory-type reference id
    material: str | None = None  # inventory-material reference id (grade)
    diameter: Decimal | None = None  # mm
    length: Decimal | None = None  # mm
    width: Decimal | None = None  # mm
    depth: Decimal | None = None  # mm
    quantity: Decimal
    weight: Decimal | None = None  # kg
    required_heat_code: str | None = None
    certification_required: bool = False
    notes: str | None = None
    active: bool = True
    # Set when the line was soft-deleted by its order's delete, so a restore
    # brings back exactly those lines and not lines an update removed earlier.
    deleted_with_order: bool = False


# -- inputs and results -------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """A line item as the client sent it, in core names. `given` lists the fields it sent."""

    given: frozenset[str] = frozenset()
    line_item_id: str | None = None
    line_number: int | None = None
    product_name: str | None = None
    type: str | None = None
    material: str | None = None
    diameter: Decimal | None = None
    length: Decimal | None = None
    width: Decimal | None = None
    depth: Decimal | None = None
    quantity: Decimal | None = None
    weight: Decimal | None = None
    required_heat_code: str | None = None
    certification_required: bool | None = None
    notes: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class OrderInput:
    """An order as the client sent it, in core names.

    On update only the fields in `given` change; `line_items` is the complete
    list of the order's lines (None: the lines stay as they are).
    """

    given: frozenset[str] = frozenset()
    order_id: str | None = None
    version: int | None = None
    order_reference: str | None = None
    quantity: Decimal | None = None
    order_date: date | None = None
    delivery_date: date | None = None
    site: str | None = None
    status: str | None = None
    related_organisation_id: str | None = None
    line_items: tuple[LineInput, ...] | None = None


@dataclass(frozen=True)
class OrderView:
    """An order as the surface shows it: customer name resolved, active lines in line-number order."""

    order: Order
    customer_name: str | None
    line_items: list[LineItem] = field(default_factory=list)


@dataclass(frozen=True)
class ReserveResult:
    linked_inventory_id: str
    original_inventory_id: str
    was_split: bool
    order_line_item_id: str
    reservation_id: str


@dataclass(frozen=True)
class UnreserveResult:
    link_id: str  # the (most recent) released reservation
    order_line_item_id: str
    inventory_id: str
    released_ids: tuple[str, ...]
