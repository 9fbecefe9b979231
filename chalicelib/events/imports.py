"""The import queue: S3 tells SQS about each uploaded or dropped file, and
this routes each object to the importer registered for its key prefix.

Uploads (`uploads/{companyId}/{kind}/{jobId}.csv`, from the API or a
presigned POST) and drops (`dropbox/{companyId}/{kind}/*.csv`) both go to
the core ImportService. A delivery for a prefix nobody owns is logged and
dropped, never retried forever. An import that runs out of Lambda time
reports its message as failed: SQS delivers it again and the job resumes
from its last committed chunk.

Chained jobs (orders, then their line items) are woken the same way: when a
job finishes, the core sends the S3 notification of the job waiting for it to
this queue again (storage/import_repo.QueueWakeups), in the form `s3_objects`
reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.core.imports.jobs import DROPBOX, UPLOADS, ImportPaused
from chalicelib.observability import count, logger

TimeLeft = Callable[[], float]


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    # S3's per-write sequencer: the same on a redelivery, new for a new write to the key.
    sequencer: str = ""


Importer = Callable[[S3Object, TimeLeft], None]
_importers: dict[str, Importer] = {}


def register(prefix: str, importer: Importer) -> None:
    """Route objects whose key starts with `prefix` to `importer(obj, time_left)`."""
    _importers[prefix] = importer


def s3_objects(message_body: str) -> list[S3Object]:
    """The objects of an S3 notification; empty for S3's test event."""
    body = json.loads(message_body)
    if body.get("Event") == "s3:TestEvent":
        return []
    objects = []
    for record in body.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        # S3 URL-encodes keys in notifications (spaces arrive as '+').
        key = unquote_plus(s3["object"]["key"])
        objects.append(S3Object(s3["bucket"]["name"], key, str(s3["object"].get("sequencer", ""))))
    return objects


def handle(event: dict[str, Any], time_left: TimeLeft | None = None) -> dict[str, list[dict[str, str]]]:
    """Run each message's imports; report the messages that failed so only they return."""
    failures = []
    for record in event.get("Records", []):
        try:
            for obj in s3_objects(record["body"]):
                _import(obj, time_left or (lambda: float("inf")))
        except ImportPaused as paused:
            logger.info("import paused; it continues from a new message", extra={"reason": str(paused)})
            if not _requeue(record["body"]):
                failures.append({"itemIdentifier": record["messageId"]})
        except Exception:
            logger.exception("import failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _requeue(body: str) -> bool:
    """Send the notification again so the job resumes now; False leaves it to SQS's redelivery."""
    from chalicelib.settings import get_settings
    from chalicelib.storage import queues

    try:
        queues.send(get_settings().import_queue, body)
    except Exception:
        logger.exception("could not re-queue a paused import")
        return False
    return True


def _import(obj: S3Object, time_left: TimeLeft) -> None:
    importer = next((imp for prefix, imp in _importers.items() if obj.key.startswith(prefix)), None)
    if importer is None:
        logger.warning("no importer for object", extra={"bucket": obj.bucket, "key": obj.key})
        return
    importer(obj, time_left)


def run_file(obj: S3Object, time_left: TimeLeft) -> None:
    """Apply an uploaded or dropped CSV through its import job."""
    from chalicelib.core.imports import jobs as imports
    from chalicelib.core.models import Actor
    from chalicelib.wiring import import_service, tenant_service

    service = import_service()
    job = service.job_for_object(imports.S3Object(obj.key, obj.sequencer), tenant_service().exists)
    if job is None:
        logger.warning("object belongs to no import job", extra={"key": obj.key})
        return
    actor = Actor(id=job.created_by_id or "dropbox", name=job.created_by_name or "Drop folder import")
    job_keys = {"tenant_id": job.tenant_id, "job_id": job.job_id, "kind": job.kind}
    logger.info("import started", extra={**job_keys, "source": job.source})
    try:
        ended = service.run(job, actor, time_left)
    except ImportPaused:
        logger.info("import paused", extra=job_keys)
        raise
    except Exception:
        # `handle` logs the traceback with the message id; this line names the company and job.
        logger.error("import stopped by an error; its message is delivered again", extra=job_keys)
        raise
    if ended.status == imports.ImportStatus.QUEUED and ended.after_job_id:
        logger.info("import waits for another job", extra={**job_keys, "after": ended.after_job_id})
        return
    logger.info(
        "import ended",
        extra={**job_keys, "status": ended.status, "processed": ended.processed, "failed": ended.failed},
    )
    if ended.finished:
        # Counted once per job, when it finishes: a job that paused and resumed carries its totals.
        count("RowsImported", ended.created + ended.updated)
        count("RowsFailed", ended.failed)
        count("ImportJobsFailed", int(ended.status == imports.ImportStatus.FAILED))


register(f"{UPLOADS}/", run_file)
register(f"{DROPBOX}/", run_file)
