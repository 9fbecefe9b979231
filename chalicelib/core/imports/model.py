"""The things of an import: jobs, rows, chunk plans and checkpoints, and the ports an import runs
against (appliers, the job store, files, wake-ups). `jobs.py` runs a job; `intake.py` makes one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.core.models import Actor, Entity, Model, Movement, Product, StockRecord
from chalicelib.core.ports import Page, StockChange


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
        # Each product that gains a record (created, or moved to it) or loses one (moved away) has its stock
        # keys updated once.
        keyed = (
            {record.product_id for record, _ in self.creates}
            | {str(c.set_fields["product_id"]) for c in self.changes if "product_id" in c.set_fields}
            | {c.moved_from_product for c in self.changes if c.moved_from_product is not None}
        )
        # New products also move their listing's counter: one more write per chunk.
        products = sum(_product_writes(product) for product in self.products) + (1 if self.products else 0)
        return creates + changes + len(keyed) + products + sum(write.size for write in self.feature_writes)

    @property
    def failed(self) -> int:
        return len({error.line for error in self.errors})


def _product_writes(product: Product) -> int:
    """A new product's item, its numeric-id guard (every new product is numbered when committed) and, while
    active, its SKU and source-id guards (storage's catalog takes exactly these)."""
    guards = (bool(product.sku) + len(product.source_ids)) if product.active else 0
    return 2 + guards


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
