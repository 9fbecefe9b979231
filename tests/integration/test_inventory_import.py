"""CSV upload and the asynchronous import, through the real routes and the real queue handler (moto in-process).

S3 -> SQS delivery is played by hand: each test builds the notification S3
would send for the stored object and gives it to the import queue handler.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.imports import jobs as core_imports
from chalicelib.core.models import Actor
from chalicelib.events import imports
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.integration.company import Company, Refs, error_fields, make_company

pytestmark = pytest.mark.shared_aws

HEADER = "productName,quantity,stockLocationId,heatCode,type,weight"
WORKER = Actor(id="worker", name="Import worker")


def upload(company: Company, text: str, content_type: str = "text/csv", **headers: str) -> Any:
    return company.http.http.request(
        "POST",
        f"/companies/{company.id}/inventory/csv",
        headers={"X-API-Key": company.key, "Content-Type": content_type, **headers},
        body=text.encode(),
    )


def notification(key: str, sequencer: str = "0055AED6DCD90281E5") -> dict[str, Any]:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": get_settings().bucket}, "object": {"key": key, "sequencer": sequencer}},
    }
    return {"Records": [{"messageId": f"m-{key}-{sequencer}", "body": json.dumps({"Records": [record]})}]}


def deliver(key: str, sequencer: str = "0055AED6DCD90281E5", time_left: Callable[[], float] | None = None) -> Any:
    return imports.handle(notification(key, sequencer), time_left)


def run_upload(company: Company, text: str) -> dict[str, Any]:
    response = upload(company, text)
    assert response.status_code == 202, response.body
    job_id = json.loads(response.body)["jobId"]
    assert deliver(f"uploads/{company.id}/inventory/{job_id}.csv") == {"batchItemFailures": []}
    return company.ok("GET", f"/imports/{job_id}")


def items(company: Company) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = company.ok("GET", "/inventory?limit=1000")
    return result


def test_upload_creates_items_and_reports_bad_rows(acme: Company, refs: Refs) -> None:
    text = "\n".join(
        [
            HEADER,
            f"Bar 50mm,4,{refs.location},H-1,{refs.type},12.5",
            f"Plate 20mm,abc,{refs.location},,,",
            "Tube,2,no-such-location,,,",
            f",3,{refs.location},,,",
            f"Box,7,{refs.location},,,1",
        ]
    )
    job = run_upload(acme, text)
    assert job["status"] == "completed"
    assert (job["total"], job["processed"], job["created"], job["updated"], job["failed"]) == (5, 5, 2, 0, 3)
    assert [(e["line"], e["field"]) for e in job["errors"]] == [
        (3, "quantity"),
        (4, "stockLocationId"),
        (5, "productName"),
    ]
    created = {i["productName"]: i for i in items(acme)}
    assert set(created) == {"Bar 50mm", "Box"}
    bar = created["Bar 50mm"]
    assert (Decimal(bar["quantity"]), bar["typeLabel"], bar["millCertificationId"]) == (
        Decimal(4),
        "Round bar",
        refs.cert,
    )
    assert wiring.stock_service().ledger_total(acme.id, bar["inventoryId"]) == Decimal(4)


def test_the_error_report_is_a_csv_of_the_bad_rows(acme: Company, refs: Refs) -> None:
    job = run_upload(acme, f"{HEADER}\nTube,-2,{refs.location},,,\n")
    response = acme.call("GET", f"/imports/{job['jobId']}/errors.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.body.decode().splitlines() == [
        f"line,field,message,{HEADER}",
        f"2,quantity,must be >= 0,Tube,-2,{refs.location},,,",
    ]


def test_the_error_report_carries_each_rejected_row_s_original_cells_to_fix_and_upload_again(
    acme: Company, refs: Refs
) -> None:
    text = (
        "ProductName,Quantity,stockLocationId\n"
        f"Good bar,1,{refs.location}\n"
        f'"Tube, 2""",-2,{refs.location}\n'
        "\n"
        f"Plate,lots,{refs.location}\n"
    )
    job = run_upload(acme, text)

    report = list(csv.reader(io.StringIO(acme.call("GET", f"/imports/{job['jobId']}/errors.csv").body.decode())))

    assert report[0] == ["line", "field", "message", "ProductName", "Quantity", "stockLocationId"]
    assert [row[:2] + row[3:] for row in report[1:]] == [
        ["3", "quantity", 'Tube, 2"', "-2", refs.location],
        ["5", "quantity", "Plate", "lots", refs.location],
    ]
    # The original columns, cut off the first three, are an upload that imports the fixed rows.
    fixed = [report[0][3:], ['Tube, 2"', "2", refs.location], ["Plate", "3", refs.location]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(fixed)
    again = run_upload(acme, out.getvalue())
    assert (again["created"], again["failed"]) == (2, 0)


def test_a_second_delivery_imports_nothing_twice(acme: Company, refs: Refs) -> None:
    rows = "\n".join(f"Bar {n},{n},{refs.location},,," for n in range(1, 121))
    job = run_upload(acme, f"{HEADER}\n{rows}\n")
    assert job["created"] == 120
    deliver(f"uploads/{acme.id}/inventory/{job['jobId']}.csv")
    again = acme.ok("GET", f"/imports/{job['jobId']}")
    assert (again["processed"], again["created"]) == (120, 120)
    assert len(items(acme)) == 120


def test_a_paused_import_resumes_from_its_checkpoint(acme: Company, refs: Refs) -> None:
    rows = "\n".join(f"Bar {n},{n},{refs.location},,," for n in range(1, 201))
    response = upload(acme, f"{HEADER}\n{rows}\n")
    job_id = json.loads(response.body)["jobId"]
    key = f"uploads/{acme.id}/inventory/{job_id}.csv"
    budget = iter([100.0, 100.0, 1.0])
    # Two chunks commit, then the Lambda is nearly out of time.
    assert deliver(key, time_left=lambda: next(budget, 1.0)) == {"batchItemFailures": []}
    paused = acme.ok("GET", f"/imports/{job_id}")
    # Each row names a new product: product, its numeric-id guard, record, movement and the product's
    # stock keys are 5 writes, so the first chunk of CHUNK_ROWS such rows is cut to the 19 whose writes
    # fit one transaction (its other rows start the next chunk): one whole chunk committed before the pause.
    committed = paused["processed"]
    assert paused["status"] == "running"
    assert committed == core_imports.CHUNK_WRITES // 5
    assert len(items(acme)) == committed
    # The paused worker re-queued the notification; its redelivery finishes the job.
    queue_url = client("sqs").get_queue_url(QueueName=get_settings().import_queue)["QueueUrl"]
    messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}
    assert imports.handle(event) == {"batchItemFailures": []}
    done = acme.ok("GET", f"/imports/{job_id}")
    assert (done["status"], done["processed"], done["created"]) == ("completed", 200, 200)
    assert len(items(acme)) == 200
    stock = wiring.stock_service()
    for item in items(acme)[:5]:
        assert stock.ledger_total(acme.id, item["inventoryId"]) == Decimal(item["quantity"])


def test_rows_with_an_inventory_id_update_through_the_ledger(acme: Company, refs: Refs) -> None:
    first = acme.ok("POST", "/inventory", [refs.item(quantity="10")], 201)[0]
    second = acme.ok("POST", "/inventory", [refs.item(productName="Other", quantity="1")], 201)[0]
    text = "\n".join(
        [
            "inventoryId,quantity,heatCode,version,typeLabel",
            f"{first['inventoryId']},7,H-9,{first['version']},ignored label",
            f"{second['inventoryId']},5,,99,",
            "no-such-id,5,,,",
        ]
    )
    job = run_upload(acme, text)
    assert (job["created"], job["updated"], job["failed"]) == (0, 1, 2)
    assert [(e["line"], e["field"]) for e in job["errors"]] == [(3, "version"), (4, "inventoryId")]
    updated = acme.ok("GET", f"/inventory/{first['inventoryId']}")
    assert (Decimal(updated["quantity"]), updated["heatCode"], updated["typeLabel"]) == (Decimal(7), "H-9", "Round bar")
    movements = list(DynamoStockStore(get_settings().main_table).movements(acme.id, first["inventoryId"]))
    assert sorted((m.kind.value, m.quantity) for m in movements) == [("import", Decimal(-3)), ("initial", Decimal(10))]
    untouched = acme.ok("GET", f"/inventory/{second['inventoryId']}")
    assert Decimal(untouched["quantity"]) == 1


def test_a_download_can_be_edited_and_uploaded_again(acme: Company, refs: Refs) -> None:
    made = acme.ok("POST", "/inventory", [refs.item(productName="=SUM(A1)", quantity="3")], 201)[0]
    download = acme.call("GET", "/inventory/csv").body.decode()
    edited = download.replace(",3,", ",8,", 1)
    job = run_upload(acme, edited)
    assert (job["status"], job["updated"], job["failed"]) == ("completed", 1, 0), job
    item = acme.ok("GET", f"/inventory/{made['inventoryId']}")
    assert (item["productName"], Decimal(item["quantity"])) == ("=SUM(A1)", Decimal(8))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("productName,quantiy\nBar,3\n", "unknown column 'quantiy'"),
        ("quantity\n3\n", "productName column"),
        ("productName,productName\nA,B\n", "appears twice"),
    ],
)
def test_a_file_that_cannot_be_imported_fails_its_job(acme: Company, text: str, message: str) -> None:
    job = run_upload(acme, text)
    assert job["status"] == "failed"
    assert message in job["message"]
    assert items(acme) == []


def test_multipart_upload_takes_the_file_part(acme: Company, refs: Refs) -> None:
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="stock.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{HEADER}\r\nBar,2,{refs.location},,,\r\n--{boundary}--\r\n"
    )
    response = upload(acme, body, f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 202, response.body
    job_id = json.loads(response.body)["jobId"]
    deliver(f"uploads/{acme.id}/inventory/{job_id}.csv")
    job = acme.ok("GET", f"/imports/{job_id}")
    assert (job["filename"], job["created"]) == ("stock.csv", 1)


def test_bad_uploads_are_4xx(acme: Company) -> None:
    assert upload(acme, "").status_code == 400
    response = upload(acme, "--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x")
    assert response.status_code == 400
    big = "productName\n" + "x" * (6 * 1024 * 1024)
    assert upload(acme, big).status_code == 413


def test_an_idempotent_upload_answers_with_the_same_job(acme: Company, refs: Refs) -> None:
    text = f"{HEADER}\nBar,2,{refs.location},,,\n"
    first = upload(acme, text, **{"Idempotency-Key": "upload-1"})
    second = upload(acme, text, **{"Idempotency-Key": "upload-1"})
    assert json.loads(first.body)["jobId"] == json.loads(second.body)["jobId"]
    assert len(acme.ok("GET", "/imports")) == 1


def test_dropped_files_become_jobs_once(acme: Company, refs: Refs) -> None:
    key = f"dropbox/{acme.id}/inventory/stock take.csv"
    body = f"{HEADER}\nBar,2,{refs.location},,,\n".encode()
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=body)
    deliver(key.replace(" ", "+"), sequencer="A1")
    deliver(key.replace(" ", "+"), sequencer="A1")
    jobs = acme.ok("GET", "/imports")
    assert [(j["source"], j["filename"], j["status"], j["created"]) for j in jobs] == [
        ("dropbox", "stock take.csv", "completed", 1)
    ]
    assert len(items(acme)) == 1
    # A new drop to the same key is a new file.
    deliver(key, sequencer="B2")
    assert len(acme.ok("GET", "/imports")) == 2
    assert len(items(acme)) == 2


def test_a_drop_for_an_unknown_company_is_ignored(acme: Company) -> None:
    key = "dropbox/not-a-company/inventory/x.csv"
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=b"productName\nBar\n")
    assert deliver(key) == {"batchItemFailures": []}


def test_jobs_belong_to_their_company(http: Client, acme: Company, refs: Refs) -> None:
    job = run_upload(acme, f"{HEADER}\nBar,2,{refs.location},,,\n")
    other = make_company(http, "Other")
    assert other.call("GET", f"/imports/{job['jobId']}").status_code == 404
    assert other.call("GET", f"/imports/{job['jobId']}/errors.csv").status_code == 404
    assert other.ok("GET", "/imports") == []
    forbidden = other.call("GET", f"/../{acme.id}/imports/{job['jobId']}".replace("/..", ""))
    assert forbidden.status_code in (403, 404)
    response = upload(Company(http, acme.id, other.key), "productName\nBar\n")
    assert response.status_code == 403
    assert error_fields(response) == ["companyId"]


def test_presign_creates_a_queued_job_with_an_s3_post(acme: Company) -> None:
    presigned = acme.ok("POST", "/imports", {"kind": "inventory", "filename": "big.csv"}, 201)
    assert presigned["uploadFields"]["key"] == f"uploads/{acme.id}/inventory/{presigned['jobId']}.csv"
    assert presigned["maxBytes"] == core_imports.MAX_FILE_BYTES
    job = acme.ok("GET", f"/imports/{presigned['jobId']}")
    assert (job["status"], job["source"], job["filename"]) == ("queued", "presigned", "big.csv")
    response = acme.call("POST", "/imports", {"kind": "nonsense"})
    assert response.status_code == 400
    assert error_fields(response) == ["kind"]


def _chunk_commit(request: dict[str, Any]) -> bool:
    """A chunk's transaction: its first item moves an import job's checkpoint."""
    first = request["TransactItems"][0]
    return first.get("Update", {}).get("Key", {}).get("pk", {}).get("S", "").endswith("#IMPORT")


def _losing_the_first_chunk_commit() -> Callable[[int, dict[str, Any]], bool]:
    done = {"lost": False}

    def lose(_: int, request: dict[str, Any]) -> bool:
        if done["lost"] or not _chunk_commit(request):
            return False
        done["lost"] = True
        return True

    return lose


def test_a_chunk_commit_whose_response_is_lost_is_reported_as_the_success_it_was(acme: Company, refs: Refs) -> None:
    from tests.integration.lost_responses import losing

    rows = "\n".join(f"Bar {n},{n},{refs.location},,," for n in range(1, 41))
    with losing(_losing_the_first_chunk_commit()) as losses:
        job = run_upload(acme, f"{HEADER}\n{rows}\n")

    assert losses.lost == 1
    assert (job["status"], job["processed"], job["created"], job["failed"]) == ("completed", 40, 40, 0)
    assert sorted(int(i["quantity"]) for i in items(acme)) == list(range(1, 41))


def test_a_retried_chunk_commit_that_meets_its_own_success_carries_on_from_what_was_written(
    acme: Company, refs: Refs
) -> None:
    # As if DynamoDB ignored the token: the retry runs again and finds the checkpoint moved by itself.
    # The job is resolved from what was written (its lease, its checkpoint), never left running.
    from tests.integration.lost_responses import losing

    rows = "\n".join(f"Bar {n},{n},{refs.location},,," for n in range(1, 41))
    with losing(_losing_the_first_chunk_commit(), forget_tokens=True) as losses:
        job = run_upload(acme, f"{HEADER}\n{rows}\n")

    assert losses.lost == 1
    assert (job["status"], job["processed"], job["created"], job["failed"]) == ("completed", 40, 40, 0)
    assert sorted(int(i["quantity"]) for i in items(acme)) == list(range(1, 41))
    ledger = sum((wiring.stock_service().ledger_total(acme.id, i["inventoryId"]) for i in items(acme)), Decimal(0))
    assert ledger == sum(range(1, 41))


def test_a_worker_whose_lease_was_taken_over_stops_and_the_new_owner_finishes(acme: Company, refs: Refs) -> None:
    rows = "\n".join(f"Bar {n},{n},{refs.location},,," for n in range(1, 41))
    response = upload(acme, f"{HEADER}\n{rows}\n")
    job_id = json.loads(response.body)["jobId"]
    service = wiring.import_service()
    job = service.get(acme.id, job_id)
    store = service._store
    stale = store.claim(job, core_imports.utcnow(), core_imports.utcnow())
    assert stale is not None
    # Another worker takes the expired lease over; the first one's commits no longer move the job.
    taken = store.claim(stale, core_imports.utcnow() + core_imports.LEASE, core_imports.utcnow() + core_imports.LEASE)
    assert taken is not None and taken.lease_owner != stale.lease_owner

    with pytest.raises(core_imports.ImportPaused):
        service._apply_file(stale, service._applier("inventory"), WORKER, lambda: 100.0)

    assert service.get(acme.id, job_id).processed == 0
    ended = service._apply_file(taken, service._applier("inventory"), WORKER, lambda: 100.0)
    assert (ended.status, ended.processed, ended.created) == ("completed", 40, 40)


def test_a_claim_whose_answer_is_lost_is_still_this_workers_claim(acme: Company, refs: Refs) -> None:
    from tests.integration.lost_responses import losing_on_the_wire

    response = upload(acme, f"{HEADER}\nBar,1,{refs.location},,,\n")
    job_id = json.loads(response.body)["jobId"]
    store = wiring.import_service()._store
    job = wiring.import_service().get(acme.id, job_id)
    now = core_imports.utcnow()

    with losing_on_the_wire("UpdateItem") as losses:
        claimed = store.claim(job, now, now + core_imports.LEASE)

    # botocore sent the claim again; the job was running under this very claim's owner, so it held.
    assert losses.lost == 1
    assert claimed is not None and claimed.status == "running" and claimed.lease_owner


def test_chunks_of_new_products_are_sized_by_their_writes_never_halved(acme: Company, refs: Refs) -> None:
    # 200 rows, each naming a new product: 5 writes a row (product, its numeric-id guard, record, movement,
    # the product's stock keys).
    rows = "\n".join(f"Sized bar {n},{n},{refs.location},,," for n in range(1, 201))
    sent: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sent.append(len(params["TransactItems"]))

    ddb = client("dynamodb")
    ddb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count)
    try:
        job = run_upload(acme, f"{HEADER}\n{rows}\n")
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", count)
    assert (job["status"], job["created"], job["failed"]) == ("completed", 200, 0)
    # Every chunk fits one transaction and none was sent and refused: 19 rows (96 writes + checkpoint) each,
    # where halving 32-row chunks took 13 transactions of 16 rows.
    assert sent and max(sent) <= 100
    assert len(sent) == -(-200 // (core_imports.CHUNK_WRITES // 5))
