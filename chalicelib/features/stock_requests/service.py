"""The rules of stock requests (001). The workflow is `core/workflows.STOCK_REQUEST`.

- Numbered `SR-000042` from an atomic counter (a failed create leaves a gap).
- Edited (PATCH, lines, DELETE) only while `draft` or `rejected`.
- `approve` reserves every line at the source location (FEFO for lot-controlled products), all lines
  and the request in ONE transaction, each reservation guarded on `available >= q`: two approvals
  racing for the last units never both succeed. Short stock is a 409 naming the line, unless
  `partial`, which reserves what there is. Whoever submitted a request cannot approve or reject it (403).
- `fulfil` moves reserved stock to the requesting location (partly, line by line, allowed): per claim
  the source record loses on-hand and reserved together, the claim is fulfilled (its rest reserved
  again under a new id), and the requesting location's slot record gains it; `cancel` releases.
- `rollback` undoes the last transition not yet undone, with its stock effect (approve: release; fulfil:
  the stock goes back to the source and is reserved again; cancel of an approved request: reserved again).

Every stock effect and the request itself are one transaction (the request saved guarded on its version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import Forbidden, InsufficientStock, InvalidState, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, Actor, ClaimStatus, Movement, MovementKind, Reservation
from chalicelib.core.ports import ClaimTransition, StockChange, StockWrite, Transactions
from chalicelib.core.stock.lots import slot_id
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import STOCK_REQUEST, Transition, bumped
from chalicelib.features.stock_requests.model import (
    Claim,
    Comment,
    Fulfilment,
    Priority,
    RequestLine,
    StockRequest,
    StockRequestStore,
)
from chalicelib.features.stock_requests.reports import StockRequestViews

MAX_LINES = 30
EDITABLE = ("draft", "rejected")
REASON = "STOCK_REQUEST"


def _err(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


@dataclass(frozen=True)
class LineIn:
    product_id: str
    quantity: Decimal


@dataclass(frozen=True)
class RequestFilter:
    status: str | None = None
    category: str | None = None
    priority: str | None = None
    requested_by: str | None = None
    location_id: str | None = None
    search: str | None = None

    def keeps(self, r: StockRequest) -> bool:
        text = (self.search or "").casefold().strip()
        return (
            (self.status is None or r.status == self.status)
            and (self.category is None or (r.category or "").casefold() == self.category.casefold())
            and (self.priority is None or r.priority == self.priority)
            and (self.requested_by is None or self.requested_by in {r.requested_by_id, r.requested_by_name})
            and (self.location_id is None or self.location_id in {r.location_id, r.source_location_id})
            and (
                not text
                or text in r.title.casefold()
                or text in r.reference.casefold()
                or text in (r.notes or "").casefold()
            )
        )


class StockRequestService(StockRequestViews):
    def __init__(
        self,
        warehouse: WarehouseStock,
        catalog: CatalogService,
        store: StockRequestStore,
        transactions: Transactions,
    ) -> None:
        self._wh = warehouse
        self._catalog = catalog
        self._store = store
        self._transactions = transactions

    # -- reads -------------------------------------------------------------

    def get(self, tenant_id: str, request_id: str) -> StockRequest:
        found = self._store.get(tenant_id, request_id)
        if found is None:
            raise NotFound(f"stock request {request_id} not found", _err("id", "not found"))
        return found

    def find(self, tenant_id: str, wanted: RequestFilter) -> list[StockRequest]:
        found = [r for r in self._store.list_all(tenant_id) if wanted.keeps(r)]
        return sorted(found, key=lambda r: r.number, reverse=True)

    def allowed(self, request: StockRequest) -> list[str]:
        allowed = STOCK_REQUEST.allowed(request.status)
        return [*allowed, "rollback"] if self._last_undoable(request) is not None else allowed

    # -- drafting ----------------------------------------------------------

    def create(
        self,
        tenant_id: str,
        fields: Mapping[str, Any],
        lines: list[LineIn],
        actor: Actor,
        *,
        command_id: str | None = None,
    ) -> StockRequest:
        if command_id is not None:
            found = self._store.get(tenant_id, command_id)
            if found is not None:
                return found
        self._check_fields(tenant_id, fields)
        self._check_lines(tenant_id, lines)
        request = StockRequest(
            tenant_id=tenant_id,
            request_id=command_id or new_id(),
            number=self._store.next_number(tenant_id),
            requested_by_id=actor.id,
            requested_by_name=actor.name,
            lines=[RequestLine(product_id=line.product_id, quantity=line.quantity) for line in lines],
            **fields,
        )
        uow = self._transactions.begin(command_id)
        self._store.add_new(request, actor, uow)
        uow.commit()
        return request

    def update(
        self, tenant_id: str, request_id: str, fields: Mapping[str, Any], lines: list[LineIn] | None, actor: Actor
    ) -> StockRequest:
        request = self._editable(tenant_id, request_id)
        self._check_fields(tenant_id, {**_fields_of(request), **fields})
        changes: dict[str, Any] = dict(fields)
        if lines is not None:
            self._check_lines(tenant_id, lines)
            changes["lines"] = [RequestLine(product_id=line.product_id, quantity=line.quantity) for line in lines]
        return self._save(request, bumped(request, **changes), actor)

    def delete(self, tenant_id: str, request_id: str, actor: Actor) -> StockRequest:
        request = self._editable(tenant_id, request_id)
        uow = self._transactions.begin()
        self._store.add_delete(request, actor, uow)
        uow.commit()
        return request

    def add_line(self, tenant_id: str, request_id: str, line: LineIn, actor: Actor) -> StockRequest:
        request = self._editable(tenant_id, request_id)
        if len(request.lines) >= MAX_LINES:
            raise ValidationFailed(f"at most {MAX_LINES} lines", _err("lines", f"at most {MAX_LINES} lines"))
        self._check_lines(tenant_id, [line], field="")
        added = RequestLine(product_id=line.product_id, quantity=line.quantity)
        return self._save(request, bumped(request, lines=[*request.lines, added]), actor)

    def comment(self, tenant_id: str, request_id: str, text: str, actor: Actor) -> StockRequest:
        if not text.strip():
            raise ValidationFailed("a comment needs text", _err("text", "must not be empty"))
        request = self.get(tenant_id, request_id)
        note = Comment(text=text.strip(), by_id=actor.id, by_name=actor.name)
        return self._save(request, bumped(request, comments=[*request.comments, note]), actor)

    # -- the workflow ------------------------------------------------------

    def submit(self, tenant_id: str, request_id: str, actor: Actor, comment: str | None = None) -> StockRequest:
        request = self.get(tenant_id, request_id)
        move = STOCK_REQUEST.move(request.status, "submit", actor, comment=comment)
        if not request.lines:
            raise ValidationFailed("a request needs at least one line to be submitted", _err("lines", "at least 1"))
        changed = bumped(request, status=move.to_state, history=[*request.history, move], submitted_by_id=actor.id)
        return self._save(request, changed, actor)

    def approve(
        self, tenant_id: str, request_id: str, actor: Actor, *, partial: bool = False, comment: str | None = None
    ) -> StockRequest:
        request = self.get(tenant_id, request_id)
        move = STOCK_REQUEST.move(request.status, "approve", actor, comment=comment)
        self._not_submitter(request, actor, "approve")
        writes, lines = self._reserve(tenant_id, request, [line.quantity for line in request.lines], actor, partial)
        changed = bumped(request, status=move.to_state, history=[*request.history, move], lines=lines)
        return self._save(request, changed, actor, writes)

    def reject(self, tenant_id: str, request_id: str, reason: str, actor: Actor) -> StockRequest:
        if not reason or not reason.strip():
            raise ValidationFailed("a rejection needs a reason", _err("reason", "required"))
        request = self.get(tenant_id, request_id)
        move = STOCK_REQUEST.move(request.status, "reject", actor, comment=reason.strip())
        self._not_submitter(request, actor, "reject")
        changed = bumped(
            request, status=move.to_state, history=[*request.history, move], rejection_reason=reason.strip()
        )
        return self._save(request, changed, actor)

    def set_status(
        self,
        tenant_id: str,
        request_id: str,
        status: str,
        actor: Actor,
        *,
        lines: Mapping[str, Decimal] | None = None,
        comment: str | None = None,
    ) -> StockRequest:
        """`fulfilled` (all reserved, or `lines`: line id -> quantity) or `cancelled` (releases what is reserved)."""
        request = self.get(tenant_id, request_id)
        if status == "fulfilled":
            return self._fulfil(tenant_id, request, lines, actor, comment)
        if status == "cancelled":
            move = STOCK_REQUEST.move(request.status, "cancel", actor, comment=comment, field="status")
            writes, kept = self._release(tenant_id, request, actor)
            changed = bumped(request, status=move.to_state, history=[*request.history, move], lines=kept)
            return self._save(request, changed, actor, writes)
        raise ValidationFailed("unknown status", _err("status", "one of fulfilled, cancelled"))

    def rollback(self, tenant_id: str, request_id: str, actor: Actor, comment: str | None = None) -> StockRequest:
        request = self.get(tenant_id, request_id)
        index = self._last_undoable(request)
        if index is None:
            raise InvalidState(
                f"stock request is {request.status}: nothing to roll back",
                _err("status", f"current state is {request.status}; no transition to roll back"),
            )
        last = request.history[index]
        undo = Transition(
            action="rollback",
            from_state=request.status,
            to_state=last.from_state,
            by_id=actor.id,
            by_name=actor.name,
            comment=comment or f"undoes {last.action}",
        )
        writes: list[StockWrite] = []
        lines = request.lines
        fulfilments = request.fulfilments
        if last.action == "approve":
            writes, lines = self._release(tenant_id, request, actor, made_by=index)
            lines = [line.model_copy(update={"approved_quantity": ZERO}) for line in lines]
        elif last.action == "fulfil":
            writes, lines, fulfilments = self._unfulfil(tenant_id, request, index, actor)
        elif last.action == "cancel" and last.from_state == "approved":
            # The cancel released the reservations: take them again.
            wanted = [line.approved_quantity - line.fulfilled_quantity for line in request.lines]
            writes, lines = self._reserve(tenant_id, request, wanted, actor, partial=False, keep_approved=True)
        changed = bumped(
            request,
            status=undo.to_state,
            history=[*request.history, undo],
            undone=[*request.undone, index, len(request.history)],
            lines=lines,
            fulfilments=fulfilments,
            rejection_reason=None if last.action == "reject" else request.rejection_reason,
        )
        return self._save(request, changed, actor, writes)

    # -- stock effects -----------------------------------------------------

    def _reserve(
        self,
        tenant_id: str,
        request: StockRequest,
        wanted: list[Decimal],
        actor: Actor,
        partial: bool,
        *,
        keep_approved: bool = False,
    ) -> tuple[list[StockWrite], list[RequestLine]]:
        """Reservations at the source for `wanted[i]` of line i (FEFO), and the lines holding them."""
        made_by = len(request.history)
        products = self._catalog.get_products(tenant_id, list({line.product_id for line in request.lines}))
        taken: dict[str, Decimal] = {}
        writes: list[StockWrite] = []
        lines: list[RequestLine] = []
        for index, (line, quantity) in enumerate(zip(request.lines, wanted, strict=True)):
            place = Place(line.product_id, request.source_location_id)
            product = products.get(line.product_id)
            records = self._wh.records_at_place(tenant_id, place) if product else []
            ordered = self._wh.draw_order(tenant_id, product, place, records) if product else []
            need = quantity
            claims: list[Claim] = []
            for n, record in enumerate(ordered):
                free = max(record.available - taken.get(record.stock_id, ZERO), ZERO)
                take = min(free, need)
                if take <= 0:
                    continue
                if record.stock_id in taken:
                    continue  # one write per record per transaction: another line of this request took it
                need -= take
                taken[record.stock_id] = take
                reservation = Reservation(
                    tenant_id=tenant_id,
                    reservation_id=f"{request.request_id}:{line.line_id}:{made_by}:{n}",
                    stock_id=record.stock_id,
                    product_id=record.product_id,
                    location_id=record.location_id,
                    quantity=take,
                    reference={"stockRequestId": request.request_id, "number": request.reference},
                )
                writes.append(
                    StockChange(stock_id=record.stock_id, actor=actor, reserved=take, new_reservation=reservation)
                )
                claims.append(
                    Claim(
                        reservation_id=reservation.reservation_id,
                        stock_id=record.stock_id,
                        lot_id=record.lot_id,
                        bin_id=record.bin_id,
                        quantity=take,
                        made_by=made_by,
                    )
                )
                if need == 0:
                    break
            if need > 0 and not partial:
                raise InsufficientStock(
                    f"only {quantity - need} available at the source, {quantity} needed",
                    _err(f"lines[{index}].quantity", f"only {quantity - need} available at the source"),
                )
            approved = line.approved_quantity if keep_approved else quantity - need
            lines.append(line.model_copy(update={"claims": [*line.claims, *claims], "approved_quantity": approved}))
        if 2 * len(writes) + 1 > TRANSACTION_ITEMS:
            raise ValidationFailed(
                "this request takes stock from too many records to reserve in one transaction",
                _err("lines", "split the request"),
            )
        return writes, lines

    def _release(
        self, tenant_id: str, request: StockRequest, actor: Actor, made_by: int | None = None
    ) -> tuple[list[StockWrite], list[RequestLine]]:
        writes: list[StockWrite] = []
        lines: list[RequestLine] = []
        for line in request.lines:
            claims = []
            for claim in line.claims:
                if claim.active and (made_by is None or claim.made_by == made_by):
                    writes.append(
                        StockChange(
                            stock_id=claim.stock_id,
                            actor=actor,
                            reserved=-claim.quantity,
                            floor_available=False,
                            reservation_transition=ClaimTransition(
                                claim.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED
                            ),
                        )
                    )
                    claims.append(claim.model_copy(update={"active": False}))
                else:
                    claims.append(claim)
            lines.append(line.model_copy(update={"claims": claims}))
        return writes, lines

    def _fulfil(
        self,
        tenant_id: str,
        request: StockRequest,
        wanted: Mapping[str, Decimal] | None,
        actor: Actor,
        comment: str | None,
    ) -> StockRequest:
        STOCK_REQUEST.target(request.status, "fulfil", "status")
        made_by = len(request.history)
        amounts = self._amounts(request, wanted)
        products = self._catalog.get_products(tenant_id, list({line.product_id for line in request.lines}))
        writes: list[StockWrite] = []
        arrivals: dict[Place, Decimal] = {}
        lines: list[RequestLine] = []
        fulfilments = list(request.fulfilments)
        for line in request.lines:
            need = amounts.get(line.line_id, ZERO)
            claims: list[Claim] = []
            moved = ZERO
            for n, claim in enumerate(line.claims):
                take = min(claim.quantity, need) if claim.active else ZERO
                if take <= 0:
                    claims.append(claim)
                    continue
                need -= take
                moved += take
                rest = claim.quantity - take
                again = None
                if rest > 0:
                    again = Reservation(
                        tenant_id=tenant_id,
                        reservation_id=f"{claim.reservation_id}:rest{made_by}",
                        stock_id=claim.stock_id,
                        product_id=line.product_id,
                        location_id=request.source_location_id,
                        quantity=rest,
                        reference={"stockRequestId": request.request_id, "number": request.reference},
                    )
                writes.append(
                    StockChange(
                        stock_id=claim.stock_id,
                        actor=actor,
                        on_hand=-take,
                        reserved=-claim.quantity + rest,
                        floor_available=False,
                        movement=self._movement(
                            tenant_id,
                            claim.stock_id,
                            line.product_id,
                            request.source_location_id,
                            -take,
                            actor,
                            request,
                            f"{request.request_id}:{line.line_id}:{made_by}:{n}:out",
                            MovementKind.TRANSFER_OUT,
                        ),
                        reservation_transition=ClaimTransition(
                            claim.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.FULFILLED
                        ),
                        new_reservation=again,
                    )
                )
                claims.append(claim.model_copy(update={"active": False}))
                if again is not None:
                    claims.append(claim.model_copy(update={"reservation_id": again.reservation_id, "quantity": rest}))
                to = Place(line.product_id, request.location_id, None, claim.lot_id)
                arrivals[to] = arrivals.get(to, ZERO) + take
                fulfilments.append(
                    Fulfilment(
                        line_id=line.line_id,
                        stock_id=claim.stock_id,
                        lot_id=claim.lot_id,
                        bin_id=claim.bin_id,
                        to_stock_id=_slot(tenant_id, to),
                        quantity=take,
                        made_by=made_by,
                    )
                )
            lines.append(
                line.model_copy(update={"claims": claims, "fulfilled_quantity": line.fulfilled_quantity + moved})
            )
        writes += self._wh.plan_arrivals(
            tenant_id,
            products,
            arrivals,
            actor,
            reason=REASON,
            reference=request.reference,
            movement_base=f"{request.request_id}:{made_by}",
        )
        done = all(line.fulfilled_quantity >= line.approved_quantity for line in lines)
        move = STOCK_REQUEST.move(
            request.status, "fulfil", actor, comment=comment, to_state=None if done else "approved", field="status"
        )
        changed = bumped(
            request, status=move.to_state, history=[*request.history, move], lines=lines, fulfilments=fulfilments
        )
        return self._save(request, changed, actor, writes)

    def _unfulfil(
        self, tenant_id: str, request: StockRequest, index: int, actor: Actor
    ) -> tuple[list[StockWrite], list[RequestLine], list[Fulfilment]]:
        """Undo the fulfilment `index`: the stock leaves the requesting location (guarded on it still being
        available there), goes back to its source record and is reserved again there."""
        made_by = len(request.history)
        undone = [f for f in request.fulfilments if f.made_by == index]
        back: dict[str, Decimal] = {}
        writes: list[StockWrite] = []
        lines = {line.line_id: line for line in request.lines}
        for n, f in enumerate(undone):
            back[f.to_stock_id] = back.get(f.to_stock_id, ZERO) + f.quantity
            line = lines[f.line_id]
            # One active claim per line and record: a claim still holding part of this record (the rest of
            # a partial fulfilment) is folded into the new reservation, so the record is written once.
            kept = next((c for c in line.claims if c.active and c.stock_id == f.stock_id), None)
            total = f.quantity + (kept.quantity if kept else ZERO)
            reservation = Reservation(
                tenant_id=tenant_id,
                reservation_id=f"{request.request_id}:{f.line_id}:{made_by}:undo{n}",
                stock_id=f.stock_id,
                product_id=line.product_id,
                location_id=request.source_location_id,
                quantity=total,
                reference={"stockRequestId": request.request_id, "number": request.reference},
            )
            writes.append(
                StockChange(
                    stock_id=f.stock_id,
                    actor=actor,
                    on_hand=f.quantity,
                    reserved=f.quantity,
                    movement=self._movement(
                        tenant_id,
                        f.stock_id,
                        line.product_id,
                        request.source_location_id,
                        f.quantity,
                        actor,
                        request,
                        f"{request.request_id}:{made_by}:back{n}",
                        MovementKind.TRANSFER_IN,
                    ),
                    new_reservation=reservation,
                    reservation_transition=(
                        ClaimTransition(kept.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED) if kept else None
                    ),
                )
            )
            claim = Claim(
                reservation_id=reservation.reservation_id,
                stock_id=f.stock_id,
                lot_id=f.lot_id,
                bin_id=f.bin_id,
                quantity=total,
                made_by=made_by,
            )
            claims = [c.model_copy(update={"active": False}) if c is kept else c for c in line.claims]
            lines[f.line_id] = line.model_copy(
                update={"claims": [*claims, claim], "fulfilled_quantity": line.fulfilled_quantity - f.quantity}
            )
        product_of = {f.to_stock_id: lines[f.line_id].product_id for f in undone}
        for n, (stock_id, quantity) in enumerate(back.items()):
            writes.append(
                StockChange(
                    stock_id=stock_id,
                    actor=actor,
                    on_hand=-quantity,
                    movement=self._movement(
                        tenant_id,
                        stock_id,
                        product_of[stock_id],
                        request.location_id,
                        -quantity,
                        actor,
                        request,
                        f"{request.request_id}:{made_by}:return{n}",
                        MovementKind.TRANSFER_OUT,
                    ),
                )
            )
        remaining = [f for f in request.fulfilments if f.made_by != index]
        return writes, [lines[line.line_id] for line in request.lines], remaining

    @staticmethod
    def _movement(
        tenant_id: str,
        stock_id: str,
        product_id: str,
        location_id: str,
        quantity: Decimal,
        actor: Actor,
        request: StockRequest,
        movement_id: str,
        kind: MovementKind,
    ) -> Movement:
        return Movement(
            tenant_id=tenant_id,
            movement_id=movement_id,
            stock_id=stock_id,
            product_id=product_id,
            location_id=location_id,
            kind=kind,
            quantity=quantity,
            reason=REASON,
            reference=request.reference,
            actor=actor,
        )

    # -- helpers -----------------------------------------------------------

    def _amounts(self, request: StockRequest, wanted: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
        if wanted is None:
            return {line.line_id: line.reserved for line in request.lines if line.reserved > 0}
        known = {line.line_id: line for line in request.lines}
        amounts: dict[str, Decimal] = {}
        for index, (line_id, quantity) in enumerate(wanted.items()):
            line = known.get(line_id)
            if line is None:
                raise NotFound("line not found", _err(f"lines[{index}].lineId", "not a line of this request"))
            if quantity <= 0 or quantity > line.reserved:
                raise ValidationFailed(
                    "more than is reserved", _err(f"lines[{index}].quantity", f"from 0 to {line.reserved} reserved")
                )
            amounts[line_id] = quantity
        return amounts

    def _last_undoable(self, request: StockRequest) -> int | None:
        for index in range(len(request.history) - 1, -1, -1):
            if index not in request.undone and request.history[index].action != "rollback":
                return index
        return None

    def _not_submitter(self, request: StockRequest, actor: Actor, what: str) -> None:
        if request.submitted_by_id == actor.id:
            raise Forbidden(
                f"whoever submitted a stock request cannot {what} it", _err("id", f"submitted by you: cannot {what}")
            )

    def _editable(self, tenant_id: str, request_id: str) -> StockRequest:
        request = self.get(tenant_id, request_id)
        if request.status not in EDITABLE:
            allowed = ", ".join(self.allowed(request)) or "none (final state)"
            raise InvalidState(
                f"a {request.status} stock request cannot be edited (only draft or rejected)",
                _err("status", f"current state is {request.status}; allowed transitions: {allowed}"),
            )
        return request

    def _check_fields(self, tenant_id: str, fields: Mapping[str, Any]) -> None:
        if "title" in fields and not str(fields["title"] or "").strip():
            raise ValidationFailed("a title is required", _err("title", "must not be empty"))
        if "priority" in fields and fields["priority"] not in set(Priority):
            raise ValidationFailed("unknown priority", _err("priority", "one of low, normal, high, urgent"))
        for name, field in (("location_id", "locationId"), ("source_location_id", "sourceLocationId")):
            if fields.get(name):
                self._wh.location(tenant_id, fields[name], field)
        if fields.get("location_id") and fields.get("location_id") == fields.get("source_location_id"):
            raise ValidationFailed(
                "stock is requested from another location", _err("sourceLocationId", "same as locationId")
            )

    def _check_lines(self, tenant_id: str, lines: list[LineIn], field: str = "lines") -> None:
        if len(lines) > MAX_LINES:
            raise ValidationFailed(f"at most {MAX_LINES} lines", _err("lines", f"at most {MAX_LINES} lines"))
        products = self._catalog.get_products(tenant_id, [line.product_id for line in lines])
        for index, line in enumerate(lines):
            at = f"{field}[{index}]." if field else ""
            product = products.get(line.product_id)
            if product is None or not product.active:
                raise NotFound("product not found", _err(f"{at}productMasterId", "not found"))
            if line.quantity <= 0:
                raise ValidationFailed("quantity must be positive", _err(f"{at}quantity", "must be > 0"))

    def _save(
        self, before: StockRequest, after: StockRequest, actor: Actor, writes: list[StockWrite] | None = None
    ) -> StockRequest:
        uow = self._transactions.begin()
        if writes:
            self._wh.add_writes(before.tenant_id, writes, actor, uow)
        self._store.add_save(after, before.version, actor, uow)
        uow.commit()
        return after


def _fields_of(request: StockRequest) -> dict[str, Any]:
    return {"location_id": request.location_id, "source_location_id": request.source_location_id}


def _slot(tenant_id: str, place: Place) -> str:
    return slot_id(tenant_id, place.product_id, place.location_id, place.bin_id, place.lot_id)
