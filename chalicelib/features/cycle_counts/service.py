"""The rules of cycle counts (001). The workflow is `core/workflows.CYCLE_COUNT`:
open -> counting (counts recorded) -> review -> completed (every line resolved), or cancelled.

- A batch snapshots each line's expected quantity (the place's on hand, in-transit stock excluded) when
  it is made. Accepting a line applies `counted - expected` as a CYCLE_COUNT adjustment: a delta, so
  stock that moved while people counted is neither lost nor counted twice.
- Accepted lines are applied as adjustment documents of up to 40 lines (`WarehouseStock.adjust_document`,
  one transaction each) whose ids derive from the batch, the resolve round and the chunk: a retry after a
  failure replays the chunks already applied (DuplicateCommand -> the first document) and applies the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import InvalidState, NotFound, ValidationFailed
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import ZERO, Actor, StockRecord
from chalicelib.core.ports import Transactions
from chalicelib.core.stock.adjustments import MAX_DOCUMENT_LINES
from chalicelib.core.stock.adjustments import LineIn as AdjustmentLine
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import CYCLE_COUNT, bumped
from chalicelib.features.cycle_counts.abc import FREQUENCY_DAYS, classify, outbound_quantities
from chalicelib.features.cycle_counts.model import CountLine, CycleCount, CycleCountStore

MAX_LINES = 500


def _err(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


@dataclass(frozen=True)
class LineIn:
    product_id: str
    bin_id: str | None = None
    lot_id: str | None = None


class CycleCountService:
    def __init__(
        self,
        warehouse: WarehouseStock,
        catalog: CatalogService,
        store: CycleCountStore,
        transactions: Transactions,
    ) -> None:
        self._wh = warehouse
        self._catalog = catalog
        self._store = store
        self._transactions = transactions

    def get(self, tenant_id: str, batch_id: str, field: str = "batchId") -> CycleCount:
        found = self._store.get(tenant_id, batch_id)
        if found is None:
            raise NotFound(f"cycle count {batch_id} not found", _err(field, "not found"))
        return found

    def find(self, tenant_id: str, status: str | None = None, location_id: str | None = None) -> list[CycleCount]:
        found = [
            b
            for b in self._store.list_all(tenant_id)
            if (status is None or b.status == status) and (location_id is None or b.location_id == location_id)
        ]
        return sorted(found, key=lambda b: (b.created_at, b.batch_id), reverse=True)

    # -- create ------------------------------------------------------------

    def create(
        self,
        tenant_id: str,
        name: str,
        location_id: str,
        actor: Actor,
        *,
        blind: bool = False,
        lines: list[LineIn] | None = None,
        bin_ids: list[str] | None = None,
        product_ids: list[str] | None = None,
        abc_classes: list[str] | None = None,
        command_id: str | None = None,
    ) -> CycleCount:
        """A batch of the lines named, else of every product in `bin_ids` (one line per product and bin) or
        of `product_ids` (one line per product); expected quantities are read now."""
        if not name.strip():
            raise ValidationFailed("a batch needs a name", _err("name", "must not be empty"))
        self._wh.location(tenant_id, location_id)
        places = self._places(tenant_id, location_id, lines, bin_ids, product_ids)
        if not places:
            raise ValidationFailed("nothing to count", _err("lines", "name lines, binIds or productMasterIds"))
        if len(places) > MAX_LINES:
            raise ValidationFailed(f"at most {MAX_LINES} lines", _err("lines", f"at most {MAX_LINES} lines"))
        by_product = self._wh.records_of(tenant_id, list({p.product_id for p in places}))
        if not lines:
            places = self._by_lot(tenant_id, places, by_product)
            if len(places) > MAX_LINES:
                raise ValidationFailed(f"at most {MAX_LINES} lines", _err("lines", f"{len(places)} lines, lot by lot"))
        count_lines = []
        for place in places:
            records = [
                r
                for r in by_product.get(place.product_id, [])
                if r.location_id == location_id
                and r.in_transit is None
                and (place.bin_id is None or r.bin_id == place.bin_id)
                and (place.lot_id is None or r.lot_id == place.lot_id)
            ]
            expected = sum((r.on_hand for r in records), ZERO)
            count_lines.append(
                CountLine(
                    product_id=place.product_id, bin_id=place.bin_id, lot_id=place.lot_id, expected_quantity=expected
                )
            )
        batch = CycleCount(
            tenant_id=tenant_id,
            batch_id=command_id or new_id(),
            name=name.strip(),
            location_id=location_id,
            blind=blind,
            abc_classes=abc_classes or [],
            lines=count_lines,
            created_by_id=actor.id,
            created_by_name=actor.name,
        )
        uow = self._transactions.begin(command_id)
        self._store.add_new(batch, actor, uow)
        uow.commit()
        return batch

    def _by_lot(self, tenant_id: str, places: list[Place], by_product: Mapping[str, list[StockRecord]]) -> list[Place]:
        """A lot-controlled product found by bin or product is counted lot by lot (one line per lot held
        there), so an accepted increase names its lot."""
        products = self._catalog.get_products(tenant_id, list({p.product_id for p in places}))
        out: list[Place] = []
        for place in places:
            product = products.get(place.product_id)
            lots = sorted(
                {
                    r.lot_id
                    for r in by_product.get(place.product_id, [])
                    if r.lot_id
                    and r.in_transit is None
                    and r.location_id == place.location_id
                    and (place.bin_id is None or r.bin_id == place.bin_id)
                }
            )
            if product is not None and product.lot_controlled and place.lot_id is None and lots:
                out += [Place(place.product_id, place.location_id, place.bin_id, lot) for lot in lots]
            else:
                out.append(place)
        return out

    def _places(
        self,
        tenant_id: str,
        location_id: str,
        lines: list[LineIn] | None,
        bin_ids: list[str] | None,
        product_ids: list[str] | None,
    ) -> list[Place]:
        places: list[Place] = []
        if lines:
            products = self._catalog.get_products(tenant_id, [line.product_id for line in lines])
            lots = self._wh.lots(tenant_id, [line.lot_id for line in lines if line.lot_id])
            for i, line in enumerate(lines):
                product = products.get(line.product_id)
                if product is None or not product.active:
                    raise NotFound("product not found", _err(f"lines[{i}].productMasterId", "not found"))
                if line.bin_id is not None:
                    self._wh.bin(tenant_id, location_id, line.bin_id, f"lines[{i}].binId")
                if line.lot_id is not None and (
                    line.lot_id not in lots or lots[line.lot_id].product_id != line.product_id
                ):
                    raise NotFound("lot not found", _err(f"lines[{i}].lotId", "not found for this product"))
                places.append(Place(line.product_id, location_id, line.bin_id, line.lot_id))
        if bin_ids:
            for i, bin_id in enumerate(bin_ids):
                self._wh.bin(tenant_id, location_id, bin_id, f"binIds[{i}]")
            records = self._wh.inventory(tenant_id, location_id=location_id)
            for bin_id in bin_ids:
                for product_id in sorted({r.product_id for r in records if r.bin_id == bin_id}):
                    places.append(Place(product_id, location_id, bin_id))
        if product_ids:
            products = self._catalog.get_products(tenant_id, product_ids)
            for i, product_id in enumerate(product_ids):
                if product_id not in products or not products[product_id].active:
                    raise NotFound("product not found", _err(f"productMasterIds[{i}]", "not found"))
                places.append(Place(product_id, location_id))
        unique = list(dict.fromkeys(places))
        return unique

    # -- counting ----------------------------------------------------------

    def update(
        self,
        tenant_id: str,
        batch_id: str,
        actor: Actor,
        *,
        status: str | None = None,
        counts: Mapping[str, Decimal] | None = None,
    ) -> CycleCount:
        """Record counts (-> counting) and/or move the batch (`counting`, `review`, `cancelled`)."""
        batch = self.get(tenant_id, batch_id)
        history = list(batch.history)
        lines = batch.lines
        state = batch.status
        if counts:
            move = CYCLE_COUNT.move(state, "count", actor, field="counts")
            known = {line.line_id for line in lines}
            for index, (line_id, counted) in enumerate(counts.items()):
                if line_id not in known:
                    raise NotFound("line not found", _err(f"counts[{index}].lineId", "not a line of this batch"))
                if counted < 0:
                    raise ValidationFailed(
                        "a count cannot be negative", _err(f"counts[{index}].countedQuantity", ">= 0")
                    )
            resolved = [line.line_id for line in lines if line.line_id in counts and line.resolution is not None]
            if resolved:
                raise InvalidState(
                    "a resolved line cannot be counted again", _err("counts", f"line {resolved[0]} resolved")
                )
            lines = [
                line.model_copy(update={"counted_quantity": counts[line.line_id]}) if line.line_id in counts else line
                for line in lines
            ]
            if state != move.to_state:
                history.append(move)
            state = move.to_state
        if status is not None and status != state:
            action = {"counting": "count", "review": "review", "cancelled": "cancel"}.get(status)
            if action is None:
                raise ValidationFailed("unknown status", _err("status", "one of counting, review, cancelled"))
            move = CYCLE_COUNT.move(state, action, actor, field="status")
            if action == "review":
                missing = [i for i, line in enumerate(lines) if line.counted_quantity is None]
                if missing:
                    raise ValidationFailed(
                        "every line needs a count before review",
                        _err(f"lines[{missing[0]}].countedQuantity", "not counted"),
                    )
            history.append(move)
            state = move.to_state
        changed = bumped(batch, status=state, lines=lines, history=history)
        return self._save(batch, changed, actor)

    def resolve(self, tenant_id: str, batch_id: str, decisions: Mapping[str, str], actor: Actor) -> CycleCount:
        """accept (apply counted - expected as CYCLE_COUNT), recount (clear the count) or reject each line."""
        batch = self.get(tenant_id, batch_id)
        CYCLE_COUNT.target(batch.status, "resolve", "batchId")
        by_id = {line.line_id: line for line in batch.lines}
        _check_decisions(by_id, decisions)
        round_ = len(batch.history)
        accepted = [by_id[i] for i, a in decisions.items() if a == "accept" and by_id[i].variance]
        applied: dict[str, str] = {}
        # The location's records, read once (one gsi2 Query) for every document whose products no earlier
        # document of this resolve has changed; otherwise the document reads its products' records itself.
        location_records: dict[str, list[StockRecord]] = {}
        if accepted:
            for r in self._wh.inventory(tenant_id, location_id=batch.location_id):
                if r.in_transit is None:
                    location_records.setdefault(r.product_id, []).append(r)
        touched: set[str] = set()
        for chunk_no, start in enumerate(range(0, len(accepted), MAX_DOCUMENT_LINES)):
            chunk = accepted[start : start + MAX_DOCUMENT_LINES]
            products = {line.product_id for line in chunk}
            document = self._wh.adjust_document(
                tenant_id,
                "CYCLE_COUNT",
                [
                    AdjustmentLine(
                        Place(line.product_id, batch.location_id, line.bin_id, line.lot_id), line.variance or ZERO
                    )
                    for line in chunk
                ],
                actor,
                notes=f"cycle count {batch.name}",
                reference=batch.batch_id,
                command_id=f"{batch.batch_id}:{round_}:{chunk_no}",
                known_records=None if products & touched else location_records,
            )
            touched |= products
            applied.update({line.line_id: document.adjustment_id for line in chunk})
        lines = [_decided(line, decisions.get(line.line_id), applied.get(line.line_id)) for line in batch.lines]
        if any(line.resolution is None and line.counted_quantity is None for line in lines):
            to_state = "counting"
        elif all(line.resolution is not None for line in lines):
            to_state = "completed"
        else:
            to_state = "review"
        summary = ", ".join(
            f"{a} {sum(1 for x in decisions.values() if x == a)}" for a in ("accept", "recount", "reject")
        )
        move = CYCLE_COUNT.move(batch.status, "resolve", actor, comment=summary, to_state=to_state, field="batchId")
        changed = bumped(batch, status=move.to_state, lines=lines, history=[*batch.history, move])
        return self._save(batch, changed, actor)

    # -- ABC -----------------------------------------------------------------

    def abc(self, tenant_id: str, location_id: str | None = None, days: int = 365) -> list[dict[str, Any]]:
        """Every product with stock (at `location_id`) or outbound movements, with its outbound value over
        `days` and its class. Value = units out x the product's cost price (else unit price, else 1)."""
        if location_id is not None:
            self._wh.location(tenant_id, location_id)
        end = utcnow()
        units = outbound_quantities(
            self._store.movements_between(tenant_id, end - timedelta(days=days), end), location_id
        )
        held = {r.product_id for r in self._wh.inventory(tenant_id, location_id=location_id) if r.on_hand > 0}
        products = self._catalog.get_products(tenant_id, list(set(units) | held))
        values: dict[str, Decimal] = {}
        for product_id in set(units) | held:
            product = products.get(product_id)
            if product is None or not product.active:
                continue
            price = product.cost_price or product.unit_price or Decimal(1)
            values[product_id] = units.get(product_id, ZERO) * price
        classes = classify(values)
        total = sum(values.values(), ZERO)
        rows = []
        for product_id, value in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
            klass = classes[product_id]
            rows.append(
                {
                    "productMasterId": product_id,
                    "productName": products[product_id].name,
                    "sku": products[product_id].sku,
                    "outboundQuantity": units.get(product_id, ZERO),
                    "outboundValue": value,
                    "share": (value / total).quantize(Decimal("0.0001")) if total else ZERO,
                    "class": klass,
                    "countFrequencyDays": FREQUENCY_DAYS[klass],
                }
            )
        return rows

    def create_abc(
        self,
        tenant_id: str,
        classes: list[str],
        location_id: str,
        actor: Actor,
        *,
        name: str | None = None,
        blind: bool = False,
        command_id: str | None = None,
    ) -> CycleCount:
        wanted = {c.upper() for c in classes}
        if not wanted or not wanted <= set(FREQUENCY_DAYS):
            raise ValidationFailed("unknown class", _err("classes", "one or more of A, B, C"))
        rows = self.abc(tenant_id, location_id)
        product_ids = [r["productMasterId"] for r in rows if r["class"] in wanted]
        if not product_ids:
            raise ValidationFailed("no product of those classes here", _err("classes", "no product in these classes"))
        return self.create(
            tenant_id,
            name or f"ABC {'/'.join(sorted(wanted))} count",
            location_id,
            actor,
            blind=blind,
            product_ids=product_ids,
            abc_classes=sorted(wanted),
            command_id=command_id,
        )

    def _save(self, before: CycleCount, after: CycleCount, actor: Actor) -> CycleCount:
        uow = self._transactions.begin()
        self._store.add_save(after, before.version, actor, uow)
        uow.commit()
        return after


def _check_decisions(by_id: Mapping[str, CountLine], decisions: Mapping[str, str]) -> None:
    for index, (line_id, action) in enumerate(decisions.items()):
        line = by_id.get(line_id)
        if line is None:
            raise NotFound("line not found", _err(f"lines[{index}].lineId", "not a line of this batch"))
        if action not in {"accept", "recount", "reject"}:
            raise ValidationFailed("unknown action", _err(f"lines[{index}].action", "accept, recount or reject"))
        if line.resolution is not None:
            raise InvalidState("line already resolved", _err(f"lines[{index}].lineId", f"already {line.resolution}"))
        if line.counted_quantity is None and action == "accept":
            raise ValidationFailed("line not counted", _err(f"lines[{index}].action", "count it first"))


def _decided(line: CountLine, action: str | None, adjustment_id: str | None) -> CountLine:
    if action == "accept":
        return line.model_copy(update={"resolution": "accepted", "adjustment_id": adjustment_id})
    if action == "reject":
        return line.model_copy(update={"resolution": "rejected"})
    if action == "recount":
        return line.model_copy(update={"counted_quantity": None})
    return line
