"""How an import job comes to be: a file uploaded through the API, a presigned POST (straight, or
staged first and started later), or a file dropped into a company's drop folder. `ImportIntake` is a
mixin of `jobs.ImportService`, which runs the jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.imports.model import (
    Applier,
    FileSource,
    ImportJob,
    ImportSource,
    ImportStatus,
    ImportStore,
    PresignedUpload,
    S3Object,
    StagedUpload,
    UploadedFile,
)
from chalicelib.core.models import Actor

# Larger files are refused before a row is read (they would outlive a Lambda many times over).
MAX_FILE_BYTES = 512 * 1024 * 1024
PRESIGNED_SECONDS = 15 * 60
UPLOADS = "uploads"
DROPBOX = "dropbox"
# Files sent to a presigned POST before their job exists (a GraphQL import names the file once it has
# its settings). Nothing is notified for this prefix, and the bucket expires it after a day.
STAGING = "tmp"
# The kind of a job for a file dropped outside any kind's folder (it fails, saying so).
NO_KIND = "none"
IMPORT_NAMESPACE = uuid.UUID("3f1d6c2a-7b0e-4d8e-9a51-0c9b2f4e6a10")


def upload_key(tenant_id: str, kind: str, job_id: str) -> str:
    """Where an uploaded or presigned file goes; the job id is part of the key."""
    return f"{UPLOADS}/{tenant_id}/{kind}/{job_id}.csv"


def staging_prefix(tenant_id: str, kind: str) -> str:
    """Where a tenant's files for `kind` wait for their job; a key outside it is not the tenant's."""
    return f"{STAGING}/{tenant_id}/{kind}/"


def dropbox_prefix(tenant_id: str, kind: str) -> str:
    return f"{DROPBOX}/{tenant_id}/{kind}/"


class ImportIntake:
    """Mixin of ImportService: how a job comes to be (upload, presigned POST, staged file, a drop)."""

    _store: ImportStore
    _files: FileSource
    _appliers: dict[str, Applier]

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

    def _applier(self, kind: str) -> Applier:
        applier = self._appliers.get(kind)
        if applier is None:
            raise ValidationFailed(
                f"unknown import kind {kind!r}", [{"field": "kind", "message": f"one of {sorted(self._appliers)}"}]
            )
        return applier
