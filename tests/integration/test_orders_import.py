"""Order CSV upload through the real route and the real import queue handler (moto in-process).

moto in-process does not send S3 notifications, so each test plays S3: it
hands the import handler the notification of a stored file (`deliver`), and
then runs whatever the workers queued themselves (`drain`: the wake-up of a
line items job whose orders job has finished).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.ids import utcnow
from chalicelib.core.imports import jobs as core_imports
from chalicelib.core.imports.jobs import Row
from chalicelib.core.models import Actor
from chalicelib.events import imports
from chalicelib.features.orders.csv_import import LINES_KIND, OrderLinesImporter
from chalicelib.features.orders.model import LineInput, OrderInput, OrderView
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client, on_call
from chalicelib.storage.import_repo import DynamoImportStore, s3_notification
from tests.integration.company import Company, error_fields, make_company

pytestmark = pytest.mark.shared_aws

D = Decimal
PERMISSIONS = ("orders.read", "orders.write", "inventory.read", "inventory.write")
ALICE = Actor(id="user-alice", name="Alice")
BOUNDARY = "b0undary"


@pytest.fixture
def shop(http: Client) -> Company:
    return make_company(http, "Steel Shop", PERMISSIONS)


@pytest.fixture
def org(shop: Company) -> str:
    org_id: str = shop.ok("POST", "/organisations", [{"name": "Forge Ltd"}], 201)[0]["id"]
    return org_id


@pytest.fixture
def kinds(shop: Company) -> tuple[str, str]:
    type_id = shop.ok("POST", "/inventory-types", [{"label": "Round bar"}], 201)[0]["id"]
    material_id = shop.ok("POST", "/inventory-materials", [{"label": "EN24T"}], 201)[0]["id"]
    return type_id, material_id


# -- helpers ---------------------------------------------------------------------


def multipart(*files: tuple[str, str | None, str]) -> tuple[bytes, str]:
    """A form with (field, filename, text) parts; filename None sends a plain field."""
    chunks = []
    for name, filename, text in files:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: text/csv\r\n\r\n{text}\r\n")
    body = "".join(chunks) + f"--{BOUNDARY}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={BOUNDARY}"


def post(company: Company, body: bytes, content_type: str, **headers: str) -> Any:
    return company.http.http.request(
        "POST",
        f"/companies/{company.id}/orders/csv",
        headers={"X-API-Key": company.key, "Content-Type": content_type, **headers},
        body=body,
    )


def upload(company: Company, *files: tuple[str, str | None, str]) -> dict[str, Any]:
    response = post(company, *multipart(*files))
    assert response.status_code == 202, response.body
    accepted: dict[str, Any] = json.loads(response.body)
    return accepted


def job_key(company: Company, job: dict[str, Any]) -> str:
    return f"uploads/{company.id}/{job['kind']}/{job['jobId']}.csv"


def deliver(key: str, sequencer: str = "0055AED6DCD90281E5") -> None:
    message = {"messageId": f"m-{key}-{sequencer}", "body": s3_notification(get_settings().bucket, key, sequencer)}
    assert imports.handle({"Records": [message]}) == {"batchItemFailures": []}


def drain() -> int:
    """Run the messages the workers queued themselves until none is left; how many there were."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().import_queue)["QueueUrl"]
    handled = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}
        assert imports.handle(event) == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        handled += len(messages)
    return handled


def run(company: Company, accepted: dict[str, Any]) -> list[dict[str, Any]]:
    """S3 notifies each stored file, the workers run; the jobs as they ended, in the answer's order."""
    for job in accepted["jobs"]:
        deliver(job_key(company, job))
    drain()
    return [company.ok("GET", f"/imports/{job['jobId']}") for job in accepted["jobs"]]


def orders_by_reference(company: Company) -> dict[str, OrderView]:
    service = wiring.order_service()
    views = service.page(company.id, 100, None).items
    return {v.order.order_reference: service.get(company.id, v.order.order_id) for v in views}


def lines_of(view: OrderView) -> dict[str, Any]:
    return {line.product_name: line for line in view.line_items}


def errors_of(job: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["line"], e["field"]) for e in job["errors"]]


def create_order(company: Company, reference: str, *lines: tuple[str, str], **fields: Any) -> OrderView:
    line_inputs = tuple(
        LineInput(given=frozenset({"product_name", "quantity"}), product_name=name, quantity=D(quantity))
        for name, quantity in lines
    )
    entry = OrderInput(
        given=frozenset({"order_reference", *fields}), order_reference=reference, line_items=line_inputs, **fields
    )
    return wiring.order_service().create(company.id, [entry], ALICE)[0]


def download(company: Company) -> tuple[str, str]:
    response = company.call("GET", "/orders/zip", headers={"Accept": "application/zip"})
    assert response.status_code == 200, response.body
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        return archive.read("orders.csv").decode(), archive.read("order-line-items.csv").decode()


# -- both files in one request ------------------------------------------------------


def test_one_upload_creates_orders_then_lines_linked_by_reference_and_by_id(shop: Company, org: str) -> None:
    existing = create_order(shop, "SO-OLD", ("Plate 10mm", "3"))
    orders_csv = "\n".join(
        [
            "OrderReference,OrderDate,DeliveryDate,Site,Status,RelatedOrganisationId",
            f"SO-1,2025-03-03,2025-03-17,Sheffield,confirmed,{org}",
            "SO-2,,,Rotherham,,",
        ]
    )
    lines_csv = "\n".join(
        [
            "OrderId,OrderReference,LineNumber,ProductName,Diameter,Length,Quantity,Weight,CertificationRequired",
            ",SO-1,1,Round bar EN24T,50,3000,4,184.92,true",
            ",SO-1,,Hollow bar,80,1500,6,,",
            ",so-2,,Flat bar,,,2.5,,no",
            f"{existing.order.order_id},,,Angle,,,7,,",
        ]
    )
    # The line items file comes first in the form, under a misleading name: the header decides.
    accepted = upload(shop, ("orders", "lines.csv", lines_csv), ("lines", "orders.csv", orders_csv))

    assert [j["kind"] for j in accepted["jobs"]] == ["orders", "order-lines"]
    assert accepted["jobId"] == accepted["jobs"][0]["jobId"]
    assert accepted["statusUrl"] == f"/companies/{shop.id}/imports/{accepted['jobId']}"
    orders_job, lines_job = run(shop, accepted)
    assert (orders_job["status"], orders_job["created"], orders_job["failed"]) == ("completed", 2, 0), orders_job
    assert (lines_job["status"], lines_job["created"], lines_job["failed"]) == ("completed", 4, 0), lines_job
    assert (orders_job["filename"], lines_job["filename"]) == ("orders.csv", "lines.csv")

    found = orders_by_reference(shop)
    first = found["SO-1"]
    assert (first.order.site, first.order.status, first.customer_name) == ("Sheffield", "confirmed", "Forge Ltd")
    assert str(first.order.delivery_date) == "2025-03-17"
    assert [(x.line_number, x.product_name, x.quantity) for x in first.line_items] == [
        (1, "Round bar EN24T", D(4)),
        (2, "Hollow bar", D(6)),
    ]
    assert first.line_items[0].certification_required is True
    assert first.order.quantity == D(10)
    assert found["SO-2"].order.quantity == D("2.5")
    old = found["SO-OLD"]
    assert sorted(lines_of(old)) == ["Angle", "Plate 10mm"]
    assert old.order.quantity == D(10)


def test_the_lines_job_waits_for_the_orders_job_even_when_its_message_comes_first(shop: Company) -> None:
    accepted = upload(
        shop,
        ("a", "o.csv", "OrderReference,Site\nSO-7,Leeds\n"),
        ("b", "l.csv", "OrderReference,ProductName,Quantity\nSO-7,Bar,5\n"),
    )
    orders_job, lines_job = accepted["jobs"]
    deliver(job_key(shop, lines_job))
    waiting = shop.ok("GET", f"/imports/{lines_job['jobId']}")
    assert (waiting["status"], waiting["processed"]) == ("queued", 0)
    assert orders_by_reference(shop) == {}

    deliver(job_key(shop, orders_job))
    assert shop.ok("GET", f"/imports/{lines_job['jobId']}")["status"] == "queued"
    # The orders worker queued the lines job's notification again when it finished.
    assert drain() == 1
    done = shop.ok("GET", f"/imports/{lines_job['jobId']}")
    assert (done["status"], done["created"]) == ("completed", 1)
    ended = shop.ok("GET", f"/imports/{orders_job['jobId']}")
    assert ended["finishedAt"] <= done["startedAt"]
    assert orders_by_reference(shop)["SO-7"].order.quantity == D(5)


def test_bad_rows_are_reported_by_line_and_column_and_good_rows_applied(
    shop: Company, org: str, kinds: tuple[str, str]
) -> None:
    type_id, _ = kinds
    taken = create_order(shop, "SO-TAKEN")
    create_order(shop, "SO-HELD")
    orders_csv = "\n".join(
        [
            "OrderId,OrderReference,OrderDate,DeliveryDate,Status,RelatedOrganisationId",
            f",SO-1,2025-01-01,,open,{org}",
            ",SO-2,not a date,,,",
            ",SO-3,,,shipped-ish,",
            ",SO-4,,,,no-such-org",
            "no-such-order,SO-5,,,,",
            ",SO-6,2025-02-01,2025-01-01,,",
            ",,,,,",
            f"{taken.order.order_id},so-held,,,,",
        ]
    )
    lines_csv = "\n".join(
        [
            "LineItemId,OrderReference,LineNumber,ProductName,Type,Quantity",
            f",SO-1,1,Bar,{type_id},4",
            ",SO-404,,Bar,,1",
            ",SO-1,,Tube,,0",
            ",SO-1,,Tube,no-such-type,1",
            "2f1c1d7e-0000-4000-8000-000000000000,SO-1,,,,3",
            ",SO-1,1,Plate,,2",
            ",SO-1,,,,2",
            ",SO-1,,Sheet,,1.5",
        ]
    )
    orders_job, lines_job = run(shop, upload(shop, ("o", "o.csv", orders_csv), ("l", "l.csv", lines_csv)))

    assert (orders_job["status"], orders_job["created"], orders_job["failed"]) == ("completed", 1, 6)
    assert errors_of(orders_job) == [
        (3, "OrderDate"),
        (4, "Status"),
        (5, "RelatedOrganisationId"),
        (6, "OrderId"),
        (7, "DeliveryDate"),
        # Line 8 is blank and skipped; line 9 moves SO-TAKEN onto a reference another order holds.
        (9, "OrderReference"),
    ]
    messages = {e["line"]: e["message"] for e in orders_job["errors"]}
    assert "no-such-org not found" in messages[5]
    assert "already in use" in messages[9]
    assert (lines_job["status"], lines_job["created"], lines_job["failed"]) == ("completed", 2, 6)
    assert errors_of(lines_job) == [
        (3, "OrderReference"),
        (4, "Quantity"),
        (5, "Type"),
        (6, "LineItemId"),
        (7, "LineNumber"),
        (8, "ProductName"),
    ]
    line_messages = {e["line"]: e["message"] for e in lines_job["errors"]}
    assert "SO-404 not found" in line_messages[3]
    assert "another row of this file" in line_messages[7]
    found = orders_by_reference(shop)
    assert set(found) == {"SO-1", "SO-TAKEN", "SO-HELD"}
    assert [(x.line_number, x.product_name) for x in found["SO-1"].line_items] == [(1, "Bar"), (2, "Sheet")]
    assert found["SO-1"].order.quantity == D("5.5")
    report = shop.call("GET", f"/imports/{lines_job['jobId']}/errors.csv").body.decode().splitlines()
    # line, field, message, then the uploaded file's own columns with each rejected row's cells
    assert report[0] == "line,field,message,LineItemId,OrderReference,LineNumber,ProductName,Type,Quantity"
    assert report[1].startswith("3,OrderReference,")


def test_orders_file_rows_match_orders_by_reference_in_any_case(shop: Company) -> None:
    existing = create_order(shop, "SO-9", site="Old site")
    text = "OrderReference,Site\nso-9,New site\nSO-10,Other\n"
    response = post(shop, text.encode(), "text/csv")
    assert response.status_code == 202, response.body
    (job,) = run(shop, json.loads(response.body))
    assert (job["created"], job["updated"], job["failed"]) == (1, 1, 0)
    found = orders_by_reference(shop)
    # The reference takes the file's spelling; the order is the same one.
    assert found["so-9"].order.order_id == existing.order.order_id
    assert (found["so-9"].order.site, found["so-9"].order.version) == ("New site", 2)
    assert "SO-10" in found


def test_a_second_delivery_imports_nothing_twice(shop: Company) -> None:
    orders_csv = "OrderReference,Site\n" + "\n".join(f"SO-{n},Yard" for n in range(1, 41))
    lines_csv = "OrderReference,ProductName,Quantity\n" + "\n".join(
        f"SO-{n % 40 + 1},Bar {n},{n}" for n in range(1, 81)
    )
    accepted = upload(shop, ("o", "o.csv", orders_csv), ("l", "l.csv", lines_csv))
    orders_job, lines_job = run(shop, accepted)
    assert (orders_job["created"], lines_job["created"]) == (40, 80)
    # S3 delivers each notification again; the workers re-queue nothing new to run.
    again = run(shop, accepted)
    assert [(j["processed"], j["created"], j["status"]) for j in again] == [
        (40, 40, "completed"),
        (80, 80, "completed"),
    ]
    found = orders_by_reference(shop)
    assert len(found) == 40
    assert sum(len(v.line_items) for v in found.values()) == 80
    # SO-1 holds the lines n with n % 40 == 0: 40 and 80.
    assert found["SO-1"].order.quantity == D(120)


def edit(text: str, key: str, value: str, changes: dict[str, str]) -> str:
    """The CSV with `changes` (header -> cell) made in the rows whose `key` column is `value`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if row[key] == value:
            row.update(changes)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_a_download_can_be_edited_and_uploaded_again(shop: Company) -> None:
    made = create_order(shop, "SO-1", ("=SUM(A1)", "2"), ("Bar", "3"), site="Leeds")
    create_order(shop, "SO-2", site="Hull")
    orders_csv, lines_csv = download(shop)
    assert "'=SUM(A1)" in lines_csv
    bar = lines_of(made)["Bar"]
    # SO-1 has lines: its Quantity cell cannot change it. SO-2 has none: its Quantity cell is its quantity.
    edited_orders = edit(orders_csv, "OrderReference", "SO-1", {"Site": "York", "Quantity": "99"})
    edited_orders = edit(edited_orders, "OrderReference", "SO-2", {"Quantity": "12"})
    edited_lines = edit(lines_csv, "LineItemId", bar.line_item_id, {"Quantity": "8"})

    orders_job, lines_job = run(shop, upload(shop, ("o", "o.csv", edited_orders), ("l", "l.csv", edited_lines)))
    assert (orders_job["created"], orders_job["updated"], orders_job["failed"]) == (0, 2, 0), orders_job
    assert (lines_job["created"], lines_job["updated"], lines_job["failed"]) == (0, 2, 0), lines_job
    found = orders_by_reference(shop)
    view = found["SO-1"]
    assert view.order.site == "York"
    lines = lines_of(view)
    assert set(lines) == {"=SUM(A1)", "Bar"}
    assert lines["Bar"].quantity == D(8)
    # The unchanged line is not written again.
    assert lines["=SUM(A1)"].version == 1
    assert view.order.quantity == D(10)
    assert (found["SO-2"].order.quantity, found["SO-2"].order.site) == (D(12), "Hull")


def test_a_stale_version_cell_is_a_row_error(shop: Company) -> None:
    made = create_order(shop, "SO-1", ("Bar", "3"), site="Leeds")
    orders_csv, lines_csv = download(shop)
    line = made.line_items[0]
    # Someone changes the order and its line after the download.
    changed = OrderInput(
        given=frozenset({"site"}),
        order_id=made.order.order_id,
        site="Hull",
        line_items=(LineInput(given=frozenset({"notes"}), line_item_id=line.line_item_id, notes="urgent"),),
    )
    wiring.order_service().update(shop.id, [changed], ALICE)

    edited_orders = orders_csv.replace(",Leeds,", ",York,")
    edited_lines = lines_csv.replace(",3,", ",9,")
    orders_job, lines_job = run(shop, upload(shop, ("o", "o.csv", edited_orders), ("l", "l.csv", edited_lines)))
    assert errors_of(orders_job) == [(2, "Version")]
    assert errors_of(lines_job) == [(2, "Version")]
    view = orders_by_reference(shop)["SO-1"]
    assert (view.order.site, view.line_items[0].quantity, view.line_items[0].notes) == ("Hull", D(3), "urgent")


def test_a_rejected_orders_file_fails_the_lines_job_with_a_clear_message(shop: Company) -> None:
    accepted = upload(
        shop,
        ("o", "o.csv", "OrderReference,Sitee\nSO-1,Leeds\n"),
        ("l", "l.csv", "OrderReference,ProductName,Quantity\nSO-1,Bar,5\n"),
    )
    orders_job, lines_job = run(shop, accepted)
    assert orders_job["status"] == "failed"
    assert "unknown column 'sitee'" in orders_job["message"]
    assert lines_job["status"] == "failed"
    assert "orders file" in lines_job["message"] and "rejected" in lines_job["message"]
    assert orders_job["jobId"] in lines_job["message"]
    assert lines_job["processed"] == 0
    assert orders_by_reference(shop) == {}


def test_dropped_files_import_by_their_folder(shop: Company) -> None:
    bucket = get_settings().bucket
    orders_key = f"dropbox/{shop.id}/orders/week 12.csv"
    lines_key = f"dropbox/{shop.id}/order-lines/week 12 lines.csv"
    client("s3").put_object(Bucket=bucket, Key=orders_key, Body=b"OrderReference\nSO-1\n")
    client("s3").put_object(Bucket=bucket, Key=lines_key, Body=b"OrderReference,ProductName,Quantity\nSO-1,Bar,2\n")
    deliver(orders_key, sequencer="A1")
    deliver(lines_key, sequencer="B1")
    jobs = {j["kind"]: j for j in shop.ok("GET", "/imports")}
    assert {k: (j["source"], j["status"], j["created"]) for k, j in jobs.items()} == {
        "orders": ("dropbox", "completed", 1),
        "order-lines": ("dropbox", "completed", 1),
    }
    assert orders_by_reference(shop)["SO-1"].order.quantity == D(2)


def test_an_idempotent_upload_answers_with_the_same_jobs(shop: Company) -> None:
    body, content_type = multipart(("o", "o.csv", "OrderReference\nSO-1\n"), ("l", "l.csv", "OrderId,LineNumber\n"))
    first = post(shop, body, content_type, **{"Idempotency-Key": "orders-upload-1"})
    second = post(shop, body, content_type, **{"Idempotency-Key": "orders-upload-1"})
    assert first.status_code == second.status_code == 202
    assert json.loads(first.body)["jobs"] == json.loads(second.body)["jobs"]
    assert len(shop.ok("GET", "/imports")) == 2


# -- refused requests -----------------------------------------------------------------


def test_files_that_are_not_order_files_are_400_naming_the_file(shop: Company) -> None:
    response = post(shop, b"Name,Colour\nBar,red\n", "text/csv")
    assert response.status_code == 400
    assert error_fields(response) == ["body"]

    response = post(shop, *multipart(("first", "a.csv", "OrderReference\nSO-1\n"), ("second", "b.csv", "Foo\n1\n")))
    assert response.status_code == 400
    assert error_fields(response) == ["second"]
    assert "b.csv" in json.loads(response.body)["error"]

    two_orders = multipart(("x", "a.csv", "OrderReference\nSO-1\n"), ("y", "b.csv", "OrderId,Site\n1,A\n"))
    response = post(shop, *two_orders)
    assert response.status_code == 400
    assert error_fields(response) == ["y"]
    assert "a.csv and b.csv" in json.loads(response.body)["error"]

    response = post(shop, *multipart(("x", "a.csv", "OrderReference\nSO-1\n"), ("y", "b.csv", "")))
    assert (response.status_code, error_fields(response)) == (400, ["y"])
    assert shop.ok("GET", "/imports") == []


def test_a_request_without_a_file_is_400(shop: Company) -> None:
    assert (response := post(shop, b"", "text/csv")).status_code == 400
    assert error_fields(response) == ["file"]
    # A form whose only part has no field name holds no file.
    unnamed = f"--{BOUNDARY}\r\nContent-Type: text/csv\r\n\r\nOrderReference\r\n--{BOUNDARY}--\r\n"
    response = post(shop, unnamed.encode(), f"multipart/form-data; boundary={BOUNDARY}")
    assert (response.status_code, error_fields(response)) == (400, ["file"])
    three = multipart(*((f"f{n}", f"{n}.csv", "OrderReference\nSO-1\n") for n in range(3)))
    assert post(shop, *three).status_code == 400


def test_more_than_four_mebibytes_is_413(shop: Company) -> None:
    big = b"OrderReference,Site\n" + b"SO-1," + b"x" * (4 * 1024 * 1024) + b"\n"
    response = post(shop, big, "text/csv")
    assert response.status_code == 413
    assert json.loads(response.body)["code"] == "PAYLOAD_TOO_LARGE"


def test_an_upload_needs_orders_write_and_its_own_company(http: Client, shop: Company) -> None:
    reader = make_company(http, "Reader", ("orders.read", "inventory.write", "inventory.read"))
    response = post(reader, b"OrderReference\nSO-1\n", "text/csv")
    assert response.status_code == 403
    assert error_fields(response) == ["permissions"]
    other = make_company(http, "Other", PERMISSIONS)
    response = post(Company(http, shop.id, other.key), b"OrderReference\nSO-1\n", "text/csv")
    assert response.status_code == 403
    assert error_fields(response) == ["companyId"]
    assert shop.ok("GET", "/imports") == []


def test_jobs_stay_queued_while_nothing_notifies_them(shop: Company) -> None:
    accepted = upload(shop, ("o", "o.csv", "OrderReference\nSO-1\n"))
    job = shop.ok("GET", f"/imports/{accepted['jobId']}")
    assert (job["kind"], job["status"], job["source"]) == ("orders", "queued", "upload")
    assert core_imports.upload_key(shop.id, "orders", accepted["jobId"]) == job_key(shop, accepted["jobs"][0])


def test_round_trips_are_per_chunk_not_per_row(shop: Company) -> None:
    rows = 2 * core_imports.CHUNK_ROWS
    orders_csv = "OrderReference,Site\n" + "\n".join(f"SO-{n % 2},Yard {n}" for n in range(2)) + "\n"
    lines_csv = "OrderReference,ProductName,Quantity\n" + "\n".join(f"SO-{n % 2},Bar {n},1" for n in range(rows))
    accepted = upload(shop, ("o", "o.csv", orders_csv), ("l", "l.csv", lines_csv))
    deliver(job_key(shop, accepted["jobs"][0]))
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        assert drain() == 1
    finally:
        unsubscribe()
    job = shop.ok("GET", f"/imports/{accepted['jobs'][1]['jobId']}")
    assert (job["created"], job["failed"]) == (rows, 0)
    # Per chunk of 32 rows: one BatchGetItem of reference guards, one Query per order (2), one transaction.
    assert Counter(calls)["TransactWriteItems"] == 2
    assert Counter(calls)["Query"] == 2 * 2
    assert Counter(calls)["BatchGetItem"] == 2
    assert orders_by_reference(shop)["SO-0"].order.quantity == D(rows // 2)

    # Updating orders by reference: one guard read, one header read and one transaction per chunk; the
    # orders' lines are not read, since no quantity cell changes.
    edits = "OrderReference,Site,Status\n" + "\n".join(f"SO-{n},Moor,confirmed" for n in range(2)) + "\n"
    response = post(shop, edits.encode(), "text/csv")
    calls.clear()
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        (done,) = run(shop, json.loads(response.body))
    finally:
        unsubscribe()
    assert (done["updated"], done["failed"]) == (2, 0)
    assert (Counter(calls)["TransactWriteItems"], Counter(calls)["BatchGetItem"], Counter(calls)["Query"]) == (1, 2, 0)


def test_a_chunk_whose_order_moved_meanwhile_is_planned_again(shop: Company) -> None:
    made = create_order(shop, "SO-1", ("Bar", "3"))
    service = wiring.import_service()
    store = DynamoImportStore(get_settings().main_table)
    job = service.new_job(shop.id, LINES_KIND, core_imports.ImportSource.UPLOAD, ALICE)
    now = utcnow()
    assert store.claim(job, now, now + core_imports.LEASE) is not None
    importer = OrderLinesImporter(wiring.order_import_planner())
    rows = [Row(2, {"orderreference": "SO-1", "productname": "Tube", "quantity": "2"})]
    plan = importer.plan(shop.id, job.job_id, rows, ALICE)
    assert [w.previous_version for w in plan.feature_writes] == [made.order.version]

    # Someone changes the order between the chunk's reads and its commit.
    moved = OrderInput(given=frozenset({"site"}), order_id=made.order.order_id, site="Hull")
    wiring.order_service().update(shop.id, [moved], ALICE)
    checkpoint = core_imports.Checkpoint(
        job_id=job.job_id,
        from_line=1,
        to_line=2,
        read=1,
        created=1,
        updated=0,
        failed=0,
        errors=[],
        errors_dropped=False,
        lease_until=now + core_imports.LEASE,
    )
    assert store.commit(shop.id, checkpoint, plan, ALICE) == core_imports.CommitOutcome.CONFLICT
    untouched = wiring.order_service().get(shop.id, made.order.order_id)
    stored_job = store.get_job(shop.id, job.job_id)
    assert stored_job is not None
    assert (len(untouched.line_items), stored_job.checkpoint_line) == (1, 1)

    again = importer.plan(shop.id, job.job_id, rows, ALICE)
    assert store.commit(shop.id, checkpoint, again, ALICE) == core_imports.CommitOutcome.DONE
    view = wiring.order_service().get(shop.id, made.order.order_id)
    assert (view.order.site, view.order.quantity, sorted(lines_of(view))) == ("Hull", D(5), ["Bar", "Tube"])
    # The same chunk once more (a second worker with a stale checkpoint) is refused as a whole.
    assert store.commit(shop.id, checkpoint, again, ALICE) == core_imports.CommitOutcome.LOST
    assert len(wiring.order_service().get(shop.id, made.order.order_id).line_items) == 2
