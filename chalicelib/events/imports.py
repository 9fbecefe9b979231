"""The import queue: S3 tells SQS about each uploaded or dropped file, and
this routes each object to the importer registered for its key prefix.

Surfaces register importers (the company inventory CSV import, say) with
`register`. A delivery for a prefix nobody owns is logged and dropped, never
retried forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.observability import logger

Importer = Callable[[str, str], None]
_importers: dict[str, Importer] = {}


def register(prefix: str, importer: Importer) -> None:
    """Route objects whose key starts with `prefix` to `importer(bucket, key)`."""
    _importers[prefix] = importer


def s3_objects(message_body: str) -> list[tuple[str, str]]:
    """(bucket, key) pairs of an S3 notification; empty for S3's test event."""
    body = json.loads(message_body)
    if body.get("Event") == "s3:TestEvent":
        return []
    objects = []
    for record in body.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        # S3 URL-encodes keys in notifications (spaces arrive as '+').
        objects.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
    return objects


def handle(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Run each message's imports; report the messages that failed so only they return."""
    failures = []
    for record in event.get("Records", []):
        try:
            for bucket, key in s3_objects(record["body"]):
                _import(bucket, key)
        except Exception:
            logger.exception("import failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _import(bucket: str, key: str) -> None:
    importer = next((imp for prefix, imp in _importers.items() if key.startswith(prefix)), None)
    if importer is None:
        logger.warning("no importer for object", extra={"bucket": bucket, "key": key})
        return
    importer(bucket, key)
