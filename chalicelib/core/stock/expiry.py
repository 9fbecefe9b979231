"""Expired lots (001): list them, mark them expired (their stock held), write them off, or move them to a
destruction bin; and the daily expiry job, which marks every lot past its date as mark-expired does.

Idempotent by construction: an active lot with an expiry date sits on the expiry
index until it is marked expired, and marking removes it from there in the same
transaction that holds its stock; the hold of a record is named after the lot,
the record and the record's version, so a replay of the same command finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from chalicelib.core.errors import AlreadyExists, NotFound, ValidationFailed
from chalicelib.core.models import (
    SYSTEM,
    ZERO,
    Actor,
    BinType,
    ClaimStatus,
    Hold,
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    StockRecord,
)
from chalicelib.core.ports import HoldRelease, NewRecordWrite, StockChange
from chalicelib.core.stock.lots import slot_id
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.slots import WarehouseBase, field_error, today

EXPIRED_REASON = "EXPIRED"
MAX_LOTS = 25


@dataclass
class ExpiredLot:
    """A lot past its expiry (or marked expired) and the stock records that still hold it."""

    lot: Lot
    records: list[StockRecord] = field(default_factory=list)

    @property
    def on_hand(self) -> Decimal:
        return sum((r.on_hand for r in self.records), ZERO)

    @property
    def held(self) -> Decimal:
        return sum((r.held for r in self.records), ZERO)


class Expiry(WarehouseBase):
    """Mixin of WarehouseStock: expired lots and the expiry job."""

    def expired(self, tenant_id: str, as_of: date | None = None, location_id: str | None = None) -> list[ExpiredLot]:
        """Lots past their expiry date on `as_of` (today) or marked expired, with their stock (at `location_id`).

        Two Queries (the expiry index, the expired lots) and one per product for its records.
        """
        day = as_of or today()
        lots = {lot.lot_id: lot for lot in self._warehouse.lots_expiring_before(tenant_id, day)}
        lots.update({lot.lot_id: lot for lot in self._warehouse.lots_with_status(tenant_id, LotStatus.EXPIRED)})
        found = self._with_records(tenant_id, lots.values())
        if location_id is not None:
            for entry in found:
                entry.records = [r for r in entry.records if r.location_id == location_id]
            found = [entry for entry in found if entry.records]
        return sorted(found, key=lambda e: (e.lot.expiry_date or date.max, e.lot.lot_number))

    def lots_with_stock(self, tenant_id: str, lot_ids: list[str]) -> list[ExpiredLot]:
        """The named lots (404 naming `lotIds[i]` for one that is not this company's) with their records now."""
        return self._with_records(tenant_id, self._named_lots(tenant_id, lot_ids))

    def mark_expired(self, tenant_id: str, lot_ids: list[str], actor: Actor) -> list[ExpiredLot]:
        """Mark each lot expired and hold the available stock of each of its records: per lot ONE transaction."""
        lots = self._named_lots(tenant_id, lot_ids)
        done = []
        for entry in self._with_records(tenant_id, lots):
            self._expire(tenant_id, entry, actor)
            done.append(entry)
        return done

    def mark_consumed(self, tenant_id: str, lot_ids: list[str], actor: Actor) -> list[Movement]:
        """Write off the stock of each lot that is not reserved (consumption movements, reason EXPIRED),
        closing its expiry holds: per lot ONE transaction. The lot is marked expired too."""
        movements: list[Movement] = []
        for entry in self._with_records(tenant_id, self._named_lots(tenant_id, lot_ids)):
            uow = self._transactions.begin()
            if entry.lot.status == LotStatus.ACTIVE:
                self._warehouse.add_lot_status(entry.lot, LotStatus.EXPIRED, actor, uow)
            changes = []
            for record in entry.records:
                releases = self._expiry_releases(tenant_id, record, ClaimStatus.FULFILLED)
                released = sum((r.quantity for r in releases), ZERO)
                amount = record.available + released
                if amount <= 0:
                    continue
                movement = _movement(record, MovementKind.CONSUMPTION, -amount, actor, "consumed after expiry")
                changes.append(
                    StockChange(
                        stock_id=record.stock_id,
                        actor=actor,
                        on_hand=-amount,
                        held=-released,
                        movement=movement,
                        hold_releases=releases,
                    )
                )
                movements.append(movement)
            self.add_writes(tenant_id, list(changes), actor, uow)
            uow.commit()
        return movements

    def transfer_destruction(self, tenant_id: str, lot_ids: list[str], bin_id: str, actor: Actor) -> list[Movement]:
        """Move the unreserved stock of each lot into a `destruction` bin (any location), held there as
        expired: per record ONE transaction (out of its place, into the bin, the holds moved along)."""
        target_bin = next((b for b in self._catalog.list_all_bins(tenant_id) if b.bin_id == bin_id), None)
        if target_bin is None or not target_bin.active:
            raise NotFound(f"bin {bin_id} not found", field_error("binId", "not found"))
        if target_bin.type != BinType.DESTRUCTION:
            raise ValidationFailed(
                "the bin is not a destruction bin", field_error("binId", f"a {target_bin.type.value} bin")
            )
        movements: list[Movement] = []
        for entry in self._with_records(tenant_id, self._named_lots(tenant_id, lot_ids)):
            if entry.lot.status == LotStatus.ACTIVE:
                uow = self._transactions.begin()
                self._warehouse.add_lot_status(entry.lot, LotStatus.EXPIRED, actor, uow)
                uow.commit()
            for record in entry.records:
                if record.bin_id == bin_id:
                    continue
                movements.extend(self._to_destruction(tenant_id, record, target_bin.location_id, bin_id, actor))
        return movements

    def run_expiry(self, tenant_id: str, day: date | None = None) -> dict[str, int]:
        """The daily `expiry` job for one company: every active lot past its date is marked expired and its
        stock held. A Query on the expiry index finds them; a second run finds none."""
        lots = self._warehouse.lots_expiring_before(tenant_id, day or today())
        held = 0
        for entry in self._with_records(tenant_id, lots):
            held += len(self._expire(tenant_id, entry, SYSTEM))
        return {"lotsExpired": len(lots), "holdsPlaced": held}

    # -- helpers -----------------------------------------------------------

    def _named_lots(self, tenant_id: str, lot_ids: list[str]) -> list[Lot]:
        if not lot_ids:
            raise ValidationFailed("lotIds is empty", field_error("lotIds", "at least one lot id"))
        if len(lot_ids) > MAX_LOTS:
            raise ValidationFailed(f"at most {MAX_LOTS} lots", field_error("lotIds", f"at most {MAX_LOTS}"))
        lots = self.lots(tenant_id, lot_ids)
        for index, lot_id in enumerate(lot_ids):
            if lot_id not in lots:
                raise NotFound(f"lot {lot_id} not found", field_error(f"lotIds[{index}]", "not found"))
        return [lots[i] for i in dict.fromkeys(lot_ids)]

    def _with_records(self, tenant_id: str, lots: Iterable[Lot]) -> list[ExpiredLot]:
        entries = [ExpiredLot(lot) for lot in lots]
        by_product = self._stock.records_of(tenant_id, {e.lot.product_id for e in entries})
        for entry in entries:
            entry.records = [r for r in by_product.get(entry.lot.product_id, []) if r.lot_id == entry.lot.lot_id]
        return entries

    def _expire(self, tenant_id: str, entry: ExpiredLot, actor: Actor) -> list[Hold]:
        """The lot expired and each record's available stock held, in ONE transaction."""
        uow = self._transactions.begin()
        if entry.lot.status == LotStatus.ACTIVE:
            self._warehouse.add_lot_status(entry.lot, LotStatus.EXPIRED, actor, uow)
        holds = []
        changes = []
        for record in entry.records:
            if record.available <= 0:
                continue
            hold = _expiry_hold(record)
            holds.append(hold)
            changes.append(StockChange(stock_id=record.stock_id, actor=actor, held=hold.quantity, new_hold=hold))
        self.add_writes(tenant_id, list(changes), actor, uow)
        uow.commit()
        return holds

    def _expiry_releases(self, tenant_id: str, record: StockRecord, to_status: ClaimStatus) -> tuple[HoldRelease, ...]:
        if record.held <= 0:
            return ()
        return tuple(
            HoldRelease(h.hold_id, h.quantity, True, to_status)
            for h in self._store.holds_for_record(tenant_id, record.stock_id)
            if h.status == ClaimStatus.ACTIVE and h.reason == EXPIRED_REASON
        )

    def _to_destruction(
        self, tenant_id: str, record: StockRecord, location_id: str, bin_id: str, actor: Actor
    ) -> list[Movement]:
        releases = self._expiry_releases(tenant_id, record, ClaimStatus.RELEASED)
        released = sum((r.quantity for r in releases), ZERO)
        amount = record.available + released
        if amount <= 0:
            return []
        target_id = slot_id(tenant_id, record.product_id, location_id, bin_id, record.lot_id)
        target = self._store.get_record(tenant_id, target_id)
        if target is None:
            # The bin's record is made empty first: the move below writes it like any record.
            empty = StockRecord(
                tenant_id=tenant_id,
                stock_id=target_id,
                product_id=record.product_id,
                location_id=location_id,
                bin_id=bin_id,
                lot_id=record.lot_id,
                name=record.name,
            )
            uow = self._transactions.begin()
            self.add_writes(tenant_id, [NewRecordWrite(empty, None)], actor, uow)
            with suppress(AlreadyExists):  # made by a concurrent move: the same empty record
                uow.commit()
        out = _movement(record, MovementKind.TRANSFER_OUT, -amount, actor, "to destruction")
        into = _movement(
            record.model_copy(update={"stock_id": target_id, "location_id": location_id}),
            MovementKind.TRANSFER_IN,
            amount,
            actor,
            "to destruction",
        )
        moved = Hold(
            tenant_id=tenant_id,
            hold_id=f"destruction:{record.stock_id}:{record.version}",
            stock_id=target_id,
            product_id=record.product_id,
            location_id=location_id,
            bin_id=bin_id,
            lot_id=record.lot_id,
            quantity=amount,
            reason=EXPIRED_REASON,
        )
        changes = [
            StockChange(
                stock_id=record.stock_id,
                actor=actor,
                on_hand=-amount,
                held=-released,
                movement=out,
                hold_releases=releases,
            ),
            StockChange(stock_id=target_id, actor=actor, on_hand=amount, held=amount, movement=into, new_hold=moved),
        ]
        uow = self._transactions.begin()
        self.add_writes(tenant_id, list(changes), actor, uow)
        uow.commit()
        return [out, into]


def _expiry_hold(record: StockRecord) -> Hold:
    return Hold(
        tenant_id=record.tenant_id,
        hold_id=f"expired:{record.lot_id}:{record.stock_id}:{record.version}",
        stock_id=record.stock_id,
        product_id=record.product_id,
        location_id=record.location_id,
        bin_id=record.bin_id,
        lot_id=record.lot_id,
        quantity=record.available,
        reason=EXPIRED_REASON,
    )


def _movement(record: StockRecord, kind: MovementKind, quantity: Decimal, actor: Actor, note: str) -> Movement:
    return movement_of(record, kind, quantity, actor, EXPIRED_REASON, note, None)
