"""Receiving, adjusting, counting and lot corrections (001), as ledger movements with a reason code.

Every command here is ONE unit of work: its stock writes (new records with
their first movement, guarded changes), the lot it creates, and the
adjustment document that lists what it did (who, why, which lines) commit
together or not at all.

- `record_stock`: a receipt onto the place's slot record; lot control applies
  (`core/stock/lots.check_receipt`), a new lot number creates the lot.
- `adjust`: one signed change with a reason code; `expected_on_hand` is a
  compare-and-set on the place's on-hand (409 with the current figure).
- `adjust_document`: up to 40 lines under one reason code, all or nothing.
- `count`: a counted quantity becomes `counted - on hand`, every record read
  guarded on its figure, so a concurrent movement makes it plan again rather
  than be lost.
- `lot_correction`: stock moves from one lot to another at the same place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from chalicelib.core.errors import (
    AlreadyExists,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    NotFound,
    ValidationFailed,
)
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor, Entity, Lot, Model, MovementKind, Product, StockRecord
from chalicelib.core.ports import StockChange, StockWrite
from chalicelib.core.stock.lots import Receipt, check_receipt, lot_id_for, require_valid, slot_id
from chalicelib.core.stock.slots import MAX_ATTEMPTS, Place, WarehouseBase, field_error, movements_of

MAX_DOCUMENT_LINES = 40


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


@dataclass(frozen=True)
class ReasonCode:
    code: str
    label: str
    direction: Direction


REASON_CODES: tuple[ReasonCode, ...] = (
    ReasonCode("DAMAGED", "Damaged", Direction.DECREASE),
    ReasonCode("LOST", "Lost", Direction.DECREASE),
    ReasonCode("FOUND", "Found", Direction.INCREASE),
    ReasonCode("THEFT", "Theft", Direction.DECREASE),
    ReasonCode("EXPIRED", "Expired", Direction.DECREASE),
    ReasonCode("RETURN", "Customer return", Direction.INCREASE),
    ReasonCode("SAMPLE", "Sample", Direction.DECREASE),
    ReasonCode("CYCLE_COUNT", "Cycle count", Direction.EITHER),
    ReasonCode("CORRECTION", "Correction", Direction.EITHER),
    ReasonCode("RECEIVED", "Received", Direction.INCREASE),
    ReasonCode("OTHER", "Other", Direction.EITHER),
)
REASONS = {r.code: r for r in REASON_CODES}


def reason_for(code: str, change: Decimal | None, field: str = "reasonCode") -> ReasonCode:
    """The reason code (any case); unknown, or a change against its direction, is a 400 naming `field`."""
    reason = REASONS.get(code.strip().upper())
    if reason is None:
        raise ValidationFailed(f"unknown reason code {code}", field_error(field, f"one of {', '.join(REASONS)}"))
    if change is not None and change != 0:
        wrong = (reason.direction == Direction.INCREASE and change < 0) or (
            reason.direction == Direction.DECREASE and change > 0
        )
        if wrong:
            raise ValidationFailed(
                f"{reason.code} is a {reason.direction.value}",
                field_error(field, f"{reason.code} only allows a {reason.direction.value}"),
            )
    return reason


class AdjustmentKind(StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    LOT_CORRECTION = "lot_correction"


class AdjustmentLine(Model):
    product_id: str
    location_id: str
    bin_id: str | None = None
    lot_id: str | None = None
    to_lot_id: str | None = None
    quantity_change: Decimal
    # Counts: what was counted and the on-hand it replaced.
    counted_quantity: Decimal | None = None
    previous_on_hand: Decimal | None = None
    movement_ids: list[str] = Field(default_factory=list)


class Adjustment(Entity):
    """The document of one stock command: its reason, its lines, who made it (listed by kind and time)."""

    adjustment_id: str = Field(default_factory=new_id)
    kind: AdjustmentKind
    reason_code: str
    notes: str | None = None
    reference: str | None = None
    actor_id: str
    actor_name: str
    lines: list[AdjustmentLine]


@dataclass(frozen=True)
class LineIn:
    """One line of an adjustment command."""

    place: Place
    quantity_change: Decimal


@dataclass(frozen=True)
class AdjustmentFilter:
    product_id: str | None = None
    location_id: str | None = None
    reason_code: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None

    def keeps(self, document: Adjustment) -> bool:
        if self.reason_code and document.reason_code != self.reason_code.upper():
            return False
        if self.from_date and document.created_at < self.from_date:
            return False
        if self.to_date and document.created_at > self.to_date:
            return False
        lines = document.lines
        if self.product_id and not any(line.product_id == self.product_id for line in lines):
            return False
        return not (self.location_id and not any(line.location_id == self.location_id for line in lines))


class Adjustments(WarehouseBase):
    """Mixin of WarehouseStock: receipts, adjustments, counts, lot corrections (see the module docstring)."""

    def receipt_problems(
        self, tenant_id: str, product: Product, receipt: Receipt, index: int | None = None
    ) -> tuple[list[dict[str, str]], Lot | None]:
        """The lot-control problems of a receipt and the lot its number names (if known): one read."""
        known = None
        if receipt.lot_number and receipt.lot_number.strip():
            lot_id = lot_id_for(tenant_id, product.product_id, receipt.lot_number)
            known = self.lots(tenant_id, [lot_id]).get(lot_id)
        return check_receipt(product, receipt, known, index), known

    def record_stock(
        self,
        tenant_id: str,
        place: Place,
        quantity: Decimal,
        receipt: Receipt,
        actor: Actor,
        *,
        unit_cost: Decimal | None = None,
        reference: str | None = None,
        command_id: str | None = None,
    ) -> tuple[Adjustment, StockRecord | None]:
        """Receive `quantity` (> 0) at the place, into the lot `receipt` names (created when new).

        Returns the document and the slot record as read before the receipt (None when it was new).
        """
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", field_error("quantity", "must be > 0"))
        product = self.check_place(tenant_id, place)
        for attempt in range(MAX_ATTEMPTS):
            problems, known = self.receipt_problems(tenant_id, product, receipt)
            require_valid(problems)
            lot = known
            if receipt.lot_number and known is None:
                lot = Lot(
                    tenant_id=tenant_id,
                    lot_id=lot_id_for(tenant_id, product.product_id, receipt.lot_number),
                    product_id=product.product_id,
                    lot_number=receipt.lot_number.strip(),
                    expiry_date=receipt.expiry_date,
                )
            at = Place(place.product_id, place.location_id, place.bin_id, lot.lot_id if lot else None)
            records = self.records_at_place(tenant_id, at)
            doc_id = command_id or new_id()
            write = self.plan_increase(
                tenant_id,
                product,
                at,
                records,
                quantity,
                actor,
                kind=MovementKind.RECEIPT,
                reason="RECEIVED",
                reference=reference,
                movement_id=f"{doc_id}:0",
                unit_price=unit_cost,
            )
            document = self._document(
                tenant_id, doc_id, AdjustmentKind.RECEIPT, "RECEIVED", None, reference, actor, [(at, quantity, [write])]
            )
            uow = self._transactions.begin(command_id)
            if lot is not None and known is None:
                self._warehouse.add_new_lot(lot, actor, uow)
            self.add_writes(tenant_id, [write], actor, uow)
            self._warehouse.add_adjustment(document, actor, uow)
            try:
                uow.commit()
            except AlreadyExists:
                # A concurrent receipt created the lot or the slot record first: plan again.
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                continue
            except DuplicateCommand:
                return self._replayed(tenant_id, doc_id), None
            own = slot_id(tenant_id, at.product_id, at.location_id, at.bin_id, at.lot_id)
            return document, next((r for r in records if r.stock_id == own), None)
        raise AssertionError("unreachable")

    def adjust(
        self,
        tenant_id: str,
        place: Place,
        quantity_change: Decimal,
        reason_code: str,
        actor: Actor,
        *,
        notes: str | None = None,
        reference: str | None = None,
        expected_on_hand: Decimal | None = None,
        command_id: str | None = None,
    ) -> tuple[Adjustment, Decimal]:
        """One signed change at a place; returns the document and the place's on-hand after it.

        `expected_on_hand`: the change applies only if the place holds exactly that (409 with the
        current figure otherwise, also when another writer gets in between the read and the write).
        """
        if quantity_change == 0:
            raise ValidationFailed("quantityChange must not be 0", field_error("quantityChange", "must not be 0"))
        reason = reason_for(reason_code, quantity_change)
        product = self.check_place(tenant_id, place)
        doc_id = command_id or new_id()
        for attempt in range(MAX_ATTEMPTS):
            records = self.records_at_place(tenant_id, place)
            on_hand = sum((r.on_hand for r in records), ZERO)
            if expected_on_hand is not None and on_hand != expected_on_hand:
                raise _on_hand_moved(on_hand, expected_on_hand)
            guard = expected_on_hand is not None
            writes = self._plan_line(
                tenant_id, product, place, records, quantity_change, actor, reason.code, reference, f"{doc_id}:0", guard
            )
            if guard:
                writes = writes + _checks(records, writes, actor)
            document = self._document(
                tenant_id,
                doc_id,
                AdjustmentKind.ADJUSTMENT,
                reason.code,
                notes,
                reference,
                actor,
                [(place, quantity_change, writes)],
            )
            try:
                self._commit(tenant_id, writes, document, actor, command_id)
            except ExpectationFailed:
                if expected_on_hand is not None:
                    current = sum((r.on_hand for r in self.records_at_place(tenant_id, place)), ZERO)
                    raise _on_hand_moved(current, expected_on_hand) from None
                continue
            except AlreadyExists:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                continue
            except DuplicateCommand:
                replay = self._replayed(tenant_id, doc_id)
                return replay, sum((r.on_hand for r in self.records_at_place(tenant_id, place)), ZERO)
            return document, on_hand + quantity_change
        raise ExpectationFailed("the stock here is changing too fast; try again")

    def adjust_document(
        self,
        tenant_id: str,
        reason_code: str,
        lines: list[LineIn],
        actor: Actor,
        *,
        notes: str | None = None,
        reference: str | None = None,
        command_id: str | None = None,
        known_records: Mapping[str, list[StockRecord]] | None = None,
    ) -> Adjustment:
        """Every line under one reason code, all or nothing, in ONE transaction (up to 40 lines).

        `known_records`: the products' active records as the caller just read them (one Query of a location for
        a cycle count), used for the first attempt instead of one Query per product."""
        if not lines:
            raise ValidationFailed("an adjustment needs lines", field_error("lines", "at least 1 line"))
        if len(lines) > MAX_DOCUMENT_LINES:
            raise ValidationFailed(
                f"at most {MAX_DOCUMENT_LINES} lines", field_error("lines", f"at most {MAX_DOCUMENT_LINES} lines")
            )
        for index, line in enumerate(lines):
            if line.quantity_change == 0:
                raise ValidationFailed(
                    "quantityChange must not be 0", field_error(f"lines[{index}].quantityChange", "must not be 0")
                )
            reason_for(reason_code, line.quantity_change)
        reason = reason_for(reason_code, None)
        products = self._catalog.get_products(tenant_id, list({line.place.product_id for line in lines}))
        doc_id = command_id or new_id()
        for attempt in range(MAX_ATTEMPTS):
            for index, line in enumerate(lines):
                found = products.get(line.place.product_id)
                if found is None or not found.active:
                    raise _not_found(f"lines[{index}].productMasterId", "product")
            by_product = self._records_of(tenant_id, list(products), known_records if attempt == 0 else None)
            # One read of every lot the document names or may draw from (FEFO), with the checks of the places.
            wanted = [line.place.lot_id for line in lines if line.place.lot_id]
            wanted += [
                r.lot_id for pid, rs in by_product.items() if products[pid].lot_controlled for r in rs if r.lot_id
            ]
            lots = self.lots(tenant_id, wanted)
            self._check_places(tenant_id, lines, lots)
            planned: list[tuple[Place, Decimal, list[StockWrite]]] = []
            for index, line in enumerate(lines):
                product = products[line.place.product_id]
                records = [
                    r
                    for r in by_product.get(product.product_id, [])
                    if r.location_id == line.place.location_id
                    and (line.place.bin_id is None or r.bin_id == line.place.bin_id)
                    and (line.place.lot_id is None or r.lot_id == line.place.lot_id)
                ]
                try:
                    writes = self._plan_line(
                        tenant_id,
                        product,
                        line.place,
                        records,
                        line.quantity_change,
                        actor,
                        reason.code,
                        reference,
                        f"{doc_id}:{index}",
                        False,
                        lots,
                    )
                except (ValidationFailed, InsufficientStock) as error:
                    raise type(error)(
                        error.message, field_error(f"lines[{index}].quantityChange", error.message)
                    ) from None
                planned.append((line.place, line.quantity_change, writes))
            writes = _merged([w for _, _, ws in planned for w in ws])
            document = self._document(
                tenant_id, doc_id, AdjustmentKind.ADJUSTMENT, reason.code, notes, reference, actor, planned
            )
            try:
                self._commit(tenant_id, writes, document, actor, command_id)
            except AlreadyExists:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                continue
            except DuplicateCommand:
                return self._replayed(tenant_id, doc_id)
            return document
        raise AssertionError("unreachable")

    def count(
        self,
        tenant_id: str,
        place: Place,
        counted: Decimal,
        actor: Actor,
        *,
        reason_code: str = "CYCLE_COUNT",
        notes: str | None = None,
        command_id: str | None = None,
    ) -> Adjustment:
        """Make the place hold `counted`: the difference from on-hand becomes one adjustment, applied with
        every record read guarded on its figure, so a movement landing in between makes it count again
        (never lost, never overwritten)."""
        if counted < 0:
            raise ValidationFailed("countedQuantity cannot be negative", field_error("countedQuantity", "must be >= 0"))
        reason = reason_for(reason_code, None)
        product = self.check_place(tenant_id, place)
        doc_id = command_id or new_id()
        for _ in range(MAX_ATTEMPTS * 2):
            records = self.records_at_place(tenant_id, place)
            on_hand = sum((r.on_hand for r in records), ZERO)
            delta = counted - on_hand
            writes: list[StockWrite] = []
            if delta != 0:
                reason_for(reason.code, delta)
                writes = self._plan_line(
                    tenant_id, product, place, records, delta, actor, reason.code, notes, f"{doc_id}:0", True
                )
            writes = writes + _checks(records, writes, actor)
            document = self._document(
                tenant_id, doc_id, AdjustmentKind.COUNT, reason.code, notes, None, actor, [(place, delta, writes)]
            )
            document.lines[0].counted_quantity = counted
            document.lines[0].previous_on_hand = on_hand
            try:
                self._commit(tenant_id, writes, document, actor, command_id)
            except (ExpectationFailed, AlreadyExists):
                continue
            except DuplicateCommand:
                return self._replayed(tenant_id, doc_id)
            return document
        raise ExpectationFailed("the stock here is changing too fast to count; try again")

    def lot_correction(
        self,
        tenant_id: str,
        place: Place,
        to_lot: str | None,
        to_receipt: Receipt | None,
        quantity: Decimal,
        actor: Actor,
        *,
        notes: str | None = None,
        command_id: str | None = None,
    ) -> Adjustment:
        """Move `quantity` at the place from lot `place.lot_id` to `to_lot` (or a lot by number, created when
        new), as transfer movements with reason CORRECTION, in ONE transaction."""
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", field_error("quantity", "must be > 0"))
        if place.lot_id is None:
            raise ValidationFailed("fromLotId is required", field_error("fromLotId", "required"))
        product = self.check_place(tenant_id, place)
        doc_id = command_id or new_id()
        for attempt in range(MAX_ATTEMPTS):
            new_lot: Lot | None = None
            if to_lot is not None:
                target_lot = self.lot(tenant_id, to_lot, product.product_id, field="toLotId")
            else:
                if to_receipt is None or not to_receipt.lot_number:
                    raise ValidationFailed(
                        "toLotId or toLotNumber is required", field_error("toLotId", "toLotId or toLotNumber")
                    )
                problems, known = self.receipt_problems(tenant_id, product, to_receipt)
                require_valid([{**p, "field": "to" + p["field"][0].upper() + p["field"][1:]} for p in problems])
                target_lot = known or Lot(
                    tenant_id=tenant_id,
                    lot_id=lot_id_for(tenant_id, product.product_id, to_receipt.lot_number),
                    product_id=product.product_id,
                    lot_number=to_receipt.lot_number.strip(),
                    expiry_date=to_receipt.expiry_date,
                )
                new_lot = None if known else target_lot
            if target_lot.lot_id == place.lot_id:
                raise ValidationFailed("the lots are the same", field_error("toLotId", "same as fromLotId"))
            sources = self.records_at_place(tenant_id, place)
            target_place = Place(place.product_id, place.location_id, place.bin_id, target_lot.lot_id)
            targets = self.records_at_place(tenant_id, target_place)
            out = self.plan_decrease(
                tenant_id,
                sources,
                quantity,
                actor,
                kind=MovementKind.TRANSFER_OUT,
                reason="CORRECTION",
                reference=notes,
                movement_id=f"{doc_id}:out",
                field="quantity",
            )
            into = self.plan_increase(
                tenant_id,
                product,
                target_place,
                targets,
                quantity,
                actor,
                kind=MovementKind.TRANSFER_IN,
                reason="CORRECTION",
                reference=notes,
                movement_id=f"{doc_id}:in",
            )
            writes: list[StockWrite] = [*out, into]
            document = self._document(
                tenant_id,
                doc_id,
                AdjustmentKind.LOT_CORRECTION,
                "CORRECTION",
                notes,
                None,
                actor,
                [(place, -quantity, writes)],
            )
            document.lines[0].to_lot_id = target_lot.lot_id
            uow = self._transactions.begin(command_id)
            if new_lot is not None:
                self._warehouse.add_new_lot(new_lot, actor, uow)
            self.add_writes(tenant_id, writes, actor, uow)
            self._warehouse.add_adjustment(document, actor, uow)
            try:
                uow.commit()
            except AlreadyExists:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                continue
            except DuplicateCommand:
                return self._replayed(tenant_id, doc_id)
            return document
        raise AssertionError("unreachable")

    def adjustments(self, tenant_id: str, kind: AdjustmentKind, wanted: AdjustmentFilter) -> list[Adjustment]:
        """The documents of `kind`, newest first, that `wanted` keeps."""
        return [d for d in self._warehouse.list_adjustments(tenant_id, kind.value) if wanted.keeps(d)]

    # -- helpers -----------------------------------------------------------

    def _plan_line(
        self,
        tenant_id: str,
        product: Product,
        place: Place,
        records: list[StockRecord],
        change: Decimal,
        actor: Actor,
        reason: str,
        reference: str | None,
        movement_id: str,
        guard: bool,
        lots: Mapping[str, Lot] | None = None,
    ) -> list[StockWrite]:
        kind = MovementKind.ADJUSTMENT
        if change > 0:
            if product.lot_controlled and place.lot_id is None:
                raise ValidationFailed(
                    "this product is lot-controlled: name the lot to add to", field_error("lotId", "required")
                )
            return [
                self.plan_increase(
                    tenant_id,
                    product,
                    place,
                    records,
                    change,
                    actor,
                    kind=kind,
                    reason=reason,
                    reference=reference,
                    movement_id=movement_id,
                    guard=guard,
                )
            ]
        ordered = self.draw_order(tenant_id, product, place, records, lots)
        return list(
            self.plan_decrease(
                tenant_id,
                ordered,
                -change,
                actor,
                kind=kind,
                reason=reason,
                reference=reference,
                movement_id=movement_id,
                guard=guard,
            )
        )

    def _records_of(
        self, tenant_id: str, product_ids: list[str], known: Mapping[str, list[StockRecord]] | None
    ) -> dict[str, list[StockRecord]]:
        if known is not None:
            return {pid: list(known.get(pid, [])) for pid in product_ids}
        return self._stock.records_of(tenant_id, product_ids)

    def _check_places(self, tenant_id: str, lines: list[LineIn], lots: Mapping[str, Lot]) -> None:
        """404 naming the line's field for a location, lot or bin that is not this company's."""
        locations = self._catalog.locations(tenant_id, list({line.place.location_id for line in lines}))
        for index, line in enumerate(lines):
            location = locations.get(line.place.location_id)
            if location is None or not location.active:
                raise _not_found(f"lines[{index}].locationId", "location")
            if line.place.lot_id and (
                line.place.lot_id not in lots or lots[line.place.lot_id].product_id != line.place.product_id
            ):
                raise _not_found(f"lines[{index}].lotId", "lot")
            if (
                line.place.bin_id
                and self._catalog.get_bin(tenant_id, line.place.location_id, line.place.bin_id) is None
            ):
                raise _not_found(f"lines[{index}].binId", "bin")

    def _commit(
        self, tenant_id: str, writes: list[StockWrite], document: Adjustment, actor: Actor, command_id: str | None
    ) -> None:
        uow = self._transactions.begin(command_id)
        self.add_writes(tenant_id, writes, actor, uow)
        self._warehouse.add_adjustment(document, actor, uow)
        uow.commit()

    def _document(
        self,
        tenant_id: str,
        doc_id: str,
        kind: AdjustmentKind,
        reason: str,
        notes: str | None,
        reference: str | None,
        actor: Actor,
        lines: list[tuple[Place, Decimal, list[StockWrite]]],
    ) -> Adjustment:
        return Adjustment(
            tenant_id=tenant_id,
            adjustment_id=doc_id,
            kind=kind,
            reason_code=reason,
            notes=notes,
            reference=reference,
            actor_id=actor.id,
            actor_name=actor.name,
            lines=[
                AdjustmentLine(
                    product_id=place.product_id,
                    location_id=place.location_id,
                    bin_id=place.bin_id,
                    lot_id=place.lot_id,
                    quantity_change=change,
                    movement_ids=[m.movement_id for m in movements_of(writes)],
                )
                for place, change, writes in lines
            ],
        )

    def _replayed(self, tenant_id: str, doc_id: str) -> Adjustment:
        """The document a redelivered command wrote the first time (its id is the command id)."""
        found: Adjustment | None = self._warehouse.get_adjustment(tenant_id, doc_id)
        if found is None:
            raise DuplicateCommand(f"command {doc_id} was already used")
        return found


def _on_hand_moved(current: Decimal, expected: Decimal) -> ExpectationFailed:
    return ExpectationFailed(
        f"on hand is {current}, not the expected {expected}",
        field_error("expectedOnHand", f"current on hand is {current}"),
    )


def _checks(records: list[StockRecord], writes: list[StockWrite], actor: Actor) -> list[StockWrite]:
    """Guards on the records read but not written, so the command sees every figure it relied on."""
    written = {w.stock_id if isinstance(w, StockChange) else w.record.stock_id for w in writes}
    return [
        StockChange(stock_id=r.stock_id, actor=actor, expected_on_hand=r.on_hand)
        for r in records
        if r.stock_id not in written
    ]


def _merged(writes: list[StockWrite]) -> list[StockWrite]:
    """The writes of a document, each record once: DynamoDB writes an item once per transaction, so two
    lines that change the same record are a 400 (send them as one line)."""
    seen: set[str] = set()
    for write in writes:
        key = write.stock_id if isinstance(write, StockChange) else write.record.stock_id
        if key in seen:
            raise ValidationFailed(
                "two lines change the same stock; send them as one line",
                field_error("lines", f"stock record {key} appears in more than one line"),
            )
        seen.add(key)
    return writes


def _not_found(field: str, what: str) -> NotFound:
    return NotFound(f"{what} not found", field_error(field, "not found"))
