"""An import never stays `running` after its message gave up, and a bad number is a row error.

Through the real upload route, the real queue handler and moto's SQS, with
the import queue's redrive policy from infra/resources.json: a message that
keeps failing is retried, marks its job failed on its last delivery, and a
message that reaches the dead-letter queue anyway fails its job there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core.ids import utcnow
from chalicelib.core.imports.jobs import Row
from chalicelib.events import imports
from chalicelib.features.company_inventory import csv_import
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.storage.import_repo import s3_notification
from infra.event_sources import lambda_sqs_record
from tests.integration.company import Company, Refs
from tests.integration.test_inventory_import import run_upload, upload

HEADER = "productName,quantity,stockLocationId"


def rows(refs: Refs, count: int, bad: dict[int, str] | None = None) -> str:
    """A file of `count` good rows, the n-th (1-based) replaced by bad[n]."""
    lines = [f"Bar {n},{n},{refs.location}" for n in range(1, count + 1)]
    for n, text in (bad or {}).items():
        lines[n - 1] = text
    return "\n".join([HEADER, *lines]) + "\n"


def queue_url(name: str) -> str:
    url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def queue_arn(name: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def receive(name: str) -> list[dict[str, Any]]:
    """What the event source mapping would hand the import function from queue `name` now."""
    messages = (
        client("sqs")
        .receive_message(QueueUrl=queue_url(name), MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0)
        .get("Messages", [])
    )
    return [lambda_sqs_record(m, queue_arn(name), get_settings().region) for m in messages]


def settle(name: str, records: list[dict[str, Any]], failed: dict[str, list[dict[str, str]]]) -> None:
    """Delete what succeeded, as Lambda does with a batch-item-failures answer."""
    failures = {f["itemIdentifier"] for f in failed["batchItemFailures"]}
    for record in records:
        if record["messageId"] not in failures:
            client("sqs").delete_message(QueueUrl=queue_url(name), ReceiptHandle=record["receiptHandle"])


def notify(company: Company, job_id: str) -> None:
    """S3's notification of an uploaded file, on the import queue."""
    body = s3_notification(get_settings().bucket, f"uploads/{company.id}/inventory/{job_id}.csv", "0055AED6DCD90281E5")
    client("sqs").send_message(QueueUrl=queue_url(get_settings().import_queue), MessageBody=body)


def job_of(company: Company, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = company.ok("GET", f"/imports/{job_id}")
    return job


@pytest.fixture
def poisoned() -> Iterator[None]:
    """Planning a chunk that holds line 40 raises, as a bug would (every time)."""
    original = csv_import.InventoryImporter.plan

    def plan(self: Any, tenant_id: str, job_id: str, chunk: list[Row], actor: Any) -> Any:
        if any(row.line == 40 for row in chunk):
            raise ArithmeticError("a bug")
        return original(self, tenant_id, job_id, chunk, actor)

    csv_import.InventoryImporter.plan = plan  # type: ignore[method-assign]
    yield
    csv_import.InventoryImporter.plan = original  # type: ignore[method-assign]


def test_a_number_beyond_the_bounds_is_that_rows_error_and_the_other_rows_import(acme: Company, refs: Refs) -> None:
    # Before: quantity=1e200 on line 34 raised decimal.Overflow in the codec; the job stayed `running` at
    # processed 32 and the other 38 good rows were never imported or reported.
    text = rows(refs, 70, {33: f"Huge,1e200,{refs.location}", 50: f"Tiny,0.0000001,{refs.location}"})

    job = run_upload(acme, text)

    assert (job["status"], job["processed"], job["created"], job["failed"]) == ("completed", 70, 68, 2)
    assert [(e["line"], e["field"]) for e in job["errors"]] == [(34, "quantity"), (51, "quantity")]
    assert len(acme.ok("GET", "/inventory")) == 68


def test_a_failing_import_is_retried_then_failed_with_the_reason_and_never_left_running(
    acme: Company, refs: Refs, poisoned: None
) -> None:
    response = upload(acme, rows(refs, 70))
    job_id = json.loads(response.body)["jobId"]
    notify(acme, job_id)
    queue = get_settings().import_queue

    seen = []
    for _ in range(get_settings().import_max_receives):
        records = receive(queue)
        assert len(records) == 1
        answer = imports.handle({"Records": records})
        settle(queue, records, answer)
        seen.append((answer["batchItemFailures"] != [], job_of(acme, job_id)["status"]))

    # Each delivery failed; the job kept running (saying why) until the last one failed it.
    assert seen == [(True, "running")] * (get_settings().import_max_receives - 1) + [(True, "failed")]
    job = job_of(acme, job_id)
    # Every row names a new product (5 writes with its stock keys): chunks of 19 rows, so line 40 is in the third.
    assert (job["processed"], job["created"]) == (38, 38)
    assert job["message"] == (
        "import stopped after 38 rows: unexpected error (ArithmeticError) on the rows after line 39, "
        "on its last delivery"
    )

    # SQS then moves the message to the dead-letter queue; from there it changes nothing and is consumed.
    assert receive(queue) == []
    dead = receive(get_settings().import_dead_letter_queue)
    assert len(dead) == 1
    answer = imports.handle({"Records": dead})
    settle(get_settings().import_dead_letter_queue, dead, answer)
    assert answer == {"batchItemFailures": []}
    assert job_of(acme, job_id)["message"] == job["message"]
    assert receive(get_settings().import_dead_letter_queue) == []


def test_a_dead_letter_fails_a_job_a_crashed_worker_left_running(acme: Company, refs: Refs, poisoned: None) -> None:
    response = upload(acme, rows(refs, 70))
    job_id = json.loads(response.body)["jobId"]
    key = f"uploads/{acme.id}/inventory/{job_id}.csv"
    # A delivery that failed (the job is running, with its reason)...
    first = {"messageId": "m1", "body": s3_notification(get_settings().bucket, key, "0055AED6DCD90281E5")}
    assert imports.handle({"Records": [first]}) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert job_of(acme, job_id)["status"] == "running"
    # ...then deliveries that ran none of our code (timeouts, crashes) until SQS set the message aside.
    dead_arn = f"arn:aws:sqs:{get_settings().region}:123456789012:{get_settings().import_dead_letter_queue}"
    dead = {**first, "messageId": "d1", "eventSourceARN": dead_arn}

    assert imports.handle({"Records": [dead]}) == {"batchItemFailures": []}

    job = job_of(acme, job_id)
    assert job["status"] == "failed"
    assert job["message"] == (
        "import stopped after 38 rows: its queue message failed every delivery and was set aside "
        "(last error: unexpected error (ArithmeticError) on the rows after line 39; the import is retried)"
    )
    assert job["finishedAt"] is not None and job["finishedAt"] >= utcnow().isoformat()[:10]
