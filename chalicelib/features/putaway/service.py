"""The rules of put-away tasks (001); workflow `core/workflows.PUT_AWAY` (open -> completed | cancelled).

Completing a task moves its stock from the source bin to the target bin in ONE transaction with the
task (transfer movements, reason PUT_AWAY; FEFO when a lot-controlled product's lot is not named).
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import DuplicateCommand, InsufficientStock, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor, Bin, MovementKind
from chalicelib.core.ports import StockWrite, Transactions
from chalicelib.core.stock.slots import Place
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import PUT_AWAY, WorkItems, bumped
from chalicelib.features.putaway.model import PutAwayTask
from chalicelib.features.putaway.rules import suggest_bin

REASON = "PUT_AWAY"


def _err(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


class PutAwayService:
    def __init__(
        self,
        warehouse: WarehouseStock,
        catalog: CatalogService,
        store: WorkItems[PutAwayTask],
        transactions: Transactions,
    ) -> None:
        self._wh = warehouse
        self._catalog = catalog
        self._store = store
        self._transactions = transactions

    def _find_bin(self, tenant_id: str, bin_id: str, field: str) -> Bin:
        found = next((b for b in self._catalog.list_all_bins(tenant_id) if b.bin_id == bin_id and b.active), None)
        if found is None:
            raise NotFound(f"bin {bin_id} not found", _err(field, "not found"))
        return found

    def get(self, tenant_id: str, task_id: str) -> PutAwayTask:
        found = self._store.get(tenant_id, task_id)
        if found is None:
            raise NotFound(f"put-away task {task_id} not found", _err("taskId", "not found"))
        return found

    def tasks(self, tenant_id: str, status: str | None = None) -> list[PutAwayTask]:
        found = [t for t in self._store.list_all(tenant_id) if status is None or t.status == status]
        return sorted(found, key=lambda t: (t.created_at, t.task_id), reverse=True)

    def create(
        self,
        tenant_id: str,
        product_id: str,
        from_bin_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        lot_id: str | None = None,
        to_bin_id: str | None = None,
        command_id: str | None = None,
    ) -> PutAwayTask:
        """A task; without `toBinId` the suggested bin. Less available in the source bin is a 409."""
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", _err("quantity", "must be > 0"))
        source = self._find_bin(tenant_id, from_bin_id, "fromBinId")
        place = Place(product_id, source.location_id, from_bin_id, lot_id)
        self._wh.check_place(tenant_id, place)
        records = self._wh.records_at_place(tenant_id, place)
        available = sum((max(r.available, ZERO) for r in records), ZERO)
        if available < quantity:
            raise InsufficientStock(
                f"only {available} available in the bin", _err("quantity", f"only {available} available in fromBinId")
            )
        suggested = False
        if to_bin_id is not None:
            target = self._wh.bin(tenant_id, source.location_id, to_bin_id, "toBinId")
            if target.bin_id == from_bin_id:
                raise ValidationFailed("the bins are the same", _err("toBinId", "same as fromBinId"))
        else:
            stock = self._wh.inventory(tenant_id, location_id=source.location_id)
            bins = self._catalog.list_bins(tenant_id, source.location_id)
            found = suggest_bin(bins, stock, product_id, lot_id, quantity, exclude=from_bin_id)
            if found is None:
                raise InsufficientStock(
                    "no storage bin here has room for it", _err("toBinId", "no bin with room: name one")
                )
            to_bin_id, suggested = found.bin_id, True
        task = PutAwayTask(
            tenant_id=tenant_id,
            task_id=command_id or new_id(),
            product_id=product_id,
            location_id=source.location_id,
            from_bin_id=from_bin_id,
            to_bin_id=to_bin_id,
            suggested=suggested,
            lot_id=lot_id,
            quantity=quantity,
            created_by_id=actor.id,
            created_by_name=actor.name,
        )
        uow = self._transactions.begin(command_id)
        self._store.add_new(task, actor, uow)
        try:
            uow.commit()
        except DuplicateCommand:
            return self.get(tenant_id, task.task_id)
        return task

    def act(
        self, tenant_id: str, task_id: str, action: str, actor: Actor, *, to_bin_id: str | None = None
    ) -> PutAwayTask:
        task = self.get(tenant_id, task_id)
        move = PUT_AWAY.move(task.status, action, actor)
        writes: list[StockWrite] = []
        target = to_bin_id or task.to_bin_id
        if action == "complete":
            if target is None:
                raise ValidationFailed("a target bin is needed", _err("toBinId", "required"))
            self._wh.bin(tenant_id, task.location_id, target, "toBinId")
            if target == task.from_bin_id:
                raise ValidationFailed("the bins are the same", _err("toBinId", "same as fromBinId"))
            writes = self._moves(tenant_id, task, target, actor, len(task.history))
        changed = bumped(task, status=move.to_state, history=[*task.history, move], to_bin_id=target)
        uow = self._transactions.begin()
        self._wh.add_writes(tenant_id, writes, actor, uow)
        self._store.add_save(changed, task.version, actor, uow)
        uow.commit()
        return changed

    def _moves(self, tenant_id: str, task: PutAwayTask, target: str, actor: Actor, round_: int) -> list[StockWrite]:
        product = self._wh.product(tenant_id, task.product_id)
        place = Place(task.product_id, task.location_id, task.from_bin_id, task.lot_id)
        ordered = self._wh.draw_order(tenant_id, product, place, self._wh.records_at_place(tenant_id, place))
        base = f"putaway:{task.task_id}:{round_}"
        out = self._wh.plan_decrease(
            tenant_id,
            ordered,
            task.quantity,
            actor,
            kind=MovementKind.TRANSFER_OUT,
            reason=REASON,
            reference=task.task_id,
            movement_id=f"{base}:out",
            field="quantity",
        )
        arrivals: dict[str | None, Decimal] = {}
        records = {r.stock_id: r for r in ordered}
        for change in out:
            lot = records[change.stock_id].lot_id
            arrivals[lot] = arrivals.get(lot, ZERO) - change.on_hand
        places = {Place(task.product_id, task.location_id, target, lot): q for lot, q in arrivals.items()}
        arriving = self._wh.plan_arrivals(
            tenant_id,
            {product.product_id: product},
            places,
            actor,
            reason=REASON,
            reference=task.task_id,
            movement_base=base,
        )
        return [*out, *arriving]
