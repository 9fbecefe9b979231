"""What production needs from storage (`storage/production_repo.py` implements it on DynamoDB)."""

from __future__ import annotations

from typing import Protocol

from chalicelib.core.models import Actor
from chalicelib.core.ports import OffsetPage, StockChange, StockWrite
from chalicelib.features.production.model import Batch, CustomStatus, Task

TASK_ORDER = "task-order"
BATCH_IDS = "batch-id"
CUSTOM_STATUS_IDS = "custom-status-id"


class ProductionStore(Protocol):
    def next_number(self, tenant_id: str, sequence: str) -> int: ...

    # tasks
    def create_task(self, task: Task, actor: Actor) -> None: ...
    def get_task(self, tenant_id: str, task_id: str) -> Task | None: ...
    def get_tasks(self, tenant_id: str, task_ids: list[str]) -> dict[str, Task]: ...
    def save_task(self, task: Task, previous: Task, actor: Actor) -> None: ...
    def page_tasks(
        self, tenant_id: str, offset: int, limit: int, status: str | None, user_id: str | None
    ) -> OffsetPage[Task]: ...
    def task_ids_using(self, tenant_id: str, resource_id: str) -> list[str]: ...

    # batches: each one ONE transaction with its stock writes and its task's new state
    def get_batch(self, tenant_id: str, batch_id: int) -> Batch | None: ...
    def batch_id_for_command(self, tenant_id: str, command_id: str) -> int | None: ...
    def commit_batch(
        self,
        batch: Batch,
        task: Task,
        previous: Task,
        writes: list[StockWrite],
        actor: Actor,
        command_id: str | None = None,
    ) -> None: ...
    def remove_batch(
        self, batch: Batch, task: Task, previous: Task, changes: list[StockChange], actor: Actor
    ) -> None: ...

    # custom statuses
    def create_status(self, status: CustomStatus, actor: Actor) -> None: ...
    def get_status(self, tenant_id: str, status_id: int) -> CustomStatus | None: ...
    def page_statuses(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[CustomStatus]: ...


class BatchCommandSeen(Exception):
    """The command that makes this batch was already applied (a retry): the first batch is the answer."""
