"""History events in the history table.

One partition per timeline (`T#<tenant>#<TYPE>#<id>`), sorted by
`<changed_at stamp>#<stream event id>`: an entity's events go to its own
partition, or to its parent's when it names one (an order line's events live
in its order's partition). So a query of the partition is the entity's
timeline together with its children's, in time order, and a redelivered
stream record overwrites its own item instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.errors import Unavailable
from chalicelib.core.models import HistoryEvent
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, to_attrs
from chalicelib.storage.dynamo import batch_write, query_all


class HistoryWriteFailed(RuntimeError):
    """Some events of a put_events call may not have been written; writing them again is safe."""


def history_key(event: HistoryEvent) -> dict[str, str]:
    owner_type, owner_id = (event.entity_type, event.entity_id)
    if event.parent_type and event.parent_id:
        owner_type, owner_id = (event.parent_type, event.parent_id)
    return keys.history(event.tenant_id, owner_type, owner_id, event.changed_at, event.event_id)


def event_item(event: HistoryEvent) -> dict[str, Any]:
    return to_attrs({**event.model_dump(mode="python"), **history_key(event)})


class DynamoHistoryStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def put_events(self, events: Iterable[HistoryEvent]) -> None:
        """Write events, 25 per BatchWriteItem call.

        A batch may not name the same key twice, so repeats (the same stream
        record delivered twice in one batch) are written once. Raises
        HistoryWriteFailed when DynamoDB refuses or keeps throttling.
        """
        items: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            for event in events:
                item = event_item(event)
                items.setdefault((item["pk"]["S"], item["sk"]["S"]), item)
        except (TypeError, ValueError, ArithmeticError) as exc:
            # A value DynamoDB cannot hold; nothing of this call was written.
            raise HistoryWriteFailed(f"event cannot be stored: {exc}") from exc
        try:
            batch_write(self._table, [{"PutRequest": {"Item": item}} for item in items.values()])
        except (ClientError, BotoCoreError, Unavailable) as exc:
            # Unavailable: batch_write gave up on items DynamoDB kept returning unprocessed.
            raise HistoryWriteFailed(str(exc)) from exc

    def events_for(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """The entity's own events: its partition, less its children's (filtered by DynamoDB).

        An event in this partition that names no parent is the entity's own (the
        partition key already says which entity, whatever the case of its type).
        """
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="attribute_not_exists(parent_id)",
            ExpressionAttributeValues=to_attrs({":pk": keys.history_partition(tenant_id, entity_type, entity_id)}),
            ConsistentRead=True,
            ScanIndexForward=True,
        )
        return [HistoryEvent.model_validate(from_attrs(item)) for item in items]

    def timeline(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """The entity's partition whole: its events and its children's, oldest first (one Query a 1 MB page)."""
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.history_partition(tenant_id, entity_type, entity_id)}),
            ConsistentRead=True,
            ScanIndexForward=True,
        )
        return [HistoryEvent.model_validate(from_attrs(item)) for item in items]
