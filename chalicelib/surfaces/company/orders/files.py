"""CSV upload of orders and line items: `POST /companies/{companyId}/orders/csv`.

Translation only: which file is which comes from features/orders/csv_import.kind_of_file
(the header row, never the form field's name), the jobs and their order from
core/imports/jobs.ImportService.upload_files, the row rules from OrderService.
Jobs are followed at the company imports routes (`GET .../imports/{jobId}`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from chalicelib.core.imports.jobs import ImportJob, ImportStatus, UploadedFile
from chalicelib.core.models import Model
from chalicelib.core.reference.service import deterministic_id
from chalicelib.features.orders.csv_import import LINES_KIND, ORDERS_KIND, kind_of_file
from chalicelib.http.errors import bad_request
from chalicelib.http.multipart import file_parts
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company.imports import JOB, MAX_UPLOAD_BYTES
from chalicelib.surfaces.company.orders import orders
from chalicelib.surfaces.company.orders.common import ORDERS, TAG_ORDERS, WRITE
from chalicelib.wiring import import_service

# Lambda takes at most 6 MB of request: both files together stay under this.
CSV = "text/csv"
MULTIPART = "multipart/form-data"
MAX_FILES = 2
# Orders are imported before the lines that refer to them.
KIND_ORDER = (ORDERS_KIND, LINES_KIND)


class JobAccepted(Model):
    jobId: str
    kind: str = Field(description="`orders` (the orders file) or `order-lines` (the line items file)")
    status: ImportStatus
    statusUrl: str = Field(description="GET it to follow the import")


class UploadAccepted(Model):
    jobId: str = Field(description="The first job's id (the orders job when there is one), as the inventory upload")
    status: ImportStatus
    statusUrl: str
    jobs: list[JobAccepted] = Field(description="One job per file, the orders job first")


@dataclass(frozen=True)
class _File:
    label: str  # the form field, or `body` for a text/csv request
    content: bytes
    filename: str | None

    @property
    def name(self) -> str:
        return self.filename or self.label


@endpoint(
    orders,
    f"{ORDERS}/csv",
    "POST",
    permissions=WRITE,
    summary="Upload orders and line items CSV",
    tag=TAG_ORDERS,
    company_param="companyId",
    content_types=[CSV, MULTIPART],
    max_body_bytes=MAX_UPLOAD_BYTES,
    response=UploadAccepted,
    status=202,
    headers=("Location",),
    description=(
        "Uploads and processes up to two CSV files: orders and/or order line items. Send one file as a "
        "`text/csv` body, or one or two files as `multipart/form-data` parts (any field names). Which file is "
        "which is told by its header row, not by the field name: a header with ProductName, LineNumber or "
        "LineItemId is a line-items file; otherwise one with OrderReference or OrderId is an orders file; "
        "anything else, an empty file, or two files of one kind is a 400 naming the file. At least one file is "
        f"required. At most {MAX_UPLOAD_BYTES} bytes in all (413 above that). Columns are those of the CSV "
        "download and the templates (`GET .../orders/csv/template`), any order, any case.\n\n"
        "Each file becomes an import job, answered at once with 202 and followed at "
        "`GET /companies/{companyId}/imports/{jobId}`; when both files come together the line items job runs "
        "after the orders job has finished, so lines can link to orders created by the same upload. If the "
        "orders file is rejected as a whole, the line items job fails with a message saying so.\n\n"
        "Orders file: a row with OrderId updates that order; one without updates the active order with the "
        "same OrderReference (any case), else creates an order. Line items file: each row links to its order "
        "by OrderId, else by OrderReference; a row with LineItemId updates that line, one without adds a line. "
        "Line items absent from the file are kept (unlike PUT). An order's quantity stays the sum of its "
        "active lines. Blank cells leave fields unchanged (unset on create); a Version cell must match the "
        "current version. RelatedOrganisationId, Type and Material take ids. The download's server-owned "
        "columns (CustomerName, CreatedAt, UpdatedAt) are accepted and ignored, so a download can be edited "
        "and sent back; any other unknown column fails that file's job. Bad rows are reported (line, column, "
        "message) and skipped; good rows are applied with the rules of the JSON routes. With an "
        "Idempotency-Key a retry answers with the same jobs. Permission: orders.write; following the jobs "
        "at the imports routes takes orders.read (inventory.read is neither needed nor enough for them)."
    ),
)
def upload_csv(call: Call) -> Reply:
    tenant = call.tenant_id
    files = _sorted_by_kind(_files_of(call))
    job_ids = [deterministic_id(call.command_id, i) for i in range(len(files))] if call.command_id else None
    jobs = import_service().upload_files(tenant, files, call.actor, job_ids=job_ids)
    accepted = [JobAccepted(jobId=j.job_id, kind=j.kind, status=j.status, statusUrl=_status_url(j)) for j in jobs]
    first = accepted[0]
    body = UploadAccepted(jobId=first.jobId, status=first.status, statusUrl=first.statusUrl, jobs=accepted)
    return Reply(body=body.model_dump(mode="json"), headers={"Location": first.statusUrl})


def _files_of(call: Call) -> list[_File]:
    content_type = call.request.headers.get("content-type", "")
    body: bytes = call.body or b""
    if not content_type.startswith(MULTIPART):
        files = [_File("body", body, None)] if body.strip() else []
    else:
        parts = file_parts(content_type, body)
        # Form fields that are not files (a note, a flag) are not files to import, when there are file parts.
        chosen = [p for p in parts if p.filename is not None] or parts
        files = [_File(p.field, p.content, p.filename) for p in chosen]
    if not files:
        raise bad_request("at least one CSV file is required", field="file", code="FILE_REQUIRED")
    if len(files) > MAX_FILES:
        raise bad_request(
            f"at most {MAX_FILES} files (orders and line items); this request has {len(files)}",
            field=files[MAX_FILES].label,
            code="TOO_MANY_FILES",
        )
    return files


def _sorted_by_kind(files: list[_File]) -> list[UploadedFile]:
    by_kind: dict[str, _File] = {}
    for file in files:
        if not file.content.strip():
            raise bad_request(f"{file.name} is empty", field=file.label, code="FILE_EMPTY")
        kind = kind_of_file(file.content)
        if kind is None:
            raise bad_request(
                f"{file.name}: the header row is neither an orders file (OrderReference or OrderId, no line "
                "columns) nor a line items file (ProductName, LineNumber or LineItemId)",
                field=file.label,
                code="UNKNOWN_FILE",
            )
        if kind in by_kind:
            raise bad_request(
                f"{by_kind[kind].name} and {file.name} are both {_what(kind)} files: send at most one of each",
                field=file.label,
                code="DUPLICATE_FILE",
            )
        by_kind[kind] = file
    return [UploadedFile(k, by_kind[k].content, by_kind[k].filename) for k in KIND_ORDER if k in by_kind]


def _what(kind: str) -> str:
    return "orders" if kind == ORDERS_KIND else "line items"


def _status_url(job: ImportJob) -> str:
    return JOB.format(companyId=job.tenant_id, jobId=job.job_id)
