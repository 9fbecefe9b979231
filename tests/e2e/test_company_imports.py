"""CSV download, upload and the asynchronous import of the 000 company surface, over HTTP against the local stack.

Files reach the import the three ways a client has: an upload to the API, a
browser-style POST to the presigned S3 form, and a file put straight into the
tenant's drop folder. The stack's moto server notifies the import queue, and
the stack hands each message to the real import handler, as Lambda would.

One tenant serves the whole module (creating one per test would cost a
second each), so every test names its own items and only looks at those.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import pytest
import requests

from chalicelib.core.models import Actor
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.wiring import tenant_service
from infra.localstack import forget_cached_aws
from tests.e2e.conftest import Api, _eventually

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

    Eventually = Callable[..., Any]

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 10.0
TEMPLATE_COLUMNS = [
    "inventoryId",
    "productName",
    "quantity",
    "weight",
    "heatCode",
    "diameter",
    "length",
    "width",
    "depth",
    "type",
    "material",
    "supplierId",
    "stockLocationId",
    "unitPrice",
]
LABELS = ("typeLabel", "materialLabel", "supplierName", "stockLocationLabel")
ADMIN = Actor(id="e2e", name="E2E imports")


@dataclass(frozen=True)
class Company:
    """One company as seen through one of its API keys."""

    api: Api
    id: str

    def with_key(self, api_key: str) -> Company:
        return Company(self.api.with_key(api_key), self.id)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.api.request(method, f"/companies/{self.id}{path}", **kwargs)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, json=body)
        assert response.status_code == status, response.text
        return response.json()

    def upload(self, text: str, content_type: str = "text/csv") -> requests.Response:
        return self.call("POST", "/inventory/csv", data=text.encode(), headers={"Content-Type": content_type})

    def items_named(self, prefix: str) -> dict[str, dict[str, Any]]:
        """This company's active items whose productName starts with `prefix`, by name."""
        items: list[dict[str, Any]] = self.ok("GET", "/inventory")
        return {i["productName"]: i for i in items if i["productName"].startswith(prefix)}

    def items_list(self, prefix: str) -> list[dict[str, Any]]:
        """Like items_named, but every item (duplicate names too), in inventoryId order."""
        items: list[dict[str, Any]] = self.ok("GET", "/inventory")
        mine = [i for i in items if i["productName"].startswith(prefix)]
        return sorted(mine, key=lambda i: str(i["inventoryId"]))


@dataclass(frozen=True)
class Refs:
    """Reference data of the module's company, so imported rows resolve labels."""

    type: str
    material: str
    supplier: str
    location: str
    heat_code: str
    certificate: str


@dataclass(frozen=True)
class Tenants:
    acme: Company
    other: Company
    reader_key: str  # acme's key with inventory.read only
    blind_key: str  # acme's key without any inventory permission (orders.read only)
    orders_key: str  # acme's key with orders.read and orders.write, and no inventory permission
    refs: Refs


@pytest.fixture(scope="module")
def local_aws(stack: Stack) -> Iterator[Stack]:
    """This process's AWS clients and services, pointed at the stack's moto server for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOCKROOM_AWS_ENDPOINT", stack.moto_endpoint)
        forget_cached_aws()
        yield stack
    forget_cached_aws()


@pytest.fixture(scope="module")
def tenants(local_aws: Stack) -> Tenants:
    service = tenant_service()
    acme_tenant, acme_key = service.create_tenant("E2E imports Acme")
    other_tenant, other_key = service.create_tenant("E2E imports Other")
    _, reader_key = service.issue_key(acme_tenant.tenant_id, "reader", ["inventory.read"], ADMIN)
    _, blind_key = service.issue_key(acme_tenant.tenant_id, "orders only", ["orders.read"], ADMIN)
    _, orders_key = service.issue_key(acme_tenant.tenant_id, "orders clerk", ["orders.read", "orders.write"], ADMIN)
    acme = Company(Api(local_aws.base_url, acme_key), acme_tenant.tenant_id)
    other = Company(Api(local_aws.base_url, other_key), other_tenant.tenant_id)
    return Tenants(acme, other, reader_key, blind_key, orders_key, make_refs(acme))


def make_refs(company: Company) -> Refs:
    def create(segment: str, body: dict[str, str]) -> str:
        created: str = company.ok("POST", f"/{segment}", [body], 201)[0]["id"]
        return created

    return Refs(
        type=create("inventory-types", {"label": "Round bar"}),
        material=create("inventory-materials", {"label": "S355J2"}),
        supplier=create("organisations", {"name": "Northern Steel"}),
        location=create("stock-locations", {"label": "Bay 4"}),
        heat_code="H-IMP-1",
        certificate=create("mill-certifications", {"heatCode": "H-IMP-1"}),
    )


@pytest.fixture
def acme(tenants: Tenants) -> Company:
    return tenants.acme


@pytest.fixture
def refs(tenants: Tenants) -> Refs:
    return tenants.refs


# -- helpers ---------------------------------------------------------------------


def accepted_job_id(response: requests.Response, company: Company) -> str:
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["statusUrl"] == f"/companies/{company.id}/imports/{body['jobId']}"
    assert response.headers["Location"] == body["statusUrl"]
    job_id: str = body["jobId"]
    return job_id


def finished_job(company: Company, job_id: str, eventually: Eventually) -> dict[str, Any]:
    """The job once the queue worker has ended it (completed or failed)."""

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = company.ok("GET", f"/imports/{job_id}")
        return job if job["status"] in ("completed", "failed") else None

    job: dict[str, Any] = eventually(ended, timeout=JOB_TIMEOUT)
    return job


def counts(job: dict[str, Any]) -> tuple[Any, ...]:
    return (job["total"], job["processed"], job["created"], job["updated"], job["failed"])


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def import_runs(stack: Stack, job_id: str) -> int:
    """How often the stack's import handler ran for `job_id` (it logs "import ended" each time)."""
    runs = 0
    for line in stack.output().splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == "import ended" and record.get("job_id") == job_id:
            runs += 1
    return runs


def s3_notification(key: str, size: int) -> str:
    """The message body the stack's moto S3 sends to the import queue for `key`.

    Same shape as moto's: URL-encoded key and no sequencer. Sending it again is
    exactly what SQS's at-least-once delivery can do.
    """
    settings = get_settings()
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": settings.region,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": settings.bucket, "arn": f"arn:aws:s3:::{settings.bucket}"},
            "object": {"key": quote_plus(key), "size": size},
        },
    }
    return json.dumps({"Records": [record]})


def redeliver(stack: Stack, job_id: str, key: str, size: int, eventually: Eventually) -> None:
    """Send the notification of `key` once more; return when the handler has run for it and the queue is empty."""
    sqs = client("sqs")
    queue_url = sqs.get_queue_url(QueueName=get_settings().import_queue)["QueueUrl"]
    runs_before = import_runs(stack, job_id)
    sqs.send_message(QueueUrl=queue_url, MessageBody=s3_notification(key, size))

    def handled() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        # A message the handler failed on would stay in flight, not be deleted.
        drained = all(value == "0" for value in attributes.values())
        return drained and import_runs(stack, job_id) == runs_before + 1

    eventually(handled, timeout=JOB_TIMEOUT)


def error_detail_fields(response: requests.Response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


# -- download and template -----------------------------------------------------------


def test_template_lists_the_upload_columns_and_imports_as_it_is(acme: Company, eventually: Eventually) -> None:
    response = acme.call("GET", "/inventory/csv/template")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert 'filename="inventory-template.csv"' in response.headers["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == TEMPLATE_COLUMNS
    examples = list(reader)
    assert len(examples) == 3
    assert all(row["inventoryId"] == "" and row["productName"] and row["quantity"] for row in examples)

    # The template is a real upload as it is: its rows go to the company's default location.
    job = finished_job(acme, accepted_job_id(acme.upload(response.text), acme), eventually)
    assert (job["status"], counts(job)) == ("completed", (3, 3, 3, 0, 0))
    names = {row["productName"] for row in examples}
    created = {name: item for name, item in acme.items_named("").items() if name in names}
    assert set(created) == names
    assert {item["stockLocationLabel"] for item in created.values()} == {"Default"}


def test_download_and_upload_round_trip(acme: Company, refs: Refs, eventually: Eventually) -> None:
    made = acme.ok(
        "POST",
        "/inventory",
        [
            {
                "productName": "Trip bar",
                "quantity": "5",
                "heatCode": refs.heat_code,
                "type": refs.type,
                "material": refs.material,
                "supplierId": refs.supplier,
                "stockLocationId": refs.location,
                "unitPrice": "19.99",
            },
            {"productName": "=Trip formula", "quantity": "2", "stockLocationId": refs.location},
        ],
        201,
    )
    bar, formula = made[0], made[1]

    response = acme.call("GET", "/inventory/csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="inventory-{acme.id}-')
    reader = csv.DictReader(io.StringIO(response.text))
    header = list(reader.fieldnames or [])
    assert header[:2] == ["inventoryId", "productName"] and set(LABELS) <= set(header)
    rows = {row["inventoryId"]: row for row in reader}
    row = rows[bar["inventoryId"]]
    assert (row["typeLabel"], row["materialLabel"], row["supplierName"], row["stockLocationLabel"]) == (
        "Round bar",
        "S355J2",
        "Northern Steel",
        "Bay 4",
    )
    assert (row["quantity"], row["unitPrice"], row["millCertificationId"]) == ("5", "19.99", refs.certificate)
    # A spreadsheet would run this name as a formula.
    assert rows[formula["inventoryId"]]["productName"] == "'=Trip formula"

    # Edit the two rows in the download, labels and timestamps included, and send them back.
    edited = [dict(rows[bar["inventoryId"]], quantity="9", productName="Trip bar v2"), rows[formula["inventoryId"]]]
    job = finished_job(acme, accepted_job_id(acme.upload(csv_text(header, edited)), acme), eventually)
    assert (job["status"], counts(job)) == ("completed", (2, 2, 0, 2, 0)), job

    after = {i["inventoryId"]: i for i in acme.ok("GET", "/inventory")}
    assert (after[bar["inventoryId"]]["productName"], Decimal(str(after[bar["inventoryId"]]["quantity"]))) == (
        "Trip bar v2",
        Decimal(9),
    )
    assert after[bar["inventoryId"]]["typeLabel"] == "Round bar"
    # The neutralising quote is not taken for part of the name.
    assert after[formula["inventoryId"]]["productName"] == "=Trip formula"
    assert "Trip bar" not in {i["productName"] for i in after.values()}


# -- uploads through the API -------------------------------------------------------------


def test_csv_body_upload_imports_good_rows_and_reports_bad_ones(
    acme: Company, refs: Refs, eventually: Eventually
) -> None:
    text = "\n".join(
        [
            "productName,quantity,stockLocationId,heatCode,type,material,supplierId,weight",
            f"Body bar,4,{refs.location},{refs.heat_code},{refs.type},{refs.material},{refs.supplier},12.5",
            f"Body plate,abc,{refs.location},,,,,",
            "Body tube,2,no-such-location,,,,,",
            f"Body box,7,{refs.location},,,,,1",
        ]
    )
    job_id = accepted_job_id(acme.upload(text), acme)
    job = finished_job(acme, job_id, eventually)

    assert (job["status"], job["source"], job["kind"], job["message"]) == ("completed", "upload", "inventory", None)
    assert counts(job) == (4, 4, 2, 0, 2)
    assert job["startedAt"] and job["finishedAt"]
    assert [(e["line"], e["field"]) for e in job["errors"]] == [(3, "quantity"), (4, "stockLocationId")]
    assert all(e["message"] for e in job["errors"])
    assert not job["errorsTruncated"]

    report = acme.call("GET", job["errorReportUrl"].removeprefix(f"/companies/{acme.id}"))
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/csv")
    assert [(r["line"], r["field"], r["message"]) for r in csv_rows(report.text)] == [
        (str(e["line"]), e["field"], e["message"]) for e in job["errors"]
    ]

    items = acme.items_named("Body ")
    assert set(items) == {"Body bar", "Body box"}
    bar = items["Body bar"]
    assert Decimal(str(bar["quantity"])) == 4
    assert [bar[label] for label in LABELS] == ["Round bar", "S355J2", "Northern Steel", "Bay 4"]
    assert bar["millCertificationId"] == refs.certificate
    assert bar["linkedOrders"] == "[]"

    listed = {j["jobId"]: j for j in acme.ok("GET", "/imports")}
    assert counts(listed[job_id]) == counts(job)
    assert "errors" not in listed[job_id]


def test_error_report_of_a_clean_job_is_only_the_header(acme: Company, refs: Refs, eventually: Eventually) -> None:
    job_id = accepted_job_id(acme.upload(f"productName,quantity,stockLocationId\nClean bar,1,{refs.location}\n"), acme)
    job = finished_job(acme, job_id, eventually)
    assert (job["status"], job["errors"]) == ("completed", [])
    report = acme.call("GET", f"/imports/{job_id}/errors.csv")
    assert report.status_code == 200
    assert report.text.splitlines() == ["line,field,message"]


def test_multipart_upload_takes_the_file_part(acme: Company, refs: Refs, eventually: Eventually) -> None:
    text = f"productName,quantity,stockLocationId\nForm bar,2,{refs.location}\nForm tube,3,{refs.location}\n"
    response = acme.call(
        "POST",
        "/inventory/csv",
        data={"note": "monthly stock take"},
        files={"file": ("stock take.csv", text.encode(), "text/csv")},
    )
    job = finished_job(acme, accepted_job_id(response, acme), eventually)
    assert (job["status"], job["filename"], counts(job)) == ("completed", "stock take.csv", (2, 2, 2, 0, 0))
    assert {name: Decimal(str(i["quantity"])) for name, i in acme.items_named("Form ").items()} == {
        "Form bar": 2,
        "Form tube": 3,
    }


def test_bad_uploads_are_4xx_with_a_json_body(acme: Company, eventually: Eventually) -> None:
    empty = acme.upload("")
    assert empty.status_code == 400
    assert error_detail_fields(empty) == ["file"]

    too_large = acme.upload("productName\n" + "x" * (6 * 1024 * 1024))
    assert too_large.status_code == 413
    assert too_large.json()

    for content_type in ("application/json", "text/plain"):
        wrong = acme.upload("productName\nBar\n", content_type)
        assert wrong.status_code in (400, 415), content_type
        assert wrong.headers["Content-Type"].startswith("application/json")
        assert wrong.json()

    no_file = acme.upload("--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x")
    assert no_file.status_code == 400
    assert error_detail_fields(no_file) == ["file"]

    bad_kind = acme.call("POST", "/imports", json={"kind": "nonsense"})
    assert bad_kind.status_code == 400
    assert error_detail_fields(bad_kind) == ["kind"]

    assert acme.call("GET", "/imports/no-such-job").status_code == 404
    assert acme.call("GET", "/imports/no-such-job/errors.csv").status_code == 404


def test_a_file_with_an_unknown_column_fails_its_job(acme: Company, refs: Refs, eventually: Eventually) -> None:
    text = f"productName,quantiy,stockLocationId\nTypo bar,3,{refs.location}\n"
    job = finished_job(acme, accepted_job_id(acme.upload(text), acme), eventually)
    assert job["status"] == "failed"
    assert "quantiy" in job["message"]
    assert job["created"] == 0
    assert acme.items_named("Typo ") == {}


# -- presigned POST and the drop folder -----------------------------------------------------


def test_presigned_post_imports_the_file(acme: Company, refs: Refs, eventually: Eventually) -> None:
    presigned = acme.ok("POST", "/imports", {"kind": "inventory", "filename": "big.csv"}, 201)
    job_id = presigned["jobId"]
    assert presigned["uploadFields"]["key"] == f"uploads/{acme.id}/inventory/{job_id}.csv"
    assert presigned["maxBytes"] > 5 * 1024 * 1024
    queued = acme.ok("GET", f"/imports/{job_id}")
    assert (queued["status"], queued["source"], queued["filename"], queued["total"]) == (
        "queued",
        "presigned",
        "big.csv",
        None,
    )

    # What a browser does with the form: the fields first, then the file.
    text = f"productName,quantity,stockLocationId\nSigned bar,6,{refs.location}\nSigned plate,x,{refs.location}\n"
    posted = requests.post(
        presigned["uploadUrl"],
        data=presigned["uploadFields"],
        files={"file": ("big.csv", text.encode(), "text/csv")},
        timeout=10,
    )
    assert posted.status_code in (200, 201, 204), posted.text

    job = finished_job(acme, job_id, eventually)
    assert (job["status"], counts(job)) == ("completed", (2, 2, 1, 0, 1))
    assert [(e["line"], e["field"]) for e in job["errors"]] == [(3, "quantity")]
    assert list(acme.items_named("Signed ")) == ["Signed bar"]


def test_a_dropped_file_becomes_a_completed_job(
    local_aws: Stack, acme: Company, refs: Refs, eventually: Eventually
) -> None:
    key = f"dropbox/{acme.id}/inventory/drop take.csv"
    body = f"productName,quantity,stockLocationId\nDrop bar,2,{refs.location}\nDrop tube,1,{refs.location}\n".encode()
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=body)

    def dropped_job() -> dict[str, Any] | None:
        jobs = [j for j in acme.ok("GET", "/imports") if j["filename"] == "drop take.csv"]
        return jobs[0] if jobs and jobs[0]["status"] == "completed" else None

    job = eventually(dropped_job, timeout=JOB_TIMEOUT)
    assert (job["source"], counts(job)) == ("dropbox", (2, 2, 2, 0, 0))
    assert set(acme.items_named("Drop ")) == {"Drop bar", "Drop tube"}


@pytest.mark.parametrize(
    ("where", "why"),
    [("stock.csv", "files go into a kind's folder"), ("widgets/stock.csv", "no import kind 'widgets'")],
)
def test_a_file_dropped_where_no_import_applies_is_a_failed_job_listed_with_the_others(
    local_aws: Stack, acme: Company, eventually: Eventually, where: str, why: str
) -> None:
    client("s3").put_object(Bucket=get_settings().bucket, Key=f"dropbox/{acme.id}/{where}", Body=b"productName\nX\n")

    def failed_job() -> dict[str, Any] | None:
        jobs = [j for j in acme.ok("GET", "/imports") if j["source"] == "dropbox" and why in (j["message"] or "")]
        return jobs[0] if jobs else None

    job = eventually(failed_job, timeout=JOB_TIMEOUT)
    assert job["status"] == "failed"
    assert acme.ok("GET", f"/imports/{job['jobId']}")["message"] == job["message"]


# -- redelivery -----------------------------------------------------------------------------------


def test_a_second_delivery_of_an_upload_imports_nothing_twice(
    local_aws: Stack, acme: Company, refs: Refs, eventually: Eventually
) -> None:
    rows = "".join(f"Again {n},{n},{refs.location}\n" for n in range(1, 6))
    text = f"productName,quantity,stockLocationId\n{rows}"
    job_id = accepted_job_id(acme.upload(text), acme)
    job = finished_job(acme, job_id, eventually)
    assert counts(job) == (5, 5, 5, 0, 0)
    before = acme.items_list("Again ")
    assert len(before) == 5

    redeliver(local_aws, job_id, f"uploads/{acme.id}/inventory/{job_id}.csv", len(text), eventually)

    again = acme.ok("GET", f"/imports/{job_id}")
    assert (again["status"], counts(again), again["finishedAt"]) == ("completed", counts(job), job["finishedAt"])
    # Same items, same versions: nothing was created or written again.
    assert acme.items_list("Again ") == before


# A redelivered drop carries the sequencer of its S3 write, which a test cannot
# read from outside the stack; tests/integration/test_inventory_import.py
# delivers the same drop twice with one sequencer and checks it imports once.


def test_a_new_drop_to_the_same_key_is_a_new_job(
    local_aws: Stack, acme: Company, refs: Refs, eventually: Eventually
) -> None:
    key = f"dropbox/{acme.id}/inventory/weekly.csv"
    for name in ("Weekly one", "Weekly two"):
        body = f"productName,quantity,stockLocationId\n{name},1,{refs.location}\n".encode()
        client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=body)
        eventually(lambda name=name: name in acme.items_named("Weekly "), timeout=JOB_TIMEOUT)


# -- other companies and permissions ------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_upload(tenants: Tenants) -> str:
    """A finished acme job with one bad row, for the access checks."""
    acme, refs = tenants.acme, tenants.refs
    text = f"productName,quantity,stockLocationId\nAccess bar,1,{refs.location}\nAccess bad,x,{refs.location}\n"
    job_id = accepted_job_id(acme.upload(text), acme)
    finished_job(acme, job_id, _eventually)
    return job_id


def test_another_companys_jobs_are_404_and_its_paths_403(tenants: Tenants, finished_upload: str) -> None:
    acme, other = tenants.acme, tenants.other
    assert other.call("GET", f"/imports/{finished_upload}").status_code == 404
    assert other.call("GET", f"/imports/{finished_upload}/errors.csv").status_code == 404
    assert finished_upload not in {j["jobId"] for j in other.ok("GET", "/imports")}
    # The header only: acme's items are not in other's download.
    assert len(other.call("GET", "/inventory/csv").text.splitlines()) == 1

    # Other's key on acme's paths: refused for the company, whatever the route.
    trespass = Company(other.api, acme.id)
    calls = [
        trespass.call("GET", "/inventory/csv"),
        trespass.call("GET", "/inventory/csv/template"),
        trespass.upload("productName\nBar\n"),
        trespass.call("POST", "/imports", json={"kind": "inventory"}),
        trespass.call("GET", "/imports"),
        trespass.call("GET", f"/imports/{finished_upload}"),
        trespass.call("GET", f"/imports/{finished_upload}/errors.csv"),
    ]
    for response in calls:
        assert response.status_code == 403, (response.request.method, response.request.url, response.text)
        assert error_detail_fields(response) == ["companyId"]


def test_a_key_without_inventory_write_cannot_upload(tenants: Tenants, finished_upload: str) -> None:
    reader = tenants.acme.with_key(tenants.reader_key)
    jobs_before = len(tenants.acme.ok("GET", "/imports?limit=100"))
    refused = [
        reader.upload("productName\nReader bar\n"),
        reader.call("POST", "/inventory/csv", files={"file": ("x.csv", b"productName\nReader bar\n", "text/csv")}),
        reader.call("POST", "/imports", json={"kind": "inventory"}),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert error_detail_fields(response) == ["permissions"]
    assert len(tenants.acme.ok("GET", "/imports?limit=100")) == jobs_before

    # Reading is what the key is for.
    for path in ("/inventory/csv", "/inventory/csv/template", "/imports", f"/imports/{finished_upload}"):
        assert reader.call("GET", path).status_code == 200, path
    assert reader.call("GET", f"/imports/{finished_upload}/errors.csv").text.splitlines()[1].startswith("3,quantity")


def test_a_key_without_inventory_read_cannot_read(tenants: Tenants, finished_upload: str) -> None:
    blind = tenants.acme.with_key(tenants.blind_key)
    for path in (
        "/inventory/csv",
        "/inventory/csv/template",
        f"/imports/{finished_upload}",
        f"/imports/{finished_upload}/errors.csv",
    ):
        response = blind.call("GET", path)
        assert response.status_code == 403, path
        assert error_detail_fields(response) == ["permissions"]
    # Its orders.read lists the order import jobs, so the list answers, without the inventory jobs.
    listed = blind.call("GET", "/imports?limit=100")
    assert listed.status_code == 200, listed.text
    assert {j["kind"] for j in listed.json()} <= {"orders", "order-lines"}
    assert finished_upload not in {j["jobId"] for j in listed.json()}


def test_an_orders_key_follows_its_orders_upload_but_not_inventory_jobs(
    tenants: Tenants, finished_upload: str, eventually: Eventually
) -> None:
    clerk = tenants.acme.with_key(tenants.orders_key)
    orders_csv = "OrderReference,Site\nE2E-PERM-1,Leeds\n"
    lines_csv = "OrderReference,ProductName,Quantity\nE2E-PERM-1,Perm bar,3\nE2E-PERM-1,Perm tube,x\n"
    response = clerk.call(
        "POST",
        "/orders/csv",
        files={
            "o": ("orders.csv", orders_csv.encode(), "text/csv"),
            "l": ("lines.csv", lines_csv.encode(), "text/csv"),
        },
    )
    assert response.status_code == 202, response.text
    orders_job, lines_job = (job["jobId"] for job in response.json()["jobs"])

    # The key follows both jobs of its upload to the end, through the imports routes.
    orders = finished_job(clerk, orders_job, eventually)
    lines = finished_job(clerk, lines_job, eventually)
    assert (orders["kind"], orders["status"], orders["created"]) == ("orders", "completed", 1)
    assert (lines["kind"], lines["status"], lines["created"], lines["failed"]) == ("order-lines", "completed", 1, 1)
    report = clerk.call("GET", f"/imports/{lines_job}/errors.csv")
    assert report.status_code == 200
    assert [(r["line"], r["field"]) for r in csv_rows(report.text)] == [("3", "Quantity")]
    listed = {j["jobId"]: j["kind"] for j in clerk.ok("GET", "/imports?limit=100")}
    assert {orders_job, lines_job} <= set(listed) and finished_upload not in listed
    assert set(listed.values()) <= {"orders", "order-lines"}

    # An inventory job is refused, naming the permission it takes.
    for path in (f"/imports/{finished_upload}", f"/imports/{finished_upload}/errors.csv"):
        refused = clerk.call("GET", path)
        assert refused.status_code == 403, path
        assert error_detail_fields(refused) == ["permissions"]
        assert "inventory.read" in refused.json()["error"]

    # It may start a presigned orders import, not an inventory one.
    presigned = clerk.ok("POST", "/imports", {"kind": "orders"}, 201)
    assert presigned["uploadFields"]["key"] == f"uploads/{tenants.acme.id}/orders/{presigned['jobId']}.csv"
    assert clerk.ok("GET", f"/imports/{presigned['jobId']}")["status"] == "queued"
    inventory = clerk.call("POST", "/imports", json={"kind": "inventory"})
    assert inventory.status_code == 403 and "inventory.write" in inventory.json()["error"]


def test_jobs_are_listed_newest_first_in_pages(tenants: Tenants, finished_upload: str) -> None:
    acme = tenants.acme
    everything = acme.ok("GET", "/imports?limit=100")
    assert len(everything) >= 2
    assert everything[0]["createdAt"] >= everything[-1]["createdAt"]
    first = acme.call("GET", "/imports", params={"limit": 1})
    assert first.status_code == 200 and len(first.json()) == 1
    token = first.headers["X-Next-Token"]
    second = acme.call("GET", "/imports", params={"limit": 1, "nextToken": token})
    assert [j["jobId"] for j in first.json() + second.json()] == [j["jobId"] for j in everything[:2]]
