"""The audit stream handler: main-table stream records become history events.

Why not powertools' BatchProcessor / process_partial_response: it calls a
record handler once per record, so each event would cost its own write. Here
the whole batch is converted first and written with one BatchWriteItem per 25
events, and the answer uses the same ReportBatchItemFailures format.

Stream semantics: Lambda resumes a shard from the lowest reported sequence
number, so a record that cannot be converted, or whose write fails, is
reported together with every record after it; the records before it are
written. Redelivery is harmless: the history key is built from the record
alone (changed_at and eventID), so a record seen again rewrites its own item.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.history.service import BadRecord, change_event
from chalicelib.core.models import HistoryEvent
from chalicelib.observability import count, flush, logger
from chalicelib.storage.codec import from_attrs
from chalicelib.storage.dynamo import BATCH_WRITE_LIMIT, chunks
from chalicelib.storage.history_repo import HistoryWriteFailed
from chalicelib.wiring import history_service


@dataclass(frozen=True)
class Converted:
    position: int
    event: HistoryEvent


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records: list[dict[str, Any]] = list(event.get("Records") or [])
    converted, first_failed = convert_all(records)
    first_failed = write(converted, first_failed)
    failed = records[first_failed:] if first_failed is not None else []
    count("HistoryEventsWritten", _written(converted, first_failed))
    if failed:
        count("AuditRecordsFailed", len(failed))
    # This function runs in its own Lambda with no log_metrics decorator, so
    # it publishes its own figures once per invocation.
    flush()
    return {"batchItemFailures": [{"itemIdentifier": sequence_number(r)} for r in failed]}


def convert_all(records: list[dict[str, Any]]) -> tuple[list[Converted], int | None]:
    """Events of the records up to the first one that cannot be converted, and its position."""
    converted: list[Converted] = []
    for position, record in enumerate(records):
        try:
            history_event = to_history_event(record)
        except BadRecord as exc:
            logger.error(
                "stream record cannot become a history event",
                extra={
                    "event_id": record.get("eventID"),
                    "sequence_number": sequence_number(record),
                    "reason": str(exc),
                },
            )
            return converted, position
        if history_event is not None:
            converted.append(Converted(position, history_event))
    return converted, None


def write(converted: list[Converted], first_failed: int | None) -> int | None:
    """Write the events 25 per call; returns the position of the first record not safely written."""
    service = history_service()
    for chunk in _chunks(converted):
        try:
            service.record(c.event for c in chunk)
        except HistoryWriteFailed:
            logger.exception("history write failed", extra={"event_id": chunk[0].event.event_id})
            # Part of the chunk may be written; the retry rewrites the same items.
            return chunk[0].position
    return first_failed


def _chunks(converted: list[Converted]) -> Iterator[list[Converted]]:
    return chunks(converted, BATCH_WRITE_LIMIT)


def _written(converted: list[Converted], first_failed: int | None) -> int:
    return sum(1 for c in converted if first_failed is None or c.position < first_failed)


def to_history_event(record: Mapping[str, Any]) -> HistoryEvent | None:
    """One stream record as a history event (None when there is nothing to record)."""
    try:
        change = record["dynamodb"]
        return change_event(
            event_id=str(record["eventID"]),
            event_name=str(record["eventName"]),
            approximate_at=approximate_time(change["ApproximateCreationDateTime"]),
            old=_image(change.get("OldImage")),
            new=_image(change.get("NewImage")),
        )
    except BadRecord:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, OSError) as exc:
        # Missing fields, or attribute values TypeDeserializer cannot read.
        raise BadRecord(f"{type(exc).__name__}: {exc}") from exc


def _image(attrs: dict[str, Any] | None) -> dict[str, Any] | None:
    return from_attrs(attrs) if attrs else None


def approximate_time(value: Any) -> datetime:
    """ApproximateCreationDateTime: epoch seconds in a Lambda event, a datetime from the streams API."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise BadRecord(f"unreadable ApproximateCreationDateTime {value!r}")
    return datetime.fromtimestamp(float(value), UTC)


def sequence_number(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
