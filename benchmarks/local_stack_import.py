"""A large CSV import on the real local stack, next to a bare batch write of the same items on the same server.

    python -m benchmarks.local_stack_import                                # 1,000,000 rows (~2.5 h on 2 quiet cores)
    python -m benchmarks.local_stack_import --rows 1000000 --bare-rows 100000   # benchmarks/README.md (~1.5 h)
    python -m benchmarks.local_stack_import --rows 20000                   # a few minutes

Starts the local stack as `make run` runs it (`python -m infra.localstack`:
moto's server with its compact item store, the streams delivered to the audit
and events handlers and the import queue to the import handler, each handler
in a process of its own), on free ports and without `--data` (no state is
saved), with the schedules at their deployed rates (SCHEDULES). Then, in the same run:

1. the import: a 000 inventory CSV of creates (the rows of
   `benchmarks.import_rate`: a product every 200 rows, four locations) is
   stored where the API's upload puts it, S3 notifies the import queue, and
   the stack's import handler runs the job; timed from the file's upload to
   the job's `completed`. Then the audit stream is let catch up (every record
   delivered) before the next phase;
2. the bare write: the items that import wrote for the same rows (a stock
   record and its initial ledger line per row, built by the real code, under
   fresh ids) batch-written into the same table of the same server, 25 per
   BatchWriteItem with unprocessed items retried; timed over the calls.
   `--bare-rows` writes fewer rows than the import: its rate is per row, and
   the table it writes to already holds the import's.

Both phases feed the same stream consumers (history and domain events), so
each rate includes what its writes cost the stack downstream while they run.
The stack's resident memory (VmRSS, /proc: its process and the handler
processes it starts, summed) is sampled every few seconds; its peak (VmHWM,
each process's summed) is read after each phase. Linux only. Nothing here
asserts on time; a job that does not complete with every row stops the run.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.import_rate import BARE_TEMPLATE_ROWS, bare_template, renamed, seed_tenant, upload
from benchmarks.loopback import start_stack

ROWS = 1_000_000
SAMPLE_SECONDS = 5.0
# The schedules at the rates the deployed functions run (infra/resources.json): expiry every 5 minutes,
# the nightly jobs once a day. `make run` fires the nightly ones every 15 minutes for demos; a
# reconciliation of every record in the middle of a long import is not what a deployed import meets.
SCHEDULES = ("--expire-every", "300", "--reconcile-every", "86400")
MIB = 1024


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak) of the stack, in MiB: `pid` and the handler processes it started, summed.

    The sum of the peaks is at least the peak of the sum (the processes need not peak together).
    """
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    for process in family(pid):
        try:
            lines = Path(f"/proc/{process}/status").read_text().splitlines()
        except OSError:  # ended meanwhile
            continue
        for line in lines:
            name, _, value = line.partition(":")
            if name in found:
                found[name] += int(value.split()[0]) / MIB
    return found


def family(pid: int) -> list[int]:
    """`pid` and every process below it (Linux /proc/PID/task/TID/children)."""
    found, waiting = [], [pid]
    while waiting:
        process = waiting.pop()
        found.append(process)
        for children in Path(f"/proc/{process}/task").glob("*/children"):
            try:
                waiting.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return found


def use_stack(moto_port: str) -> None:
    """Point this process's clients and services at the stack's moto server."""
    from chalicelib import wiring
    from chalicelib.settings import reset_settings
    from chalicelib.storage.aws import reset_clients

    os.environ["STOCKROOM_AWS_ENDPOINT"] = f"http://127.0.0.1:{moto_port}"
    reset_settings()
    reset_clients()
    wiring.reset()


@functools.cache
def main_stream_arn() -> str:
    """Read once: moto's DescribeTable counts every item of the table, which a poll every 2 s would pay."""
    from chalicelib.settings import get_settings
    from chalicelib.storage.aws import client

    arn: str = client("dynamodb").describe_table(TableName=get_settings().main_table)["Table"]["LatestStreamArn"]
    return arn


def stream_caught_up() -> bool:
    """True when the stack has delivered (and so trimmed) every record of the main table's stream."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.storage.aws import client

    arn = main_stream_arn()
    streams = client("dynamodbstreams")
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        for _ in range(10):
            position = {"ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
            iterator = streams.get_shard_iterator(StreamArn=arn, **position)["ShardIterator"]
            try:
                records = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
                break
            except (ClientError, BotoCoreError):  # the stack dropped the iterator meanwhile, or was busy
                time.sleep(0.5)
        else:
            raise SystemExit("could not read the stream")
        if records:
            return False
    return True


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._last = 0.0

    def maybe(self, label: float) -> None:
        if time.monotonic() - self._last >= SAMPLE_SECONDS:
            self._last = time.monotonic()
            self.samples.append((label, memory(self.pid)["VmRSS"]))
            print(f"  {label:,.0f} rows, stack RSS {self.samples[-1][1]:,.0f} MiB", file=sys.stderr, flush=True)


def wait_for_stream(sampler: Sampler, timeout: float) -> float:
    began = time.monotonic()
    while not stream_caught_up():
        if time.monotonic() - began > timeout:
            raise SystemExit("the stack's stream delivery did not catch up")
        sampler.maybe(-1)
        time.sleep(2)
    return time.monotonic() - began


def run_import(rows: int, sampler: Sampler, workdir: Path) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError

    from chalicelib.wiring import import_service

    tenant = seed_tenant()
    began = time.monotonic()
    job = upload(tenant, workdir / f"inventory-{rows}.csv", rows, False)
    uploaded = time.monotonic()
    while True:
        try:
            ended = import_service().get(tenant.tenant_id, job.job_id)
        except BotoCoreError:  # the server was busy past the client's read timeout: ask again
            continue
        if ended.status in ("completed", "failed"):
            break
        sampler.maybe(ended.processed)
        time.sleep(1)
    seconds = time.monotonic() - uploaded
    if (ended.status, ended.created, ended.failed) != ("completed", rows, 0):
        raise SystemExit(f"import: job ended {ended.status}, {ended.created} created, {ended.failed} failed")
    return {
        "tenant": tenant,
        "seconds": seconds,
        "setup": uploaded - began,
        "after": memory(sampler.pid),
    }


def run_bare_write(tenant: Any, rows: int, sampler: Sampler) -> dict[str, Any]:
    from chalicelib.core.ids import new_id
    from chalicelib.settings import get_settings
    from chalicelib.storage.dynamo import batch_write

    table = get_settings().main_table
    template = bare_template(tenant, min(rows, BARE_TEMPLATE_ROWS))
    seconds, written = 0.0, 0
    while written < rows:
        batch = template[: rows - written]
        requests = [{"PutRequest": {"Item": item}} for row in batch for item in renamed(row, new_id(), new_id())]
        began = time.monotonic()
        batch_write(table, requests)
        seconds += time.monotonic() - began
        written += len(batch)
        sampler.maybe(written)
    return {"seconds": seconds, "after": memory(sampler.pid)}


def item_counts() -> dict[str, int]:
    """Items per table of the stack (DescribeTable's ItemCount, which moto counts as it answers)."""
    from chalicelib.settings import get_settings
    from chalicelib.storage.aws import client
    from infra.provision import table_names

    ddb = client("dynamodb")
    return {
        name: ddb.describe_table(TableName=table)["Table"]["ItemCount"]
        for name, table in table_names(get_settings()).items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of the imported file (and of the bare write)")
    parser.add_argument(
        "--bare-rows",
        type=int,
        default=None,
        help="rows of the bare write when not --rows (its rate is per row; a million rows of it takes an hour)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    rows = args.rows
    bare_rows = args.bare_rows or rows
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        process, banner = start_stack(workdir / "stack.log", *SCHEDULES)
        try:
            sampler = Sampler(process.pid)
            use_stack(banner["moto_port"])
            time.sleep(1)
            at_start = memory(process.pid)
            imported = run_import(rows, sampler, workdir)
            caught_up_import = wait_for_stream(sampler, 3 * 3600)
            after_import = memory(process.pid)
            items_after_import = item_counts()
            bare = run_bare_write(imported["tenant"], bare_rows, sampler)
            caught_up_bare = wait_for_stream(sampler, 3 * 3600)
            at_end = memory(process.pid)
            items_at_end = item_counts()
        finally:
            process.terminate()
            process.wait(timeout=120)
    import_rate = rows / imported["seconds"]
    bare_rate = bare_rows / bare["seconds"]
    print(f"Local stack (python -m infra.localstack, compact item store): a {rows:,}-row CSV import and a bare")
    print("batch write of the same items (a stock record and its ledger line per row) on the same server\n")
    print("| phase | rows | seconds | rows/s | import/bare | stack RSS after MiB | stack peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| import (upload to job completed) | {rows:,} | {imported['seconds']:,.1f} | {import_rate:,.0f} | "
        f"{import_rate / bare_rate:.2f} | {after_import['VmRSS']:,.0f} | {after_import['VmHWM']:,.0f} |"
    )
    print(
        f"| bare batch write | {bare_rows:,} | {bare['seconds']:,.1f} | {bare_rate:,.0f} | - | "
        f"{at_end['VmRSS']:,.0f} | {at_end['VmHWM']:,.0f} |"
    )
    print(f"\nrow count: {rows:,}")
    print(f"stack RSS at start: {at_start['VmRSS']:,.0f} MiB")
    print(f"peak RSS of the stack over the import (and its stream catching up): {after_import['VmHWM']:,.0f} MiB")
    print(f"peak RSS of the stack over the whole run ({rows + bare_rows:,} rows written): {at_end['VmHWM']:,.0f} MiB")
    print(
        f"import rows/s: {import_rate:,.0f}; bare batch write rows/s: {bare_rate:,.0f}; "
        f"ratio {import_rate / bare_rate:.2f}"
    )
    print(
        f"stream catch-up after each phase (not timed in the rates): import {caught_up_import:,.0f} s, "
        f"bare write {caught_up_bare:,.0f} s"
    )
    rise = (after_import["VmRSS"] - at_start["VmRSS"]) / rows * 1000
    print(f"RSS rise over the import: {rise:,.2f} MiB per 1,000 rows")
    print(f"items after the import: {', '.join(f'{n} {c:,}' for n, c in items_after_import.items())}")
    print(f"items at the end: {', '.join(f'{n} {c:,}' for n, c in items_at_end.items())}")
    print(
        "RSS samples (rows done, MiB; -1 = waiting for the stream): "
        + ", ".join(f"{n:,.0f}:{m:,.0f}" for n, m in sampler.samples[:: max(1, len(sampler.samples) // 20)])
    )


if __name__ == "__main__":
    main()
