"""Import jobs in the main table, and the one-transaction chunk commit.

A job is `T#<t>#IMPORT / <jobId>` (gsi1 `T#<t>#IMPORTS / <created>#<jobId>`
lists them newest first). The bad rows of a chunk are one item in
`T#<t>#IMPORT#<jobId>#ERRORS`, sorted by line. Job items carry no
entity_type: the audit stream skips them (progress is not business history).

`commit` writes a chunk's records, ledger lines and products (inventory) or
orders, lines and reference guards (orders) together with the job's
checkpoint, guarded on the line the worker started from, so a chunk commits
once whoever runs it and however often.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

from chalicelib.core.errors import Conflict, DuplicateCommand, NotFound
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.imports.jobs import Checkpoint, ChunkPlan, CommitOutcome, ImportJob, ImportStatus, RowError
from chalicelib.core.models import Actor
from chalicelib.core.ports import Page
from chalicelib.features.orders.port import OrderWrite
from chalicelib.storage import keys, queues
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.codec import from_attrs, to_attrs, to_record
from chalicelib.storage.dynamo import ddb, is_conditional_failure, query_all, query_page
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.stock_repo import DynamoStockStore
from chalicelib.storage.transaction import CheckpointMoved, Meaning, Role, Transaction


class DynamoImportStore:
    def __init__(self, table: str) -> None:
        self._table = table
        self._stock = DynamoStockStore(table)
        self._catalog = DynamoCatalogStore(table)
        self._orders = DynamoOrderStore(table)

    # -- jobs --------------------------------------------------------------

    def create_job(self, job: ImportJob) -> None:
        from botocore.exceptions import ClientError

        try:
            ddb().put_item(
                TableName=self._table, Item=self._job_item(job), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            # The same job created twice (a redelivered drop): the first one stands.

    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None:
        item = (
            ddb()
            .get_item(TableName=self._table, Key=to_attrs(keys.import_job(tenant_id, job_id)), ConsistentRead=True)
            .get("Item")
        )
        return to_record(ImportJob, item) if item else None

    def list_jobs(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[ImportJob]:
        items, last = query_page(
            self._table,
            limit=limit,
            start=to_attrs(cursor) if cursor else None,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": f"{keys.tenant(tenant_id)}#IMPORTS"}),
            ScanIndexForward=False,
        )
        return Page([to_record(ImportJob, i) for i in items], from_attrs(last) if last else None)

    def claim(self, job: ImportJob, now: datetime, lease_until: datetime) -> ImportJob | None:
        """Take the job for this worker: queued, or running with an expired lease."""
        from botocore.exceptions import ClientError

        try:
            response = ddb().update_item(
                TableName=self._table,
                Key=to_attrs(keys.import_job(job.tenant_id, job.job_id)),
                UpdateExpression=(
                    "SET #status = :running, lease_until = :lease, lease_owner = :owner, updated_at = :now, "
                    "started_at = if_not_exists(started_at, :now), version = version + :one"
                ),
                # The last clause lets botocore's retry of this very call (same :owner) succeed when the
                # first attempt's answer was lost.
                ConditionExpression=(
                    "#status = :queued OR (#status = :running AND (lease_until < :now OR lease_owner = :owner))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_attrs(
                    {
                        ":running": ImportStatus.RUNNING,
                        ":queued": ImportStatus.QUEUED,
                        ":lease": lease_until,
                        # Each claim is a new lease owner: only it may move the checkpoint.
                        ":owner": new_id(),
                        ":now": now,
                        ":one": 1,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return to_record(ImportJob, response["Attributes"])

    def set_total(self, job: ImportJob, total: int) -> None:
        self._update(job, "SET #total = :total", {":total": total}, names={"#total": "total"})

    def finish(self, job: ImportJob, status: ImportStatus, message: str | None) -> None:
        values: dict[str, Any] = {":status": status, ":now": utcnow()}
        expression = "SET #status = :status, finished_at = :now REMOVE lease_until"
        if message:
            values[":message"] = message
            expression = "SET #status = :status, finished_at = :now, message = :message REMOVE lease_until"
        self._update(job, expression, values, names={"#status": "status"})

    def pause(self, job: ImportJob) -> None:
        """Give the lease up at once, so the redelivered message can take the job over."""
        self._update(job, "SET lease_until = :now", {":now": utcnow()})

    def note_failure(self, job: ImportJob, message: str) -> None:
        """Keep why a delivery failed on the running job and give the lease up, so the retry may claim it."""
        from botocore.exceptions import ClientError

        try:
            self._update(
                job,
                "SET message = :message, lease_until = :now",
                {":message": message, ":now": utcnow(), ":running": ImportStatus.RUNNING},
                names={"#status": "status"},
                condition="#status = :running",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            # It ended meanwhile: nothing to note.

    def abandon(self, job: ImportJob, message: str) -> bool:
        """Fail the job unless it has ended (one conditional write: a late finish is never overwritten)."""
        from botocore.exceptions import ClientError

        try:
            self._update(
                job,
                "SET #status = :failed, finished_at = :now, message = :message REMOVE lease_until",
                {
                    ":failed": ImportStatus.FAILED,
                    ":now": utcnow(),
                    ":message": message,
                    ":queued": ImportStatus.QUEUED,
                    ":running": ImportStatus.RUNNING,
                },
                names={"#status": "status"},
                condition="#status IN (:queued, :running)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def _update(
        self,
        job: ImportJob,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        condition: str | None = None,
    ) -> None:
        now = utcnow()
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_attrs(keys.import_job(job.tenant_id, job.job_id)),
            "UpdateExpression": expression.replace("SET ", "SET updated_at = :updated, version = version + :one, ", 1),
            "ConditionExpression": "attribute_exists(pk)" + (f" AND ({condition})" if condition else ""),
            "ExpressionAttributeValues": to_attrs({**values, ":updated": now, ":one": 1}),
        }
        if names:
            params["ExpressionAttributeNames"] = names
        ddb().update_item(**params)

    # -- chunks ------------------------------------------------------------

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        """The chunk's writes and the job's checkpoint in ONE transaction.

        Its token derives from the job, the chunk's lines and the worker's
        lease, so a retry after a lost response is answered with the success it
        was. LOST: the checkpoint was not where this worker left it (or this
        chunk committed already with other parameters): the core reads the
        job to tell its own success from another worker's. CONFLICT: a
        record, product, order or guard moved since the plan read it.
        """
        command = f"import:{tenant_id}:{checkpoint.job_id}:{checkpoint.from_line}:{checkpoint.to_line}"
        tx = Transaction(f"{command}:{checkpoint.owner or ''}")
        tx.add(self._advance(tenant_id, checkpoint), Meaning(Role.CHECKPOINT, "import job", checkpoint.job_id))
        if checkpoint.errors:
            tx.add(self._errors_item(tenant_id, checkpoint), Meaning(Role.PLAIN, "row errors"))
        self._catalog.number_products(plan.products)
        for product in plan.products:
            self._catalog.add_new_product(tx, product, actor)
        self._catalog.add_product_counters(tx, plan.products)
        for record, movement in plan.creates:
            self._stock.add_create(tx, record, movement, actor)
        for change in plan.changes:
            self._stock.add_change(tx, tenant_id, change)
        orders = [write for write in plan.feature_writes if isinstance(write, OrderWrite)]
        if len(orders) != len(plan.feature_writes):
            raise TypeError("a chunk holds a feature write this store cannot commit")
        if orders:
            self._orders.add_writes(tx, tenant_id, orders, actor)
        try:
            tx.commit()
        except (CheckpointMoved, DuplicateCommand):
            return CommitOutcome.LOST
        except (Conflict, NotFound):
            return CommitOutcome.CONFLICT
        return CommitOutcome.DONE

    def _advance(self, tenant_id: str, checkpoint: Checkpoint) -> dict[str, Any]:
        # Counter names are DynamoDB reserved words, hence the placeholders.
        expression = (
            "SET checkpoint_line = :to, #processed = #processed + :read, #created = #created + :created, "
            "#updated = #updated + :updated, #failed = #failed + :failed, errors_stored = errors_stored + :stored, "
            "lease_until = :lease, updated_at = :now, version = version + :one"
        )
        values: dict[str, Any] = {
            ":to": checkpoint.to_line,
            ":from": checkpoint.from_line,
            ":read": checkpoint.read,
            ":created": checkpoint.created,
            ":updated": checkpoint.updated,
            ":failed": checkpoint.failed,
            ":stored": len(checkpoint.errors),
            ":lease": checkpoint.lease_until,
            ":now": utcnow(),
            ":one": 1,
            ":running": ImportStatus.RUNNING,
        }
        if checkpoint.errors_dropped:
            expression += ", errors_truncated = :true"
            values[":true"] = True
        condition = "checkpoint_line = :from AND #status = :running"
        if checkpoint.owner:
            # Only the worker holding the lease moves the job on.
            condition += " AND lease_owner = :owner"
            values[":owner"] = checkpoint.owner
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_attrs(keys.import_job(tenant_id, checkpoint.job_id)),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {
                    "#status": "status",
                    **{f"#{name}": name for name in ("processed", "created", "updated", "failed")},
                },
                "ExpressionAttributeValues": to_attrs(values),
            }
        }

    def _errors_item(self, tenant_id: str, checkpoint: Checkpoint) -> dict[str, Any]:
        first = checkpoint.errors[0].line
        item = {
            **keys.import_errors(tenant_id, checkpoint.job_id, first),
            "errors": [[e.line, e.field, e.message] for e in checkpoint.errors],
        }
        return {"Put": {"TableName": self._table, "Item": to_attrs(item)}}

    def errors(self, tenant_id: str, job_id: str, limit: int) -> list[RowError]:
        found: list[RowError] = []
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.import_errors_partition(tenant_id, job_id)}),
            ConsistentRead=True,
        )
        for item in items:
            for line, field, message in from_attrs(item)["errors"]:
                found.append(RowError(line=int(line), field=field, message=message))
                if len(found) >= limit:
                    return found
        return found

    def _job_item(self, job: ImportJob) -> dict[str, Any]:
        data = job.model_dump(mode="python")
        data.update(keys.import_job(job.tenant_id, job.job_id))
        data.update(keys.import_jobs_by_time(job.tenant_id, job.created_at, job.job_id))
        # Counters must exist for the ADD-like SET expressions of each checkpoint.
        for counter in ("processed", "created", "updated", "failed", "errors_stored"):
            data[counter] = Decimal(data[counter])
        return to_attrs(data)


class QueueWakeups:
    """The core's Wakeups port: a waiting job runs when its file's S3 notification comes round again."""

    def __init__(self, queue_name: str, bucket: str) -> None:
        self._queue = queue_name
        self._bucket = bucket

    def wake(self, job: ImportJob) -> None:
        queues.send(self._queue, s3_notification(self._bucket, job.object_key))


def s3_notification(bucket: str, key: str, sequencer: str = "") -> str:
    """The message S3 sends to the queue for a new object (key URL-encoded, as S3 does it)."""
    obj = {"key": quote_plus(key, safe="/"), "sequencer": sequencer}
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": obj}}
    return json.dumps({"Records": [record]})
