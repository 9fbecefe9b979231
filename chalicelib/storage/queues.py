"""SQS sends. The import queue re-queues a paused import as a fresh message
so it resumes at once, not after the queue's long visibility timeout."""

from __future__ import annotations

from functools import cache

from chalicelib.storage.aws import client


@cache
def _queue_url(name: str) -> str:
    url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def send(queue_name: str, body: str) -> None:
    client("sqs").send_message(QueueUrl=_queue_url(queue_name), MessageBody=body)


def reset() -> None:
    """Forget queue URLs (tests create new queues)."""
    _queue_url.cache_clear()
