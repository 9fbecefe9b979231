"""The order CSV imports without AWS: which file is which, the header checks, reading a row,
and the chaining of the orders job and the line items job of one upload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from chalicelib.core.errors import DomainError, NotFound, ValidationFailed
from chalicelib.core.imports.jobs import (
    Checkpoint,
    ChunkPlan,
    CommitOutcome,
    FileRejected,
    ImportJob,
    ImportService,
    ImportStatus,
    Row,
    RowError,
    UploadedFile,
)
from chalicelib.core.models import Actor
from chalicelib.core.ports import Page
from chalicelib.features.orders import csv_columns as order_csv
from chalicelib.features.orders.csv_import import (
    LINES_KIND,
    ORDERS_KIND,
    OrderLinesImporter,
    OrdersImporter,
    kind_of_file,
    kind_of_header,
)
from chalicelib.features.orders.model import LineInput, Order, OrderInput
from chalicelib.features.orders.planning import ImportPlanner
from chalicelib.features.orders.port import OrderWrite

pytestmark = pytest.mark.disable_socket

ACTOR = Actor(id="u1", name="Uploader")


# -- which file is which ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["OrderReference", "Site"], ORDERS_KIND),
        (["orderid", "status"], ORDERS_KIND),
        ([" orderreference ", "status"], ORDERS_KIND),
        (["inventoryId", "productName"], LINES_KIND),
        (list(order_csv.ORDER_HEADER), ORDERS_KIND),
        (["OrderReference", "ProductName", "Quantity"], LINES_KIND),
        (["OrderId", " LINENUMBER "], LINES_KIND),
        (["\ufeffLineItemId", "Quantity"], LINES_KIND),
        (list(order_csv.LINE_HEADER), LINES_KIND),
        (["Name", "Quantity"], None),
        ([], None),
    ],
)
def test_the_header_tells_the_kind(header: list[str], kind: str | None) -> None:
    assert kind_of_header(header) == kind


def test_the_kind_of_a_file_is_read_from_its_first_record() -> None:
    assert kind_of_file(b'\xef\xbb\xbf"OrderReference",Site\r\nSO-1,A\r\n') == ORDERS_KIND
    # A quoted name spans lines as one cell: the first record is the whole header.
    assert kind_of_file(b'"Order\nReference",Site\n') is None
    assert kind_of_file(b'Site,"Notes\nmore",ProductName\n') == LINES_KIND
    assert kind_of_file(b"OrderId,ProductName\n" + b"x" * 10_000_000) == LINES_KIND
    assert kind_of_file(b"") is None
    assert kind_of_file(b"\xff\xfe\x00garbage") is None


# -- header checks -------------------------------------------------------------------


def orders_importer(service: Any = None) -> OrdersImporter:
    return OrdersImporter(cast(ImportPlanner, service))


def lines_importer(service: Any = None) -> OrderLinesImporter:
    return OrderLinesImporter(cast(ImportPlanner, service))


def folded(header: tuple[str, ...] | list[str]) -> list[str]:
    return [h.casefold() for h in header]


def test_a_download_header_is_accepted_with_its_server_owned_columns() -> None:
    orders_importer().check_header(folded(order_csv.ORDER_HEADER))
    orders_importer().check_header(folded([*order_csv.ORDER_TEMPLATE_HEADER, "CompanyId", "Active"]))
    lines_importer().check_header(folded(order_csv.LINE_HEADER))
    lines_importer().check_header(folded(order_csv.LINE_TEMPLATE_HEADER))


@pytest.mark.parametrize(
    ("importer", "header", "message"),
    [
        (orders_importer, ["orderreference", "sitee"], "unknown column 'sitee'"),
        (orders_importer, ["orderreference", "site", "site"], "'site' appears twice"),
        (orders_importer, ["site", "status"], "needs an OrderReference or an OrderId column"),
        (orders_importer, ["orderreference", "productname"], "this is a line-items file"),
        (lines_importer, ["orderreference", "site"], "this is an orders file"),
        (lines_importer, ["productname", "quantity"], "needs an OrderReference or an OrderId column"),
        (lines_importer, ["orderid", "productname", "site"], "unknown column 'site'"),
    ],
)
def test_a_header_that_cannot_be_imported_rejects_the_file(importer: Any, header: list[str], message: str) -> None:
    with pytest.raises(FileRejected, match=message):
        importer().check_header(header)


def test_rows_that_find_the_same_entity_share_a_chunk_key() -> None:
    orders = orders_importer()
    assert orders.key_of(Row(2, {"orderid": " abc ", "orderreference": "SO-1"})) == "id:abc"
    assert orders.key_of(Row(3, {"orderreference": "So-1"})) == orders.key_of(Row(4, {"orderreference": "sO-1"}))
    assert orders.key_of(Row(5, {"site": "x"})) is None
    assert lines_importer().key_of(Row(2, {"lineitemid": "L-1"})) == "l-1"
    assert lines_importer().key_of(Row(2, {"productname": "Bar"})) is None


# -- reading rows ----------------------------------------------------------------------


class FakeOrders:
    """Records what the importer hands the order service and answers with canned outcomes."""

    def __init__(self, outcomes: list[Any] | None = None, writes: list[OrderWrite] | None = None) -> None:
        self.outcomes = outcomes
        self.writes = writes or []
        self.entries: list[OrderInput] = []
        self.rows: list[tuple[str | None, str | None, LineInput]] = []
        self.new_ids: list[str] = []

    def plan_order_rows(
        self, tenant_id: str, entries: list[OrderInput], new_ids: list[str]
    ) -> list[OrderWrite | DomainError | None]:
        self.entries, self.new_ids = entries, new_ids
        return self.outcomes if self.outcomes is not None else [None] * len(entries)

    def plan_line_rows(
        self, tenant_id: str, rows: list[tuple[str | None, str | None, LineInput]], new_ids: list[str]
    ) -> tuple[list[OrderWrite], list[DomainError | bool]]:
        self.rows, self.new_ids = rows, new_ids
        return self.writes, self.outcomes if self.outcomes is not None else [True] * len(rows)


def test_an_orders_row_sends_its_non_blank_cells_and_undoes_the_formula_guard() -> None:
    fake = FakeOrders()
    row = Row(
        2,
        {
            "orderid": "",
            "orderreference": "'=SO-1",
            "quantity": " ",
            "orderdate": "2025-03-03",
            "status": "Confirmed",
            "customername": "Ignored Ltd",
            "createdat": "not even a timestamp",
            "version": "3",
        },
    )
    orders_importer(fake).plan("t1", "job-1", [row], ACTOR)
    (entry,) = fake.entries
    assert entry.given == {"order_reference", "order_date", "status"}
    assert (entry.order_reference, entry.order_date, entry.status) == ("=SO-1", date(2025, 3, 3), "Confirmed")
    assert (entry.order_id, entry.version, entry.quantity) == (None, 3, None)


def test_cells_that_cannot_be_read_are_row_errors_named_by_column() -> None:
    fake = FakeOrders()
    rows = [
        Row(2, {"orderreference": "SO-1", "orderdate": "3rd March", "quantity": "lots"}),
        Row(3, {"orderreference": "SO-2"}),
        Row(4, {}, problem="5 cells, but the header has 2 columns"),
    ]
    plan = orders_importer(fake).plan("t1", "job-1", rows, ACTOR)
    assert [(e.line, e.field) for e in plan.errors] == [(2, "OrderDate"), (2, "Quantity"), (4, "row")]
    assert "'3rd March' is not a date" in plan.errors[0].message
    assert [e.order_reference for e in fake.entries] == ["SO-2"]
    assert plan.failed == 2


def test_service_outcomes_become_counts_writes_and_row_errors() -> None:
    created = OrderWrite(Order(tenant_id="t1", order_reference="SO-1"))
    updated = OrderWrite(Order(tenant_id="t1", order_reference="SO-2", version=2), previous_version=1)
    refused = ValidationFailed("unknown reference", [{"field": "relatedOrganisationId", "message": "x not found"}])
    stale = DomainError("order moved", [{"field": "version", "message": "current version is 4"}])
    fake = FakeOrders([created, updated, None, refused, stale])
    rows = [Row(n, {"orderreference": f"SO-{n}"}) for n in range(2, 7)]
    plan = orders_importer(fake).plan("t1", "job-1", rows, ACTOR)
    assert (plan.created, plan.updated, plan.failed) == (1, 2, 2)
    assert plan.feature_writes == [created, updated]
    assert plan.errors == [
        RowError(line=5, field="RelatedOrganisationId", message="x not found"),
        RowError(line=6, field="Version", message="current version is 4"),
    ]
    assert plan.writes == created.size + updated.size


def test_new_ids_are_the_same_for_the_same_row_of_the_same_job() -> None:
    rows = [Row(2, {"orderreference": "SO-1"}), Row(3, {"orderreference": "SO-2"})]
    first, again, other_job = FakeOrders(), FakeOrders(), FakeOrders()
    orders_importer(first).plan("t1", "job-1", rows, ACTOR)
    orders_importer(again).plan("t1", "job-1", rows, ACTOR)
    orders_importer(other_job).plan("t1", "job-2", rows, ACTOR)
    assert first.new_ids == again.new_ids
    assert len(set(first.new_ids)) == 2
    assert not set(first.new_ids) & set(other_job.new_ids)


def test_a_line_row_is_its_order_link_and_its_line() -> None:
    fake = FakeOrders(outcomes=[True, NotFound("order SO-9 not found", [{"field": "orderReference", "message": "x"}])])
    rows = [
        Row(
            2,
            {
                "lineitemid": "",
                "orderid": "",
                "orderreference": "SO-1",
                "linenumber": "2",
                "productname": "'+Bar",
                "diameter": "50.5",
                "certificationrequired": "yes",
                "quantity": "4",
                "updatedat": "2025-01-01T00:00:00Z",
            },
        ),
        Row(3, {"orderreference": "SO-9", "productname": "Tube", "quantity": "1"}),
    ]
    plan = lines_importer(fake).plan("t1", "job-1", rows, ACTOR)
    order_id, reference, line = fake.rows[0]
    assert (order_id, reference) == (None, "SO-1")
    assert line.given == {"line_number", "product_name", "diameter", "certification_required", "quantity"}
    assert (line.line_item_id, line.line_number, line.product_name) == (None, 2, "+Bar")
    assert (line.diameter, line.certification_required, line.quantity) == (Decimal("50.5"), True, Decimal(4))
    assert (plan.created, plan.updated) == (1, 0)
    assert plan.errors == [RowError(line=3, field="OrderReference", message="x")]


# -- chained jobs -------------------------------------------------------------------------


class Store:
    """Jobs in a dict, with the checkpoint guard of the DynamoDB store."""

    def __init__(self) -> None:
        self.jobs: dict[str, ImportJob] = {}

    def create_job(self, job: ImportJob) -> None:
        self.jobs.setdefault(job.job_id, job)

    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None:
        return self.jobs.get(job_id)

    def list_jobs(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[ImportJob]:
        return Page(list(self.jobs.values())[:limit])

    def claim(self, job: ImportJob, now: datetime, lease_until: datetime) -> ImportJob | None:
        if self.jobs[job.job_id].status != ImportStatus.QUEUED:
            return None
        self._set(job.job_id, status=ImportStatus.RUNNING, lease_until=lease_until)
        return self.jobs[job.job_id]

    def set_total(self, job: ImportJob, total: int) -> None:
        self._set(job.job_id, total=total)

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        job = self.jobs[checkpoint.job_id]
        if job.checkpoint_line != checkpoint.from_line:
            return CommitOutcome.LOST
        self._set(job.job_id, checkpoint_line=checkpoint.to_line, created=job.created + checkpoint.created)
        return CommitOutcome.DONE

    def finish(self, job: ImportJob, status: ImportStatus, message: str | None) -> None:
        self._set(job.job_id, status=status, message=message)

    def pause(self, job: ImportJob) -> None:
        return None

    def errors(self, tenant_id: str, job_id: str, limit: int) -> list[RowError]:
        return []

    def _set(self, job_id: str, **changes: Any) -> None:
        self.jobs[job_id] = self.jobs[job_id].model_copy(update=changes)


class Files:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.files[key] = body.decode()

    def size(self, key: str) -> int | None:
        return len(self.files[key]) if key in self.files else None

    def lines(self, key: str) -> Iterator[str]:
        return iter(self.files[key].splitlines(keepends=True))

    def presigned_post(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        return {"url": "https://s3.example", "fields": {"key": key}}


class Applier:
    """Every row with an `id` cell 'creates' one entity; a header without `id` rejects the file."""

    def __init__(self) -> None:
        self.planned = 0

    def check_header(self, columns: list[str]) -> None:
        if "id" not in columns:
            raise FileRejected("line 1: unknown column 'nope'")

    def key_of(self, row: Row) -> str | None:
        return None

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        self.planned += len(rows)
        return ChunkPlan(created=len(rows))


class Wakeups:
    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, job: ImportJob) -> None:
        self.woken.append(job.job_id)


@pytest.fixture
def chain() -> tuple[ImportService, Store, Wakeups, Applier]:
    store, wakeups, applier = Store(), Wakeups(), Applier()
    service = ImportService(store, Files(), {ORDERS_KIND: applier, LINES_KIND: applier}, wakeups)
    return service, store, wakeups, applier


def upload_both(service: ImportService, orders_text: str = "id\n1\n2\n") -> tuple[ImportJob, ImportJob]:
    files = [UploadedFile(ORDERS_KIND, orders_text.encode(), "o.csv"), UploadedFile(LINES_KIND, b"id\n1\n", "l.csv")]
    first, second = service.upload_files("t1", files, ACTOR, job_ids=["job-o", "job-l"])
    return first, second


def test_an_upload_makes_linked_jobs_in_the_order_given(chain: tuple[ImportService, Store, Wakeups, Applier]) -> None:
    service, store, _, _ = chain
    orders, lines = upload_both(service)
    assert (orders.next_job_id, orders.after_job_id) == ("job-l", None)
    assert (lines.after_job_id, lines.next_job_id) == ("job-o", None)
    assert (orders.object_key, lines.object_key) == ("uploads/t1/orders/job-o.csv", "uploads/t1/order-lines/job-l.csv")
    assert set(store.jobs) == {"job-o", "job-l"}


def test_an_empty_file_refuses_the_whole_upload(chain: tuple[ImportService, Store, Wakeups, Applier]) -> None:
    service, store, _, _ = chain
    files = [UploadedFile(ORDERS_KIND, b"id\n1\n"), UploadedFile(LINES_KIND, b" \n", "l.csv")]
    with pytest.raises(ValidationFailed, match=r"l\.csv is empty"):
        service.upload_files("t1", files, ACTOR)
    assert store.jobs == {}


def test_the_second_job_waits_unclaimed_and_is_woken_when_the_first_finishes(
    chain: tuple[ImportService, Store, Wakeups, Applier],
) -> None:
    service, store, wakeups, applier = chain
    orders, lines = upload_both(service)

    waited = service.run(lines, ACTOR)
    assert (waited.status, store.jobs["job-l"].status, applier.planned) == (ImportStatus.QUEUED,) * 2 + (0,)
    assert wakeups.woken == []

    done = service.run(orders, ACTOR)
    assert (done.status, done.created) == (ImportStatus.COMPLETED, 2)
    assert wakeups.woken == ["job-l"]

    ended = service.run(store.jobs["job-l"], ACTOR)
    assert (ended.status, ended.created) == (ImportStatus.COMPLETED, 1)
    # A redelivery of the first job once the second is done wakes nothing.
    service.run(store.jobs["job-o"], ACTOR)
    assert wakeups.woken == ["job-l"]


def test_a_redelivered_finished_job_wakes_a_job_still_waiting(
    chain: tuple[ImportService, Store, Wakeups, Applier],
) -> None:
    # The first delivery finished the job but its wake-up was lost (the send failed).
    service, store, wakeups, _ = chain
    orders, _ = upload_both(service)
    store.finish(orders, ImportStatus.COMPLETED, None)
    service.run(store.jobs["job-o"], ACTOR)
    assert wakeups.woken == ["job-l"]


def test_when_the_first_file_is_rejected_the_second_job_fails_saying_so(
    chain: tuple[ImportService, Store, Wakeups, Applier],
) -> None:
    service, store, wakeups, applier = chain
    orders, _ = upload_both(service, orders_text="nope\n1\n")
    failed = service.run(orders, ACTOR)
    assert (failed.status, failed.message) == (ImportStatus.FAILED, "line 1: unknown column 'nope'")
    assert wakeups.woken == ["job-l"]

    ended = service.run(store.jobs["job-l"], ACTOR)
    assert ended.status == ImportStatus.FAILED
    assert ended.message is not None
    assert "orders file of the same upload (job job-o) was rejected" in ended.message
    assert "unknown column 'nope'" in ended.message
    assert applier.planned == 0
