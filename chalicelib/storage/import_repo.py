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

from chalicelib.core.ids import utcnow
from chalicelib.core.imports.jobs import Checkpoint, ChunkPlan, CommitOutcome, ImportJob, ImportStatus, RowError
from chalicelib.core.models import Actor
from chalicelib.core.ports import Page
from chalicelib.features.orders.port import OrderWrite
from chalicelib.storage import keys, queues
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.codec import from_attrs, to_attrs, to_record
from chalicelib.storage.dynamo import ddb, is_conditional_failure, query_all, query_page, transact
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.stock_repo import DynamoStockStore


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
                    "SET #status = :running, lease_until = :lease, updated_at = :now, "
                    "started_at = if_not_exists(started_at, :now), version = version + :one"
                ),
                ConditionExpression="#status = :queued OR (#status = :running AND lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_attrs(
                    {
                        ":running": ImportStatus.RUNNING,
                        ":queued": ImportStatus.QUEUED,
                        ":lease": lease_until,
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

    def _update(
        self, job: ImportJob, expression: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> None:
        now = utcnow()
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_attrs(keys.import_job(job.tenant_id, job.job_id)),
            "UpdateExpression": expression.replace("SET ", "SET updated_at = :updated, version = version + :one, ", 1),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": to_attrs({**values, ":updated": now, ":one": 1}),
        }
        if names:
            params["ExpressionAttributeNames"] = names
        ddb().update_item(**params)

    # -- chunks ------------------------------------------------------------

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        writes: list[dict[str, Any]] = [self._advance(tenant_id, checkpoint)]
        if checkpoint.errors:
            writes.append(self._errors_item(tenant_id, checkpoint))
        for product in plan.products:
            writes += self._catalog.new_product_items(product, actor)
        for record, movement in plan.creates:
            writes += self._stock.create_items(record, movement, actor)
        for change in plan.changes:
            writes += self._stock.change_items(tenant_id, change)
        orders = [write for write in plan.feature_writes if isinstance(write, OrderWrite)]
        if len(orders) != len(plan.feature_writes):
            raise TypeError("a chunk holds a feature write this store cannot commit")
        if orders:
            writes += self._orders.transaction_items(tenant_id, orders, actor)[0]
        reasons = transact(writes)
        if reasons is None:
            return CommitOutcome.DONE
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            return CommitOutcome.LOST
        # A record, order, line or reference guard moved since the plan read it: plan the chunk again.
        return CommitOutcome.CONFLICT

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
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_attrs(keys.import_job(tenant_id, checkpoint.job_id)),
                "UpdateExpression": expression,
                "ConditionExpression": "checkpoint_line = :from AND #status = :running",
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
