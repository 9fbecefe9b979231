"""Production tasks, batches and custom statuses in the main table (002).

Keys (every one built in `storage/keys.py`; docs/architecture.md 4.1 lists the access patterns):
- task `T#t#TASK / <task id>`: the header with its items and a summary of each batch, so a task is one
  item and a page of tasks one Query. While active it is listed by `order` on gsi3 (`T#t#LIST#task`),
  by status on gsi1 (`T#t#LIST#task#S#<status>`) and by assignee on gsi2 (`T#t#LIST#task#U#<user>`);
  each listing has its counter, and so has each (assignee, status) pair.
- `T#t#USES#<resource id> / <task id>`: a task's use of a resource (refuses deleting it while the task is
  open). Written with the task, removed when the task is deleted.
- batch `T#t#BATCH / <batch id, 12 digits>`: what the batch wrote to stock, to undo it exactly.
- `T#t#UNIQUE / BATCHCMD#<command id>`: the Idempotency-Key's command that made a batch (exactly once).
- custom status `T#t#CUSTOMSTATUS / <id, 12 digits>`, listed on gsi3 (`T#t#LIST#customStatus`), its name
  unique (any case) through `T#t#UNIQUE / CUSTOMSTATUS#<casefolded name>`.

A production batch is ONE unit of work (`storage/transaction.Transaction`, opened by the production
service with the request's command): its stock writes (added by the stock service through the stock
store's `add_create` / `add_change`), then `add_batch`: the batch, the task guarded on the version read,
its counters and the command guard. Undoing one is the same with `add_batch_removal`. The transaction
sends the ClientRequestToken and maps a cancellation to the domain error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core.models import Actor
from chalicelib.core.ports import OffsetPage, UnitOfWork
from chalicelib.features.production.model import Batch, CustomStatus, Task
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all
from chalicelib.storage.listing import Listing, add_counters, count_of, next_number, offset_page
from chalicelib.storage.transaction import Meaning, Role, Transaction, own

TASK = "task"
STATUS = "customStatus"


def task_listings(task: Task) -> list[Listing]:
    """The listings an active task is in (by order, by status, by assignee); a deleted task is in none."""
    if not task.active:
        return []
    t = task.tenant_id
    found = [Listing(t, TASK), Listing(t, f"{TASK}#S#{task.status.value}", "gsi1")]
    if task.user_id:
        found.append(Listing(t, f"{TASK}#U#{task.user_id}", "gsi2"))
    return found


def task_counters(task: Task) -> list[Listing]:
    """The counters an active task adds one to: its listings' and its (assignee, status) pair's."""
    pair = [_pair(task.tenant_id, task.user_id, task.status.value)] if task.active and task.user_id else []
    return task_listings(task) + pair


def _pair(t: str, user_id: str, status: str) -> Listing:
    # Only its counter is used: the (assignee, status) list reads the assignee's listing with a filter.
    return Listing(t, f"{TASK}#U#{user_id}#S#{status}", "gsi1")


class DynamoProductionStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def next_number(self, tenant_id: str, sequence: str) -> int:
        return next_number(self._table, tenant_id, sequence)

    # -- tasks ---------------------------------------------------------------

    def _task_item(self, task: Task, actor: Actor) -> dict[str, Any]:
        item_keys: dict[str, str] = keys.task(task.tenant_id, task.task_id)
        for listing in task_listings(task):
            item_keys = {**item_keys, **listing.entry(keys.sequence_sort(task.order))}
        return record_item(task, item_keys, "task", task.task_id, actor, task.name)

    def create_task(self, task: Task, actor: Actor) -> None:
        t = task.tenant_id
        tx = Transaction()
        tx.add(self._put_new(self._task_item(task, actor)), Meaning(Role.NEW, "task", task.task_id))
        add_counters(tx, self._table, dict.fromkeys(task_counters(task), 1))
        for resource_id in sorted({item.resource_id for item in task.items}):
            use = {**keys.resource_use(t, resource_id, task.task_id), "task_id": task.task_id}
            tx.add(self._put_new(to_attrs(use)), Meaning(Role.NEW, "task", task.task_id))
        tx.commit()

    def save_task(self, task: Task, previous: Task, actor: Actor) -> None:
        tx = Transaction()
        self._add_task(tx, task, previous, actor)
        if previous.active and not task.active:
            for resource_id in sorted({item.resource_id for item in task.items}):
                key = to_attrs(keys.resource_use(task.tenant_id, resource_id, task.task_id))
                tx.add({"Delete": {"TableName": self._table, "Key": key}}, Meaning(Role.PLAIN, "task use"))
        tx.commit()

    def _add_task(self, tx: Transaction, task: Task, previous: Task, actor: Actor) -> None:
        """The task's new state guarded on the version read, and its counters' moves."""
        item = self._put_guarded(self._task_item(task, actor), previous.version)
        tx.add(item, Meaning(Role.VERSION, "task", task.task_id))
        add_counters(tx, self._table, _moves(task_counters(previous), task_counters(task)))

    def get_task(self, tenant_id: str, task_id: str) -> Task | None:
        return self._get(Task, keys.task(tenant_id, task_id))

    def get_tasks(self, tenant_id: str, task_ids: list[str]) -> dict[str, Task]:
        if not task_ids:
            return {}
        found = batch_get(self._table, [to_attrs(keys.task(tenant_id, i)) for i in task_ids])
        return {task.task_id: task for task in (to_record(Task, item) for item in found)}

    def page_tasks(
        self, tenant_id: str, offset: int, limit: int, status: str | None, user_id: str | None
    ) -> OffsetPage[Task]:
        if user_id and status:
            page = offset_page(
                self._table,
                Listing(tenant_id, f"{TASK}#U#{user_id}", "gsi2"),
                offset,
                limit,
                filter_expression="#status = :status",
                filter_names={"#status": "status"},
                filter_values={":status": status},
            )
            total = count_of(self._table, _pair(tenant_id, user_id, status))
            return OffsetPage([to_record(Task, item) for item in page.items], total)
        if user_id:
            listing = Listing(tenant_id, f"{TASK}#U#{user_id}", "gsi2")
        elif status:
            listing = Listing(tenant_id, f"{TASK}#S#{status}", "gsi1")
        else:
            listing = Listing(tenant_id, TASK)
        page = offset_page(self._table, listing, offset, limit)
        return OffsetPage([to_record(Task, item) for item in page.items], page.total or 0)

    def task_ids_using(self, tenant_id: str, resource_id: str) -> list[str]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.resource_uses_partition(tenant_id, resource_id)}),
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        return [item["sk"]["S"] for item in items]

    # -- batches -------------------------------------------------------------

    def get_batch(self, tenant_id: str, batch_id: int) -> Batch | None:
        return self._get(Batch, keys.batch(tenant_id, batch_id))

    def batch_id_for_command(self, tenant_id: str, command_id: str) -> int | None:
        key = to_attrs(keys.unique(tenant_id, "BATCHCMD", command_id))
        item = ddb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return int(item["target_id"]["S"]) if item else None

    def add_batch(
        self,
        uow: UnitOfWork,
        batch: Batch,
        task: Task,
        previous: Task,
        actor: Actor,
        command_id: str | None = None,
    ) -> None:
        """Add a batch's own writes to the unit of work that carries its stock writes: the batch, its task
        guarded on the version read (with its counters) and the command's guard (a retry is DuplicateCommand)."""
        tx, _ = own(uow)
        t = batch.tenant_id
        tx.add(self._put_new(self._batch_item(batch, actor)), Meaning(Role.NEW, "batch", str(batch.batch_id)))
        self._add_task(tx, task, previous, actor)
        if command_id is not None:
            guard = {**keys.unique(t, "BATCHCMD", command_id), "target_id": str(batch.batch_id), "entity_type": "guard"}
            tx.add(self._put_new(to_attrs(guard)), Meaning(Role.COMMAND, "batch", str(batch.batch_id)))

    def add_batch_removal(self, uow: UnitOfWork, batch: Batch, task: Task, previous: Task, actor: Actor) -> None:
        """Add the removal of a batch to the unit of work that carries its reversed stock writes: the batch
        gone (InvalidState when it went meanwhile) and its task's new state."""
        tx, _ = own(uow)
        delete = {
            "Delete": {
                "TableName": self._table,
                "Key": to_attrs(keys.batch(batch.tenant_id, batch.batch_id)),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        tx.add(delete, Meaning(Role.ALIVE, "batch", str(batch.batch_id)))
        self._add_task(tx, task, previous, actor)

    def _batch_item(self, batch: Batch, actor: Actor) -> dict[str, Any]:
        key = keys.batch(batch.tenant_id, batch.batch_id)
        return record_item(batch, key, "batch", str(batch.batch_id), actor, f"batch {batch.batch_id}")

    # -- custom statuses -----------------------------------------------------

    def create_status(self, status: CustomStatus, actor: Actor) -> None:
        t = status.tenant_id
        listing = Listing(t, STATUS)
        item_keys = {**keys.custom_status(t, status.status_id), **listing.entry(keys.sequence_sort(status.status_id))}
        guard = {
            **keys.unique(t, "CUSTOMSTATUS", status.name.casefold()),
            "target_id": str(status.status_id),
            "entity_type": "guard",
        }
        tx = Transaction()
        item = record_item(status, item_keys, "customStatus", str(status.status_id), actor, status.name)
        tx.add(self._put_new(item), Meaning(Role.NEW, "custom status", str(status.status_id)))
        taken = Meaning(Role.GUARD, "custom status", str(status.status_id), field="name", value=status.name)
        tx.add(self._put_new(to_attrs(guard)), taken)
        add_counters(tx, self._table, {listing: 1})
        tx.commit()

    def get_status(self, tenant_id: str, status_id: int) -> CustomStatus | None:
        return self._get(CustomStatus, keys.custom_status(tenant_id, status_id))

    def page_statuses(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[CustomStatus]:
        page = offset_page(self._table, Listing(tenant_id, STATUS), offset, limit)
        return OffsetPage([to_record(CustomStatus, item) for item in page.items], page.total or 0)

    # -- shared --------------------------------------------------------------

    def _get(self, model: Any, key: dict[str, str]) -> Any:
        item = ddb().get_item(TableName=self._table, Key=to_attrs(key), ConsistentRead=True).get("Item")
        return to_record(model, item) if item else None

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _put_guarded(self, item: dict[str, Any], version: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": to_attrs({":v": version}),
            }
        }


def _moves(before: Iterable[Listing], after: Iterable[Listing]) -> dict[Listing, int]:
    moves: dict[Listing, int] = {}
    for listing in before:
        moves[listing] = moves.get(listing, 0) - 1
    for listing in after:
        moves[listing] = moves.get(listing, 0) + 1
    return moves
