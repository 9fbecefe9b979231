"""Request and response bodies of the 000 document, in its field names.

Request models refuse unknown fields (a 400 naming them), but the
document's responses carry server-owned fields (companyId, createdAt,
updatedAt, the resolved labels, millCertificationId, linkedOrders) that
clients send back: they can never set them, so those are dropped silently
(`read_only`, set from the answer model below).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from chalicelib.core.bodies import Body, answer_fields
from chalicelib.core.ids import Id, UniqueIds
from chalicelib.core.models import HistoryEvent, Model
from chalicelib.core.values import Number, Text, Version
from chalicelib.features.company_inventory.service import (
    ATTRIBUTES,
    INPUT_FIELDS,
    MAX_NAME_CHARS,
    MAX_TAGS,
    MAX_TEXT_CHARS,
    InventoryItem,
    ItemInput,
    documented,
)

Short = Field(None, min_length=1, max_length=MAX_TEXT_CHARS)
Amount = Field(None, ge=0)


class InventoryFields(Body):
    productName: Text | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS)
    quantity: Number | None = Field(None, ge=0, description="Number of pieces (on hand)")
    weight: Number | None = Amount
    heatCode: Text | None = Short
    diameter: Number | None = Amount
    length: Number | None = Amount
    width: Number | None = Amount
    depth: Number | None = Amount
    type: Text | None = Short
    material: Text | None = Short
    supplierId: Id | None = None
    stockLocationId: Id | None = Field(
        None,
        description="A stock location of this company; an item created without one goes to the company's default "
        "location",
    )
    unitPrice: Number | None = Amount
    tags: list[Annotated[Text, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        None, max_length=MAX_TAGS, description="Manual tag ids; rule-based tags are separate"
    )

    def to_input(self, stock_id: str | None = None, version: int | None = None) -> ItemInput:
        sent = self.model_fields_set
        attributes = {name: documented(name) for name in ATTRIBUTES}
        given = {core for doc, core in INPUT_FIELDS.items() if doc in sent}
        return ItemInput(
            given=frozenset(given),
            name=self.productName,
            quantity=self.quantity,
            location_id=self.stockLocationId,
            attributes={name: getattr(self, doc) for name, doc in attributes.items() if doc in sent},
            tags=tuple(self.tags) if self.tags is not None else None,
            stock_id=stock_id,
            version=version,
        )


class InventoryCreate(InventoryFields):
    productName: Text = Field(min_length=1, max_length=MAX_NAME_CHARS)


class InventoryUpdate(InventoryFields):
    inventoryId: Id
    version: Version | None = Field(None, description="The version read; a stale one is a 409")


class DeleteIds(Body):
    ids: UniqueIds = Field(min_length=1, max_length=100)


class InventoryOut(Model):
    createdAt: datetime
    updatedAt: datetime
    millCertificationId: str | None
    linkedOrders: str = Field(description="JSON array string of linked orders; '[]' when none")
    typeLabel: str | None
    materialLabel: str | None
    supplierName: str | None
    stockLocationLabel: str | None
    quantity: Decimal
    weight: Decimal | None
    heatCode: str | None
    diameter: Decimal | None
    length: Decimal | None
    width: Decimal | None
    depth: Decimal | None
    type: str | None
    material: str | None
    supplierId: str | None
    stockLocationId: str
    inventoryId: str
    companyId: str
    productName: str | None
    unitPrice: Decimal | None
    tags: list[str]
    ruleTags: list[str]
    version: int


# What a client read (GET) and sends back unchanged: accepted, ignored.
InventoryFields.read_only = answer_fields(InventoryOut)


def item_out(item: InventoryItem) -> dict[str, Any]:
    fields = item.fields()
    linked = json.dumps(item.linked_orders, separators=(",", ":"))
    return {name: (linked if name == "linkedOrders" else fields.get(name)) for name in InventoryOut.model_fields}


class DeleteResult(Model):
    deletedCount: int
    deletedIds: list[str]


class TagEvaluation(Model):
    inventoryId: str
    companyId: str
    assignedTagCount: int


class UnreservedLinkOut(Model):
    linkId: str
    companyId: str
    orderLineItemId: str | None
    inventoryId: str


class FieldChangeOut(Model):
    field: str
    old: Any = None
    new: Any = None


class HistoryOut(Model):
    changedAt: datetime
    changedById: str
    changedByName: str
    changeType: str
    entityType: str
    entityId: str
    entityLabel: str | None
    changes: list[FieldChangeOut]


def history_out(event: HistoryEvent) -> dict[str, Any]:
    return {
        "changedAt": event.changed_at,
        "changedById": event.changed_by_id,
        "changedByName": event.changed_by_name,
        "changeType": event.change_type,
        "entityType": "inventory" if event.entity_type == "stock" else event.entity_type,
        "entityId": event.entity_id,
        "entityLabel": event.entity_label,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in event.changes],
    }
