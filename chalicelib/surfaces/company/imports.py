"""CSV upload and import jobs: `POST /companies/{companyId}/inventory/csv` and `/companies/{companyId}/imports...`.

Every route here only translates: the job lifecycle and the row rules live in
chalicelib/core/imports/jobs.py and chalicelib/features/company_inventory/csv_import.py.

Jobs are of several kinds (inventory, and the orders and order-lines of the
orders upload). The job routes take a key that may read (or start) any kind;
each handler then checks the permission of the job's own kind
(core/imports/registry.permission), since only the job knows it.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from chalicelib.core.bodies import Body
from chalicelib.core.imports import csvcells, registry
from chalicelib.core.imports.jobs import MAX_FILE_BYTES, MAX_STORED_ERRORS, ImportJob, ImportStatus, RowError
from chalicelib.core.limits import LAMBDA_BODY_BYTES
from chalicelib.core.models import Model
from chalicelib.core.reference.service import deterministic_id
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.company_inventory.csv_import import KIND as INVENTORY
from chalicelib.http.errors import bad_request
from chalicelib.http.multipart import file_parts
from chalicelib.http.pagination import ListQuery, decode_token, encode_token, page_size
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.common import PREFIX, TAG_IMPORTS
from chalicelib.surfaces.company.csv_export import CSV_CONTENT_TYPE, CSV_PATH
from chalicelib.wiring import import_kinds, import_service

# Loads every feature's import kinds before the routes below name their permissions.
KINDS = import_kinds()

JOBS = f"{PREFIX}/imports"
JOB = f"{JOBS}/{{jobId}}"
# A multipart body travels base64 in the Lambda event; bigger files go through POST /imports.
MAX_UPLOAD_BYTES = LAMBDA_BODY_BYTES
CSV = "text/csv"
MULTIPART = "multipart/form-data"
ERROR_COLUMNS = ("line", "field", "message")
PLAIN_NUMBER = re.compile(r"-?\d{1,20}(\.\d{1,20})?")


class Accepted(Model):
    jobId: str
    status: ImportStatus
    statusUrl: str = Field(description="GET it to follow the import")


class RowErrorOut(Model):
    line: int = Field(description="Row number in the file; the header is line 1")
    field: str = Field(description="The column at fault (documented name), or `row`")
    message: str


class JobSummary(Model):
    jobId: str
    companyId: str
    kind: str
    source: str = Field(description="upload (API body), presigned (POST to S3) or dropbox (drop folder)")
    filename: str | None
    status: ImportStatus
    total: int | None = Field(description="Data rows in the file; null until the worker has counted them")
    processed: int
    created: int
    updated: int
    failed: int
    message: str | None = Field(
        description="Why the whole file failed, when status is failed; while running, why its last attempt "
        "failed (the import is retried, and fails saying so if every attempt does)"
    )
    createdAt: datetime
    startedAt: datetime | None
    finishedAt: datetime | None


class JobOut(JobSummary):
    errors: list[RowErrorOut] = Field(
        description=f"One entry per bad row problem, by line (at most {MAX_STORED_ERRORS})"
    )
    errorsTruncated: bool = Field(description=f"True when more than {MAX_STORED_ERRORS} problems were found")
    errorReportUrl: str = Field(description="The same errors as a CSV file")


class PresignRequest(Body):
    kind: str = Field(
        "inventory",
        description="What the file holds: " + ", ".join(f"`{k.name}` ({k.description})" for k in KINDS),
        json_schema_extra={"enum": [k.name for k in KINDS]},
    )
    filename: str | None = Field(None, max_length=200, description="Shown on the job; the name is not used for storage")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in registry.names():
            raise ValueError(f"must be one of: {', '.join(registry.names())}")
        return value


class PresignOut(Model):
    jobId: str
    status: ImportStatus
    statusUrl: str
    uploadUrl: str = Field(description="POST the file here as multipart/form-data")
    uploadFields: dict[str, str] = Field(description="Send these form fields first, then the file as field `file`")
    maxBytes: int
    expiresAt: datetime


class JobsQuery(ListQuery):
    """Paged like every company list."""


@endpoint(
    company,
    CSV_PATH,
    "POST",
    permissions=[Permission.INVENTORY_WRITE],
    summary="Upload inventory CSV",
    tag=TAG_IMPORTS,
    company_param="companyId",
    content_types=[CSV, MULTIPART],
    max_body_bytes=MAX_UPLOAD_BYTES,
    response=Accepted,
    status=202,
    headers=("Location",),
    description=(
        "Send the CSV as a `text/csv` body, or as `multipart/form-data` with the file in any field (the first "
        f"file part is used). At most {MAX_UPLOAD_BYTES} bytes here (413 above that): send bigger files through "
        "`POST /companies/{companyId}/imports`. The file is stored and imported asynchronously: the answer is 202 "
        "with the `jobId`; follow it at `GET /companies/{companyId}/imports/{jobId}`. Columns are the template's "
        "(any order, any case): a row with an inventoryId updates that item (blank cells leave fields unchanged; "
        "a `version` cell must match the item's version), a row without one creates an item. The download's "
        "server-owned columns are accepted and ignored, so a download can be edited and sent back; any other "
        "unknown column fails the job. Bad rows are reported (line, field, message) and skipped; good rows are "
        "applied through the ledger. With an Idempotency-Key a retry answers with the same job. "
        "Permission: inventory.write."
    ),
)
def upload_csv(call: Call) -> Reply:
    tenant = call.tenant_id
    content, filename = _file_of(call)
    job_id = deterministic_id(call.command_id, 0) if call.command_id else None
    job = import_service().upload(tenant, INVENTORY, content, call.actor, filename=filename, job_id=job_id)
    return Reply(body=_accepted(job), headers={"Location": _status_url(job)})


@endpoint(
    company,
    JOBS,
    "POST",
    any_of=registry.write_any(),
    summary="Start an import from a file sent straight to S3",
    tag=TAG_IMPORTS,
    company_param="companyId",
    body=PresignRequest,
    response=PresignOut,
    status=201,
    description=(
        "For files too big for the upload routes (up to "
        f"{MAX_FILE_BYTES} bytes). Creates a queued job of the given `kind` (`inventory`, the default; "
        "`orders`; or `order-lines`, the columns of the orders upload's files) and answers with a presigned S3 "
        "POST valid for 15 minutes: send `uploadFields` and then the file (field `file`) as "
        "multipart/form-data to `uploadUrl`. S3 refuses a bigger or empty file. The import starts when S3 has "
        "the file. A presigned upload is one file, one job: nothing chains an `order-lines` job after an "
        "`orders` job here (unlike `POST .../orders/csv` with both files), so to import orders and their line "
        "items this way, start the `order-lines` job once the `orders` job has completed, or lines that refer "
        "to orders of that file are reported as bad rows. Files can also be dropped into the bucket's drop "
        "folder `dropbox/{companyId}/{kind}/*.csv`; each becomes a job listed by "
        "`GET /companies/{companyId}/imports`. A file dropped where no import applies (outside a kind's folder, "
        "in a folder of no kind, not a .csv) becomes a failed job whose `message` says why and where it should "
        "go (its kind is the folder's name, or `none`; an admin key lists it). "
        "Permission: the kind's write permission, inventory.write for "
        "`inventory`, orders.write for `orders` and `order-lines` (403 naming it otherwise)."
    ),
)
def presign(call: Call) -> PresignOut:
    tenant = call.tenant_id
    request: PresignRequest = call.body
    call.require(registry.permission(request.kind, write=True), needed_for=f"{request.kind} imports")
    job_id = deterministic_id(call.command_id, 0) if call.command_id else None
    upload = import_service().presign(tenant, request.kind, call.actor, filename=request.filename, job_id=job_id)
    return PresignOut(
        jobId=upload.job.job_id,
        status=upload.job.status,
        statusUrl=_status_url(upload.job),
        uploadUrl=upload.url,
        uploadFields=upload.fields,
        maxBytes=upload.max_bytes,
        expiresAt=upload.expires_at,
    )


@endpoint(
    company,
    JOBS,
    "GET",
    any_of=registry.read_any(),
    summary="List import jobs",
    tag=TAG_IMPORTS,
    company_param="companyId",
    query=JobsQuery,
    response=list[JobSummary],
    description=(
        "The company's import jobs, newest first, without their row errors. Paged like the inventory list "
        "(`X-Next-Token` header). Only the jobs of kinds the key may read are listed: `inventory` jobs with "
        "inventory.read, `orders` and `order-lines` jobs with orders.read. The others are left out of each "
        "page after it is read, so a page can hold fewer jobs than `limit`, even none, while an "
        "`X-Next-Token` still leads to more: keep following it until it is absent. "
        "Permission: inventory.read or orders.read."
    ),
)
def list_jobs(call: Call) -> Reply:
    tenant = call.tenant_id
    query: JobsQuery = call.query
    limit = page_size(query.limit)
    page = import_service().page(tenant, limit, decode_token(tenant, query.nextToken, scope=call.list_scope))
    token = encode_token(tenant, page.cursor, scope=call.list_scope)
    readable = [job for job in page.items if call.allows(registry.permission(job.kind))]
    return Reply(body=[_summary(job) for job in readable], headers={"X-Next-Token": token} if token else {})


@endpoint(
    company,
    JOB,
    "GET",
    any_of=registry.read_any(),
    summary="Get an import job",
    tag=TAG_IMPORTS,
    company_param="companyId",
    response=JobOut,
    description=(
        "Status (queued, running, completed, failed), the counts total, processed, created, updated and "
        "failed, and `errors`: one entry per problem of a bad row (line, field, message). Counts move as "
        "chunks of rows commit. Permission: the job kind's read permission, inventory.read for `inventory` "
        "jobs, orders.read for `orders` and `order-lines` jobs (403 naming it otherwise)."
    ),
)
def get_job(call: Call) -> JobOut:
    tenant = call.tenant_id
    service = import_service()
    job = _readable_job(call, tenant)
    errors = service.errors(tenant, job.job_id) if job.failed else []
    return JobOut(
        **_summary(job).model_dump(),
        errors=[RowErrorOut(line=e.line, field=e.field, message=e.message) for e in errors],
        errorsTruncated=job.errors_truncated,
        errorReportUrl=f"{_status_url(job)}/errors.csv",
    )


@endpoint(
    company,
    f"{JOB}/errors.csv",
    "GET",
    any_of=registry.read_any(),
    summary="Download an import job's error report",
    tag=TAG_IMPORTS,
    company_param="companyId",
    produces=CSV_CONTENT_TYPE,
    headers=("Content-Disposition",),
    description=(
        "The job's row errors as `text/csv`, in line order: columns line, field and message, then the uploaded "
        "file's own columns with the rejected row's original cells, so the rows can be fixed and uploaded "
        "again (drop the first three columns; cells that start with = + - @ are prefixed with ' as in every "
        "CSV download). Empty but for the header when every row was good. "
        "Permission: the job kind's read permission, as for the job."
    ),
)
def error_report(call: Call) -> Reply:
    tenant = call.tenant_id
    job = _readable_job(call, tenant)
    header, errors = import_service().error_report(tenant, job.job_id)
    text = csvcells.render([*ERROR_COLUMNS, *header], _error_rows(errors, len(header)))
    filename = f"import-{call.path['jobId']}-errors.csv"
    return Reply(
        raw=text,
        content_type=CSV_CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _readable_job(call: Call, tenant: str) -> ImportJob:
    """The path's job (404 if missing), or 403 when its kind is one the key may not read."""
    job = import_service().get(tenant, call.path["jobId"])
    call.require(registry.permission(job.kind), needed_for=f"{job.kind} import jobs")
    return job


def _file_of(call: Call) -> tuple[bytes, str | None]:
    content_type = call.request.headers.get("content-type", "")
    body: bytes = call.body or b""
    if not content_type.startswith(MULTIPART):
        return body, None
    parts = file_parts(content_type, body)
    uploaded = next((p for p in parts if p.filename is not None), None) or next(iter(parts), None)
    if uploaded is None:
        raise bad_request("the form holds no file", field="file", code="FILE_REQUIRED")
    return uploaded.content, uploaded.filename


def _error_rows(errors: list[tuple[RowError, list[str]]], width: int) -> list[list[Any]]:
    # The row's own cells after line, field and message: fix them and upload these columns again.
    return [[e.line, e.field, e.message, *_original(cells, width)] for e, cells in errors]


def _original(cells: list[str], width: int) -> list[Any]:
    # A plain number stays as written (no neutralising quote before "-2"); any other text is a cell like
    # every download's, neutralised if it could start a formula.
    kept = [Decimal(c) if PLAIN_NUMBER.fullmatch(c) else c for c in cells[:width]]
    return kept + [""] * (width - len(kept))


def _status_url(job: ImportJob) -> str:
    return JOB.format(companyId=job.tenant_id, jobId=job.job_id)


def _accepted(job: ImportJob) -> dict[str, Any]:
    return Accepted(jobId=job.job_id, status=job.status, statusUrl=_status_url(job)).model_dump(mode="json")


def _summary(job: ImportJob) -> JobSummary:
    return JobSummary(
        jobId=job.job_id,
        companyId=job.tenant_id,
        kind=job.kind,
        source=job.source.value,
        filename=job.filename,
        status=job.status,
        total=job.total,
        processed=job.processed,
        created=job.created,
        updated=job.updated,
        failed=job.failed,
        message=job.message,
        createdAt=job.created_at,
        startedAt=job.started_at,
        finishedAt=job.finished_at,
    )
