"""CSV import rate and peak memory, next to a bare batch write of the same items.

    python -m benchmarks.import_rate                        # 10,000 and 100,000 rows (~8-15 min on 2 cores)
    python -m benchmarks.import_rate --rows 10000           # one size (~1.5 min)
    python -m benchmarks.import_rate --rows 10000 --bad-rows 10000 --trace-rows 2000,10000

For each size it writes a 000 inventory CSV of creates (six product names over
four stock locations, types, materials and suppliers, with heat code,
dimensions, weight and unit price), stores it in S3 and imports it through the
path the SQS worker runs: a queued job from `ImportService.new_job`, the file
at the job's key, then the import queue handler
(`chalicelib.events.imports.handle`) with the message S3 sends, which runs
`ImportService.run` over the 000 row rules (`chalicelib.features.company_inventory.csv_import`)
and streams the file from S3 (`chalicelib.storage.files`).

The floor, in the same run: a bare batch write of the items the import writes
for the same rows (a stock record and its initial ledger line per row, built by
the real code), 25 per `BatchWriteItem` with unprocessed items retried
(`chalicelib.storage.dynamo.batch_write`, what boto3's `batch_writer` does), on
the same client, into the same table definition on a server patched the same
way. Each size's bare write runs right after its import, so both share the
machine's load; both are also timed in CPU seconds (this process plus the moto
server), which other processes on a shared machine hardly change.

moto runs as a server in a child process (infra.moto_server, as the local
stack does), a fresh one per phase, so this process holds what the importer
holds, as a Lambda would: the memory figures are the import's, not moto's
tables or the stored file. In-process moto would count its stored items in
the peak, which then grows with the rows whatever the importer does.

Peak memory is measured two ways. Timed runs report this process's peak RSS
during the import and how far the import raised it (ru_maxrss, with the
kernel's high-water mark reset just before on Linux), after a small warm-up
import. `--trace-rows` adds runs under tracemalloc (its peak: the most Python
memory the import held at once); they are separate because tracemalloc
doubles the importer's CPU time.

The moto server is the local stack's (`infra.moto_server.start`): one request
at a time, and TransactWriteItems rolling back by item
(`roll_back_by_item`) instead of moto's deep copy of every table it touches,
which made an import O(n^2) in moto (hours for 100k rows). Unless
`--moto-as-shipped` is given, two more patches cut moto's own per-item cost
(see `patch_moto`, MOTO_PATCHES). None touches the code under test; the
patches live in the server process only. The run counts errors DynamoDB
returns.

DynamoDB calls are counted with the botocore before-call hook
(`chalicelib.storage.aws.on_call`), so retries and extra pages count too.
Nothing here asserts on time; a run whose job counts come out wrong stops,
since its figures would mean nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.loopback import free_port

# The import logs a line per job; keep the figures readable.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

ROWS = (10_000, 100_000)
BAD_EVERY = 5  # with --bad-rows, every fifth row is bad: 20%
# What sets an extra import run apart from the timed one.
BAD = "20% bad rows"
TRACED = "tracemalloc on"
BARE = "bare"  # the bare batch write's phase
PRODUCTS = (
    "Round bar 50mm S355",
    "Round bar 80mm S355",
    "Flat bar 100x10 S275",
    "Plate 20mm S355",
    "Box section 100x100x5",
    "Tube 60.3x4 S355",
)
# Each run of 200 lines names one product (six kinds, numbered): a million rows are 5,000 products of
# 200 stock records, as a stockholder's book might be. (One product's stock keys item holds about 10,000
# record ids before DynamoDB's 400 KB item limit: six products could not take a 100k-row file.)
ROWS_PER_PRODUCT = 200
LOCATIONS = ("Yard A", "Yard B", "Rack 1", "Rack 2")
TYPES = ("Bar", "Plate", "Section", "Tube")
MATERIALS = ("S355", "S275", "304L", "6082-T6")
SUPPLIERS = ("Northern Steel", "Baltic Metals", "Rhine Profiles", "Iberia Tube")
HEADER = (
    "productName",
    "quantity",
    "stockLocationId",
    "type",
    "material",
    "supplierId",
    "heatCode",
    "diameter",
    "length",
    "width",
    "depth",
    "weight",
    "unitPrice",
)
WARM_UP_ROWS = 100
BARE_TEMPLATE_ROWS = 1_000  # rows whose items the real code builds; the bare write repeats them under new ids
CHILD_STOP_SECONDS = 60
MIB = 2**20
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")
MOTO_PATCHES = (
    "the 400 KB item-size check does not re-sum the whole item for every attribute it stores\n"
    "    (quadratic per item; these items are about 1.4 KB)",
    "the server runs with Python's cyclic garbage collector off",
)


# -- the CSV ---------------------------------------------------------------------


@dataclass(frozen=True)
class Refs:
    """The ids a row may reference: stock locations, types, materials and suppliers of one company."""

    locations: list[str]
    types: list[str]
    materials: list[str]
    suppliers: list[str]


def good_row(rng: random.Random, line: int, refs: Refs) -> dict[str, str]:
    """A create row with every reference and a round bar's or a plate's dimensions."""
    diameter = rng.choice(("50", "80", "60.3", ""))
    width, depth = ("", "") if diameter else (str(rng.choice((100, 200, 1500))), str(rng.choice((5, 10, 20))))
    run = line // ROWS_PER_PRODUCT
    return {
        "productName": f"{PRODUCTS[run % len(PRODUCTS)]} #{run // len(PRODUCTS) + 1}",
        "quantity": str(rng.randint(1, 500)),
        "stockLocationId": rng.choice(refs.locations),
        "type": rng.choice(refs.types),
        "material": rng.choice(refs.materials),
        "supplierId": rng.choice(refs.suppliers),
        "heatCode": f"H-{line % 997:04d}",
        "diameter": diameter,
        "length": str(rng.choice((3000, 6000, 12000))),
        "width": width,
        "depth": depth,
        "weight": f"{rng.uniform(1, 900):.3f}",
        "unitPrice": f"{rng.uniform(5, 400):.2f}",
    }


def bad_row(rng: random.Random, line: int, refs: Refs) -> dict[str, str]:
    """A row the import must report: each mistake a user makes, in turn."""
    cells = good_row(rng, line, refs)
    defect = line % 5
    if defect == 0:
        cells["quantity"] = "12 pcs"  # not a number
    elif defect == 1:
        cells["quantity"] = "-4"  # negative quantity
    elif defect == 2:
        cells["stockLocationId"] = "no-such-location"  # parses, then fails the chunk's batched reference lookup
    elif defect == 3:
        cells["productName"] = ""  # a create without a product name
    else:
        cells["weight"] = "-1.5"  # negative weight
    return cells


def csv_line(cells: dict[str, str]) -> str:
    # No generated cell holds a comma, quote or line break, so no quoting is needed.
    return ",".join(cells[column] for column in HEADER) + "\n"


def write_csv(path: Path, rows: int, with_bad: bool, refs: Refs) -> int:
    """Write the file a row at a time (never held whole); returns the number of bad rows."""
    rng = random.Random(rows)
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for index in range(rows):
            line = index + 2  # the header is line 1
            if with_bad and index % BAD_EVERY == BAD_EVERY - 1:
                out.write(csv_line(bad_row(rng, line, refs)))
                bad += 1
            else:
                out.write(csv_line(good_row(rng, line, refs)))
    return bad


# -- moto in a child process -------------------------------------------------------


def patch_moto() -> None:
    """Cut moto's own costs (MOTO_PATCHES), in the benchmark's server process only."""
    from moto.dynamodb.models import dynamo_type

    # If moto changes shape, stop rather than measure something else.
    if not hasattr(dynamo_type, "LimitedSizeDict"):
        raise SystemExit("moto's DynamoDB models changed; the benchmark's patches no longer apply")
    dynamo_type.LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
    gc.disable()


def serve(port: int, patched: bool) -> None:
    """Child process: moto's server on 127.0.0.1 until the parent closes our stdin."""
    import logging

    from infra.moto_server import start

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if patched:
        patch_moto()
    server = start(port)
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()
    # Tearing down a heap of a few hundred thousand items takes half a minute and measures nothing.
    os._exit(0)


@contextmanager
def moto_server(patched: bool) -> Iterator[int]:
    """A fresh moto server in a child process, provisioned from infra/; this process's clients use it.

    Yields the child's pid, to read its CPU time.
    """
    from chalicelib import wiring
    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.storage.aws import client, reset_clients
    from infra.provision import provision

    port = free_port()
    command = [sys.executable, "-m", "benchmarks.import_rate", "--serve", str(port)]
    if not patched:
        command.append("--moto-as-shipped")
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("moto server did not start")
        os.environ["STOCKROOM_AWS_ENDPOINT"] = f"http://127.0.0.1:{port}"
        reset_settings()
        reset_clients()
        wiring.reset()
        provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
        yield child.pid
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=CHILD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        os.environ.pop("STOCKROOM_AWS_ENDPOINT", None)
        reset_settings()
        reset_clients()
        wiring.reset()


# -- measuring -----------------------------------------------------------------------


@dataclass
class CallLog:
    """DynamoDB and S3 requests by operation, and errors DynamoDB returned, while `measure` is open."""

    calls: Counter[str] = field(default_factory=Counter)
    s3: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    active: bool = False

    def __call__(self, service: str, operation: str) -> None:
        if not self.active:
            return
        if service == "dynamodb":
            self.calls[operation] += 1
        elif service == "s3":
            self.s3[operation] += 1

    def after_call(self, parsed: Any, model: Any, **_: Any) -> None:
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        if self.active and error:
            self.errors[f"{model.name} {error.get('Code')}"] += 1

    def watch_errors(self) -> None:
        """Hook this log to the current DynamoDB client's responses (clients are rebuilt per server)."""
        from chalicelib.storage.aws import client

        client("dynamodb").meta.events.register("after-call.dynamodb", self.after_call)

    @contextmanager
    def measure(self) -> Iterator[None]:
        self.calls, self.s3, self.errors = Counter(), Counter(), Counter()
        self.active = True
        try:
            yield
        finally:
            self.active = False


class PeakRss:
    """This process's peak RSS over a stretch of code, and how far the stretch raised it (ru_maxrss delta).

    On Linux the kernel's high-water mark is reset first (/proc/self/clear_refs),
    so ru_maxrss starts from the current RSS and the figures are the stretch's
    own. Elsewhere ru_maxrss is the peak of the whole run so far: the rise only
    shows once the stretch needs more than anything before it.
    """

    def __enter__(self) -> PeakRss:
        gc.collect()
        with suppress(OSError):  # not Linux, or not allowed: ru_maxrss is then the run's high-water mark
            PROC_CLEAR_REFS.write_text("5")
        self.start = max_rss()
        return self

    def __exit__(self, *_: object) -> None:
        self.peak = max_rss()
        self.rise = self.peak - self.start


class CpuClock:
    """CPU seconds of this process and the moto server over a stretch of code.

    On a shared machine other processes stretch wall time; CPU time barely
    moves, so the import/bare ratio by CPU time is the steadier one. Without
    /proc (not Linux) only this process's CPU time is known, and `seconds` is None.
    """

    def __init__(self, server_pid: int) -> None:
        self.stat = Path(f"/proc/{server_pid}/stat")

    def now(self) -> float | None:
        try:
            # Fields 14 and 15 (utime, stime) in clock ticks; the command name (field 2) may hold spaces.
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuClock:
        self.start = self.now()
        return self

    def __exit__(self, *_: object) -> None:
        end = self.now()
        self.seconds = None if end is None or self.start is None else end - self.start


def max_rss(who: int = resource.RUSAGE_SELF) -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(who).ru_maxrss * 1024


@dataclass
class Result:
    kind: str  # import | bare
    note: str  # "" or what sets the run apart ("20% bad rows", "tracemalloc on")
    rows: int
    seconds: float
    calls: Counter[str]
    errors: Counter[str]
    s3: Counter[str] = field(default_factory=Counter)
    cpu: float | None = None  # CPU seconds of this process and the moto server
    rss_peak: int | None = None
    rss_rise: int | None = None
    traced_peak: int | None = None
    outcome: str = ""

    @property
    def label(self) -> str:
        name = "import" if self.kind == "import" else "bare batch write"
        return f"{name}, {self.note}" if self.note else name

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_rate(self) -> float | None:
        return self.rows / self.cpu if self.cpu else None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def calls_per_1000(self) -> float:
        return 1000 * self.total_calls / self.rows


@dataclass
class Tenant:
    tenant_id: str
    actor: Any
    refs: Refs


def seed_tenant() -> Tenant:
    """A company with the stock locations, types, materials and suppliers the rows reference."""
    from chalicelib.core.models import Actor
    from chalicelib.core.reference.service import NewReference, RefKind
    from chalicelib.wiring import catalog_service, reference_service, tenant_service

    tenant, _ = tenant_service().create_tenant("Bench Steel Ltd")
    tenant_id = tenant.tenant_id
    actor = Actor(id="bench", name="Import benchmark")

    def references(kind: RefKind, labels: Sequence[str]) -> list[str]:
        made = reference_service().create(tenant_id, kind, [NewReference(label, {}) for label in labels], actor)
        return [item.ref_id for item in made]

    locations = [catalog_service().create_location(tenant_id, {"name": n}, actor).location_id for n in LOCATIONS]
    refs = Refs(
        locations=locations,
        types=references(RefKind.TYPE, TYPES),
        materials=references(RefKind.MATERIAL, MATERIALS),
        suppliers=references(RefKind.ORGANISATION, SUPPLIERS),
    )
    return Tenant(tenant_id, actor, refs)


class PhaseClock:
    """Wall time per step of a phase, printed to stderr as the run goes (a long run shows progress)."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.started = self.last = time.perf_counter()
        self.laps: list[str] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{name} {now - self.last:.1f} s")
        self.last = now

    def report(self) -> str:
        line = f"  {self.phase}: {time.perf_counter() - self.started:.1f} s ({', '.join(self.laps)})"
        print(line, file=sys.stderr, flush=True)
        return line


# -- the import ----------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    job_id: str
    key: str
    bad: int


def upload(tenant: Tenant, path: Path, rows: int, with_bad: bool) -> Upload:
    """A queued import job with its CSV in S3, as the API's upload leaves it (the file is streamed, never held)."""
    from chalicelib.core.imports.jobs import ImportSource
    from chalicelib.features.company_inventory.csv_import import KIND
    from chalicelib.settings import get_settings
    from chalicelib.storage.aws import client
    from chalicelib.wiring import import_service

    bad = write_csv(path, rows, with_bad, tenant.refs)
    job = import_service().new_job(tenant.tenant_id, KIND, ImportSource.UPLOAD, tenant.actor, filename=path.name)
    with path.open("rb") as body:
        client("s3").put_object(
            Bucket=get_settings().bucket,
            Key=job.object_key,
            Body=body,
            ContentType="text/csv",
            Metadata={"job-id": job.job_id},
        )
    path.unlink()
    return Upload(job.job_id, job.object_key, bad)


def deliver(key: str) -> dict[str, Any]:
    """Hand the import queue handler the SQS message that S3's notification for `key` becomes."""
    from chalicelib.events import imports as import_queue
    from chalicelib.settings import get_settings

    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": get_settings().bucket}, "object": {"key": key, "sequencer": f"{time.time_ns():X}"}},
    }
    message = {"messageId": f"bench-{key}", "body": json.dumps({"Records": [record]})}
    return import_queue.handle({"Records": [message]})


def check_job(label: str, tenant: Tenant, upload: Upload, rows: int, answer: dict[str, Any]) -> str:
    """Stop the run unless the job applied every good row and reported every bad one."""
    from chalicelib.wiring import import_service

    ended = import_service().get(tenant.tenant_id, upload.job_id)
    expected = (rows, rows, rows - upload.bad, 0, upload.bad)
    found = (ended.total, ended.processed, ended.created, ended.updated, ended.failed)
    if answer != {"batchItemFailures": []} or ended.status != "completed" or found != expected:
        raise SystemExit(
            f"{label}: job ended {ended.status} with (total, processed, created, updated, failed) = {found},"
            f" expected {expected}: {answer}"
        )
    return f"job completed: {ended.created:,} created, {ended.failed:,} failed, {ended.errors_stored:,} errors stored"


def run_import(log: CallLog, rows: int, note: str, patched: bool, workdir: Path) -> tuple[Result, str]:
    """One import of `rows` rows on a fresh server; `note` is "", BAD or TRACED."""
    with_bad, traced = note == BAD, note == TRACED
    label = f"import {rows:,} rows" + (f", {note}" if note else "")
    clock = PhaseClock(label)
    with moto_server(patched) as server:
        log.watch_errors()
        tenant = seed_tenant()
        warm_up = upload(tenant, workdir / "warm-up.csv", WARM_UP_ROWS, False)
        measured = upload(tenant, workdir / f"inventory-{rows}.csv", rows, with_bad)
        # A small import first, so lazy imports and first-use caches are not charged to the measured one.
        check_job("warm-up", tenant, warm_up, WARM_UP_ROWS, deliver(warm_up.key))
        clock.lap("setup (server, tables, company, CSVs to S3, warm-up import)")

        traced_peak = None
        with PeakRss() as rss, CpuClock(server) as cpu:
            if traced:
                tracemalloc.start()
            started = time.perf_counter()
            with log.measure():
                answer = deliver(measured.key)
            seconds = time.perf_counter() - started
            if traced:
                traced_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        clock.lap("import")
        outcome = check_job(label, tenant, measured, rows, answer)
    result = Result(
        "import",
        note,
        rows,
        seconds,
        Counter(log.calls),
        Counter(log.errors),
        Counter(log.s3),
        cpu=cpu.seconds,
        rss_peak=None if traced else rss.peak,
        rss_rise=None if traced else rss.rise,
        traced_peak=traced_peak,
        outcome=outcome,
    )
    return result, clock.report()


# -- the bare batch write ---------------------------------------------------------------


@dataclass
class BareRow:
    stock_id: str
    movement_id: str
    items: list[dict[str, Any]]


def bare_template(tenant: Tenant, rows: int) -> list[BareRow]:
    """The items the import writes for the first `rows` good rows (record + initial ledger line).

    Built by the importer's own row rules (`_parse`, `_new_record`) and the
    stock service and store that the import's commit uses, so each item has
    the shape and size of the one the import writes.
    """
    from chalicelib.core.imports.jobs import Row
    from chalicelib.features.company_inventory.csv_import import _new_record, _parse
    from chalicelib.settings import get_settings
    from chalicelib.storage.stock_repo import DynamoStockStore
    from chalicelib.wiring import stock_service

    rng = random.Random(rows)
    news = []
    for line in range(2, rows + 2):
        cells = {name.casefold(): value for name, value in good_row(rng, line, tenant.refs).items()}
        row = Row(line, cells)
        item, errors = _parse(row)
        if item is None or errors:
            raise SystemExit(f"bare write: line {line} does not parse: {errors}")
        news.append(_new_record(tenant.tenant_id, "bare-write", row, item))
    store = DynamoStockStore(get_settings().main_table)
    template = []
    for record, movement in stock_service().new_records(tenant.tenant_id, news, tenant.actor):
        if movement is None:
            raise SystemExit("bare write: a row with a quantity made no ledger line")
        puts = store.create_items(record, movement, tenant.actor)
        template.append(BareRow(record.stock_id, movement.movement_id, [put["Put"]["Item"] for put in puts]))
    return template


def renamed(row: BareRow, stock_id: str, movement_id: str) -> list[dict[str, Any]]:
    """The row's items under other stock and movement ids: the same shape and size, new keys."""

    def fresh(value: dict[str, Any]) -> dict[str, Any]:
        if "S" not in value:
            return value
        return {"S": value["S"].replace(row.stock_id, stock_id).replace(row.movement_id, movement_id)}

    return [{name: fresh(value) for name, value in item.items()} for item in row.items]


def run_bare_write(log: CallLog, rows: int, patched: bool) -> tuple[Result, str]:
    """Batch-write the import's items for `rows` rows into a fresh server's table.

    The real code builds the first BARE_TEMPLATE_ROWS rows' items; later rows
    repeat them under fresh ids, so building 200k items does not eat the time
    budget. Only the batch_write calls are timed.
    """
    from chalicelib.core.ids import new_id
    from chalicelib.settings import get_settings
    from chalicelib.storage import keys
    from chalicelib.storage.codec import to_attrs
    from chalicelib.storage.dynamo import batch_get, batch_write

    clock = PhaseClock(f"bare batch write {rows:,} rows")
    with moto_server(patched) as server:
        log.watch_errors()
        tenant = seed_tenant()
        table = get_settings().main_table
        template = bare_template(tenant, min(rows, BARE_TEMPLATE_ROWS))
        clock.lap("setup (server, tables, company, template)")
        seconds, cpu, written, items = 0.0, 0.0, 0, 0
        calls: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        last: list[str] = []
        while written < rows:
            batch = template[: rows - written]
            last = [new_id() for _ in batch]
            requests = [
                {"PutRequest": {"Item": item}}
                for row, stock_id in zip(batch, last, strict=True)
                for item in renamed(row, stock_id, new_id())
            ]
            began = time.perf_counter()
            with log.measure(), CpuClock(server) as step:
                batch_write(table, requests)
            seconds += time.perf_counter() - began
            cpu += step.seconds or 0.0
            calls += log.calls
            errors += log.errors
            written += len(batch)
            items += len(requests)
        clock.lap(f"writing ({seconds:.1f} s of it timed)")
        # The writes landed: the last step's records read back.
        sample = last[:100]
        found = batch_get(table, [to_attrs(keys.stock(tenant.tenant_id, s)) for s in sample])
        if len(found) != len(sample):
            raise SystemExit(f"bare write: only {len(found)} of {len(sample)} records of the last step read back")
    outcome = f"{items:,} items written (a stock record and its ledger line per row)"
    result = Result("bare", "", rows, seconds, calls, errors, cpu=cpu or None, outcome=outcome)
    return result, clock.report()


# -- printing ----------------------------------------------------------------------------


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f}"


def by_operation(calls: Counter[str]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in calls.most_common()) or "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table; the first column left-aligned, the figures right-aligned."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(headers), rule, *(line(row) for row in rows)]


def ratio(result: Result, bare: dict[int, Result], by_cpu: bool = False) -> str:
    """The import's rate over the bare write's for the same number of rows, by wall or by CPU time."""
    floor = bare.get(result.rows)
    if result.kind != "import" or floor is None or result.note == TRACED:
        return "-"
    if not by_cpu:
        return f"{result.rate / floor.rate:.2f}"
    mine, theirs = result.cpu_rate, floor.cpu_rate
    return f"{mine / theirs:.2f}" if mine and theirs else "-"


def flatness(results: list[Result], attribute: str) -> str | None:
    """How a memory figure moved from the smallest to the largest file (files without bad rows)."""
    runs = [r for r in results if r.kind == "import" and r.note != BAD and getattr(r, attribute) is not None]
    if len(runs) < 2 or runs[-1].rows == runs[0].rows:
        return None
    small, large = runs[0], runs[-1]
    line = ", ".join(f"{r.rows:,} rows {mib(getattr(r, attribute))} MiB" for r in runs)
    grew = getattr(large, attribute) - getattr(small, attribute)
    return f"{line}: {grew / MIB:+.1f} MiB for {large.rows / small.rows:.0f}x the rows"


def report(results: list[Result], laps: list[str], patched: bool, elapsed: float) -> None:
    from chalicelib.core.imports.jobs import CHUNK_ROWS

    order = {"": 0, BARE: 1, BAD: 2, TRACED: 3}
    results = sorted(results, key=lambda r: (r.rows, order[BARE if r.kind == "bare" else r.note]))
    bare = {r.rows: r for r in results if r.kind == "bare"}
    print(
        "CSV import (ImportService.run via the SQS handler, file streamed from S3) versus a bare batch write of\n"
        "the same items, same run; moto server in a child process, a fresh one per phase"
        + (", patched (see below)" if patched else ", as shipped")
        + "\n"
    )
    headers = (
        "phase",
        "rows",
        "seconds",
        "rows/s",
        "import/bare",
        "CPU s",
        "rows/CPU s",
        "import/bare CPU",
        "peak RSS MiB",
        "RSS rise MiB",
        "traced peak MiB",
        "DynamoDB calls",
        "per 1,000 rows",
    )
    cells = [
        (
            r.label,
            f"{r.rows:,}",
            f"{r.seconds:.1f}",
            f"{r.rate:,.0f}",
            ratio(r, bare),
            "-" if r.cpu is None else f"{r.cpu:.1f}",
            "-" if r.cpu_rate is None else f"{r.cpu_rate:,.0f}",
            ratio(r, bare, by_cpu=True),
            mib(r.rss_peak),
            mib(r.rss_rise),
            mib(r.traced_peak),
            f"{r.total_calls:,}",
            f"{r.calls_per_1000:.1f}",
        )
        for r in results
    ]
    print("\n".join(table(headers, cells)))
    print(
        "\nseconds, rows/s: wall time of the import (of the batch_write calls for the bare write).\n"
        "CPU s: CPU time of this process and the moto server over the same stretch; other processes on the\n"
        "machine stretch wall time but hardly CPU time. import/bare: the import's rows/s over the bare write's\n"
        "for the same rows (1.00 = as fast as writing its items). per 1,000 rows: DynamoDB calls per 1,000 rows."
    )

    print("\nDynamoDB calls by operation")
    for r in results:
        print(f"  {r.label}, {r.rows:,} rows: {by_operation(r.calls)}")
        if r.kind == "import":
            chunks = -(-r.rows // CHUNK_ROWS)
            each = ", ".join(f"{name} {n / chunks:.2f}" for name, n in r.calls.most_common())
            print(f"    per chunk of {CHUNK_ROWS} rows ({chunks:,} chunks): {each}; S3: {by_operation(r.s3)}")
        print(f"    {r.outcome}; errors returned by DynamoDB: {by_operation(r.errors) if r.errors else 'none'}")

    print("\nMemory of this process (the importer's; moto's tables live in the child)")
    for name, attribute in (("peak RSS", "rss_peak"), ("RSS rise", "rss_rise"), ("traced peak", "traced_peak")):
        moved = flatness(results, attribute)
        if moved:
            print(f"  {name}: {moved}")
    reset = PROC_CLEAR_REFS.exists()
    print(
        "  peak RSS: ru_maxrss during the import"
        + (", the kernel's high-water mark reset just before it" if reset else " (the run's high-water mark)")
        + ".\n  RSS rise: how far the import raised it over the RSS it started from (after a warm-up import)."
        "\n  traced peak: tracemalloc's peak, the most Python memory the import held at once (--trace-rows runs)."
        f"\n  largest moto server child: {max_rss(resource.RUSAGE_CHILDREN) / MIB:,.0f} MiB peak RSS."
    )
    if patched:
        print("\nmoto server patches (the server process only; --moto-as-shipped runs without):")
        for patch in MOTO_PATCHES:
            print(f"  - {patch}")
    print("\nElapsed per phase")
    for lap in laps:
        print(lap)
    print(f"  total: {elapsed:.1f} s")


def sizes_arg(text: str) -> list[int]:
    sizes = [int(n.replace("_", "")) for n in text.split(",") if n.strip()]
    if any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("sizes are positive row counts")
    return sizes


def plan_runs(rows: list[int], bad_rows: list[int], trace_rows: list[int]) -> list[tuple[int, str]]:
    """The phases to run, smallest file first: (rows, phase) with phase "", BAD, TRACED or BARE.

    Each timed import is followed by the bare write of the same size, so the
    two run close together in time and share the machine's load.
    """
    runs: list[tuple[int, str]] = []
    for size in sorted(set(rows) | set(bad_rows) | set(trace_rows)):
        runs += [(size, ""), (size, BARE)] if size in rows else []
        runs += [(size, BAD)] if size in bad_rows else []
        runs += [(size, TRACED)] if size in trace_rows else []
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=sizes_arg,
        default=list(ROWS),
        help="rows per timed import, comma-separated; the bare write runs for the same sizes (default 10000,100000)",
    )
    parser.add_argument("--bad-rows", type=sizes_arg, default=[], help="sizes also imported with 20%% bad rows")
    parser.add_argument("--trace-rows", type=sizes_arg, default=[], help="sizes also imported under tracemalloc")
    parser.add_argument(
        "--moto-as-shipped", action="store_true", help="the local stack's moto server without the benchmark's patches"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    patched = not args.moto_as_shipped
    if args.serve:
        serve(args.serve, patched)
        return 0

    from chalicelib.storage.aws import on_call

    started = time.perf_counter()
    log = CallLog()
    unsubscribe = on_call(log)
    results: list[Result] = []
    laps: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="import-rate-") as workdir:
            for rows, phase in plan_runs(args.rows, args.bad_rows, args.trace_rows):
                if phase == BARE:
                    result, lap = run_bare_write(log, rows, patched)
                else:
                    result, lap = run_import(log, rows, phase, patched, Path(workdir))
                results.append(result)
                laps.append(lap)
    finally:
        unsubscribe()
    report(results, laps, patched, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
