"""Request and response bodies of the 002 document, in its field names (capitalised ones included).

Request models ignore unknown fields: clients send back what they read
(`id`, `stockLevel`, `locationStockLevels`...), which the server owns.
Responses add `version` (send it back on PATCH to guard against lost
updates), `createdAt` and `updatedAt` to what the document lists.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from chalicelib.core.bodies import Body, Email, answer_fields
from chalicelib.core.catalog.resources import MAX_BOM_LINES, ResourceView
from chalicelib.core.catalog.units import SETTABLE_UNIT_TYPES
from chalicelib.core.ids import Id
from chalicelib.core.models import BomLine, Location, Model, Product, ProductionType
from chalicelib.core.stock.blocks import Blocks
from chalicelib.core.tenancy.users import User
from chalicelib.core.values import Version
from chalicelib.features.production import CustomStatus, TaskView
from chalicelib.surfaces.maker.common import PageQuery, Pagination

# Bounded so that every value (and a product of two) is a number DynamoDB stores exactly.
Number = Annotated[
    Decimal,
    Field(max_digits=20, decimal_places=6, allow_inf_nan=False, description="At most 20 digits, 6 after the point"),
]
Money = Annotated[Number, Field(ge=0)]
UNIT_DESCRIPTION = f"One of: {', '.join(SETTABLE_UNIT_TYPES)} (`bundles` is read-only)"
UnitType = Annotated[str, Field(min_length=1, max_length=40, description=UNIT_DESCRIPTION)]
Text = Annotated[str, Field(max_length=2000)]


class In(Body):
    """A request body of this surface: unknown fields are a 400; the answers' own fields are ignored."""


# -- products and materials -----------------------------------------------------------


class BomIn(In):
    id: Id = Field(description="Id of a product or material of this company")
    quantityUsed: Number = Field(gt=0, description="How much of it one unit takes, in its own unitType")


class InitialStockIn(In):
    locationName: str = Field(min_length=1, max_length=200)
    quantity: Number = Field(ge=0)


class ResourcePatch(In):
    name: str | None = Field(None, min_length=1, max_length=300)
    sku: str | None = Field(None, min_length=1, max_length=100)
    unitType: UnitType | None = None
    unitPrice: Money | None = None
    minLevel: Number | None = None
    notes: Text | None = None
    retailPrice: Money | None = None
    wholesalePrice: Money | None = None
    ean: str | None = Field(None, max_length=50)
    minimumQuantity: Number | None = None
    reorderURLs: list[Annotated[str, Field(max_length=2000)]] | None = Field(None, max_length=20)
    productionType: ProductionType | None = None
    materials: list[BomIn] | None = Field(
        None, max_length=MAX_BOM_LINES, description="The bill of materials; replaces the one stored"
    )
    lotControlled: bool | None = Field(
        None, description="Stock is kept per lot: receiving it needs a lot number (001 lot control)"
    )
    expiryTracked: bool | None = Field(None, description="Receiving it needs an expiry date (001 lot control)")
    categoryId: str | None = Field(None, min_length=1, max_length=100, description="A category id of your choice")
    version: Version | None = Field(None, description="The version read; a stale one is a 409")

    def changes(self) -> dict[str, Any]:
        """Core field -> value for every field sent (null clears an optional field)."""
        sent = self.model_fields_set
        out: dict[str, Any] = {core: getattr(self, doc) for doc, core in RESOURCE_FIELDS.items() if doc in sent}
        if "materials" in sent:
            out["materials"] = [BomLine(product_id=m.id, quantity_used=m.quantityUsed) for m in self.materials or []]
        if "reorderURLs" in sent:
            out["reorder_urls"] = list(self.reorderURLs or [])
        return out

    def null_required(self) -> list[str]:
        """Fields sent as null that cannot be cleared."""
        return [
            f
            for f in ("name", "unitType", "productionType", "lotControlled", "expiryTracked")
            if f in self.model_fields_set and getattr(self, f) is None
        ]


class ResourceCreate(ResourcePatch):
    name: str = Field(min_length=1, max_length=300)
    initialStock: InitialStockIn | None = Field(
        None, description="The resource's first stock: an initial movement at the named location"
    )


RESOURCE_FIELDS = {
    "name": "name",
    "sku": "sku",
    "unitType": "unit_type",
    "unitPrice": "unit_price",
    "minLevel": "min_level",
    "notes": "notes",
    "retailPrice": "retail_price",
    "wholesalePrice": "wholesale_price",
    "ean": "ean",
    "minimumQuantity": "minimum_quantity",
    "productionType": "production_type",
    "lotControlled": "lot_controlled",
    "expiryTracked": "expiry_tracked",
    "categoryId": "category_id",
}


class MaterialOut(Model):
    id: str
    name: str
    sku: str | None
    unitType: str
    unitPrice: Decimal | None
    stockLevel: Decimal
    minLevel: Decimal | None
    quantityUsed: Decimal


class ResourceOut(Model):
    id: str
    name: str
    sku: str | None
    stockLevel: Decimal
    unitType: str
    unitPrice: Decimal | None
    minLevel: Decimal | None
    notes: str | None
    retailPrice: Decimal | None
    wholesalePrice: Decimal | None
    ean: str | None
    minimumQuantity: Decimal | None
    reorderURLs: list[str]
    locationStockLevels: dict[str, Decimal] = Field(description="Stock per location, keyed by the location's name")
    productionType: ProductionType | None
    materials: list[MaterialOut]
    lotControlled: bool = False
    expiryTracked: bool = False
    categoryId: str | None = None
    version: int
    createdAt: datetime
    updatedAt: datetime


class ResourcePage(Model):
    data: list[ResourceOut]
    pagination: dict[str, int]


def resource_out(view: ResourceView) -> dict[str, Any]:
    p = view.product
    return {
        "id": p.product_id,
        "name": p.name,
        "sku": p.sku,
        "stockLevel": view.stock_level,
        "unitType": p.unit_type,
        "unitPrice": p.unit_price,
        "minLevel": p.min_level,
        "notes": p.notes,
        "retailPrice": p.retail_price,
        "wholesalePrice": p.wholesale_price,
        "ean": p.ean,
        "minimumQuantity": p.minimum_quantity,
        "reorderURLs": list(p.reorder_urls),
        "locationStockLevels": view.location_levels,
        "productionType": p.production_type,
        "lotControlled": p.lot_controlled,
        "expiryTracked": p.expiry_tracked,
        "categoryId": p.category_id,
        "materials": [
            {
                "id": line.material.product_id,
                "name": line.material.name,
                "sku": line.material.sku,
                "unitType": line.material.unit_type,
                "unitPrice": line.material.unit_price,
                "stockLevel": line.stock_level,
                "minLevel": line.material.min_level,
                "quantityUsed": line.quantity_used,
            }
            for line in view.materials
        ],
        "version": p.version,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    }


class StockLevelUpdate(In):
    quantity: Number = Field(ge=0, description="The quantity to set or adjust")
    locationName: str = Field(min_length=1, max_length=200, description="Name of the location")
    updateType: Literal["audit", "restock", "loss", "custom"]
    notes: Text | None = None
    customStatusId: int | None = Field(None, ge=1, description="Required when updateType is custom")


class BlockOut(Model):
    movementId: str
    locationId: str
    locationName: str | None
    type: str = Field(description="The ledger movement that opened the block")
    initial: bool = Field(description="The resource's initial stock (valued at its current unitPrice)")
    createdAt: datetime
    quantity: Decimal
    remaining: Decimal
    unitPrice: Decimal | None
    value: Decimal | None


class BlocksOut(Model):
    id: str
    unitType: str
    stockLevel: Decimal = Field(description="What the open blocks hold (the ledger's figure)")
    totalValue: Decimal = Field(description="FIFO value: remaining x unitPrice summed over the open blocks")
    blocks: list[BlockOut]


def blocks_out(product: Product, blocks: Blocks, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": product.product_id,
        "unitType": product.unit_type,
        "stockLevel": blocks.quantity,
        "totalValue": blocks.value,
        "blocks": [
            {
                "movementId": b.movement_id,
                "locationId": b.location_id,
                "locationName": names.get(b.location_id),
                "type": b.kind.value,
                "initial": b.initial,
                "createdAt": b.occurred_at,
                "quantity": b.quantity,
                "remaining": b.remaining,
                "unitPrice": b.unit_price,
                "value": b.value,
            }
            for b in blocks.open
        ],
    }


# -- locations ------------------------------------------------------------------------


class LocationPatch(In):
    name: str | None = Field(None, min_length=1, max_length=200)
    hideMaterials: bool | None = None
    address1: str | None = Field(None, max_length=200)
    address2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    state: str | None = Field(None, max_length=100)
    zip: str | None = Field(None, max_length=20)
    country: str | None = Field(None, max_length=100)
    version: Version | None = Field(None, description="The version read; a stale one is a 409")

    def changes(self, current: Location | None = None) -> dict[str, Any]:
        sent = self.model_fields_set
        out: dict[str, Any] = {}
        if "name" in sent:
            out["name"] = (self.name or "").strip()
        if "hideMaterials" in sent:
            out["hide_materials"] = bool(self.hideMaterials)
        address = dict(current.address.model_dump()) if current else {}
        for name in ADDRESS:
            if name in sent:
                address[name] = getattr(self, name)
        if address or not current:
            out["address"] = address
        return out


class LocationCreate(LocationPatch):
    name: str = Field(min_length=1, max_length=200)


ADDRESS = ("address1", "address2", "city", "state", "zip", "country")


class LocationOut(Model):
    id: str
    name: str
    isDefault: bool
    hideMaterials: bool
    address1: str | None
    address2: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None
    version: int
    warehouseId: int | None = None


def location_out(location: Location) -> dict[str, Any]:
    return {
        "id": location.location_id,
        "name": location.name,
        "isDefault": location.is_default,
        "hideMaterials": location.hide_materials,
        **{name: getattr(location.address, name) for name in ADDRESS},
        "version": location.version,
        # The numeric id the multi-source API (004) knows it by: 0 for the default location.
        "warehouseId": location.number,
    }


# -- tasks ----------------------------------------------------------------------------

TaskStatusName = Literal["pending", "in-progress", "done"]


class ItemIn(In):
    ProductId: Id = Field(description="Product/resource ID")
    quantity: Number = Field(gt=0, description="Quantity to produce (must be > 0)")
    unitType: UnitType | None = Field(None, description="Defaults to the resource's own unitType")


class TaskCreate(In):
    name: str = Field(min_length=1, max_length=300)
    Assignee: str | None = Field(None, max_length=320, description="User ID or email address")
    UserId: str | None = Field(None, max_length=320, description="Alternative to Assignee: a user ID")
    Items: list[ItemIn] = Field(min_length=1, max_length=50, description="Task items (cannot be empty)")
    LocationId: Id | None = None
    due: datetime | None = None
    notes: Text | None = None
    status: TaskStatusName = "pending"


class TaskPatch(In):
    name: str | None = Field(None, max_length=300, description="Cannot be empty")
    Assignee: str | None = Field(None, max_length=320, description="User ID or email address (null to unassign)")
    UserId: str | None = Field(None, max_length=320, description="Alternative to Assignee (null to unassign)")
    status: TaskStatusName | None = None
    LocationId: Id | None = Field(None, description="null to unset")
    due: datetime | None = Field(None, description="ISO 8601, null to unset")
    notes: Text | None = Field(None, description="null to unset")
    version: Version | None = Field(None, description="The version read; a stale one is a 409")


class TaskQuery(PageQuery):
    status: TaskStatusName | None = Field(None, description="Filter by task status")
    UserId: str | None = Field(None, max_length=320, description="Filter by user ID or email address")

    @field_validator("status", "UserId", mode="before")
    @classmethod
    def _empty_is_no_filter(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class ProductBriefOut(Model):
    id: str
    name: str
    sku: str | None
    unitType: str
    stockLevel: Decimal
    type: str = Field(description="product or material")


class BatchBriefOut(Model):
    id: int
    UserId: str | None
    quantity: Decimal
    createdAt: datetime
    updatedAt: datetime


class ItemOut(Model):
    id: int
    ResourceId: str
    quantity: Decimal
    unitType: str
    completed: bool
    Product: ProductBriefOut | None
    Batches: list[BatchBriefOut]


class TaskOut(Model):
    id: str
    name: str
    status: TaskStatusName
    order: int
    LocationId: str | None
    UserId: str | None
    due: datetime | None
    completedAt: datetime | None
    notes: str | None
    createdAt: datetime
    updatedAt: datetime
    Items: list[ItemOut]
    version: int


def task_out(view: TaskView) -> dict[str, Any]:
    task = view.task
    items = []
    for item in task.items:
        resource = view.resources.get(item.resource_id)
        items.append(
            {
                "id": item.item_id,
                "ResourceId": item.resource_id,
                "quantity": item.quantity,
                "unitType": item.unit_type,
                "completed": item.completed,
                "Product": {
                    "id": resource.product_id,
                    "name": resource.name,
                    "sku": resource.sku,
                    "unitType": resource.unit_type,
                    "stockLevel": view.stock_levels.get(resource.product_id, Decimal(0)),
                    "type": resource.kind,
                }
                if resource is not None
                else None,
                "Batches": [
                    {
                        "id": b.batch_id,
                        "UserId": b.user_id,
                        "quantity": b.quantity,
                        "createdAt": b.created_at,
                        "updatedAt": b.updated_at,
                    }
                    for b in item.batches
                ],
            }
        )
    return {
        "id": task.task_id,
        "name": task.name,
        "status": task.status.value,
        "order": task.order,
        "LocationId": task.location_id,
        "UserId": task.user_id,
        "due": task.due,
        "completedAt": task.completed_at,
        "notes": task.notes,
        "createdAt": task.created_at,
        "updatedAt": task.updated_at,
        "Items": items,
        "version": task.version,
    }


class BatchIn(In):
    quantity: Number = Field(gt=0, description="Quantity to produce in this batch, in the item's unitType")
    UserId: str | None = Field(None, max_length=320, description="Extension: who produced it (user ID or email)")


class BatchOut(Model):
    id: int
    TaskResourceId: int = Field(description="The task item's id")
    UserId: str | None
    quantity: Decimal
    createdAt: datetime
    updatedAt: datetime


# -- users and custom statuses -----------------------------------------------------------


class UserCreate(In):
    email: Email
    name: str = Field(min_length=1, max_length=200)


class UserOut(Model):
    id: str
    email: str
    name: str


def user_out(user: User) -> dict[str, Any]:
    return {"id": user.user_id, "email": user.email, "name": user.name}


class CustomStatusCreate(In):
    name: str = Field(min_length=1, max_length=100)
    effect: Literal["set", "add", "subtract"] = Field(
        description="set: like an audit (the quantity becomes the stock); add: like a restock; subtract: like a loss"
    )


class CustomStatusOut(Model):
    id: int
    name: str
    effect: Literal["set", "add", "subtract"]


def status_out(status: CustomStatus) -> dict[str, Any]:
    return {"id": status.status_id, "name": status.name, "effect": status.effect.value}


# What a client read and sends back unchanged: accepted, ignored.
ResourcePatch.read_only = answer_fields(ResourceOut)
BomIn.read_only = answer_fields(MaterialOut)
LocationPatch.read_only = answer_fields(LocationOut)
ItemIn.read_only = answer_fields(ItemOut)
TaskCreate.read_only = answer_fields(TaskOut)
TaskPatch.read_only = answer_fields(TaskOut)
BatchIn.read_only = answer_fields(BatchOut)
UserCreate.read_only = answer_fields(UserOut)
CustomStatusCreate.read_only = answer_fields(CustomStatusOut)


# The documented pages of the lists (`{"data": [...], "pagination": {...}}`), for OpenAPI.
class LocationPage(Model):
    data: list[LocationOut]
    pagination: Pagination


class TaskPage(Model):
    data: list[TaskOut]
    pagination: Pagination


class UserPage(Model):
    data: list[UserOut]
    pagination: Pagination


class CustomStatusPage(Model):
    data: list[CustomStatusOut]
    pagination: Pagination
