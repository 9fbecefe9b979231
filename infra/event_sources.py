"""The Lambda event sources the local stack plays, and the events they hand to the handlers.

- `ShardDelivery` plays a DynamoDB stream event source mapping for one shard
  (in order, partial batch failures, bisect on error, bounded retries, then
  skipping), reading the shard through a `ShardReader`: moto's shards in
  process (`moto_shard_reader`) or the Streams API (`streams_api_reader`);
- `QueueDelivery` plays an SQS event source mapping (receive, call, delete
  what succeeded);
- `Loop` polls one of them, or fires a schedule, on its own thread;
- `SharedTrim` lets moto forget a shard's records once every consumer of it
  has handled them.

The events are in the shapes Lambda sends (`lambda_stream_record`,
`lambda_sqs_record`, `scheduled_event`), with a context carrying the
function's memory and timeout from `.chalice/config.json`.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.2
STREAM_BATCH_SIZE = 100
QUEUE_BATCH_SIZE = 10
# The stream mapping in infra/ retries a failing batch at most 5 times.
MAX_RETRY_ATTEMPTS = 5
# Stands in for a redrive policy when the import queue has none.
MAX_RECEIVES = 5
# Used when .chalice/config.json names no memory size or timeout.
LAMBDA_MEMORY_MB = 512
LAMBDA_TIMEOUT_SECONDS = 900

Handler = Callable[[dict[str, Any], Any], Any]


def lambda_context(function_name: str) -> Any:
    """A context with the function's memory and timeout from .chalice/config.json."""
    from chalice.local import LambdaContext

    memory_mb, timeout_ms = _function_limits(function_name)
    return LambdaContext(function_name, memory_mb, timeout_ms)


@functools.cache
def _function_limits(function_name: str) -> tuple[int, int]:
    from chalice.config import Config

    config = Config(chalice_stage="dev", function_name=function_name, config_from_disk=disk_config())
    timeout_seconds = config.lambda_timeout or LAMBDA_TIMEOUT_SECONDS
    return config.lambda_memory_size or LAMBDA_MEMORY_MB, timeout_seconds * 1000


def log() -> Any:
    """The service's logger (imported late: the local stack sets the environment before chalicelib is read)."""
    from chalicelib.observability import logger

    return logger


# -- event formats ---------------------------------------------------------------


def _wire_value(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as Lambda sends it: binary as base64 text (botocore parsed it into bytes; moto has text)."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": _base64(inner)}
    if kind == "BS":
        return {"BS": [_base64(v) for v in inner]}
    if kind == "M":
        return {"M": _wire_image(inner)}
    if kind == "L":
        return {"L": [_wire_value(v) for v in inner]}
    return {kind: inner}


def _base64(value: bytes | str) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode()


def _wire_image(image: dict[str, Any]) -> dict[str, Any]:
    return {name: _wire_value(value) for name, value in image.items()}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda hands to a DynamoDB stream handler."""
    data = record["dynamodb"]
    created = data.get("ApproximateCreationDateTime")
    dynamodb: dict[str, Any] = {
        # Lambda sends whole epoch seconds; boto3 parsed it into a datetime, moto has a naive UTC one.
        "ApproximateCreationDateTime": int(_utc(created).timestamp()) if created else int(time.time()),
        "Keys": _wire_image(data["Keys"]),
        "SequenceNumber": data["SequenceNumber"],
        "SizeBytes": data.get("SizeBytes", 0),
        "StreamViewType": data.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
    }
    for image in ("NewImage", "OldImage"):
        if image in data:
            dynamodb[image] = _wire_image(data[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": dynamodb,
    }


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message in the shape Lambda hands to an SQS handler."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }


def scheduled_event(rule: str, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }


def failed_identifiers(result: Any) -> set[str]:
    """Item identifiers of a partial batch response; empty when everything succeeded."""
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    # An entry without an identifier fails the whole batch, as in Lambda.
    return {str(failure.get("itemIdentifier") or "") for failure in failures}


# -- event sources -----------------------------------------------------------------


# One step of a loop; True when it got through work and more may be waiting (a poller goes straight on).
Step = Callable[[], bool | None]


class Loop(threading.Thread):
    """Calls `step` until stopped, waiting `interval` seconds after a step that found nothing to do
    (as Lambda's pollers do: they wait only when a stream or queue is empty). A failing step is
    logged, never fatal, and waits too."""

    def __init__(self, name: str, interval: float, step: Step, stopping: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._interval = interval
        self._step = step
        self._stopping = stopping

    def run(self) -> None:
        busy = False
        while not self._stopping.wait(0 if busy else self._interval):
            try:
                busy = bool(self._step())
            except Exception:  # the stack must outlive any handler or moto failure
                busy = False
                log().exception("local stack loop failed", extra={"loop": self.name})


# Reads a shard: the records after a sequence number (None: from the oldest kept), at most `limit`, in
# the shape Lambda hands a stream handler.
ShardReader = Callable[[str | None, int], list[dict[str, Any]]]


def streams_api_reader(streams: Any, stream_arn: str, shard_id: str, region: str) -> ShardReader:
    """Reads a shard through the DynamoDB Streams API (GetShardIterator + GetRecords)."""

    def read(after: str | None, limit: int) -> list[dict[str, Any]]:
        position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if after is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
        records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=limit)["Records"]
        return [lambda_stream_record(r, stream_arn, region) for r in records]

    return read


def moto_shard_reader(stream_arn: str, region: str) -> ShardReader:
    """Reads a shard of the moto server running in this process, as Lambda's poller reads DynamoDB's.

    The Streams API would cost a GetShardIterator and a GetRecords over HTTP
    for every poll, each record serialised to JSON and parsed back by
    botocore: on a large import that was as much work as the writes that
    made the records. The records are the same ones GetRecords returns.
    """
    from moto.dynamodb.models import dynamodb_backends

    from infra.moto_server import BACKEND_LOCK

    _, _, _, arn_region, account, resource = stream_arn.split(":", 5)
    table_name = resource.split("/")[1]

    def read(after: str | None, limit: int) -> list[dict[str, Any]]:
        with BACKEND_LOCK:
            table = dynamodb_backends[account][arn_region].tables.get(table_name)
            shard = table.stream_shard if table is not None else None
            if shard is None:
                return []
            start = 0 if after is None else max(0, int(after) + 1 - shard.starting_sequence_number)
            taken = shard.items[start : start + limit]
        # A record is immutable once made (compact records are bytes): read outside the lock.
        return [lambda_stream_record(r.to_json(), stream_arn, region) for r in taken]

    return read


class ShardDelivery:
    """Plays a DynamoDB stream event source mapping for one shard.

    Records are delivered in order. When the handler reports failures, the
    records before the first failed one are done and the rest is delivered
    again. When it raises, the batch is split in half (bisect on error; a
    split is not a retry) until one record fails alone. A record that still
    fails after MAX_RETRY_ATTEMPTS retries is logged and skipped.

    Every fetch reads after the last sequence number read, so trimming the
    records delivered never moves a consumer's place.
    """

    def __init__(
        self,
        read: ShardReader,
        stream_arn: str,
        handler: Handler,
        trim: Callable[[str, str], int] | None = None,
    ) -> None:
        self._read = read
        # Called with the last sequence number handled: moto may forget the records up to it.
        self._trim = trim
        self._stream_arn = stream_arn
        self._handler = handler
        self._last_sequence: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._batch_size = STREAM_BATCH_SIZE
        self._attempts = 0

    def step(self) -> bool:
        """Deliver the next batch; True when records were handled (a failed batch waits for the next poll)."""
        if not self._pending:
            self._fetch()
        if not self._pending:
            return False
        left = len(self._pending)
        self._deliver(self._pending[: self._batch_size])
        return len(self._pending) < left

    def _fetch(self) -> None:
        self._pending = self._read(self._last_sequence, STREAM_BATCH_SIZE)
        if self._pending:
            self._last_sequence = self._pending[-1]["dynamodb"]["SequenceNumber"]

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        try:
            result = self._handler({"Records": batch}, lambda_context("audit_stream"))
        except Exception:  # a handler failure is a split or a retry, as in Lambda
            log().exception("stream handler failed", extra={"records": len(batch)})
            if len(batch) > 1:
                self._batch_size = len(batch) // 2
                return
            first_failed = 0
        else:
            failed = failed_identifiers(result)
            if not failed:
                self._done(len(batch))
                return
            positions = [i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed]
            first_failed = min(positions) if len(positions) == len(failed) else 0
        self._done(first_failed)
        self._attempts += 1
        if self._attempts > MAX_RETRY_ATTEMPTS:
            record = self._pending[0]
            log().error(
                "stream record skipped after retries",
                extra={"sequence_number": record["dynamodb"]["SequenceNumber"], "event_name": record["eventName"]},
            )
            self._done(1)

    def _done(self, count: int) -> None:
        if count:
            if self._trim is not None:
                self._trim(self._stream_arn, self._pending[count - 1]["dynamodb"]["SequenceNumber"])
            del self._pending[:count]
            self._attempts = 0
            self._batch_size = STREAM_BATCH_SIZE


class QueueDelivery:
    """Plays an SQS event source mapping: receive, call the handler, delete what succeeded."""

    def __init__(self, sqs: Any, queue_url: str, region: str, handler: Handler) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._region = region
        self._handler = handler
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])
        self.queue_arn: str = attributes["Attributes"]["QueueArn"]
        self._has_redrive = "RedrivePolicy" in attributes["Attributes"]

    def step(self) -> bool:
        """Receive and deliver one batch; True when there was one."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=QUEUE_BATCH_SIZE,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if messages:
            self._deliver([lambda_sqs_record(m, self.queue_arn, self._region) for m in messages])
        return bool(messages)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        ids = {r["messageId"] for r in records}
        try:
            result = self._handler({"Records": records}, lambda_context("import_queue"))
        except Exception:  # a handler failure leaves the batch for another receive, as in Lambda
            log().exception("queue handler failed", extra={"messages": len(records)})
            failed = ids
        else:
            failed = failed_identifiers(result)
            if not failed <= ids:
                failed = ids
        done = [r for r in records if r["messageId"] not in failed]
        dead = [r for r in records if r["messageId"] in failed and self._exhausted(r)]
        for record in dead:
            log().error("import message dropped after retries", extra={"message_id": record["messageId"]})
        self._delete(done + dead)

    def _exhausted(self, record: dict[str, Any]) -> bool:
        # With a redrive policy, moto moves the message to the dead-letter queue itself.
        receives = int(record["attributes"].get("ApproximateReceiveCount", "1"))
        return not self._has_redrive and receives >= MAX_RECEIVES

    def _delete(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records)]
        self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)


class SharedTrim:
    """Trims a shard's delivered records only once every consumer of the shard has handled them."""

    def __init__(self, trim: Callable[[str, str], int] | None, consumers: int) -> None:
        self._trim = trim
        self._handled: list[int | None] = [None] * consumers
        self._lock = threading.Lock()  # the consumers run on threads of their own

    def of(self, consumer: int) -> Callable[[str, str], int] | None:
        if self._trim is None:
            return None

        def handled(stream_arn: str, up_to: str) -> int:
            with self._lock:
                self._handled[consumer] = int(up_to)
                done = [n for n in self._handled if n is not None]
                if len(done) < len(self._handled) or self._trim is None:
                    return 0
                return self._trim(stream_arn, str(min(done)))

        return handled


def disk_config() -> dict[str, Any]:
    """.chalice/config.json ({} when there is none or it does not parse)."""
    path = PROJECT_DIR / ".chalice" / "config.json"
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded
