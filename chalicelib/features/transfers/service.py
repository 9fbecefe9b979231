"""The rules of transfers (001): create, ship, receive (line by line, partly), cancel, complete.

Every stock effect is a StockChange or a new record with its first movement, applied through the
stock service in the transfer's unit of work together with the transfer document (saved guarded on
the version read). A big transfer is split into transactions of at most 100 items, each carrying the
document with the lines it has done: a retry re-reads the document and goes on with the rest, and
movement ids derived from the transfer, line and pick make a replayed chunk apply once.

- Shipping takes each line's stock out of the source (FEFO for a lot-controlled product without a
  lot) into an in-transit record at the destination (`StockRecord.in_transit` = transfer id, all of
  it held: available at neither end).
- Receiving moves in-transit stock to the destination's slot record (bin, lot); cancelling a shipped
  transfer moves what is still in transit back to where it came from.
- Between bins of one location the stock moves at once (`complete`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import DuplicateCommand, InsufficientStock, NotFound, ValidationFailed
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, Actor, Movement, MovementKind, Product, StockRecord
from chalicelib.core.ports import NewRecordWrite, StockChange, StockWrite, Transactions
from chalicelib.core.stock.lots import slot_id
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.picking import Pick
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import TRANSFER, WorkItems, bumped
from chalicelib.features.transfers.model import Transfer, TransferLine, TransferPick

MAX_LINES = 200
# Items of one transaction left for stock writes: the document's own Put takes one.
BUDGET = TRANSACTION_ITEMS - 1
# An arrival may create the destination record: the record, its ledger line and its product's stock keys.
ARRIVAL_ITEMS = 3
REASON = "TRANSFER"


@dataclass(frozen=True)
class LineIn:
    product_id: str
    quantity: Decimal
    lot_id: str | None = None


@dataclass(frozen=True)
class TransferFilter:
    status: str | None = None
    from_location_id: str | None = None
    to_location_id: str | None = None
    product_id: str | None = None

    def keeps(self, t: Transfer) -> bool:
        return (
            (self.status is None or t.status == self.status)
            and (self.from_location_id is None or t.from_location_id == self.from_location_id)
            and (self.to_location_id is None or t.to_location_id == self.to_location_id)
            and (self.product_id is None or any(line.product_id == self.product_id for line in t.lines))
        )


def transit_id(tenant_id: str, transfer_id: str, line_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockroom:transit:{tenant_id}:{transfer_id}:{line_id}:{index}"))


def _err(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


def _key(write: StockWrite) -> str:
    return write.stock_id if isinstance(write, StockChange) else write.record.stock_id


def _items(writes: list[StockWrite]) -> int:
    # A created record also updates its product's stock keys (counted once per record: an upper bound).
    return sum(1 + (1 if w.movement is not None else 0) + (0 if isinstance(w, StockChange) else 1) for w in writes)


class Reads:
    """The records one action plans on, read once: per place (few lines) or per location (one gsi2 Query
    for a big transfer), with what the action has already taken from each and the slots it creates."""

    def __init__(self, wh: WarehouseStock, tenant_id: str, by_location: bool) -> None:
        self._wh = wh
        self._tenant_id = tenant_id
        self._by_location = by_location
        self._locations: dict[str, list[StockRecord]] = {}
        self._created: list[StockRecord] = []
        self.taken: dict[str, Decimal] = {}
        self.products: dict[str, Product] = {}

    def at(self, place: Place) -> list[StockRecord]:
        if self._by_location:
            if place.location_id not in self._locations:
                self._locations[place.location_id] = self._wh.inventory(self._tenant_id, location_id=place.location_id)
            found = [
                r
                for r in self._locations[place.location_id]
                if r.in_transit is None
                and r.product_id == place.product_id
                and (place.bin_id is None or r.bin_id == place.bin_id)
                and (place.lot_id is None or r.lot_id == place.lot_id)
            ]
        else:
            found = self._wh.records_at_place(self._tenant_id, place)
        known = {r.stock_id for r in found}
        return found + [r for r in self._created if r.stock_id not in known and _at(r, place)]

    def created(self, record: StockRecord) -> None:
        self._created.append(record)

    def free(self, record: StockRecord) -> Decimal:
        return max(record.available - self.taken.get(record.stock_id, ZERO), ZERO)


def _at(record: StockRecord, place: Place) -> bool:
    return (
        record.product_id == place.product_id
        and record.location_id == place.location_id
        and (place.bin_id is None or record.bin_id == place.bin_id)
        and (place.lot_id is None or record.lot_id == place.lot_id)
    )


# Above this many lines an action reads the location's records once instead of each place's.
READ_LOCATION_FROM = 6


class TransferService:
    def __init__(
        self,
        warehouse: WarehouseStock,
        catalog: CatalogService,
        store: WorkItems[Transfer],
        transactions: Transactions,
    ) -> None:
        self._wh = warehouse
        self._catalog = catalog
        self._store = store
        self._transactions = transactions

    # -- reads -------------------------------------------------------------

    def get(self, tenant_id: str, transfer_id: str, field: str = "id") -> Transfer:
        found = self._store.get(tenant_id, transfer_id)
        if found is None:
            raise NotFound(f"transfer {transfer_id} not found", _err(field, "not found"))
        return found

    def find(self, tenant_id: str, wanted: TransferFilter) -> list[Transfer]:
        found = [t for t in self._store.list_all(tenant_id) if wanted.keeps(t)]
        return sorted(found, key=lambda t: (t.created_at, t.transfer_id), reverse=True)

    def incoming(self, tenant_id: str) -> list[Transfer]:
        """Transfers still shipping stock somewhere (replenishment counts their in-transit stock)."""
        return [t for t in self._store.list_all(tenant_id) if t.status == "shipped"]

    # -- create ------------------------------------------------------------

    def create(
        self,
        tenant_id: str,
        from_location_id: str,
        to_location_id: str,
        lines: list[LineIn],
        actor: Actor,
        *,
        from_bin_id: str | None = None,
        to_bin_id: str | None = None,
        notes: str | None = None,
        command_id: str | None = None,
    ) -> Transfer:
        """A draft transfer between locations; between bins of one location it completes at once."""
        if not lines:
            raise ValidationFailed("a transfer needs lines", _err("lines", "at least 1 line"))
        if len(lines) > MAX_LINES:
            raise ValidationFailed(f"at most {MAX_LINES} lines", _err("lines", f"at most {MAX_LINES} lines"))
        self._wh.location(tenant_id, from_location_id, "fromLocationId")
        self._wh.location(tenant_id, to_location_id, "toLocationId")
        if from_bin_id is not None:
            self._wh.bin(tenant_id, from_location_id, from_bin_id, "fromBinId")
        if to_bin_id is not None:
            self._wh.bin(tenant_id, to_location_id, to_bin_id, "toBinId")
        if from_location_id == to_location_id and from_bin_id == to_bin_id:
            raise ValidationFailed(
                "a transfer within one location moves stock between two bins",
                _err("toBinId", "same location and bin as the source"),
            )
        products = self._check_lines(tenant_id, lines)
        transfer = Transfer(
            tenant_id=tenant_id,
            transfer_id=command_id or str(uuid.uuid4()),
            from_location_id=from_location_id,
            to_location_id=to_location_id,
            from_bin_id=from_bin_id,
            to_bin_id=to_bin_id,
            notes=notes,
            lines=[
                TransferLine(product_id=line.product_id, lot_id=line.lot_id, quantity=line.quantity) for line in lines
            ],
            created_by_id=actor.id,
            created_by_name=actor.name,
        )
        if transfer.same_location:
            # Planned before anything is written: short stock is a 409 and nothing is created.
            self._check_available(tenant_id, transfer, products)
        uow = self._transactions.begin(command_id)
        self._store.add_new(transfer, actor, uow)
        try:
            uow.commit()
        except DuplicateCommand:
            return self.get(tenant_id, transfer.transfer_id)
        if transfer.same_location:
            return self._move(tenant_id, transfer, "complete", None, actor, None, command_id)
        return transfer

    def _check_lines(self, tenant_id: str, lines: list[LineIn]) -> dict[str, Product]:
        """The lines' products; 404 naming the line's field for a product or lot that is not this company's."""
        products = self._catalog.get_products(tenant_id, [line.product_id for line in lines])
        lots = self._wh.lots(tenant_id, [line.lot_id for line in lines if line.lot_id])
        for index, line in enumerate(lines):
            product = products.get(line.product_id)
            if product is None or not product.active:
                raise NotFound("product not found", _err(f"lines[{index}].productMasterId", "not found"))
            if line.quantity <= 0:
                raise ValidationFailed("quantity must be positive", _err(f"lines[{index}].quantity", "must be > 0"))
            if line.lot_id is not None:
                lot = lots.get(line.lot_id)
                if lot is None or lot.product_id != line.product_id:
                    raise NotFound("lot not found", _err(f"lines[{index}].lotId", "not found for this product"))
        return products

    # -- actions -----------------------------------------------------------

    def act(
        self,
        tenant_id: str,
        transfer_id: str,
        action: str,
        actor: Actor,
        *,
        lines: Mapping[str, Decimal] | None = None,
        comment: str | None = None,
        command_id: str | None = None,
    ) -> Transfer:
        """`ship`, `receive` (`lines`: line id -> quantity; all in transit when None) or `cancel`."""
        transfer = self.get(tenant_id, transfer_id)
        if action not in {"ship", "receive", "cancel"}:
            raise ValidationFailed("unknown action", _err("action", "one of ship, receive, cancel"))
        TRANSFER.target(transfer.status, action)
        return self._move(tenant_id, transfer, action, lines, actor, comment, command_id)

    def _move(
        self,
        tenant_id: str,
        transfer: Transfer,
        action: str,
        lines: Mapping[str, Decimal] | None,
        actor: Actor,
        comment: str | None,
        command_id: str | None,
    ) -> Transfer:
        if action in {"ship", "complete"}:
            plan = self._plan_out(tenant_id, transfer, action, actor)
        elif action == "receive":
            plan = self._plan_back(tenant_id, transfer, self._receipt(transfer, lines), actor, to_source=False)
        else:
            wanted = {line.line_id: line.in_transit for line in transfer.lines if line.in_transit > 0}
            plan = self._plan_back(tenant_id, transfer, wanted, actor, to_source=True)
        return self._commit(tenant_id, transfer, action, plan, actor, comment, command_id)

    # -- planning ----------------------------------------------------------

    def _check_available(self, tenant_id: str, transfer: Transfer, products: Mapping[str, Product]) -> None:
        need: dict[tuple[str, str | None], Decimal] = {}
        for line in transfer.lines:
            key = (line.product_id, line.lot_id)
            need[key] = need.get(key, ZERO) + line.quantity
        reads = self._reads(tenant_id, transfer)
        for index, line in enumerate(transfer.lines):
            key = (line.product_id, line.lot_id)
            if key in need:
                self._picks(reads, tenant_id, transfer, products[line.product_id], line, index, need.pop(key))

    def _reads(self, tenant_id: str, transfer: Transfer) -> Reads:
        return Reads(self._wh, tenant_id, len(transfer.lines) >= READ_LOCATION_FROM)

    def _picks(
        self,
        reads: Reads,
        tenant_id: str,
        transfer: Transfer,
        product: Product,
        line: TransferLine,
        index: int,
        quantity: Decimal,
    ) -> list[Pick]:
        place = Place(line.product_id, transfer.from_location_id, transfer.from_bin_id, line.lot_id)
        records = [
            r
            for r in reads.at(place)
            # A bin move never takes stock already in the target bin.
            if not (transfer.same_location and r.bin_id == transfer.to_bin_id)
        ]
        picks: list[Pick] = []
        need = quantity
        for record in self._wh.draw_order(tenant_id, product, place, records):
            take = min(reads.free(record), need)
            if take > 0:
                picks.append(Pick(record, take))
                reads.taken[record.stock_id] = reads.taken.get(record.stock_id, ZERO) + take
                need -= take
            if need == 0:
                return picks
        raise InsufficientStock(
            f"only {quantity - need} available, {quantity} needed",
            _err(f"lines[{index}].quantity", f"only {quantity - need} available at the source"),
        )

    def _plan_out(self, tenant_id: str, transfer: Transfer, action: str, actor: Actor) -> list[Step]:
        """One step per line not yet taken out: its picks out of the source, into transit or the target bin."""
        products = self._catalog.get_products(tenant_id, list({line.product_id for line in transfer.lines}))
        reads = self._reads(tenant_id, transfer)
        steps: list[Step] = []
        for index, line in enumerate(transfer.lines):
            if line.picks:
                continue  # taken out by an earlier transaction of this action
            product = products[line.product_id]
            picks = self._picks(reads, tenant_id, transfer, product, line, index, line.quantity)
            writes: list[StockWrite] = []
            done: list[TransferPick] = []
            arrivals: dict[Place, Decimal] = {}
            for n, pick in enumerate(picks):
                record, q = pick.record, pick.quantity
                base = f"{transfer.transfer_id}:{line.line_id}:{n}"
                writes.append(
                    StockChange(
                        stock_id=record.stock_id,
                        actor=actor,
                        on_hand=-q,
                        movement=_movement(
                            tenant_id, record, MovementKind.TRANSFER_OUT, -q, actor, transfer, base + ":out"
                        ),
                    )
                )
                transit: str | None = None
                if transfer.same_location:
                    to = Place(line.product_id, transfer.to_location_id, transfer.to_bin_id, record.lot_id)
                    arrivals[to] = arrivals.get(to, ZERO) + q
                else:
                    transit = transit_id(tenant_id, transfer.transfer_id, line.line_id, n)
                    new = StockRecord(
                        tenant_id=tenant_id,
                        stock_id=transit,
                        product_id=line.product_id,
                        location_id=transfer.to_location_id,
                        lot_id=record.lot_id,
                        name=product.name,
                        on_hand=q,
                        held=q,
                        available=ZERO,
                        in_transit=transfer.transfer_id,
                    )
                    writes.append(
                        NewRecordWrite(
                            new,
                            _movement(tenant_id, new, MovementKind.TRANSFER_IN, q, actor, transfer, base + ":transit"),
                        )
                    )
                done.append(
                    TransferPick(
                        source_stock_id=record.stock_id,
                        bin_id=record.bin_id,
                        lot_id=record.lot_id,
                        quantity=q,
                        transit_stock_id=transit,
                        received=q if transfer.same_location else ZERO,
                    )
                )

            def update(t: Transfer, line_id: str = line.line_id, picks: list[TransferPick] = done) -> Transfer:
                return _with_line(t, line_id, picks)

            steps.append(Step(index, writes, arrivals, update, f"{transfer.transfer_id}:{line.line_id}"))
        return steps

    def _receipt(self, transfer: Transfer, lines: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
        if lines is None:
            return {line.line_id: line.in_transit for line in transfer.lines if line.in_transit > 0}
        known = {line.line_id: line for line in transfer.lines}
        wanted: dict[str, Decimal] = {}
        for index, (line_id, quantity) in enumerate(lines.items()):
            line = known.get(line_id)
            if line is None:
                raise NotFound("line not found", _err(f"lines[{index}].lineId", "not a line of this transfer"))
            if quantity <= 0:
                raise ValidationFailed("quantity must be positive", _err(f"lines[{index}].quantity", "must be > 0"))
            if quantity > line.in_transit:
                raise ValidationFailed(
                    "more than is in transit", _err(f"lines[{index}].quantity", f"at most {line.in_transit} in transit")
                )
            wanted[line_id] = quantity
        if not wanted:
            raise ValidationFailed("nothing to receive", _err("lines", "at least 1 line"))
        return wanted

    def _plan_back(
        self, tenant_id: str, transfer: Transfer, wanted: Mapping[str, Decimal], actor: Actor, *, to_source: bool
    ) -> list[Step]:
        """Out of transit: into the destination (receive) or back where it came from (cancel)."""
        steps: list[Step] = []
        round_ = len(transfer.history)
        for index, line in enumerate(transfer.lines):
            quantity = wanted.get(line.line_id)
            if not quantity:
                continue
            writes: list[StockWrite] = []
            arrivals: dict[Place, Decimal] = {}
            picks: list[TransferPick] = []
            need = quantity
            for n, pick in enumerate(line.picks):
                take = min(pick.in_transit, need)
                if take <= 0 or pick.transit_stock_id is None:
                    picks.append(pick)
                    continue
                need -= take
                movement = Movement(
                    tenant_id=tenant_id,
                    movement_id=f"{transfer.transfer_id}:{line.line_id}:{n}:{round_}:out",
                    stock_id=pick.transit_stock_id,
                    product_id=line.product_id,
                    location_id=transfer.to_location_id,
                    kind=MovementKind.TRANSFER_OUT,
                    quantity=-take,
                    reason=REASON,
                    reference=transfer.transfer_id,
                    actor=actor,
                )
                writes.append(
                    StockChange(
                        stock_id=pick.transit_stock_id,
                        actor=actor,
                        on_hand=-take,
                        held=-take,
                        floor_available=False,
                        movement=movement,
                    )
                )
                if to_source:
                    to = Place(line.product_id, transfer.from_location_id, pick.bin_id, pick.lot_id)
                    picks.append(pick.model_copy(update={"returned": pick.returned + take}))
                else:
                    to = Place(line.product_id, transfer.to_location_id, transfer.to_bin_id, pick.lot_id)
                    picks.append(pick.model_copy(update={"received": pick.received + take}))
                arrivals[to] = arrivals.get(to, ZERO) + take

            def update(t: Transfer, line_id: str = line.line_id, done: list[TransferPick] = picks) -> Transfer:
                return _with_line(t, line_id, done)

            steps.append(Step(index, writes, arrivals, update, f"{transfer.transfer_id}:{line.line_id}:{round_}"))
        return steps

    # -- committing --------------------------------------------------------

    def _commit(
        self,
        tenant_id: str,
        transfer: Transfer,
        action: str,
        steps: list[Step],
        actor: Actor,
        comment: str | None,
        command_id: str | None,
    ) -> Transfer:
        """The steps in as few transactions as fit (each <= 100 items with the document); the status moves
        with the last one. Each transaction is safe to retry on its own (see the module docstring)."""
        reads = self._reads(tenant_id, transfer)
        arriving = {place.product_id for step in steps for place in step.arrivals}
        if arriving:
            reads.products.update(self._catalog.get_products(tenant_id, sorted(arriving)))
        chunks = _chunks(tenant_id, steps, lambda done: self._arrive(reads, tenant_id, done, actor))
        current = transfer
        if not chunks:
            chunks = [([], [])]
        for number, (writes, done) in enumerate(chunks):
            updated = current
            for step in done:
                updated = step.update(updated)
            changes: dict[str, object] = {"lines": updated.lines}
            if number == len(chunks) - 1:
                to_state = _final_state(updated, action)
                move = TRANSFER.move(transfer.status, action, actor, comment=comment, to_state=to_state)
                changes.update(status=move.to_state, history=[*current.history, move])
            saved = bumped(current, **changes)
            uow = self._transactions.begin(command_id)
            self._wh.add_writes(tenant_id, writes, actor, uow)
            self._store.add_save(saved, current.version, actor, uow)
            uow.commit()
            current = saved
        return current

    def _arrive(self, reads: Reads, tenant_id: str, steps: list[Step], actor: Actor) -> list[StockWrite]:
        """The steps' writes plus one increase per arrival slot (merged over the steps of the chunk)."""
        merged: dict[Place, Decimal] = {}
        for step in steps:
            for place, quantity in step.arrivals.items():
                merged[place] = merged.get(place, ZERO) + quantity
        writes = [w for step in steps for w in step.writes]
        if not merged:
            return writes
        missing = list({p.product_id for p in merged} - set(reads.products))
        if missing:
            reads.products.update(self._catalog.get_products(tenant_id, missing))
        products = reads.products
        base = steps[0].movement_base
        arriving = self._wh.plan_arrivals(
            tenant_id,
            products,
            merged,
            actor,
            reason=REASON,
            reference=base.split(":", 1)[0],
            movement_base=base,
            records_at=reads.at,
        )
        for write in arriving:
            if isinstance(write, NewRecordWrite):
                reads.created(write.record)
        return writes + arriving


@dataclass
class Step:
    """The stock writes of one line (its arrivals are planned when the chunk is known) and how it changes
    the document."""

    index: int
    writes: list[StockWrite]
    arrivals: dict[Place, Decimal]
    update: Callable[[Transfer], Transfer]
    movement_base: str


def _chunks(
    tenant_id: str, steps: list[Step], arrive: Callable[[list[Step]], list[StockWrite]]
) -> list[tuple[list[StockWrite], list[Step]]]:
    """Group steps into transactions: each under the item budget, each record written once."""
    chunks: list[tuple[list[StockWrite], list[Step]]] = []
    current: list[Step] = []

    def close() -> None:
        if current:
            chunks.append((arrive(list(current)), list(current)))
            current.clear()

    for step in steps:
        alone = _items(step.writes) + ARRIVAL_ITEMS * len(step.arrivals)
        if alone > BUDGET:
            raise ValidationFailed(
                "this line takes stock from too many records for one transaction",
                _err(f"lines[{step.index}]", "split it into several lines"),
            )
        trial = [*current, step]
        keys = [_key(w) for s in trial for w in s.writes]
        arrivals = {p for s in trial for p in s.arrivals}
        size = sum(_items(s.writes) for s in trial) + ARRIVAL_ITEMS * len(arrivals)
        if len(keys) != len(set(keys)) or size > BUDGET or _clash(tenant_id, keys, arrivals):
            close()
        current.append(step)
    close()
    return chunks


def _clash(tenant_id: str, keys: list[str], arrivals: set[Place]) -> bool:
    """Whether an arrival's slot record is also written as a source in the same transaction."""
    slots = {slot_id(tenant_id, p.product_id, p.location_id, p.bin_id, p.lot_id) for p in arrivals}
    return bool(slots & set(keys))


def _with_line(transfer: Transfer, line_id: str, picks: list[TransferPick]) -> Transfer:
    lines = [line.model_copy(update={"picks": picks}) if line.line_id == line_id else line for line in transfer.lines]
    return transfer.model_copy(update={"lines": lines})


def _final_state(transfer: Transfer, action: str) -> str | None:
    if action == "receive":
        return "received" if all(line.in_transit == 0 for line in transfer.lines) else "shipped"
    return None


def _movement(
    tenant_id: str,
    record: StockRecord,
    kind: MovementKind,
    quantity: Decimal,
    actor: Actor,
    transfer: Transfer,
    movement_id: str,
) -> Movement:
    if record.tenant_id != tenant_id:
        raise ValueError("a transfer moves one company's stock")
    return movement_of(record, kind, quantity, actor, REASON, transfer.transfer_id, movement_id)
