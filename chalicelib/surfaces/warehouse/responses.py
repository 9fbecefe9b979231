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


# -- work items (cycle counts, transfers, put-away, replenishment, stock requests) ------------

Allowed = Field(description="The actions its current state allows (each a 409 otherwise)")
Version = Field(description="Its version, raised by every change")


class TransitionOut(Model):
    """One recorded step of a work item."""

    action: str = Field(description="The action taken")
    from_: str = Field(alias="from", description="The state it left")
    to: str = Field(description="The state it reached")
    by: ActorOut
    at: datetime = Field(description="When")
    comment: str | None = Field(description="The comment given with it")


class CountLineOut(Model):
    id: str = Field(description="The line id (`lineId` of counts and decisions)")
    productMasterId: str
    binId: str | None = Field(description="A bin id of this company; null: the product at the location")
    lotId: str | None = Field(description="A lot id of this company; null: every lot or none")
    expectedQuantity: Decimal | None = Field(
        None, description="On hand at the place when the batch was made; absent while the batch is blind"
    )
    variance: Decimal | None = Field(
        None, description="counted - expected (null until counted); absent while the batch is blind"
    )
    countedQuantity: Decimal | None = Field(description="The quantity counted; null until counted")
    resolution: str | None = Field(description="null until resolved, then accepted or rejected")
    adjustmentId: str | None = Field(description="The CYCLE_COUNT adjustment an accepted variance made")


class CycleCountOut(Model):
    id: str = Field(description="The batch id (`batchId`)")
    name: str
    locationId: str
    status: str = Field(description="open, counting, review, completed or cancelled")
    blind: bool = Field(description="True: expected quantities stay hidden until review")
    abcClasses: list[str] = Field(description="The ABC classes it was made from (empty for other batches)")
    allowedTransitions: list[str] = Allowed
    lines: list[CountLineOut]
    history: list[TransitionOut]
    createdBy: ActorOut
    createdAt: datetime
    updatedAt: datetime
    version: int = Version


class BlindLineOut(Model):
    id: str = Field(description="The line id (`lineId` of counts)")
    productMasterId: str
    productName: str | None
    sku: str | None
    binId: str | None = Field(description="A bin id of this company; null: the product at the location")
    binCode: str | None
    lotId: str | None = Field(description="A lot id of this company; null: every lot or none")
    lotNumber: str | None
    countedQuantity: Decimal | None = Field(description="The quantity counted; null until counted")


class BlindFormOut(Model):
    batchId: str
    name: str
    locationId: str
    status: str = Field(description="open, counting, review, completed or cancelled")
    lines: list[BlindLineOut]


class AbcRowOut(Model):
    productMasterId: str
    productName: str
    sku: str | None
    outboundQuantity: Decimal = Field(description="Units that went out over the period")
    outboundValue: Decimal = Field(description="Their value: units x cost price (else unit price, else 1)")
    share: Decimal = Field(description="Its share of the total outbound value, 0 to 1")
    class_: str = Field(alias="class", description="A, B or C")
    countFrequencyDays: int = Field(description="How often to count it: A 30 days, B 90, C 365")


class AbcOut(Model):
    days: int = Field(description="The period, in days back from now")
    locationId: str | None = Field(description="The location it was computed for; null: every location")
    data: list[AbcRowOut]


class PickOut(Model):
    stockId: str = Field(description="The stock record id the quantity left")
    binId: str | None = Field(description="A bin id of this company; null: no bin")
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    quantity: Decimal
    inTransitStockId: str | None = Field(description="The in-transit stock record holding it while shipped")


class TransferLineOut(Model):
    id: str = Field(description="The line id (`lineId` of partial receipts)")
    productMasterId: str
    lotId: str | None = Field(description="The lot asked for; null: first expiry first or no lot")
    quantity: Decimal
    shippedQuantity: Decimal
    receivedQuantity: Decimal
    returnedQuantity: Decimal = Field(description="Quantity returned to its source by a cancel")
    inTransitQuantity: Decimal
    picks: list[PickOut] = Field(description="Where the shipped quantity came from")


class TransferOut(Model):
    id: str = Field(description="The transfer id")
    fromLocationId: str
    toLocationId: str
    fromBinId: str | None
    toBinId: str | None
    notes: str | None
    status: str = Field(description="draft, shipped, received, completed or cancelled")
    allowedTransitions: list[str] = Allowed
    lines: list[TransferLineOut]
    history: list[TransitionOut]
    createdBy: ActorOut
    createdAt: datetime
    updatedAt: datetime
    version: int = Version


class BinContentOut(Model):
    productMasterId: str
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    stockId: str
    onHand: Decimal


class TransferBinOut(Model):
    id: str = Field(description="The bin id")
    code: str
    zone: str | None
    type: BinType = Field(description="The bin type")
    capacity: Decimal | None = Field(description="Its capacity; null: unlimited")
    onHand: Decimal = Field(description="What it holds")
    fill: Decimal | None = Field(description="onHand / capacity; null without a capacity")
    contents: list[BinContentOut]


class TransferBinsOut(Model):
    locationId: str
    bins: list[TransferBinOut]


class PutAwayOut(Model):
    id: str = Field(description="The put-away task id")
    taskId: str = Field(description="The same task id, as the body of completion takes it")
    productMasterId: str
    locationId: str
    fromBinId: str
    toBinId: str | None
    suggested: bool = Field(description="True when the server chose `toBinId`")
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    quantity: Decimal
    status: str = Field(description="open, completed or cancelled")
    allowedTransitions: list[str] = Allowed
    history: list[TransitionOut]
    createdBy: ActorOut
    createdAt: datetime
    updatedAt: datetime
    version: int = Version


class ReplenishmentConfigOut(Model):
    productMasterId: str
    locationId: str
    method: str = Field(description="The replenishment method")
    minQuantity: Decimal
    maxQuantity: Decimal
    reorderQuantity: Decimal | None
    packSize: Decimal | None = Field(description="Orders are rounded up to a multiple of it")
    leadTimeDays: int | None
    safetyStock: Decimal | None
    sourceLocationId: str | None
    updatedAt: datetime
    version: int = Version


class SuggestionOut(Model):
    productMasterId: str
    locationId: str
    available: Decimal
    incoming: Decimal = Field(description="On its way: open replenishment records and transfers in transit")
    reorderPoint: Decimal
    suggestedQuantity: Decimal
    sourceLocationId: str | None
    reason: str = Field(description="Why it is suggested")


class SuggestionsOut(Model):
    data: list[SuggestionOut]


class ReplenishmentOut(Model):
    id: str = Field(description="The replenishment record id (`recordId`)")
    productMasterId: str
    locationId: str
    quantity: Decimal
    sourceLocationId: str | None
    transferId: str | None = Field(description="The transfer ordering it made (GET /api/inventory/transfers/{id})")
    status: str = Field(description="open, ordered, received or cancelled")
    allowedTransitions: list[str] = Allowed
    origin: str = Field(description="manual, suggestion or schedule")
    reason: str | None
    history: list[TransitionOut]
    createdBy: ActorOut
    createdAt: datetime
    updatedAt: datetime
    version: int = Version


class RequestLineOut(Model):
    id: str = Field(description="The line id (`lineId` of fulfilment)")
    productMasterId: str
    quantity: Decimal
    approvedQuantity: Decimal
    reservedQuantity: Decimal = Field(description="Still reserved at the source location")
    fulfilledQuantity: Decimal


class CommentOut(Model):
    id: str = Field(description="The comment id")
    text: str
    by: ActorOut
    at: datetime


class StockRequestOut(Model):
    id: str = Field(description="The stock request id")
    number: str = Field(description="Its human number (SR-000042)")
    title: str
    category: str | None
    priority: str = Field(description="low, normal, high or urgent")
    requestedBy: ActorOut
    locationId: str = Field(description="The location id that asks for the stock")
    sourceLocationId: str = Field(description="The location id the stock comes from")
    neededBy: date | None
    notes: str | None
    status: str = Field(description="draft, submitted, approved, rejected, fulfilled or cancelled")
    allowedTransitions: list[str] = Allowed
    rejectionReason: str | None
    lines: list[RequestLineOut]
    comments: list[CommentOut]
    history: list[TransitionOut]
    createdAt: datetime
    updatedAt: datetime
    version: int = Version


class CategoryOut(Model):
    category: str | None = Field(description="The category; null: requests without one")
    count: int
    byStatus: dict[str, int] = Field(description="Requests per status")
    quantity: Decimal = Field(description="Quantity asked for over their lines")


class CategoriesOut(Model):
    data: list[CategoryOut]


class TopProductOut(Model):
    productMasterId: str
    productName: str | None
    quantity: Decimal


class DashboardOut(Model):
    total: int
    byStatus: dict[str, int] = Field(description="Requests per status")
    pendingApprovals: int
    averageTimeToApproveSeconds: float | None = Field(description="From submit to approve; null: none approved")
    topRequestedProducts: list[TopProductOut]


class FiltersOut(Model):
    status: list[str]
    priority: list[str]
    category: list[str]
    requestedBy: list[ActorOut]
    locationId: list[str] = Field(description="Location ids the requests name (GET /api/locations)")


class ProductMatchOut(Model):
    productMasterId: str
    name: str
    sku: str | None
    available: Decimal = Field(description="Available everywhere")
    availableAtLocation: Decimal = Field(description="Available at `locationId` (0 without it)")


class ProductMatchesOut(Model):
    data: list[ProductMatchOut]


class StocklistRecordOut(Model):
    stockId: str
    binId: str | None = Field(description="A bin id of this company; null: no bin")
    lotId: str | None = Field(description="A lot id of this company; null: stock without lot")
    available: Decimal


class StocklistRowOut(Model):
    productMasterId: str
    productName: str | None
    sku: str | None
    available: Decimal
    records: list[StocklistRecordOut]


class StocklistOut(Model):
    locationId: str
    data: list[StocklistRowOut]


class DeletedOut(Model):
    id: str = Field(description="The id of the deleted stock request")
    deleted: bool


class RequestLinesOut(Model):
    data: list[RequestLineOut]


class RequestStatusOut(Model):
    id: str = Field(description="The stock request id")
    number: str
    status: str
    allowedTransitions: list[str] = Allowed
    history: list[TransitionOut]
