"""The import loop (core/imports/jobs.py) and the 000 row rules (company_inventory/csv_import.py), without AWS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from chalicelib.core.errors import NotFound
from chalicelib.core.ids import utcnow
from chalicelib.core.imports import jobs as imports
from chalicelib.core.imports.jobs import (
    Checkpoint,
    ChunkPlan,
    CommitOutcome,
    FileRejected,
    ImportJob,
    ImportPaused,
    ImportService,
    ImportSource,
    ImportStatus,
    Row,
    RowError,
    read_rows,
)
from chalicelib.core.models import Actor
from chalicelib.features.company_inventory.csv_import import InventoryImporter, _parse
from chalicelib.storage import keys
from tests.fakes import InMemoryFiles, InMemoryImportStore, Op, _key, _present

pytestmark = pytest.mark.disable_socket

ACTOR = Actor(id="u1", name="Uploader")
TENANT = "t1"


class MemoryStore(InMemoryImportStore):
    """The in-memory import store (tests/fakes.py), recording each committed chunk; a test may make
    the next commits conflict, or have another worker take the job over from a line on."""

    def __init__(self) -> None:
        super().__init__()
        self.committed: list[tuple[Checkpoint, ChunkPlan]] = []
        self.conflicts_left = 0
        self.stolen_at: int | None = None
        # Chunks (by first line) whose commit is written and then answered LOST, as a retry that
        # met its own earlier success would be.
        self.echo_at: set[int] = set()

    def commit(self, tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        if self.stolen_at is not None and checkpoint.from_line >= self.stolen_at:
            return CommitOutcome.LOST
        if self.conflicts_left:
            self.conflicts_left -= 1
            return CommitOutcome.CONFLICT
        outcome = super().commit(tenant_id, checkpoint, plan, actor)
        if outcome == CommitOutcome.DONE:
            self.committed.append((checkpoint, plan))
            if checkpoint.from_line + 1 in self.echo_at:
                self.echo_at.discard(checkpoint.from_line + 1)
                return CommitOutcome.LOST
        return outcome

    def job(self, job_id: str) -> ImportJob:
        found = self.get_job(TENANT, job_id)
        assert found is not None
        return found

    def _set(self, job_id: str, **changes: Any) -> None:
        """Change a stored job behind the worker's back (another worker's claim, say)."""
        key = _key(keys.import_job(TENANT, job_id))
        assert self.table.write(Op(key, lambda job: job.model_copy(update=changes), _present)) is None


class CountingApplier:
    """Rows with a `bad` cell fail; every other row 'creates' one entity named by its `id` cell.

    A row whose `id` is in `explode_on` raises, as a bug would.
    """

    def __init__(self) -> None:
        self.planned: list[list[int]] = []
        self.explode_on: set[str] = set()

    def check_header(self, columns: list[str]) -> None:
        if "id" not in columns:
            raise FileRejected("line 1: an id column is required")

    def key_of(self, row: Row) -> str | None:
        return row.cells.get("id")

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        self.planned.append([r.line for r in rows])
        if any(row.cells.get("id") in self.explode_on for row in rows):
            raise ArithmeticError("a bug in planning")
        plan = ChunkPlan()
        for row in rows:
            if row.cells.get("bad"):
                plan.errors.append(RowError(line=row.line, field="bad", message=row.cells["bad"]))
            else:
                plan.created += 1
        return plan


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def files() -> InMemoryFiles:
    return InMemoryFiles()


@pytest.fixture
def applier() -> CountingApplier:
    return CountingApplier()


@pytest.fixture
def service(store: MemoryStore, files: InMemoryFiles, applier: CountingApplier) -> ImportService:
    return ImportService(store, files, {"things": applier})


def csv_of(rows: int, bad_every: int = 0) -> bytes:
    lines = ["id,bad"]
    for n in range(1, rows + 1):
        lines.append(f"t{n},{'broken' if bad_every and n % bad_every == 0 else ''}")
    return ("\n".join(lines) + "\n").encode()


def test_a_file_is_applied_in_chunks_with_a_checkpoint_each(service: ImportService, store: MemoryStore) -> None:
    job = service.upload("t1", "things", csv_of(70, bad_every=10), ACTOR)
    ended = service.run(job, ACTOR)
    assert (ended.status, ended.total, ended.processed, ended.created, ended.failed) == (
        ImportStatus.COMPLETED,
        70,
        70,
        63,
        7,
    )
    lines = [(c.from_line, c.to_line) for c, _ in store.committed]
    assert lines == [(1, 33), (33, 65), (65, 71)]
    assert [e.line for e in service.errors("t1", job.job_id)] == [11, 21, 31, 41, 51, 61, 71]


def test_a_file_over_the_row_cap_fails_with_a_clear_reason(
    service: ImportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.core.imports import jobs

    monkeypatch.setattr(jobs, "MAX_FILE_ROWS", 40)
    job = service.upload("t1", "things", csv_of(41), ACTOR)
    ended = service.run(job, ACTOR)
    assert ended.status == ImportStatus.FAILED
    assert ended.message == "line 42: a file holds at most 40 rows; split it"
    assert ended.processed == 32  # the chunk before the cap was committed, nothing after it


def test_a_chunk_never_touches_the_same_entity_twice(service: ImportService, applier: CountingApplier) -> None:
    job = service.upload("t1", "things", b"id\na\nb\na\nc\n", ACTOR)
    service.run(job, ACTOR)
    assert applier.planned == [[2, 3], [4, 5]]


def test_a_finished_job_is_not_run_again(service: ImportService, store: MemoryStore) -> None:
    job = service.upload("t1", "things", csv_of(5), ACTOR)
    service.run(job, ACTOR)
    again = service.run(store.job(job.job_id), ACTOR)
    assert again.processed == 5
    assert len(store.committed) == 1


def test_a_job_held_by_another_worker_is_left_alone(service: ImportService, store: MemoryStore) -> None:
    job = service.upload("t1", "things", csv_of(5), ACTOR)
    far = datetime(2999, 1, 1).astimezone()
    assert store.claim(job, datetime.now().astimezone(), far) is not None
    assert service.run(job, ACTOR).status == ImportStatus.RUNNING
    assert store.committed == []


def test_a_paused_job_resumes_after_its_last_checkpoint(
    service: ImportService, store: MemoryStore, applier: CountingApplier
) -> None:
    job = service.upload("t1", "things", csv_of(100), ACTOR)
    budget = iter([100.0, 5.0])
    with pytest.raises(ImportPaused):
        service.run(job, ACTOR, lambda: next(budget, 5.0))
    assert store.job(job.job_id).checkpoint_line == 33
    ended = service.run(store.job(job.job_id), ACTOR)
    assert (ended.status, ended.processed, ended.created) == (ImportStatus.COMPLETED, 100, 100)
    assert [lines[0] for lines in applier.planned] == [2, 34, 66, 98]


def test_conflicts_are_planned_again_and_a_lost_job_stops(service: ImportService, store: MemoryStore) -> None:
    job = service.upload("t1", "things", csv_of(40), ACTOR)
    store.conflicts_left = 2
    assert service.run(job, ACTOR).created == 40
    second = service.upload("t1", "things", csv_of(40), ACTOR)
    store.stolen_at = 33
    with pytest.raises(ImportPaused):
        service.run(second, ACTOR)
    assert store.job(second.job_id).processed == 32


def test_a_lost_commit_that_is_this_workers_own_success_carries_on_with_exact_counts(
    service: ImportService, store: MemoryStore, applier: CountingApplier
) -> None:
    job = service.upload("t1", "things", csv_of(100), ACTOR)
    store.echo_at = {2, 66}

    ended = service.run(job, ACTOR)

    assert (ended.status, ended.processed, ended.created) == (ImportStatus.COMPLETED, 100, 100)
    # Each chunk was planned and written once: the job was read, not the chunk tried again.
    assert [lines[0] for lines in applier.planned] == [2, 34, 66, 98]
    assert len(store.committed) == 4


def test_a_lost_commit_under_another_owners_lease_stops_this_worker(service: ImportService, store: MemoryStore) -> None:
    job = service.upload("t1", "things", csv_of(40), ACTOR)
    store.echo_at = {2}
    original = store.commit

    def taken_over(tenant_id: str, checkpoint: Checkpoint, plan: ChunkPlan, actor: Actor) -> CommitOutcome:
        outcome = original(tenant_id, checkpoint, plan, actor)
        store._set(checkpoint.job_id, lease_owner="someone else")
        return outcome

    store.commit = taken_over  # type: ignore[method-assign]

    with pytest.raises(ImportPaused, match="another worker"):
        service.run(job, ACTOR)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"name\nx\n", "an id column is required"),
        (b'id\n"unclosed\n', "not readable CSV"),
    ],
)
def test_a_file_that_cannot_be_read_fails_its_job(service: ImportService, body: bytes, message: str) -> None:
    job = service.upload("t1", "things", body, ACTOR)
    ended = service.run(job, ACTOR)
    assert ended.status == ImportStatus.FAILED
    assert message in (ended.message or "")


def test_an_empty_upload_and_an_unknown_kind_are_refused(service: ImportService) -> None:
    with pytest.raises(Exception, match="empty"):
        service.upload("t1", "things", b"  \n", ACTOR)
    with pytest.raises(Exception, match="unknown import kind"):
        service.upload("t1", "nonsense", b"id\n1\n", ACTOR)


def test_the_same_upload_command_gives_the_same_job(service: ImportService, files: InMemoryFiles) -> None:
    first = service.upload("t1", "things", csv_of(3), ACTOR, job_id="j1")
    second = service.upload("t1", "things", csv_of(3), ACTOR, job_id="j1")
    assert first.job_id == second.job_id == "j1"
    assert list(files.objects) == [imports.upload_key("t1", "things", "j1")]


def test_an_uploaded_object_belongs_only_to_its_own_job_company_and_kind(service: ImportService) -> None:
    job = service.upload("t1", "things", csv_of(3), ACTOR, job_id="j1")
    assert job.object_key == "uploads/t1/things/j1.csv"
    found = service.job_for_object(imports.S3Object(job.object_key, "A"), lambda tenant: True)
    assert found is not None and found.job_id == "j1"
    # Another company's prefix, or another key naming the same job, is nobody's upload.
    for key in ("uploads/t2/things/j1.csv", "uploads/t1/things/j1", "uploads/t1/things/j1.csv.csv"):
        assert service.job_for_object(imports.S3Object(key, "A"), lambda tenant: True) is None, key


def test_dropped_files_map_to_one_job_per_write(service: ImportService, files: InMemoryFiles) -> None:
    key = "dropbox/t1/things/stock.csv"
    files.put(key, b"id\n1\n", "text/csv")
    known = {"t1"}.__contains__
    first = service.job_for_object(imports.S3Object(key, "A"), known)
    again = service.job_for_object(imports.S3Object(key, "A"), known)
    newer = service.job_for_object(imports.S3Object(key, "B"), known)
    assert first is not None and again is not None and newer is not None
    assert first.job_id == again.job_id != newer.job_id
    assert first.source == ImportSource.DROPBOX
    assert service.job_for_object(imports.S3Object("dropbox/nobody/things/x.csv", "A"), known) is None


@pytest.mark.parametrize(
    ("key", "kind", "why"),
    [
        ("dropbox/t1/things/notes.txt", "things", "only .csv files are imported, and 'notes.txt' is not one"),
        ("dropbox/t1/other/x.csv", "other", "no import kind 'other'"),
        ("dropbox/t1/x.csv", "none", "files go into a kind's folder, dropbox/t1/<kind>/"),
    ],
)
def test_a_file_dropped_where_no_import_applies_is_a_failed_job_saying_why(
    service: ImportService, key: str, kind: str, why: str
) -> None:
    known = {"t1"}.__contains__

    job = service.job_for_object(imports.S3Object(key, "A"), known)

    assert job is not None
    assert (job.status, job.kind, job.source, job.filename) == (
        ImportStatus.FAILED,
        kind,
        "dropbox",
        key.rsplit("/", maxsplit=1)[-1],
    )
    assert job.message is not None and why in job.message
    # Listed with the company's jobs, and a redelivery finds the same job.
    assert [j.job_id for j in service.page("t1", 10, None).items] == [job.job_id]
    assert service.job_for_object(imports.S3Object(key, "A"), known) == job


def test_rows_are_numbered_like_a_spreadsheet() -> None:
    columns, rows = read_rows(["Name,\ufeffQty\n", "\n", 'a,"two\n', 'lines"\n', "b,3,,\n", "c,4,extra\n"])
    assert columns == ["name", "qty"]
    found = list(rows)
    assert [(r.line, r.cells, r.problem) for r in found[:2]] == [
        (3, {"name": "a", "qty": "two\nlines"}, None),
        (4, {"name": "b", "qty": "3"}, None),
    ]
    assert found[2].line == 5
    assert found[2].problem == "3 cells, but the header has 2 columns"


def test_an_empty_file_has_no_header() -> None:
    with pytest.raises(FileRejected, match="empty"):
        read_rows([])


# -- the 000 row rules ---------------------------------------------------------


def test_inventory_header_rules() -> None:
    importer = InventoryImporter.__new__(InventoryImporter)
    importer.check_header(["productname", "quantity", "typelabel", "createdat", ""])
    importer.check_header(["inventoryid", "quantity"])
    with pytest.raises(FileRejected, match="'qty'"):
        importer.check_header(["productname", "qty"])
    with pytest.raises(FileRejected, match="required"):
        importer.check_header(["quantity"])


# -- a job never stays running after its message gave up ------------------------------


class Wakes:
    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, job: ImportJob) -> None:
        self.woken.append(job.job_id)


def test_an_unexpected_error_fails_the_delivery_and_the_job_says_why(
    service: ImportService, store: MemoryStore, applier: CountingApplier
) -> None:
    job = service.upload("t1", "things", csv_of(70), ACTOR)
    applier.explode_on = {"t40"}

    with pytest.raises(ArithmeticError):
        service.run(job, ACTOR)

    stuck = store.job(job.job_id)
    # The first chunk stands; the job is running, says why, and its lease is free for the retry.
    assert (stuck.status, stuck.processed, stuck.checkpoint_line) == (ImportStatus.RUNNING, 32, 33)
    assert stuck.message == "unexpected error (ArithmeticError) on the rows after line 33; the import is retried"
    assert stuck.lease_until is not None and stuck.lease_until <= utcnow()
    # A retry that works resumes from the checkpoint.
    applier.explode_on = set()
    ended = service.run(stuck, ACTOR)
    assert (ended.status, ended.processed, ended.created) == (ImportStatus.COMPLETED, 70, 70)


def test_on_its_last_delivery_the_job_fails_with_the_reason_and_wakes_the_next(
    store: MemoryStore, files: InMemoryFiles, applier: CountingApplier
) -> None:
    wakes = Wakes()
    service = ImportService(store, files, {"things": applier}, wakes)
    first, second = service.upload_files(
        "t1", [imports.UploadedFile("things", csv_of(70)), imports.UploadedFile("things", csv_of(3))], ACTOR
    )
    applier.explode_on = {"t40"}

    with pytest.raises(ArithmeticError):
        service.run(first, ACTOR, last_delivery=True)

    failed = store.job(first.job_id)
    assert failed.status == ImportStatus.FAILED
    assert failed.message == (
        "import stopped after 32 rows: unexpected error (ArithmeticError) on the rows after line 33, "
        "on its last delivery"
    )
    assert wakes.woken == [second.job_id]
    # The job after it runs, and fails saying which job it waited for.
    waiting = service.run(store.job(second.job_id), ACTOR)
    assert waiting.status == ImportStatus.FAILED
    assert first.job_id in (waiting.message or "")


def test_a_dead_letter_fails_an_unfinished_job_and_leaves_a_finished_one(
    service: ImportService, store: MemoryStore, files: InMemoryFiles, applier: CountingApplier
) -> None:
    running = service.upload("t1", "things", csv_of(70), ACTOR)
    applier.explode_on = {"t40"}
    with pytest.raises(ArithmeticError):
        service.run(running, ACTOR)
    done = service.upload("t1", "things", csv_of(3), ACTOR)
    applier.explode_on = set()
    service.run(done, ACTOR)

    given_up = service.give_up(imports.S3Object(running.object_key), lambda t: True, "set aside")
    untouched = service.give_up(imports.S3Object(done.object_key), lambda t: True, "set aside")

    assert given_up is not None and given_up.status == ImportStatus.FAILED
    assert given_up.message == (
        "import stopped after 32 rows: set aside (last error: unexpected error (ArithmeticError) on the "
        "rows after line 33; the import is retried)"
    )
    assert untouched is not None and (untouched.status, untouched.message) == (ImportStatus.COMPLETED, None)


def test_a_dead_letter_wakes_the_job_waiting_for_the_one_it_fails(
    store: MemoryStore, files: InMemoryFiles, applier: CountingApplier
) -> None:
    wakes = Wakes()
    service = ImportService(store, files, {"things": applier}, wakes)
    first, second = service.upload_files(
        "t1", [imports.UploadedFile("things", csv_of(3)), imports.UploadedFile("things", csv_of(3))], ACTOR
    )
    # The first job's worker crashed before claiming it: it is still queued, and the second waits for it.
    assert service.run(second, ACTOR).status == ImportStatus.QUEUED

    service.give_up(imports.S3Object(first.object_key), lambda t: True, "set aside")

    assert store.job(first.job_id).status == ImportStatus.FAILED
    assert wakes.woken == [second.job_id]
    assert service.run(store.job(second.job_id), ACTOR).status == ImportStatus.FAILED


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"productname": "Bar", "quantity": "x", "stocklocationid": "L"}, "quantity", "not a number"),
        ({"productname": "Bar", "quantity": "NaN", "stocklocationid": "L"}, "quantity", "not a number"),
        ({"productname": "Bar", "quantity": "-1", "stocklocationid": "L"}, "quantity", "must be >= 0"),
        ({"productname": "Bar", "weight": "-1", "stocklocationid": "L"}, "weight", "must be >= 0"),
        ({"productname": "Bar", "quantity": "1e200"}, "quantity", "at most 14 digits before the point"),
        ({"productname": "Bar", "quantity": "0.1234567"}, "quantity", "at most 6 digits after the point"),
        ({"productname": "B\x00r"}, "productName", "control characters"),
        ({"productname": "x" * 301}, "productName", "at most 300 characters"),
        ({"productname": "Bar", "heatcode": "H" * 201}, "heatCode", "at most 200 characters"),
        ({"quantity": "1", "stocklocationid": "L"}, "productName", "is required"),
        ({"inventoryid": "i1", "version": "v2"}, "version", "whole number"),
    ],
)
def test_bad_cells_name_their_column(cells: dict[str, str], field: str, message: str) -> None:
    item, errors = _parse(Row(7, cells))
    assert item is None
    assert [(e.line, e.field) for e in errors] == [(7, field)]
    assert message in errors[0].message


def test_a_row_without_a_location_is_a_create_for_the_default_location() -> None:
    item, errors = _parse(Row(3, {"productname": "Bar", "quantity": "2"}))

    assert errors == []
    assert item is not None and item.location_id is None


def test_cells_become_an_item_input() -> None:
    cells = {"inventoryid": " i1 ", "quantity": "12.50", "heatcode": "'=H1", "diameter": "", "version": "3"}
    item, errors = _parse(Row(2, cells))
    assert errors == []
    assert item is not None
    assert (item.stock_id, str(item.quantity), item.version) == ("i1", "12.50", 3)
    # The download's formula guard is undone; blank cells are not "given" and leave fields as they are.
    assert item.attributes == {"heat_code": "=H1"}
    assert item.given == frozenset({"stock_id", "quantity", "heat_code", "version"})


# -- staged uploads and job options (GraphQL importInventoryCsv) ---------------------------------


def test_a_staged_file_becomes_a_job_only_when_started_with_its_options(
    service: ImportService, store: MemoryStore, files: InMemoryFiles, applier: CountingApplier
) -> None:
    staged = service.stage("t1", "things")
    assert staged.key.startswith("tmp/t1/things/") and staged.fields["key"] == staged.key
    files.put(staged.key, csv_of(3), "text/csv")

    job = service.start_staged("t1", "things", staged.key, ACTOR, options={"mode": "fast"})

    assert job.options == {"mode": "fast"} and job.source == imports.ImportSource.PRESIGNED
    assert files.objects[job.object_key].body == csv_of(3)
    assert service.run(job, ACTOR).status == ImportStatus.COMPLETED


def test_a_staged_key_of_another_tenant_or_kind_or_missing_is_not_found(
    service: ImportService, files: InMemoryFiles
) -> None:
    staged = service.stage("t1", "things")
    files.put(staged.key, csv_of(1), "text/csv")

    for tenant, key in [("t2", staged.key), ("t1", "tmp/t1/things/none.csv"), ("t1", "uploads/t1/things/x.csv")]:
        with pytest.raises(NotFound) as raised:
            service.start_staged(tenant, "things", key, ACTOR)
        assert raised.value.details == [{"field": "upload", "message": "no such upload"}]


def test_an_applier_with_for_job_gets_the_job_and_may_reject_its_options(
    store: MemoryStore, files: InMemoryFiles
) -> None:
    seen: list[dict[str, Any]] = []

    class PerJob(CountingApplier):
        def for_job(self, job: ImportJob) -> CountingApplier:
            if not job.options:
                raise FileRejected("needs options")
            seen.append(job.options)
            return self

    service = ImportService(store, files, {"things": PerJob()})
    with_options = service.upload("t1", "things", csv_of(2), ACTOR, options={"a": "b"})
    without = service.upload("t1", "things", csv_of(2), ACTOR)

    assert service.run(with_options, ACTOR).status == ImportStatus.COMPLETED
    failed = service.run(without, ACTOR)
    assert (failed.status, failed.message) == (ImportStatus.FAILED, "needs options")
    assert seen == [{"a": "b"}]
