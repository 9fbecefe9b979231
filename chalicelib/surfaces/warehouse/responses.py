"""Response bodies of the 001 warehouse routes: what the handlers answer, field by field.

They document the answers (OpenAPI and the fuzzer check the real bodies against them); the
handlers build plain dicts (`models.py` `*_out`), these models describe those dicts exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from chalicelib.core.models import BinType, ClaimStatus, LotStatus, Model, MovementKind
from chalicelib.core.stock.adjustments import AdjustmentKind, Direction

# -- adjustments ----------------------------------------------------------------------


class ReasonCodeOut(Model):
    code: str = Field(description="The reason code an adjustment takes (`reasonCode`)")
    label: str = Field(description="Its human label")
    direction: Direction = Field(description="The direction of change it allows: increase, decrease or either")


class ReasonCodesOut(Model):
    data: list[ReasonCodeOut]


class ActorOut(Model):
    id: str = Field(description="Who made it: `key:<key id>` for an API key, a user id, or `system`")
    name: str = Field(description="Their display name")


class AdjustmentLineOut(Model):
    productMasterId: str
    locationId: str
    binId: str | None = Field(description="A bin id of this company (GET /api/inventory/bins); null: no bin")
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    toLotId: str | None = Field(None, description="Lot corrections only: the lot id the quantity went to")
    quantityChange: Decimal = Field(description="The signed change of on-hand")
    countedQuantity: Decimal | None = Field(None, description="Counts only: the quantity counted")
    previousOnHand: Decimal | None = Field(None, description="Counts only: the on-hand the count replaced")
    movementIds: list[str] = Field(description="The ids of the ledger movements the line made")


class AdjustmentOut(Model):
    id: str = Field(description="The adjustment document id")
    type: AdjustmentKind = Field(description="What made it: receipt, adjustment, count or lot_correction")
    reasonCode: str = Field(description="Its reason code (GET /api/inventory/adjustments/reason-codes)")
    notes: str | None = Field(description="Free notes")
    reference: str | None = Field(description="An outside reference (purchase order, incident)")
    createdAt: datetime
    createdBy: ActorOut
    lines: list[AdjustmentLineOut]


class AdjustedOut(AdjustmentOut):
    onHand: Decimal = Field(description="The place's on-hand after the adjustment")


# -- bins, holds, expiry -------------------------------------------------------------------


class BinOut(Model):
    id: str = Field(description="The bin id")
    locationId: str
    code: str = Field(description="The bin code, unique per location in any case")
    zone: str | None = Field(description="Its zone")
    type: BinType = Field(description="The bin type")
    capacity: Decimal | None = Field(description="Its capacity, in the products' units; null: unlimited")
    createdAt: datetime


class HoldOut(Model):
    id: str = Field(description="The hold id")
    productMasterId: str
    locationId: str
    binId: str | None = Field(description="A bin id of this company; null: no bin")
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    stockId: str
    quantity: Decimal = Field(description="The quantity still held")
    releasedQuantity: Decimal = Field(description="The quantity released so far")
    reason: str = Field(description="Why it is held")
    status: ClaimStatus = Field(description="active, released or expired")
    expiresAt: datetime | None = Field(description="When it releases itself; null: never")
    createdAt: datetime
    updatedAt: datetime


class ExpiredStockOut(Model):
    stockId: str
    locationId: str
    binId: str | None = Field(description="A bin id of this company; null: no bin")
    onHand: Decimal
    reserved: Decimal
    held: Decimal
    available: Decimal


class ExpiredLotOut(Model):
    id: str = Field(description="The lot id")
    lotNumber: str
    productMasterId: str
    expiryDate: date | None
    status: LotStatus = Field(description="The lot's status")
    onHand: Decimal = Field(description="The lot's on-hand over every place")
    held: Decimal = Field(description="The lot's held quantity over every place")
    stock: list[ExpiredStockOut] = Field(description="The lot's stock records")


class ExpiredLotsOut(Model):
    data: list[ExpiredLotOut]


class MovementOut(Model):
    id: str = Field(description="The ledger movement id")
    stockId: str
    locationId: str
    kind: MovementKind = Field(description="The movement kind")
    quantity: Decimal = Field(description="The signed change of on-hand")
    reason: str | None = Field(description="Its reason")


class MovementsOut(Model):
    movements: list[MovementOut]


# -- stock reads and lot control ------------------------------------------------------------


class LevelTotals(Model):
    onHand: Decimal
    reserved: Decimal
    held: Decimal
    available: Decimal
    inTransit: Decimal = Field(description="Quantity on its way (transfers shipped, not received)")


class BinLevelOut(LevelTotals):
    binId: str
    code: str | None = Field(description="The bin code; null when the bin is gone")


class LotLevelOut(LevelTotals):
    lotId: str
    lotNumber: str | None
    expiryDate: date | None
    status: LotStatus | None = Field(description="The lot's status; null when the lot is unknown")


class LocationLevelOut(LevelTotals):
    locationId: str
    name: str | None = Field(description="The location's name")
    bins: list[BinLevelOut]
    lots: list[LotLevelOut]


class LevelsOut(Model):
    productMasterId: str
    totals: LevelTotals
    locations: list[LocationLevelOut]


class ProblemOut(Model):
    field: str = Field(description="The field at fault")
    message: str = Field(description="What is wrong with it")


class ValidationOut(Model):
    valid: bool = Field(description="True when record-stock would accept it")
    errors: list[ProblemOut]


class ValidationsOut(Model):
    valid: bool = Field(description="True when every line is valid")
    lines: list[ValidationOut] = Field(description="Each line's verdict, in the order sent")
