"""The events stream handler: the main table's stream, read a second time, becomes domain events.

Its own function and event source mapping (a DynamoDB stream feeds up to two
consumers per shard), so events and the audit trail fail and retry apart:
webhook fan-out trouble never holds history back.

`publish` maps the batch's records to events (core/events/mapping.py), adds
`threshold.crossed` from the location totals (one product read and one stock
Query per product touched), writes the events (25 per BatchWriteItem) and
fans them out to the webhooks (one webhook listing per company, 10 queue
messages per call). Every step is idempotent, so a batch retried after a
failure rewrites the same events and the FIFO queue (and the delivery's
`delivered` status) drops the repeated messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import Unavailable
from chalicelib.core.events.mapping import DomainEvent, LevelKey, StreamChange, events_of, level_key, threshold_events
from chalicelib.core.history.service import BadRecord
from chalicelib.observability import count, logger
from chalicelib.storage.codec import from_attrs


def stream_change(record: Mapping[str, Any], approximate_at: Any) -> StreamChange:
    change = record["dynamodb"]
    old, new = change.get("OldImage"), change.get("NewImage")
    return StreamChange(
        event_id=str(record["eventID"]),
        event_name=str(record["eventName"]),
        approximate_at=approximate_at,
        old=from_attrs(old) if old else None,
        new=from_attrs(new) if new else None,
    )


def events_of_batch(changes: Sequence[tuple[int, StreamChange]]) -> list[tuple[int, DomainEvent]]:
    found: list[tuple[int, DomainEvent]] = []
    for position, change in changes:
        try:
            found.extend((position, e) for e in events_of(change))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # An item no rule can read: its history is still written; the event is lost, loudly.
            logger.error(
                "stream record cannot become a domain event", extra={"event_id": change.event_id, "reason": str(exc)}
            )
            count("DomainEventsUnreadable", 1)
    return found


def thresholds(events: Sequence[DomainEvent]) -> list[DomainEvent]:
    """threshold.crossed events of the batch's stock changes (products with a min level only)."""
    from chalicelib.wiring import catalog_service, stock_store

    wanted: dict[str, set[str]] = {}
    for event in events:
        key = level_key(event)
        if key is not None:
            wanted.setdefault(key.tenant_id, set()).add(key.product_id)
    if not wanted:
        return []
    min_levels: dict[LevelKey, Decimal] = {}
    totals: dict[LevelKey, Decimal] = {}
    for tenant_id, product_ids in wanted.items():
        products = catalog_service().get_products(tenant_id, sorted(product_ids))
        with_minimum = {p: product.min_level for p, product in products.items() if product.min_level is not None}
        if not with_minimum:
            continue
        records = stock_store().records_for_products(tenant_id, sorted(with_minimum))
        for product_id, minimum in with_minimum.items():
            for record in records.get(product_id, []):
                key = LevelKey(tenant_id, product_id, record.location_id)
                if record.active:
                    totals[key] = totals.get(key, Decimal(0)) + record.available
            for event in events:
                key = level_key(event)
                if key is not None and key.tenant_id == tenant_id and key.product_id == product_id:
                    min_levels[key] = minimum
    return threshold_events(events, totals, min_levels)


def publish(changes: Sequence[tuple[int, StreamChange]]) -> int:
    """Write the batch's domain events and queue their webhook deliveries; returns how many events."""
    from chalicelib.wiring import event_store, webhook_service

    events = [e for _, e in events_of_batch(changes)]
    if not events:
        return 0
    events.extend(thresholds(events))
    written = event_store().put_events(events)
    queued = webhook_service().fan_out(events)
    count("DomainEventsWritten", written)
    count("WebhookDeliveriesQueued", queued)
    return written


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Map, write and fan out one stream batch; any failure reports the whole batch (every step is idempotent).

    The event source mapping bisects a failing batch and, after its retries,
    sends the records' positions to the events failure queue.
    """
    from chalicelib.events.audit import approximate_time, sequence_number
    from chalicelib.observability import flush

    records: list[dict[str, Any]] = list(event.get("Records") or [])
    changes: list[tuple[int, StreamChange]] = []
    for position, record in enumerate(records):
        try:
            moment = approximate_time(record["dynamodb"]["ApproximateCreationDateTime"])
            changes.append((position, stream_change(record, moment)))
        except (KeyError, TypeError, ValueError, BadRecord) as exc:
            logger.error(
                "stream record unreadable for events", extra={"event_id": record.get("eventID"), "reason": str(exc)}
            )
            count("DomainEventsUnreadable", 1)
    failed: list[dict[str, Any]] = []
    try:
        publish(changes)
    except (RuntimeError, OSError, Unavailable) as exc:
        # Storage wraps DynamoDB and SQS refusals in these (HistoryWriteFailed is a RuntimeError; a DynamoDB
        # call refused past botocore's retries is Unavailable).
        logger.error("domain events failed", extra={"records": len(records), "reason": str(exc)})
        failed = records
    flush()
    return {"batchItemFailures": [{"itemIdentifier": sequence_number(r)} for r in failed]}
