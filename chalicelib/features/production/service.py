"""Production (002): tasks, batches, custom statuses, and the maker's stock-level updates.

A batch is ONE unit of work (`Transactions.begin(command)`: the stock service adds
its stock writes, the production store the batch and the task): the resource's stock
rises at the task's location (the company's default location when the task
has none), each material of its bill of materials falls there by
quantityUsed x quantity (guarded on available, so two batches racing for the
last material never both succeed), the batch is recorded and the task's new
state is written guarded on the version read. Deleting a batch takes back
exactly what it did, in one unit of work. The unit of work sends the
ClientRequestToken, explains a cancellation as the domain error, and refuses
a batch beyond its write limit (TooManyWrites) before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog import units
from chalicelib.core.catalog.resources import ResourceView
from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import (
    AlreadyExists,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, MovementKind, Product, ProductionType
from chalicelib.core.ports import NewRecordWrite, OffsetPage, StockChange, StockWrite, Transactions
from chalicelib.core.stock.levels import LevelChange, LevelUpdate, ShortStock, check_single
from chalicelib.core.stock.service import StockService
from chalicelib.core.tenancy.users import UserService
from chalicelib.features.production.model import (
    MAX_ITEMS,
    Batch,
    CustomStatus,
    StatusEffect,
    StockDraw,
    Task,
    TaskItem,
    TaskStatus,
    with_batch,
    with_status,
    without_batch,
)
from chalicelib.features.production.planning import component_ids, consumption, resource_quantity
from chalicelib.features.production.ports import (
    BATCH_IDS,
    CUSTOM_STATUS_IDS,
    TASK_ORDER,
    ProductionStore,
)

ATTEMPTS = 5


class UpdateType:
    AUDIT = "audit"
    RESTOCK = "restock"
    LOSS = "loss"
    CUSTOM = "custom"


UPDATE_TYPES = (UpdateType.AUDIT, UpdateType.RESTOCK, UpdateType.LOSS, UpdateType.CUSTOM)
_EFFECTS = {
    UpdateType.AUDIT: (LevelChange.SET, MovementKind.COUNT),
    UpdateType.RESTOCK: (LevelChange.ADD, MovementKind.RECEIPT),
    UpdateType.LOSS: (LevelChange.SUBTRACT, MovementKind.LOSS),
}
_CUSTOM = {
    StatusEffect.SET: LevelChange.SET,
    StatusEffect.ADD: LevelChange.ADD,
    StatusEffect.SUBTRACT: LevelChange.SUBTRACT,
}


@dataclass(frozen=True)
class LevelRequest:
    quantity: Decimal
    location_name: str
    update_type: str
    notes: str | None = None
    custom_status_id: int | None = None


@dataclass(frozen=True)
class ItemDraft:
    resource_id: str
    quantity: Decimal
    unit_type: str | None = None


@dataclass(frozen=True)
class TaskDraft:
    name: str
    items: list[ItemDraft]
    assignee: str | None = None
    user_id: str | None = None
    location_id: str | None = None
    due: datetime | None = None
    notes: str | None = None
    status: TaskStatus = TaskStatus.PENDING


@dataclass(frozen=True)
class TaskChanges:
    """A PATCH: `given` names the fields sent (a field sent as null unsets it)."""

    given: frozenset[str]
    name: str | None = None
    assignee: str | None = None
    user_id: str | None = None
    status: TaskStatus | None = None
    location_id: str | None = None
    due: datetime | None = None
    notes: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class TaskView:
    task: Task
    resources: dict[str, Product] = field(default_factory=dict)
    stock_levels: dict[str, Decimal] = field(default_factory=dict)


class ProductionService:
    def __init__(
        self,
        store: ProductionStore,
        catalog: CatalogService,
        stock: StockService,
        users: UserService,
        transactions: Transactions,
    ) -> None:
        self._store = store
        self._transactions = transactions
        self._catalog = catalog
        self._stock = stock
        self._users = users

    # -- custom statuses -------------------------------------------------------

    def create_status(self, tenant_id: str, name: str, effect: StatusEffect, actor: Actor) -> CustomStatus:
        if not name.strip():
            raise ValidationFailed("name is required", [{"field": "name", "message": "must not be empty"}])
        status_id = self._store.next_number(tenant_id, CUSTOM_STATUS_IDS)
        status = CustomStatus(tenant_id=tenant_id, status_id=status_id, name=name.strip(), effect=effect)
        self._store.create_status(status, actor)
        return status

    def status_page(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[CustomStatus]:
        return self._store.page_statuses(tenant_id, offset, limit)

    def custom_status(self, tenant_id: str, status_id: int | None) -> CustomStatus:
        if status_id is None:
            raise ValidationFailed(
                "customStatusId is required when updateType is custom",
                [{"field": "customStatusId", "message": "required for custom"}],
            )
        status = self._store.get_status(tenant_id, status_id)
        if status is None or not status.active:
            raise ValidationFailed(
                f"no custom status {status_id}", [{"field": "customStatusId", "message": "unknown custom status"}]
            )
        return status

    # -- resources ---------------------------------------------------------------

    def update_stock_level(
        self,
        tenant_id: str,
        kind: str,
        product_id: str,
        request: LevelRequest,
        actor: Actor,
        command_id: str | None = None,
    ) -> ResourceView:
        """audit sets the location's stock, restock adds, loss subtracts, custom does what its status says."""
        product = self._catalog.active_resource(tenant_id, kind, product_id)
        if request.update_type == UpdateType.CUSTOM:
            status = self.custom_status(tenant_id, request.custom_status_id)
            change, movement_kind = _CUSTOM[status.effect], MovementKind.ADJUSTMENT
            reference = f"custom:{status.status_id}:{status.name}"
        elif request.update_type in _EFFECTS:
            change, movement_kind = _EFFECTS[request.update_type]
            reference = request.update_type
        else:
            raise ValidationFailed(
                f"updateType must be one of {', '.join(UPDATE_TYPES)}",
                [{"field": "updateType", "message": "unknown update type"}],
            )
        location_id = self._catalog.location_named(tenant_id, request.location_name)
        update = LevelUpdate(change, request.quantity, movement_kind, request.notes, reference)
        try:
            self._stock.update_level(tenant_id, product, location_id, update, actor, command_id=command_id)
        except ShortStock as short:
            raise ValidationFailed(
                f"{product.name} has {short.available} {product.unit_type} available at "
                f"{request.location_name.strip()}: it cannot lose {short.need}",
                [{"field": "quantity", "message": f"only {short.available} available at the location"}],
            ) from None
        return self._catalog.views(tenant_id, [product])[0]  # the product itself did not change

    def delete_resource(
        self, tenant_id: str, kind: str, product_id: str, actor: Actor, expected_version: int | None = None
    ) -> None:
        """Refused (400) while an open task uses it or stock is on hand (the catalog checks that)."""
        product = self._catalog.active_resource(tenant_id, kind, product_id)
        task_ids = self._store.task_ids_using(tenant_id, product_id)
        open_tasks = [t for t in self._store.get_tasks(tenant_id, task_ids).values() if t.open]
        if open_tasks:
            names = ", ".join(sorted(t.name for t in open_tasks)[:5])
            raise ValidationFailed(
                f"{product.name} is used by {len(open_tasks)} open task(s): {names}",
                [{"field": "id", "message": "used by an open task"}],
            )
        self._catalog.delete_resource(tenant_id, kind, product_id, actor, expected_version)

    # -- tasks -------------------------------------------------------------------

    def create_task(self, tenant_id: str, draft: TaskDraft, actor: Actor) -> TaskView:
        name = draft.name.strip()
        if not name:
            raise ValidationFailed("name is required", [{"field": "name", "message": "must not be empty"}])
        resources = self._task_resources(tenant_id, draft.items)
        items = [self._item(index, draft_item, resources) for index, draft_item in enumerate(draft.items)]
        user_id = self._assignee(tenant_id, draft.assignee, draft.user_id)
        if draft.location_id is not None:
            self._catalog.active_location(tenant_id, draft.location_id, field="LocationId")
        order = self._store.next_number(tenant_id, TASK_ORDER)
        now = utcnow()
        task = Task(
            tenant_id=tenant_id,
            name=name,
            order=order,
            location_id=draft.location_id,
            user_id=user_id,
            due=draft.due,
            notes=draft.notes,
            items=items,
            created_at=now,
            updated_at=now,
        )
        task = with_status(task, draft.status, now)
        self._store.create_task(task, actor)
        return self._views(tenant_id, [task], resources)[0]

    def task(self, tenant_id: str, task_id: str) -> TaskView:
        return self._views(tenant_id, [self._active_task(tenant_id, task_id)])[0]

    def task_page(
        self, tenant_id: str, offset: int, limit: int, status: TaskStatus | None, user: str | None
    ) -> OffsetPage[TaskView]:
        user_id = None
        if user is not None:
            try:
                user_id = self._users.find(tenant_id, user, "UserId").user_id
            except ValidationFailed:
                return OffsetPage([], 0)  # nobody of that id or email: no task is theirs
        page = self._store.page_tasks(tenant_id, offset, limit, status.value if status else None, user_id)
        return OffsetPage(self._views(tenant_id, page.items), page.total)

    def update_task(self, tenant_id: str, task_id: str, changes: TaskChanges, actor: Actor) -> TaskView:
        previous = self._active_task(tenant_id, task_id)
        if changes.version is not None and changes.version != previous.version:
            raise StaleVersion(f"task is at version {previous.version}, not {changes.version}")
        update: dict[str, Any] = {}
        if "name" in changes.given:
            if not (changes.name or "").strip():
                raise ValidationFailed("name cannot be empty", [{"field": "name", "message": "must not be empty"}])
            update["name"] = (changes.name or "").strip()
        if "assignee" in changes.given or "user_id" in changes.given:
            update["user_id"] = self._assignee(
                tenant_id,
                changes.assignee if "assignee" in changes.given else None,
                changes.user_id if "user_id" in changes.given else None,
            )
        if "location_id" in changes.given:
            if changes.location_id is not None:
                self._catalog.active_location(tenant_id, changes.location_id, field="LocationId")
            update["location_id"] = changes.location_id
        for name in ("due", "notes"):
            if name in changes.given:
                update[name] = getattr(changes, name)
        now = utcnow()
        task = previous.model_copy(update={**update, "version": previous.version + 1, "updated_at": now})
        if "status" in changes.given and changes.status is not None:
            task = with_status(task, changes.status, now)
        self._store.save_task(task, previous, actor)
        return self._views(tenant_id, [task])[0]

    def delete_task(self, tenant_id: str, task_id: str, actor: Actor) -> None:
        """Soft delete: the task leaves every list; its batches and the stock they moved stay."""
        previous = self._active_task(tenant_id, task_id)
        task = previous.model_copy(update={"active": False, "version": previous.version + 1, "updated_at": utcnow()})
        self._store.save_task(task, previous, actor)

    # -- batches -----------------------------------------------------------------

    def create_batch(
        self,
        tenant_id: str,
        task_id: str,
        item_id: int,
        quantity: Decimal,
        actor: Actor,
        *,
        user: str | None = None,
        command_id: str | None = None,
    ) -> Batch:
        if quantity <= 0:
            raise ValidationFailed("quantity must be > 0", [{"field": "quantity", "message": "must be > 0"}])
        if command_id is not None:
            done = self._store.batch_id_for_command(tenant_id, command_id)
            if done is not None:
                return self._batch(tenant_id, done)
        user_id = self._users.find(tenant_id, user, "UserId").user_id if user else None
        batch_id: int | None = None
        for _ in range(ATTEMPTS):
            task = self._active_task(tenant_id, task_id)
            item = task.item(item_id)
            if item is None:
                raise NotFound(f"task {task_id} has no item {item_id}")
            batch_id = batch_id or self._store.next_number(tenant_id, BATCH_IDS)
            batch, writes = self._plan_batch(tenant_id, task, item, quantity, batch_id, user_id, actor)
            uow = self._transactions.begin(command_id)
            self._stock.add_writes(tenant_id, writes, actor, uow)
            self._store.add_batch(uow, batch, with_batch(task, batch, batch.created_at), task, actor, command_id)
            try:
                uow.commit()
                return batch
            except DuplicateCommand:
                # This command made its batch already (a retry): that batch is the answer.
                done = self._store.batch_id_for_command(tenant_id, command_id or "")
                if done is None:
                    raise
                return self._batch(tenant_id, done)
            except (StaleVersion, InsufficientStock, ExpectationFailed, AlreadyExists):
                continue  # someone else changed the task or the stock between the read and the write: plan again
        raise InvalidState("the task or its stock is changing too fast; try again")

    def delete_batch(self, tenant_id: str, batch_id: int, actor: Actor) -> None:
        """Undo a batch exactly: its product taken back, its materials given back, in one transaction."""
        for _ in range(ATTEMPTS):
            batch = self._batch(tenant_id, batch_id)
            task = self._store.get_task(tenant_id, batch.task_id)
            if task is None or not task.active:
                raise NotFound(f"batch {batch_id} not found")
            records = self._stock.records(tenant_id, [d.stock_id for d in batch.draws])
            changes: list[StockChange] = []
            for draw in batch.draws:
                record = records.get(draw.stock_id)
                if record is None:
                    raise InvalidState(f"stock record {draw.stock_id} of batch {batch_id} is missing")
                try:
                    change = self._stock.plan_undo(
                        record,
                        movement_id=f"undo-{draw.movement_id}",
                        original_id=draw.movement_id,
                        quantity=draw.quantity,
                        actor=actor,
                        reason=f"batch {batch_id} deleted",
                        reference=_reference(task, batch.item_id, batch.batch_id),
                    )
                except ShortStock as short:
                    raise ValidationFailed(
                        f"the stock batch {batch_id} produced is no longer there to remove: {short.available} of "
                        f"{draw.quantity} left in the record it went to",
                        [{"field": "id", "message": "produced stock no longer there"}],
                    ) from None
                changes.append(change)
            uow = self._transactions.begin()
            self._stock.add_writes(tenant_id, list(changes), actor, uow)
            self._store.add_batch_removal(uow, batch, without_batch(task, batch, utcnow()), task, actor)
            try:
                uow.commit()
                return
            except InvalidState:
                if self._store.get_batch(tenant_id, batch_id) is None:
                    raise NotFound(f"batch {batch_id} not found") from None
                raise
            except (StaleVersion, InsufficientStock, ExpectationFailed):
                continue
        raise InvalidState("the task or its stock is changing too fast; try again")

    # -- helpers -----------------------------------------------------------------

    def _plan_batch(
        self,
        tenant_id: str,
        task: Task,
        item: TaskItem,
        quantity: Decimal,
        batch_id: int,
        user_id: str | None,
        actor: Actor,
    ) -> tuple[Batch, list[StockWrite]]:
        resource = self._catalog.active_resource(tenant_id, None, item.resource_id)
        _producible(resource, "ProductId")
        location_id = task.location_id or self._catalog.default_location(tenant_id, actor).location_id
        produced = resource_quantity(quantity, item.unit_type, resource)
        known: dict[str, Product] = {resource.product_id: resource}
        known.update(self._catalog.get_products(tenant_id, [line.product_id for line in resource.materials]))
        extra = component_ids(resource, known)
        if extra:
            known.update(self._catalog.get_products(tenant_id, sorted(extra)))
        needs = consumption(resource, produced, known)
        records = self._stock.records_of(tenant_id, [resource.product_id, *(n.material.product_id for n in needs)])
        if resource.production_type == ProductionType.SINGLE:
            check_single(resource, records.get(resource.product_id, []), produced)
        reference = _reference(task, item.item_id, batch_id)
        reason = f"production batch {batch_id} of {task.name}"

        def here(product_id: str) -> list[Any]:
            return [r for r in records.get(product_id, []) if r.location_id == location_id]

        writes: list[StockWrite] = [
            self._stock.plan_increase(
                tenant_id,
                resource,
                location_id,
                here(resource.product_id),
                produced,
                actor,
                kind=MovementKind.PRODUCTION,
                reason=reason,
                reference=reference,
                movement_id=f"batch-{batch_id}",
            )
        ]
        for index, need in enumerate(needs):
            try:
                writes += self._stock.plan_decrease(
                    tenant_id,
                    need.material.product_id,
                    location_id,
                    here(need.material.product_id),
                    need.quantity,
                    actor,
                    kind=MovementKind.CONSUMPTION,
                    reason=reason,
                    reference=reference,
                    movement_id=f"batch-{batch_id}-m{index}",
                )
            except ShortStock as short:
                raise ValidationFailed(
                    f"not enough {need.material.name} ({need.material.product_id}) at the task's location: "
                    f"{short.available} {need.material.unit_type} available, {need.quantity} needed",
                    [{"field": "quantity", "message": f"not enough of material {need.material.product_id}"}],
                ) from None
        now = utcnow()
        batch = Batch(
            tenant_id=tenant_id,
            batch_id=batch_id,
            task_id=task.task_id,
            item_id=item.item_id,
            user_id=user_id,
            quantity=quantity,
            resource_id=resource.product_id,
            resource_quantity=produced,
            location_id=location_id,
            draws=[_draw(w) for w in writes],
            created_at=now,
            updated_at=now,
        )
        return batch, writes

    def _batch(self, tenant_id: str, batch_id: int) -> Batch:
        batch = self._store.get_batch(tenant_id, batch_id)
        if batch is None:
            raise NotFound(f"batch {batch_id} not found")
        return batch

    def _active_task(self, tenant_id: str, task_id: str) -> Task:
        task = self._store.get_task(tenant_id, task_id)
        if task is None or not task.active:
            raise NotFound(f"task {task_id} not found")
        return task

    def _task_resources(self, tenant_id: str, items: list[ItemDraft]) -> dict[str, Product]:
        if not items:
            raise ValidationFailed("Items cannot be empty", [{"field": "Items", "message": "at least one item"}])
        if len(items) > MAX_ITEMS:
            raise ValidationFailed(
                f"a task holds at most {MAX_ITEMS} items", [{"field": "Items", "message": f"more than {MAX_ITEMS}"}]
            )
        found = self._catalog.get_products(tenant_id, sorted({i.resource_id for i in items}))
        errors = [
            {"field": f"Items[{index}].ProductId", "message": f"{item.resource_id} is not a product or material"}
            for index, item in enumerate(items)
            if item.resource_id not in found or not found[item.resource_id].active
        ]
        if errors:
            raise ValidationFailed(f"unknown resource: {errors[0]['field']}", errors)
        return found

    def _item(self, index: int, draft: ItemDraft, resources: dict[str, Product]) -> TaskItem:
        resource = resources[draft.resource_id]
        where = f"Items[{index}]"
        _producible(resource, f"{where}.ProductId")
        if draft.quantity <= 0:
            raise ValidationFailed("quantity must be > 0", [{"field": f"{where}.quantity", "message": "must be > 0"}])
        unit = draft.unit_type or resource.unit_type
        if unit == units.BUNDLES or not units.is_unit(unit):
            raise ValidationFailed(
                f"unitType {unit} cannot be used", [{"field": f"{where}.unitType", "message": "not a settable unit"}]
            )
        if not units.compatible(unit, resource.unit_type):
            raise ValidationFailed(
                f"{resource.name} is kept in {resource.unit_type}: {unit} is another dimension",
                [{"field": f"{where}.unitType", "message": f"cannot convert {unit} to {resource.unit_type}"}],
            )
        return TaskItem(item_id=index + 1, resource_id=draft.resource_id, quantity=draft.quantity, unit_type=unit)

    def _assignee(self, tenant_id: str, assignee: str | None, user_id: str | None) -> str | None:
        chosen = [
            self._users.find(tenant_id, value, name).user_id
            for name, value in (("Assignee", assignee), ("UserId", user_id))
            if value is not None
        ]
        if len(set(chosen)) > 1:
            raise ValidationFailed(
                "Assignee and UserId name different users", [{"field": "Assignee", "message": "differs from UserId"}]
            )
        return chosen[0] if chosen else None

    def _views(self, tenant_id: str, tasks: list[Task], known: dict[str, Product] | None = None) -> list[TaskView]:
        wanted = {item.resource_id for task in tasks for item in task.items}
        resources = {pid: p for pid, p in (known or {}).items() if pid in wanted}
        missing = wanted - resources.keys()
        if missing:
            resources.update(self._catalog.get_products(tenant_id, sorted(missing)))
        levels = self._catalog.levels(tenant_id, list(resources.values()))
        totals = {pid: levels[pid].total for pid in resources}
        return [TaskView(task, resources, totals) for task in tasks]


def _producible(resource: Product, field: str) -> None:
    if resource.production_type == ProductionType.BUNDLE:
        raise ValidationFailed(
            f"{resource.name} is a bundle: its stock is derived from its materials, produce those instead",
            [{"field": field, "message": "a bundle cannot be produced"}],
        )


def _draw(write: StockWrite) -> StockDraw:
    if isinstance(write, NewRecordWrite):
        record, movement = write.record, write.movement
        assert movement is not None
        return StockDraw(
            stock_id=record.stock_id,
            product_id=record.product_id,
            location_id=record.location_id,
            quantity=movement.quantity,
            movement_id=movement.movement_id,
        )
    assert write.movement is not None
    return StockDraw(
        stock_id=write.stock_id,
        product_id=write.movement.product_id,
        location_id=write.movement.location_id,
        quantity=write.movement.quantity,
        movement_id=write.movement.movement_id,
    )


def _reference(task: Task, item_id: int, batch_id: int) -> str:
    return f"task:{task.task_id}/item:{item_id}/batch:{batch_id}"
