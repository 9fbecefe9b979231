"""Asynchronous CSV imports: jobs, their progress, and the loop that applies a file.

A file arrives in S3 (API upload, presigned POST, or the tenant's drop folder),
S3 tells SQS, and the import queue calls `ImportService.run_object`. The file is
read once, as a stream of rows (counted on the way, for the job's `total`);
rows are applied in chunks, and each chunk commits in
ONE transaction together with the job's checkpoint (the last line it covers).
So a redelivered message, a retry after a crash, or a second worker resumes
after the last committed chunk: no row is ever applied twice, and no row costs
a round trip of its own.

What a row means is the business of an `Applier` (the 000 inventory import is
one); this module knows jobs, lines, chunks and errors only.

Jobs can be chained: an upload of orders and their line items is two jobs,
and the second (`after_job_id`) runs only once the first has finished. Its
worker leaves it queued while it waits; the first job's worker wakes it
(`Wakeups`) after writing its own end.

A job never stays `running` after its message gave up. A bad row is that
row's error, never an exception; an unexpected exception fails only that
delivery: the job keeps its checkpoint, says why in `message` and releases
its lease, and SQS delivers the message again. On the last delivery the
job is marked failed with the reason before the exception goes on, and a
message that reaches the dead-letter queue anyway (a crash, a timeout)
fails its job there (`give_up`). Either way the job that waits for it is
woken, and fails saying so.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.core.errors import NotFound, TooManyWrites, ValidationFailed
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import Actor, Entity, Model, Movement, Product, StockRecord
from chalicelib.core.ports import Page, StockChange

# A chunk is one transaction: the job checkpoint and the chunk's error item
# take two writes, the rows share the rest. A new inventory row of an existing
# product needs three (record, ledger line, its product's stock keys), so 32
# fit; rows that also create their products may not: such a chunk is planned
# again as two halves (`ChunkPlan.writes` > CHUNK_WRITES).
CHUNK_WRITES = TRANSACTION_ITEMS - 2
CHUNK_ROWS = 32
MAX_STORED_ERRORS = 10_000
# Larger files are refused before a row is read (they would outlive a Lambda many times over).
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_CELL_CHARS = 10_000
# Rows of one file: a file with more fails at the first row beyond (the chunks before it are committed,
# as for a file whose CSV breaks partway); split larger files.
MAX_FILE_ROWS = 1_000_000
PRESIGNED_SECONDS = 15 * 60
# A worker owns a running job this long after its last checkpoint; then another may take over.
LEASE = timedelta(minutes=2)
COMMIT_ATTEMPTS = 5
UPLOADS = "uploads"
DROPBOX = "dropbox"
# Files sent to a presigned POST before their job exists (a GraphQL import names the file once it has
# its settings). Nothing is notified for this prefix, and the bucket expires it after a day.
STAGING = "tmp"
# The kind of a job for a file dropped outside any kind's folder (it fails, saying so).
NO_KIND = "none"
IMPORT_NAMESPACE = uuid.UUID("3f1d6c2a-7b0e-4d8e-9a51-0c9b2f4e6a10")


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportSource(StrEnum):
    UPLOAD = "upload"  # the CSV body of an API request
    PRESIGNED = "presigned"  # a client POSTed the file to S3 itself
    DROPBOX = "dropbox"  # a file dropped into dropbox/{companyId}/{kind}/


class ImportJob(Entity):
    job_id: str
    kind: str
    source: ImportSource
    object_key: str
    filename: str | None = None
    status: ImportStatus = ImportStatus.QUEUED
    # Data rows in the file; known once the worker has read it through (when the job completes).
    total: int | None = None
    processed: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    # The last line (the header is line 1) whose chunk has committed.
    checkpoint_line: int = 1
    errors_stored: int = 0
    errors_truncated: bool = False
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = None
    # Set by each claim: the worker holding the lease (only it may move the checkpoint).
    lease_owner: str | None = None
    created_by_id: str | None = None
    created_by_name: str | None = None
    # Chained jobs of one upload: this job runs after `after_job_id` has finished,
    # and wakes `next_job_id` when it finishes itself.
    after_job_id: str | None = None
    next_job_id: str | None = None
    # The kind's settings for this file, chosen when the job was started (a v2 import's lookup key,
    # inventory type and column mappings); the kind's applier reads them (`JobApplier.for_job`).
    options: dict[str, Any] = {}

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.COMPLETED, ImportStatus.FAILED)


class RowError(Model):
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class Row:
    """One data row: its line (the header is line 1) and its cells by lower-cased column name."""

    line: int
    cells: dict[str, str]
    # Set when the row cannot be read as the header says (more cells than columns).
    problem: str | None = None


class FeatureWrite(Protocol):
    """One entity's share of a chunk's transaction, planned by a feature."""

    @property
    def size(self) -> int:
        """How many transaction items it takes."""


@dataclass
class ChunkPlan:
    """Everything one chunk writes. Storage commits it in one transaction with the checkpoint."""

    creates: list[tuple[StockRecord, Movement | None]] = field(default_factory=list)
    changes: list[StockChange] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    # A feature's own writes (orders with their lines and reference guards, ...), committed in the same
    # transaction; storage knows how to write each kind.
    feature_writes: list[FeatureWrite] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0

    @property
    def writes(self) -> int:
        # A new record with a uniqueness key or a number (004) also takes its guard items.
        creates = sum(
            1 + (movement is not None) + (record.natural_key is not None) + (record.number is not None)
            for record, movement in self.creates
        )
        changes = sum(1 + (change.movement is not None) for change in self.changes)
        # Each product that gains a record (created, or moved to it) has its stock keys updated once.
        keyed = {record.product_id for record, _ in self.creates} | {
            str(c.set_fields["product_id"]) for c in self.changes if "product_id" in c.set_fields
        }
        # New products also move their listing's counter: one more write per chunk.
        products = len(self.products) + (1 if self.products else 0)
        return creates + changes + len(keyed) + products + sum(write.size for write in self.feature_writes)

    @property
    def failed(self) -> int:
        return len({error.line for error in self.errors})


@dataclass(frozen=True)
class Checkpoint:
    """How a committed chunk moves the job on; storage guards on `from_line`."""

    job_id: str
    from_line: int
    to_line: int
    read: int
    created: int
    updated: int
    failed: int
    errors: list[RowError]
    # More errors than the job may store: the rest are counted, not kept.
    errors_dropped: bool
    lease_until: datetime
    # The lease owner this worker claimed the job as; storage guards on it when set.
    owner: str | None = None


class CommitOutcome(StrEnum):
    DONE = "done"
    CONFLICT = "conflict"  # a record or product changed under us: plan again
    LOST = "lost"  # another worker moved the checkpoint: it owns the job now


class FileRejected(Exception):
    """The file as a whole cannot be imported (not CSV, bad header, too big); the job fails with this message."""


class Applier(Protocol):
    """What one kind of import does with its rows."""

    def check_header(self, columns: list[str]) -> None:
        """Raise FileRejected naming the column if the header cannot be imported."""

    def key_of(self, row: Row) -> str | None:
        """The existing entity the row changes, if any (a chunk touches each entity once)."""

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        """Validate the rows and decide their writes; bad rows become errors, never exceptions."""


class JobApplier(Applier, Protocol):
    """An applier whose rows mean what the job's `options` say: the service asks it for the job's own applier."""

    def for_job(self, job: ImportJob) -> Applier:
        """The applier for this job's file; raise FileRejected when its options cannot be used."""


class ImportStore(Protocol):
    def create_job(self, job: ImportJob) -> None: ...
    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None: ...
    def list_jobs(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[ImportJob]: ...
    def claim(self, job: ImportJob, now: datetime, lease_until: datetime) -> ImportJob | None: ...
    def set_total(self, job: ImportJob, total: int) -> None: ...
    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome: ...
    def finish(self, job: ImportJob, status: ImportStatus, message: str | None) -> None: ...
    def pause(self, job: ImportJob) -> None: ...
    def note_failure(self, job: ImportJob, message: str) -> None:
        """A delivery failed: keep the reason on the running job and give its lease up for the retry."""

    def abandon(self, job: ImportJob, message: str) -> bool:
        """Fail a job that is still queued or running (its message gave up); False if it had ended."""

    def errors(self, tenant_id: str, job_id: str, limit: int) -> list[RowError]: ...


class Wakeups(Protocol):
    """Delivers a job's file notification to the import queue again, so a waiting job runs now."""

    def wake(self, job: ImportJob) -> None: ...


class _NoWakeups:
    def wake(self, job: ImportJob) -> None:
        return None


@dataclass(frozen=True)
class UploadedFile:
    kind: str
    body: bytes
    filename: str | None = None


class FileSource(Protocol):
    """Where files live (S3); storage implements it."""

    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None: ...
    def size(self, key: str) -> int | None: ...
    def lines(self, key: str) -> Iterator[str]: ...
    def presigned_post(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]: ...
    def copy(self, source_key: str, key: str, metadata: dict[str, str] | None = None) -> None: ...


@dataclass(frozen=True)
class PresignedUpload:
    job: ImportJob
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


@dataclass(frozen=True)
class StagedUpload:
    """A presigned POST for a file whose import starts later (`ImportService.start_staged`)."""

    key: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class ImportPaused(Exception):
    """The worker ran out of time; the job resumes from its checkpoint on the next delivery."""


@dataclass(frozen=True)
class S3Object:
    key: str
    # S3's per-write sequencer: a new upload to the same key has a new one, a redelivery the same.
    sequencer: str = ""


def upload_key(tenant_id: str, kind: str, job_id: str) -> str:
    """Where an uploaded or presigned file goes; the job id is part of the key."""
    return f"{UPLOADS}/{tenant_id}/{kind}/{job_id}.csv"


def staging_prefix(tenant_id: str, kind: str) -> str:
    """Where a tenant's files for `kind` wait for their job; a key outside it is not the tenant's."""
    return f"{STAGING}/{tenant_id}/{kind}/"


def dropbox_prefix(tenant_id: str, kind: str) -> str:
    return f"{DROPBOX}/{tenant_id}/{kind}/"


def read_rows(lines: Iterable[str]) -> tuple[list[str], Iterator[Row]]:
    """The header (lower-cased, trimmed) and the data rows of a CSV text stream.

    Blank rows are skipped. Lines are counted as records (a quoted cell may
    span several physical lines), the header being line 1, as a spreadsheet
    numbers its rows.
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRejected("the file is empty: a header row is required") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileRejected(f"line 1: not readable CSV text ({exc})") from None
    columns = [name.strip().lstrip("\ufeff").casefold() for name in header]
    return columns, _rows(reader, columns)


def original_rows(lines: Iterable[str], wanted: set[int]) -> tuple[list[str], dict[int, list[str]]]:
    """The header as written and the cells of the `wanted` lines, numbered as `read_rows` numbers them.

    Reading stops after the last wanted line, or where the text stops being CSV.
    """
    reader = csv.reader(lines, strict=True)
    found: dict[int, list[str]] = {}
    try:
        header = [name.lstrip("\ufeff") for name in next(reader, [])]
        line = 1
        for cells in reader:
            line += 1
            if line in wanted:
                found[line] = cells
            if line >= max(wanted):
                break
    except (csv.Error, UnicodeDecodeError):
        return [], found
    return header, found


def _rows(reader: Iterator[list[str]], columns: list[str]) -> Iterator[Row]:
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileRejected(f"line {line + 1}: not readable CSV text ({exc})") from None
        line += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            yield Row(line, {}, f"{len(cells)} cells, but the header has {len(columns)} columns")
            continue
        yield Row(line, {name: cell[:MAX_CELL_CHARS] for name, cell in zip(columns, cells, strict=False) if name})


class ImportService:
    def __init__(
        self,
        store: ImportStore,
        files: FileSource,
        appliers: dict[str, Applier],
        wakeups: Wakeups | None = None,
    ) -> None:
        self._store = store
        self._files = files
        self._appliers = appliers
        self._wakeups = wakeups or _NoWakeups()

    @property
    def kinds(self) -> list[str]:
        return sorted(self._appliers)

    # -- jobs --------------------------------------------------------------

    def new_job(
        self,
        tenant_id: str,
        kind: str,
        source: ImportSource,
        actor: Actor,
        *,
        filename: str | None = None,
        job_id: str | None = None,
        after_job_id: str | None = None,
        next_job_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> ImportJob:
        """A queued job for a file about to be stored under `upload_key`."""
        self._applier(kind)
        job_id = job_id or new_id()
        job = ImportJob(
            tenant_id=tenant_id,
            job_id=job_id,
            kind=kind,
            source=source,
            object_key=upload_key(tenant_id, kind, job_id),
            filename=filename,
            created_by_id=actor.id,
            created_by_name=actor.name,
            after_job_id=after_job_id,
            next_job_id=next_job_id,
            options=options or {},
        )
        existing = self._store.get_job(tenant_id, job_id)
        if existing is not None:
            # The same command again (same Idempotency-Key): the same job.
            return existing
        self._store.create_job(job)
        return job

    def upload(
        self,
        tenant_id: str,
        kind: str,
        body: bytes,
        actor: Actor,
        *,
        filename: str | None = None,
        job_id: str | None = None,
        options: dict[str, Any] | None = None,
        field: str = "file",
    ) -> ImportJob:
        """Store a file sent through the API; S3 then queues its import."""
        if not body.strip():
            raise ValidationFailed("the file is empty", [{"field": field, "message": "is empty"}])
        job = self.new_job(
            tenant_id, kind, ImportSource.UPLOAD, actor, filename=filename, job_id=job_id, options=options
        )
        if job.status == ImportStatus.QUEUED:
            # The job exists before its file, so the worker always finds it.
            self._files.put(job.object_key, body, "text/csv", {"job-id": job.job_id})
        return job

    def upload_files(
        self, tenant_id: str, files: list[UploadedFile], actor: Actor, *, job_ids: list[str] | None = None
    ) -> list[ImportJob]:
        """Store the files of one upload as jobs that run one after the other, in the order given.

        Every job exists, linked to its neighbours, before any file is stored:
        whichever notification the queue delivers first, its worker finds the
        job and the job it waits for.
        """
        for uploaded in files:
            self._applier(uploaded.kind)
            if not uploaded.body.strip():
                name = uploaded.filename or uploaded.kind
                raise ValidationFailed(f"the file {name} is empty", [{"field": "file", "message": f"{name} is empty"}])
        ids = job_ids or [new_id() for _ in files]
        jobs = [
            self.new_job(
                tenant_id,
                uploaded.kind,
                ImportSource.UPLOAD,
                actor,
                filename=uploaded.filename,
                job_id=ids[i],
                after_job_id=ids[i - 1] if i else None,
                next_job_id=ids[i + 1] if i + 1 < len(ids) else None,
            )
            for i, uploaded in enumerate(files)
        ]
        for job, uploaded in zip(jobs, files, strict=True):
            if job.status == ImportStatus.QUEUED:
                self._files.put(job.object_key, uploaded.body, "text/csv", {"job-id": job.job_id})
        return jobs

    def presign(
        self, tenant_id: str, kind: str, actor: Actor, *, filename: str | None = None, job_id: str | None = None
    ) -> PresignedUpload:
        """A queued job and a form POST that sends its file straight to S3 (S3 enforces the size cap)."""
        job = self.new_job(tenant_id, kind, ImportSource.PRESIGNED, actor, filename=filename, job_id=job_id)
        post = self._files.presigned_post(job.object_key, MAX_FILE_BYTES, PRESIGNED_SECONDS)
        expires_at = utcnow() + timedelta(seconds=PRESIGNED_SECONDS)
        return PresignedUpload(job, post["url"], dict(post["fields"]), expires_at, MAX_FILE_BYTES)

    def stage(self, tenant_id: str, kind: str) -> StagedUpload:
        """A presigned POST for a file of `kind` that no job reads yet: `start_staged` names it later."""
        self._applier(kind)
        key = f"{staging_prefix(tenant_id, kind)}{new_id()}.csv"
        post = self._files.presigned_post(key, MAX_FILE_BYTES, PRESIGNED_SECONDS)
        expires_at = utcnow() + timedelta(seconds=PRESIGNED_SECONDS)
        return StagedUpload(key, post["url"], dict(post["fields"]), expires_at, MAX_FILE_BYTES)

    def start_staged(
        self,
        tenant_id: str,
        kind: str,
        staged_key: str,
        actor: Actor,
        *,
        options: dict[str, Any] | None = None,
        job_id: str | None = None,
        field: str = "upload",
    ) -> ImportJob:
        """A queued job for a file staged by `stage`: the file is copied to the job's key, which queues it.

        A key outside the tenant's staging folder for `kind` is "not found", as a missing file is.
        """
        self._applier(kind)
        prefix = staging_prefix(tenant_id, kind)
        name = staged_key.removeprefix(prefix)
        if not staged_key.startswith(prefix) or "/" in name or not name.endswith(".csv"):
            raise NotFound(f"no uploaded file {staged_key}", [{"field": field, "message": "no such upload"}])
        size = self._files.size(staged_key)
        if size is None:
            raise NotFound(f"no uploaded file {staged_key}", [{"field": field, "message": "no such upload"}])
        if size == 0:
            raise ValidationFailed("the file is empty", [{"field": field, "message": "is empty"}])
        job = self.new_job(tenant_id, kind, ImportSource.PRESIGNED, actor, job_id=job_id, options=options)
        if job.status == ImportStatus.QUEUED:
            # The job exists before its file, so the worker always finds it.
            self._files.copy(staged_key, job.object_key, {"job-id": job.job_id})
        return job

    def get(self, tenant_id: str, job_id: str) -> ImportJob:
        job = self._store.get_job(tenant_id, job_id)
        if job is None:
            raise NotFound(f"import job {job_id} not found")
        return job

    def page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[ImportJob]:
        return self._store.list_jobs(tenant_id, limit, cursor)

    def errors(self, tenant_id: str, job_id: str) -> list[RowError]:
        self.get(tenant_id, job_id)
        return self._store.errors(tenant_id, job_id, MAX_STORED_ERRORS)

    def error_report(self, tenant_id: str, job_id: str) -> tuple[list[str], list[tuple[RowError, list[str]]]]:
        """The file's header and each row error with its row's original cells, to fix and upload again.

        The cells are read back from the job's file (one pass, stopping after the last
        rejected row), so nothing but (line, field, message) is stored per error. A file
        no longer in storage gives the errors without cells.
        """
        job = self.get(tenant_id, job_id)
        errors = self._store.errors(tenant_id, job_id, MAX_STORED_ERRORS)
        wanted = {e.line for e in errors if e.line > 1}
        header: list[str] = []
        cells: dict[int, list[str]] = {}
        if wanted and self._files.size(job.object_key) is not None:
            header, cells = original_rows(self._files.lines(job.object_key), wanted)
        return header, [(e, cells.get(e.line, [])) for e in errors]

    # -- running -----------------------------------------------------------

    def job_for_object(self, obj: S3Object, tenant_exists: Callable[[str], bool]) -> ImportJob | None:
        """The job an S3 object belongs to: its upload job, or a new job for a dropped file.

        A file dropped into a company's drop folder where no import applies (no kind
        folder, a kind nobody imports, not a .csv) still becomes a job: a failed one
        whose message says why and where it should go, listed with the company's jobs.
        """
        parts = obj.key.split("/")
        if parts[0] == UPLOADS:
            if len(parts) < 4 or parts[2] not in self._appliers or not parts[1]:
                return None
            tenant_id, kind = parts[1], parts[2]
            # Checked here, not only by the presigned policy (the local stack's S3 enforces none): the
            # object is the job's own, so it is imported only into the company and kind of its job.
            job = self._store.get_job(tenant_id, parts[3].removesuffix(".csv"))
            if job is None or job.tenant_id != tenant_id or job.kind != kind or job.object_key != obj.key:
                return None
            return job
        if parts[0] != DROPBOX or len(parts) < 3 or not parts[1] or not parts[-1] or not tenant_exists(parts[1]):
            return None
        tenant_id = parts[1]
        kind = parts[2] if len(parts) > 3 else ""
        # The same drop delivered twice is the same job; a new drop to the same key is a new one.
        job_id = str(uuid.uuid5(IMPORT_NAMESPACE, f"{obj.key}\0{obj.sequencer}"))
        existing = self._store.get_job(tenant_id, job_id)
        if existing is not None:
            return existing
        job = ImportJob(
            tenant_id=tenant_id,
            job_id=job_id,
            kind=kind or NO_KIND,
            source=ImportSource.DROPBOX,
            object_key=obj.key,
            filename=parts[-1],
        )
        problem = self._drop_problem(tenant_id, kind, parts[-1])
        if problem is not None:
            now = utcnow()
            job = job.model_copy(
                update={"status": ImportStatus.FAILED, "message": problem, "started_at": now, "finished_at": now}
            )
        self._store.create_job(job)
        return job

    def _drop_problem(self, tenant_id: str, kind: str, filename: str) -> str | None:
        """Why a dropped file cannot be imported, or None."""
        kinds = ", ".join(sorted(self._appliers))
        folder = f"{DROPBOX}/{tenant_id}/<kind>/"
        if not kind:
            return f"not imported: files go into a kind's folder, {folder}, where kind is one of {kinds}"
        if kind not in self._appliers:
            return f"not imported: no import kind '{kind}'; drop files into {folder}, where kind is one of {kinds}"
        if not filename.casefold().endswith(".csv"):
            return f"not imported: only .csv files are imported, and '{filename}' is not one"
        return None

    def run(
        self,
        job: ImportJob,
        actor: Actor,
        time_left: Callable[[], float] | None = None,
        *,
        last_delivery: bool = False,
    ) -> ImportJob:
        """Apply the job's file from its checkpoint on. Returns the job as it ended.

        Raises ImportPaused when `time_left()` (seconds) runs low: the message
        comes back and the next delivery resumes. Any other exception is
        re-raised after the job records why (`message`) and gives its lease
        up, so the message's next delivery resumes from the checkpoint; on
        the `last_delivery` the job is marked failed first, since no
        delivery will come back to it.

        A job whose `after_job_id` has not finished is left queued, unclaimed:
        the job it waits for wakes it when it finishes. A job whose
        predecessor failed as a whole fails too, with a message saying so.
        """
        if job.finished:
            # A redelivery: the first delivery may have ended before it woke the next job.
            self._wake_next(job)
            return job
        before = self._store.get_job(job.tenant_id, job.after_job_id) if job.after_job_id else None
        if before is not None and not before.finished:
            return job
        now = utcnow()
        claimed = self._store.claim(job, now, now + LEASE)
        if claimed is None:
            # Another worker holds it, or it finished meanwhile.
            return self._store.get_job(job.tenant_id, job.job_id) or job
        try:
            applier = self._job_applier(claimed)
            if before is not None and before.status == ImportStatus.FAILED:
                raise FileRejected(
                    f"not imported: the {before.kind} file of the same upload (job {before.job_id}) was rejected "
                    f"({before.message})"
                )
            ended = self._apply_file(claimed, applier, actor, time_left or (lambda: float("inf")))
        except FileRejected as exc:
            self._store.finish(claimed, ImportStatus.FAILED, str(exc))
            ended = self.get(claimed.tenant_id, claimed.job_id)
        except ImportPaused:
            raise
        except Exception as exc:
            self._failed_delivery(claimed, exc, last_delivery)
            raise
        self._wake_next(ended)
        return ended

    def give_up(self, obj: S3Object, tenant_exists: Callable[[str], bool], reason: str) -> ImportJob | None:
        """The job of an object whose notification went to the dead-letter queue: failed, with the reason.

        A job that had already ended is left as it is. The job waiting for
        this one is woken, so it fails too instead of waiting for ever.
        """
        job = self.job_for_object(obj, tenant_exists)
        if job is None:
            return None
        current = self.get(job.tenant_id, job.job_id)
        if not current.finished:
            why = f" (last error: {current.message})" if current.message else ""
            self._store.abandon(current, f"{_stopped(current)}: {reason}{why}")
        ended = self.get(job.tenant_id, job.job_id)
        self._wake_next(ended)
        return ended

    def _failed_delivery(self, job: ImportJob, exc: Exception, last_delivery: bool) -> None:
        """Record why a delivery failed; on the last one, end the job as failed and wake the one after it."""
        current = self._store.get_job(job.tenant_id, job.job_id) or job
        if current.finished:
            return
        # The exception's type, not its text: that may name tables or keys, and the job is the tenant's to read.
        reason = f"unexpected error ({type(exc).__name__}) on the rows after line {current.checkpoint_line}"
        if not last_delivery:
            self._store.note_failure(current, f"{reason}; the import is retried")
            return
        self._store.finish(current, ImportStatus.FAILED, f"{_stopped(current)}: {reason}, on its last delivery")
        self._wake_next(self.get(job.tenant_id, job.job_id))

    def _wake_next(self, job: ImportJob) -> None:
        """Wake the job that waits for this one, unless it is already done.

        Called only after this job's end is written (consistent reads). A
        waiting worker that read this job before that write returned without
        claiming its job, and this wake-up delivers its notification again; one
        that read it after saw it finished and ran. So no wake-up is lost. If
        sending fails, the exception fails this job's message, and its
        redelivery comes back here through `run` (the job is finished by then).
        """
        if not job.next_job_id:
            return
        waiting = self._store.get_job(job.tenant_id, job.next_job_id)
        if waiting is not None and not waiting.finished:
            self._wakeups.wake(waiting)

    def _apply_file(self, job: ImportJob, applier: Applier, actor: Actor, time_left: Callable[[], float]) -> ImportJob:
        size = self._files.size(job.object_key)
        if size is None:
            raise FileRejected("the file was not found in storage")
        if size > MAX_FILE_BYTES:
            raise FileRejected(f"the file is {size} bytes; at most {MAX_FILE_BYTES} bytes can be imported")
        # One pass over the file: rows are counted as they stream by (the job's `total` is stored once
        # the file has been read through), rows before the checkpoint are skipped, the rest applied.
        columns, rows = read_rows(self._files.lines(job.object_key))
        applier.check_header(columns)
        chunk: list[Row] = []
        keys: set[str] = set()
        total = 0
        # An applier whose rows take more writes than an inventory row's says how many fit one chunk.
        limit = int(getattr(applier, "chunk_rows", CHUNK_ROWS))
        for row in rows:
            total += 1
            if total > MAX_FILE_ROWS:
                raise FileRejected(f"line {row.line}: a file holds at most {MAX_FILE_ROWS} rows; split it")
            if row.line <= job.checkpoint_line:
                continue
            key = applier.key_of(row)
            if len(chunk) >= limit or (key is not None and key in keys):
                job = self._commit_chunk(job, applier, chunk, actor, time_left)
                chunk, keys = [], set()
            chunk.append(row)
            if key is not None:
                keys.add(key)
        if chunk:
            job = self._commit_chunk(job, applier, chunk, actor, time_left)
        if job.total != total:
            self._store.set_total(job, total)
        self._store.finish(job, ImportStatus.COMPLETED, None)
        return self.get(job.tenant_id, job.job_id)

    def _commit_chunk(
        self, job: ImportJob, applier: Applier, rows: list[Row], actor: Actor, time_left: Callable[[], float]
    ) -> ImportJob:
        if time_left() < 20:
            self._store.pause(job)
            raise ImportPaused(f"paused at line {job.checkpoint_line}")
        for _ in range(COMMIT_ATTEMPTS):
            plan = applier.plan(job.tenant_id, job.job_id, rows, actor)
            if plan.writes > CHUNK_WRITES and len(rows) > 1:
                half = len(rows) // 2
                job = self._commit_chunk(job, applier, rows[:half], actor, time_left)
                return self._commit_chunk(job, applier, rows[half:], actor, time_left)
            checkpoint = self._checkpoint(job, rows, plan)
            try:
                outcome = self._store.commit(job.tenant_id, checkpoint, plan, actor)
            except TooManyWrites:
                if len(rows) == 1:
                    raise
                half = len(rows) // 2
                job = self._commit_chunk(job, applier, rows[:half], actor, time_left)
                return self._commit_chunk(job, applier, rows[half:], actor, time_left)
            if outcome == CommitOutcome.DONE:
                return _advanced(job, checkpoint)
            if outcome == CommitOutcome.LOST:
                return self._resolve_lost(job, checkpoint)
        raise RuntimeError(f"chunk ending at line {rows[-1].line} kept conflicting with other writers")

    def _resolve_lost(self, job: ImportJob, checkpoint: Checkpoint) -> ImportJob:
        """A chunk whose checkpoint guard failed: decide from what was written, never abandon the job.

        If the job still has this worker's lease and its checkpoint is exactly
        where this chunk ends, the chunk is this worker's own earlier success
        (a response lost after the write, a retry that read its own write):
        carry on from the job as stored. Otherwise another worker holds the
        job now and carries it on.
        """
        current = self._store.get_job(job.tenant_id, job.job_id)
        if (
            current is not None
            and current.status == ImportStatus.RUNNING
            and current.lease_owner == job.lease_owner
            and current.checkpoint_line == checkpoint.to_line
        ):
            return current
        raise ImportPaused("another worker took the job over")

    def _checkpoint(self, job: ImportJob, rows: list[Row], plan: ChunkPlan) -> Checkpoint:
        room = max(0, MAX_STORED_ERRORS - job.errors_stored)
        return Checkpoint(
            job_id=job.job_id,
            from_line=job.checkpoint_line,
            to_line=rows[-1].line,
            read=len(rows),
            created=plan.created,
            updated=plan.updated,
            failed=plan.failed,
            errors=plan.errors[:room],
            errors_dropped=len(plan.errors) > room,
            lease_until=utcnow() + LEASE,
            owner=job.lease_owner,
        )

    def _job_applier(self, job: ImportJob) -> Applier:
        applier = self._applier(job.kind)
        for_job = getattr(applier, "for_job", None)
        return for_job(job) if for_job is not None else applier

    def _applier(self, kind: str) -> Applier:
        applier = self._appliers.get(kind)
        if applier is None:
            raise ValidationFailed(
                f"unknown import kind {kind!r}", [{"field": "kind", "message": f"one of {sorted(self._appliers)}"}]
            )
        return applier


def _stopped(job: ImportJob) -> str:
    of = f" of {job.total}" if job.total is not None else ""
    return f"import stopped after {job.processed}{of} rows"


def _advanced(job: ImportJob, checkpoint: Checkpoint) -> ImportJob:
    stored = len(checkpoint.errors)
    return job.model_copy(
        update={
            "checkpoint_line": checkpoint.to_line,
            "processed": job.processed + checkpoint.read,
            "created": job.created + checkpoint.created,
            "updated": job.updated + checkpoint.updated,
            "failed": job.failed + checkpoint.failed,
            "errors_stored": job.errors_stored + stored,
            "errors_truncated": job.errors_truncated or checkpoint.errors_dropped,
            "lease_until": checkpoint.lease_until,
        }
    )
