"""Domain events, webhooks, their deliveries, and the delivery queue.

- Events: events table, `T#<t>#EVENTS / <occurred stamp>#<event id>`, with
  `expires_at` (TTL, 30 days). A redelivered stream record rewrites its own
  item (the id is derived from the record). Listed oldest first from `since`;
  `type` and `productId` are DynamoDB filters on that range.
- Webhooks: main table, `T#<t>#WEBHOOK / <webhook id>` (entity_type
  `webhook`, so its changes are audited; the signing secret is hidden from
  the audit trail).
- Deliveries: events table, `T#<t>#WEBHOOK#<id>#DELIVERY / <delivery id>`
  (ids start with the event's time), with every attempt on the item and a TTL.
- Queue: a FIFO queue (group = tenant, webhook, product) and its dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.errors import AlreadyExists, NotFound, StaleVersion, Unavailable
from chalicelib.core.events.mapping import DomainEvent
from chalicelib.core.events.webhooks import Delivery, DeliveryJob, Webhook, expires_at
from chalicelib.core.models import Actor
from chalicelib.core.ports import Page
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_write, chunks, ddb, is_conditional_failure, query_all, query_page
from chalicelib.storage.history_repo import HistoryWriteFailed

SQS_BATCH = 10


class DynamoEventStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def put_events(self, events: Iterable[DomainEvent]) -> int:
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for event in events:
            key = keys.event(event.tenant_id, event.occurred_at, event.event_id)
            item = to_attrs(
                {
                    **key,
                    **event.model_dump(mode="python", exclude_none=True),
                    "expires_at": expires_at(event.occurred_at),
                }
            )
            items.setdefault((key["pk"], key["sk"]), item)
        try:
            batch_write(self._table, [{"PutRequest": {"Item": i}} for i in items.values()])
        except (ClientError, BotoCoreError, RuntimeError, Unavailable) as exc:
            # Unavailable: storage refused the batch past its retries (storage/dynamo.py).
            raise HistoryWriteFailed(str(exc)) from exc
        return len(items)

    def page(
        self,
        tenant_id: str,
        *,
        since: datetime | None,
        types: Sequence[str],
        product_id: str | None,
        limit: int,
        cursor: dict[str, Any] | None,
    ) -> Page[DomainEvent]:
        """Events oldest first from `since`, `limit` read per page (a filtered page may hold fewer)."""
        values: dict[str, Any] = {":pk": keys.events_partition(tenant_id)}
        condition = "pk = :pk"
        if since is not None:
            values[":since"] = keys.stamp(since)
            condition += " AND sk >= :since"
        filters = []
        names: dict[str, str] = {}
        if types:
            names["#type"] = "type"
            placeholders = []
            for index, name in enumerate(types):
                values[f":t{index}"] = name
                placeholders.append(f":t{index}")
            filters.append(f"#type IN ({', '.join(placeholders)})")
        if product_id:
            values[":product"] = product_id
            filters.append("product_id = :product")
        params: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_attrs(values),
            "ScanIndexForward": True,
        }
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        if names:
            params["ExpressionAttributeNames"] = names
        items, last = query_page(self._table, limit=limit, start=cursor, **params)
        return Page([DomainEvent.model_validate(from_attrs(i)) for i in items], last)


class DynamoWebhookStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def _item(self, webhook: Webhook, actor: Actor) -> dict[str, Any]:
        key = keys.webhook(webhook.tenant_id, webhook.webhook_id)
        return record_item(webhook, key, "webhook", webhook.webhook_id, actor, webhook.description)

    def create(self, webhook: Webhook, actor: Actor) -> None:
        try:
            ddb().put_item(
                TableName=self._table, Item=self._item(webhook, actor), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise AlreadyExists(f"webhook {webhook.webhook_id} exists") from None
            raise

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        item = (
            ddb()
            .get_item(TableName=self._table, Key=to_attrs(keys.webhook(tenant_id, webhook_id)), ConsistentRead=True)
            .get("Item")
        )
        return to_record(Webhook, item) if item else None

    def list(self, tenant_id: str) -> list[Webhook]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.webhooks_partition(tenant_id)}),
            ConsistentRead=True,
        )
        return [to_record(Webhook, i) for i in items]

    def replace(self, webhook: Webhook, expected_version: int, actor: Actor) -> None:
        try:
            ddb().put_item(
                TableName=self._table,
                Item=self._item(webhook, actor),
                ConditionExpression="version = :v",
                ExpressionAttributeValues=to_attrs({":v": expected_version}),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise StaleVersion(f"webhook {webhook.webhook_id} changed meanwhile") from None
            raise

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        try:
            ddb().delete_item(
                TableName=self._table,
                Key=to_attrs(keys.webhook(tenant_id, webhook_id)),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound(f"webhook {webhook_id} not found") from None
            raise


class DynamoDeliveryStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def get(self, tenant_id: str, webhook_id: str, delivery_id: str) -> Delivery | None:
        item = (
            ddb()
            .get_item(
                TableName=self._table,
                Key=to_attrs(keys.delivery(tenant_id, webhook_id, delivery_id)),
                ConsistentRead=True,
            )
            .get("Item")
        )
        return to_record(Delivery, item) if item else None

    def put(self, delivery: Delivery) -> None:
        key = keys.delivery(delivery.tenant_id, delivery.webhook_id, delivery.delivery_id)
        data = {**delivery.model_dump(mode="python"), **key, "expires_at": expires_at(delivery.created_at)}
        ddb().put_item(TableName=self._table, Item=to_attrs(data))

    def page(self, tenant_id: str, webhook_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[Delivery]:
        items, last = query_page(
            self._table,
            limit=limit,
            start=cursor,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.deliveries_partition(tenant_id, webhook_id)}),
            ConsistentRead=True,
            ScanIndexForward=True,
        )
        return Page([to_record(Delivery, i) for i in items], last)


@cache
def _queue_url(name: str) -> str:
    url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


class SqsDeliveryQueue:
    """Jobs go to the FIFO queue in order (10 per call); a parked one to the dead-letter queue."""

    def __init__(self, queue: str, dead_letters: str) -> None:
        self._queue = queue
        self._dead_letters = dead_letters

    def enqueue(self, jobs: Sequence[DeliveryJob]) -> None:
        for chunk in chunks(list(jobs), SQS_BATCH):
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": job.body(),
                    "MessageGroupId": job.group,
                    "MessageDeduplicationId": job.dedup_id,
                }
                for index, job in enumerate(chunk)
            ]
            try:
                response = client("sqs").send_message_batch(QueueUrl=_queue_url(self._queue), Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise RuntimeError(f"delivery queue refused the messages: {exc}") from exc
            if response.get("Failed"):
                raise RuntimeError(f"delivery queue refused {len(response['Failed'])} messages")

    def park(self, job: DeliveryJob) -> None:
        client("sqs").send_message(
            QueueUrl=_queue_url(self._dead_letters),
            MessageBody=job.body(),
            MessageGroupId=job.group,
            MessageDeduplicationId=job.dedup_id,
        )

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        client("sqs").change_message_visibility(
            QueueUrl=_queue_url(self._queue), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


def reset() -> None:
    _queue_url.cache_clear()
