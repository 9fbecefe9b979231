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

The job and port types are in `model.py`; how a job comes to be (upload,
presigned POST, staged file, drop folder) is `intake.py`, a mixin of
`ImportService`. Both are importable from here too.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.core.errors import NotFound, TooManyWrites
from chalicelib.core.ids import utcnow
from chalicelib.core.imports.intake import (
    DROPBOX,
    IMPORT_NAMESPACE,
    MAX_FILE_BYTES,
    NO_KIND,
    PRESIGNED_SECONDS,
    STAGING,
    UPLOADS,
    ImportIntake,
    dropbox_prefix,
    staging_prefix,
    upload_key,
)
from chalicelib.core.imports.model import (
    Applier,
    Checkpoint,
    ChunkPlan,
    CommitOutcome,
    FeatureWrite,
    FileRejected,
    FileSource,
    ImportJob,
    ImportPaused,
    ImportSource,
    ImportStatus,
    ImportStore,
    JobApplier,
    PresignedUpload,
    Row,
    RowError,
    S3Object,
    StagedUpload,
    UploadedFile,
    Wakeups,
)
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import Actor
from chalicelib.core.ports import Page

# The types live in model.py and the making of jobs in intake.py; their importers keep this path.
__all__ = [
    "CHUNK_ROWS",
    "CHUNK_WRITES",
    "COMMIT_ATTEMPTS",
    "DROPBOX",
    "IMPORT_NAMESPACE",
    "LEASE",
    "MAX_CELL_CHARS",
    "MAX_FILE_BYTES",
    "MAX_FILE_ROWS",
    "MAX_STORED_ERRORS",
    "NO_KIND",
    "PRESIGNED_SECONDS",
    "STAGING",
    "UPLOADS",
    "Applier",
    "Checkpoint",
    "ChunkPlan",
    "CommitOutcome",
    "FeatureWrite",
    "FileRejected",
    "FileSource",
    "ImportIntake",
    "ImportJob",
    "ImportPaused",
    "ImportService",
    "ImportSource",
    "ImportStatus",
    "ImportStore",
    "JobApplier",
    "PresignedUpload",
    "Row",
    "RowError",
    "S3Object",
    "StagedUpload",
    "UploadedFile",
    "Wakeups",
    "dropbox_prefix",
    "original_rows",
    "read_rows",
    "staging_prefix",
    "upload_key",
]

# A chunk is one transaction: the job checkpoint and the chunk's error item
# take two writes, the rows share the rest. A chunk holds at most CHUNK_ROWS
# rows, fewer when its rows take more writes: an inventory row that names an
# existing product takes three (record, ledger line, its product's stock keys,
# shared by the chunk's rows of that product), one that creates its product
# more (the product and its numeric-id guard). The size follows the writes the
# last chunk's rows took (`_ChunkSize`); a chunk whose plan still exceeds
# CHUNK_WRITES is cut to the rows that fit before anything is sent.
CHUNK_WRITES = TRANSACTION_ITEMS - 2
CHUNK_ROWS = 32
MAX_STORED_ERRORS = 10_000
MAX_CELL_CHARS = 10_000
# Rows of one file: a file with more fails at the first row beyond (the chunks before it are committed,
# as for a file whose CSV breaks partway); split larger files.
MAX_FILE_ROWS = 1_000_000
# A worker owns a running job this long after its last checkpoint; then another may take over.
LEASE = timedelta(minutes=2)
COMMIT_ATTEMPTS = 5


@dataclass
class _ChunkSize:
    """How many rows the next chunk takes: as many as the last chunk's writes per row say fit, at most `cap`."""

    cap: int
    rows: int = 0

    def __post_init__(self) -> None:
        self.rows = self.rows or self.cap

    def fitting(self, plan: ChunkPlan, rows: int) -> int:
        """The rows of a plan of `rows` rows whose writes fit one chunk (at least one)."""
        return max(1, min(rows, rows * CHUNK_WRITES // max(1, plan.writes)))

    def observe(self, plan: ChunkPlan, rows: int) -> None:
        self.rows = min(self.cap, self.fitting(plan, rows)) if plan.writes else self.cap


class _NoWakeups:
    def wake(self, job: ImportJob) -> None:
        return None


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


class ImportService(ImportIntake):
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
        sizing = _ChunkSize(int(getattr(applier, "chunk_rows", CHUNK_ROWS)))
        for row in rows:
            total += 1
            if total > MAX_FILE_ROWS:
                raise FileRejected(f"line {row.line}: a file holds at most {MAX_FILE_ROWS} rows; split it")
            if row.line <= job.checkpoint_line:
                continue
            key = applier.key_of(row)
            # The rows a cut chunk left over start the next one.
            while chunk and (len(chunk) >= sizing.rows or (key is not None and key in keys)):
                job, chunk = self._commit_chunk(job, applier, chunk, actor, time_left, sizing)
                keys = {k for k in map(applier.key_of, chunk) if k is not None}
            chunk.append(row)
            if key is not None:
                keys.add(key)
        while chunk:
            job, chunk = self._commit_chunk(job, applier, chunk, actor, time_left, sizing)
        if job.total != total:
            self._store.set_total(job, total)
        self._store.finish(job, ImportStatus.COMPLETED, None)
        return self.get(job.tenant_id, job.job_id)

    def _commit_chunk(
        self,
        job: ImportJob,
        applier: Applier,
        rows: list[Row],
        actor: Actor,
        time_left: Callable[[], float],
        size: _ChunkSize,
    ) -> tuple[ImportJob, list[Row]]:
        """Commit the first rows of `rows` whose writes fit one chunk; returns the job and the rows left over."""
        if time_left() < 20:
            self._store.pause(job)
            raise ImportPaused(f"paused at line {job.checkpoint_line}")
        for _ in range(COMMIT_ATTEMPTS):
            plan = applier.plan(job.tenant_id, job.job_id, rows, actor)
            if plan.writes > CHUNK_WRITES and len(rows) > 1:
                # More writes per row than the chunks before: commit the rows that fit (nothing was sent);
                # the rest start the next chunk.
                cut = min(size.fitting(plan, len(rows)), len(rows) - 1)
                job, rest = self._commit_chunk(job, applier, rows[:cut], actor, time_left, size)
                return job, rest + rows[cut:]
            checkpoint = self._checkpoint(job, rows, plan)
            try:
                outcome = self._store.commit(job.tenant_id, checkpoint, plan, actor)
            except TooManyWrites:
                # Storage wrote more than the plan counted (a write `ChunkPlan.writes` does not know of).
                if len(rows) == 1:
                    raise
                half = len(rows) // 2
                job, rest = self._commit_chunk(job, applier, rows[:half], actor, time_left, size)
                return job, rest + rows[half:]
            if outcome == CommitOutcome.DONE:
                size.observe(plan, len(rows))
                return _advanced(job, checkpoint), []
            if outcome == CommitOutcome.LOST:
                return self._resolve_lost(job, checkpoint), []
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
