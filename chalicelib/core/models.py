"""The core domain model shared by every surface.

Field names are the core's own; each surface translates to its documented
names. Quantities and money are Decimal everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.ids import new_id, utcnow

ZERO = Decimal(0)


class Model(BaseModel):
    """Base of every Stockroom model: its validator is built on first use, not at import.

    A request builds only the models it touches, so importing the app (every
    route's request and response models) stays cheap for a cold start.
    """

    model_config = ConfigDict(defer_build=True)


class Actor(Model):
    """Who makes a change. Stamped on every item so the audit trail can name them."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


# Constructed without validation (the fields are plain strings): nothing is built at import.
SYSTEM = Actor.model_construct(id="system", name="Stockroom")


class Entity(Model):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    tenant_id: str
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Tenant(Entity):
    name: str


class ApiKey(Entity):
    key_id: str
    name: str
    key_hash: str
    permissions: list[str]
    revoked: bool = False


class ProductionType(StrEnum):
    INFINITE = "infinite"
    SINGLE = "single"
    PRODUCED = "produced"
    SUPPLIED = "supplied"
    BUNDLE = "bundle"


class BomLine(Model):
    """One material of a product's bill of materials."""

    product_id: str
    quantity_used: Decimal


class Product(Entity):
    product_id: str = Field(default_factory=new_id)
    name: str
    sku: str | None = None
    ean: str | None = None
    kind: str = "product"  # "product" or "material" (002 keeps them apart)
    unit_type: str = "pieces"
    unit_price: Decimal | None = None
    cost_price: Decimal | None = None
    retail_price: Decimal | None = None
    wholesale_price: Decimal | None = None
    min_level: Decimal | None = None
    minimum_quantity: Decimal | None = None
    notes: str | None = None
    reorder_urls: list[str] = Field(default_factory=list)
    production_type: ProductionType | None = None
    materials: list[BomLine] = Field(default_factory=list)
    # External identifiers by source system (004 sourceId lookups).
    source_ids: dict[str, str] = Field(default_factory=dict)
    # The numeric id (004 `productId`): given by storage from a per-tenant counter when the product is created.
    number: int | None = None
    # When true, on-hand (and so available) may go below zero for this product.
    allow_negative: bool = False
    attributes: dict[str, Any] = Field(default_factory=dict)
    active: bool = True
    # 001: stock of a lot-controlled product is kept per lot (record-stock needs a lot number);
    # an expiry-tracked one needs an expiry date on receipt. `category_id` groups products (analytics).
    lot_controlled: bool = False
    expiry_tracked: bool = False
    category_id: str | None = None


class Address(Model):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None


class Location(Entity):
    location_id: str = Field(default_factory=new_id)
    name: str
    code: str | None = None
    is_default: bool = False
    hide_materials: bool = False
    address: Address = Field(default_factory=Address)
    active: bool = True
    # The numeric id (004 `warehouseId`): 0 for the default location, else from a per-tenant counter on create.
    number: int | None = None


class BinType(StrEnum):
    RECEIVING = "receiving"
    STORAGE = "storage"
    PICKING = "picking"
    QUARANTINE = "quarantine"
    DESTRUCTION = "destruction"


class Bin(Entity):
    """A place inside a location (001 bins; 004 `location`). Its code is unique per location."""

    location_id: str
    bin_id: str = Field(default_factory=new_id)
    code: str
    zone: str | None = None
    type: BinType = BinType.STORAGE
    capacity: Decimal | None = None
    active: bool = True


class LotStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    QUARANTINED = "quarantined"


class Lot(Entity):
    """A batch of one product, with an optional expiry date (001 lots; heat codes are lots too).

    `lot_id` is derived from (tenant, product, casefolded lot number) (`core/stock/lots.lot_id_for`),
    so a lot number names one lot per product and creating it twice is the same write.
    """

    lot_id: str
    product_id: str
    lot_number: str
    expiry_date: date | None = None
    status: LotStatus = LotStatus.ACTIVE


class StockRecord(Entity):
    """A quantity of one product at one place, optionally per lot, owner or piece.

    `available` is stored, not only derived, because a DynamoDB condition
    cannot do arithmetic: the write that lowers it must be able to say
    `available >= :need`.
    """

    stock_id: str = Field(default_factory=new_id)
    product_id: str
    location_id: str
    bin_id: str | None = None
    lot_id: str | None = None
    # Who owns the stock: "INTERN" for the tenant's own, else a supplier name (004).
    owner: str = "INTERN"
    supplier_code: str | None = None
    # Row name; a split row carries its order reference (000/003).
    name: str | None = None
    # Piece attributes: dimensions, weight, heat code, prices, notes, and so on.
    attributes: dict[str, Any] = Field(default_factory=dict)
    natural_key: str | None = None
    # The numeric id (004 record `id`), from a per-tenant counter; records of other surfaces get one on first need.
    number: int | None = None
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    held: Decimal = ZERO
    available: Decimal = ZERO
    allow_negative: bool = False
    active: bool = True
    # Stock on its way between locations (001 transfers): the transfer's id. Such a record sits at the
    # destination with all of it held (never available at either end) and is shown as in transit.
    in_transit: str | None = None

    @model_validator(mode="after")
    def _available_is_derived(self) -> StockRecord:
        expected = self.on_hand - self.reserved - self.held
        if self.available != expected:
            raise ValueError("available must equal on_hand - reserved - held")
        return self


class MovementKind(StrEnum):
    INITIAL = "initial"
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    PRODUCTION = "production"
    CONSUMPTION = "consumption"
    SHIPMENT = "shipment"
    IMPORT = "import"
    SPLIT = "split"
    CORRECTION = "correction"
    LOSS = "loss"


class Movement(Model):
    """An append-only ledger line. The sum of a record's movements is its on-hand."""

    tenant_id: str
    movement_id: str = Field(default_factory=new_id)
    stock_id: str
    product_id: str
    location_id: str
    kind: MovementKind
    quantity: Decimal
    reason: str | None = None
    reference: str | None = None
    actor: Actor
    occurred_at: datetime = Field(default_factory=utcnow)
    # The unit price of what an increase brings in, when the writer knows it (stock blocks value it).
    unit_price: Decimal | None = None
    # The movement this one undoes exactly (a deleted production batch), so FIFO gives back what it took.
    reverses: str | None = None

    def same_command(self, other: Movement) -> bool:
        """True when `other` is a redelivery of this command, not a new one."""
        return (self.stock_id, self.kind, self.quantity, self.reason, self.reference) == (
            other.stock_id,
            other.kind,
            other.quantity,
            other.reason,
            other.reference,
        )


class ClaimStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    FULFILLED = "fulfilled"


class Reservation(Entity):
    """Quantity of a stock record promised to an order line or a channel."""

    reservation_id: str = Field(default_factory=new_id)
    stock_id: str
    product_id: str
    location_id: str
    quantity: Decimal
    status: ClaimStatus = ClaimStatus.ACTIVE
    # What the stock is promised to: orderId, lineItemId, orderReference, channel...
    reference: dict[str, str] = Field(default_factory=dict)
    expires_at: datetime | None = None


class Hold(Entity):
    """Quantity blocked from availability, with a reason (001)."""

    hold_id: str = Field(default_factory=new_id)
    stock_id: str
    product_id: str
    location_id: str
    quantity: Decimal
    reason: str
    status: ClaimStatus = ClaimStatus.ACTIVE
    # 001: where the held stock is (copied from the record), when the hold ends by itself,
    # and how much of it was released so far (a partial release lowers `quantity`).
    bin_id: str | None = None
    lot_id: str | None = None
    expires_at: datetime | None = None
    released_quantity: Decimal = ZERO


class HistoryEvent(Model):
    """One field-level change of one entity, derived from the table stream."""

    tenant_id: str
    event_id: str
    changed_at: datetime
    changed_by_id: str
    changed_by_name: str
    change_type: str  # INSERT, MODIFY or REMOVE
    entity_type: str
    entity_id: str
    entity_label: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    # The entity whose timeline also holds this one's events (an order line's order), if any.
    parent_type: str | None = None
    parent_id: str | None = None


class FieldChange(Model):
    field: str
    old: Any = None
    new: Any = None
