"""Production tasks, their items and batches, and custom statuses (002), with their rules.

A task lists items: a resource (product or material) and a quantity in a
unit of the resource's dimension. A batch produces part of an item. An item
is completed when its batches reach its quantity; a task whose items are all
completed is done. The functions here are pure: the service reads, applies
them, and writes the result guarded on the version it read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Entity, Model

MAX_ITEMS = 50


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    DONE = "done"


class StatusEffect(StrEnum):
    """What a stock-level update with a custom status does: like an audit, a restock or a loss."""

    SET = "set"
    ADD = "add"
    SUBTRACT = "subtract"


class CustomStatus(Entity):
    status_id: int
    name: str
    effect: StatusEffect
    active: bool = True


class BatchSummary(Model):
    """What a task shows of one of its batches."""

    batch_id: int
    user_id: str | None = None
    quantity: Decimal
    created_at: datetime
    updated_at: datetime


class TaskItem(Model):
    item_id: int
    resource_id: str
    quantity: Decimal  # in unit_type
    unit_type: str
    batches: list[BatchSummary] = Field(default_factory=list)

    @property
    def produced(self) -> Decimal:
        return sum((b.quantity for b in self.batches), ZERO)

    @property
    def completed(self) -> bool:
        return self.produced >= self.quantity


class Task(Entity):
    task_id: str = Field(default_factory=new_id)
    name: str
    status: TaskStatus = TaskStatus.PENDING
    order: int
    location_id: str | None = None
    user_id: str | None = None
    due: datetime | None = None
    completed_at: datetime | None = None
    notes: str | None = None
    items: list[TaskItem]
    active: bool = True

    def item(self, item_id: int) -> TaskItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    @property
    def open(self) -> bool:
        """Still to be worked on: neither done nor deleted."""
        return self.active and self.status != TaskStatus.DONE


class StockDraw(Model):
    """One stock write of a batch (signed quantity), kept so that deleting the batch undoes exactly it."""

    stock_id: str
    product_id: str
    location_id: str
    quantity: Decimal
    movement_id: str


class Batch(Entity):
    batch_id: int
    task_id: str
    item_id: int
    user_id: str | None = None
    quantity: Decimal  # in the item's unit
    resource_id: str
    resource_quantity: Decimal  # the same quantity in the resource's own unit
    location_id: str
    draws: list[StockDraw]

    def summary(self) -> BatchSummary:
        return BatchSummary(
            batch_id=self.batch_id,
            user_id=self.user_id,
            quantity=self.quantity,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


# -- status transitions ---------------------------------------------------------


def with_status(task: Task, status: TaskStatus, now: datetime) -> Task:
    """A status a person sets: done stamps completedAt, leaving done clears it."""
    if status == task.status:
        return task
    completed_at = (task.completed_at or now) if status == TaskStatus.DONE else None
    return task.model_copy(update={"status": status, "completed_at": completed_at})


def settle(task: Task, now: datetime) -> Task:
    """The status that follows from the items after production changed.

    All items completed -> done (completedAt set once). A done task with an
    item no longer completed (a batch was deleted) -> in-progress, completedAt
    cleared. A pending task with any batch -> in-progress.
    """
    if task.items and all(item.completed for item in task.items):
        return with_status(task, TaskStatus.DONE, now)
    if task.status == TaskStatus.DONE:
        return with_status(task, TaskStatus.IN_PROGRESS, now)
    if task.status == TaskStatus.PENDING and any(item.batches for item in task.items):
        return with_status(task, TaskStatus.IN_PROGRESS, now)
    return task


def with_batch(task: Task, batch: Batch, now: datetime) -> Task:
    """The task after `batch`: its item lists it, the status follows, and the version moves on."""
    items = [
        item.model_copy(update={"batches": [*item.batches, batch.summary()]}) if item.item_id == batch.item_id else item
        for item in task.items
    ]
    return settle(_next(task, items, now), now)


def without_batch(task: Task, batch: Batch, now: datetime) -> Task:
    items = [
        item.model_copy(update={"batches": [b for b in item.batches if b.batch_id != batch.batch_id]})
        if item.item_id == batch.item_id
        else item
        for item in task.items
    ]
    return settle(_next(task, items, now), now)


def _next(task: Task, items: list[TaskItem], now: datetime) -> Task:
    # A new version, so that a second writer guarded on the version it read fails instead of overwriting.
    return task.model_copy(update={"items": items, "version": task.version + 1, "updated_at": now})
