"""Create Stockroom's tables, bucket and queues from `infra/resources.json`.

The local stack and the tests call this, so what they run against is built
from the same definitions that `chalice package` deploys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).with_name("resources.json")
TABLE_SETTINGS = {
    "MainTable": "main_table",
    "HistoryTable": "history_table",
    "IdempotencyTable": "idempotency_table",
    "EventsTable": "events_table",
}


def resources() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RESOURCES.read_text())["Resources"]
    return loaded


def table_kwargs(logical_id: str, name: str) -> dict[str, Any]:
    """CreateTable arguments for one AWS::DynamoDB::Table resource."""
    props = resources()[logical_id]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return kwargs


def create_tables(dynamodb: Any, names: dict[str, str]) -> None:
    """Create each table (logical id -> physical name) unless it exists."""
    existing = set(dynamodb.list_tables()["TableNames"])
    for logical_id, name in names.items():
        if name in existing:
            continue
        dynamodb.create_table(**table_kwargs(logical_id, name))
        ttl = resources()[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


def table_names(settings: Any) -> dict[str, str]:
    return {logical: getattr(settings, attr) for logical, attr in TABLE_SETTINGS.items()}


def provision(settings: Any, dynamodb: Any, s3: Any | None = None, sqs: Any | None = None) -> None:
    """Everything the service needs: tables, and the bucket and queues when given clients."""
    create_tables(dynamodb, table_names(settings))
    if s3 is not None:
        buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if settings.bucket not in buckets:
            s3.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": settings.region})
    if sqs is not None:
        create_queues(sqs, settings.import_queue, settings.import_dead_letter_queue)
        create_webhook_queues(sqs, settings.webhook_queue, settings.webhook_dead_letter_queue)


def create_queues(sqs: Any, import_queue: str, dead_letter_queue: str) -> None:
    """The import queue and its dead-letter queue, with the template's redrive policy."""
    dead_letters = sqs.create_queue(QueueName=dead_letter_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = resources()["FileImportQueue"]["Properties"]["RedrivePolicy"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(redrive["maxReceiveCount"])})
    queue = sqs.create_queue(QueueName=import_queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"RedrivePolicy": policy})


def create_webhook_queues(sqs: Any, queue_name: str, dead_letter_queue: str) -> None:
    """The FIFO webhook delivery queue and its FIFO dead-letter queue, as the template defines them."""
    fifo = {"FifoQueue": "true"}
    dead_letters = sqs.create_queue(QueueName=dead_letter_queue, Attributes=fifo)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    props = resources()["WebhookQueue"]["Properties"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(props["RedrivePolicy"]["maxReceiveCount"])})
    sqs.create_queue(
        QueueName=queue_name,
        Attributes={**fifo, "VisibilityTimeout": str(props["VisibilityTimeout"]), "RedrivePolicy": policy},
    )


def notification_configuration(queue_arn: str) -> dict[str, Any]:
    """The files bucket's S3 -> import queue notifications, as the template defines them."""
    configured = resources()["FilesBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    return {
        "QueueConfigurations": [
            {
                "Id": f"import-{index}",
                "QueueArn": queue_arn,
                "Events": [entry["Event"]],
                "Filter": {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}},
            }
            for index, entry in enumerate(configured)
        ]
    }


def connect_bucket_to_queue(s3: Any, bucket: str, queue_arn: str) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=notification_configuration(queue_arn)
    )
