"""Events, webhooks and as-of reads: round trips and latency.

    python -m benchmarks.events                     # 100,000 movements over a year (~3-5 min)
    python -m benchmarks.events --movements 10000   # quicker
    python -m benchmarks.events --movements 10000 --events 0   # as-of figures only

Against moto in-process, tables and queues built from infra/resources.json:

1. DynamoDB calls of one as-of read (`figures_as_of`) a year back, a day back
   and a minute back, for one stock record whose ledger holds `--movements`
   movements spread over 365 days with a daily snapshot (alone and with
   reserved and held); the same read the previous way (4 Queries); and with
   no snapshot at all (the whole ledger partition, page by page).
1b. A page of the 000 list as of 10 days back (`--page` items, each with a
   month of movements and daily snapshots): DynamoDB calls and time, with the
   page's reads 16 at a time and one by one (moto in-process: the threads
   share one interpreter, so the gain against real DynamoDB, where a call
   waits on the network, is larger than shown).
2. Per stream batch of the events consumer: records in, events written,
   DynamoDB calls (event writes, threshold reads, webhook listing) and SQS
   calls (delivery messages, 10 per call).
3. Stream-to-webhook latency for `--events` stock changes: from each change's
   occurredAt to its arrival at a receiver on loopback, the stream read, the
   events consumer and the sender run back to back in this process (no
   event-source polling delay, which on AWS adds the mapping's batching
   window; on the local stack, its 0.2 s poll). p50 and p99.
Nothing asserts: the figures are for reading and comparing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.loopback import Receiver


class Calls:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, service: str, operation: str) -> None:
        self.counts[f"{service}:{operation}"] += 1

    def take(self) -> Counter[str]:
        found, self.counts = self.counts, Counter()
        return found


def fmt(counts: Counter[str], service: str = "dynamodb") -> str:
    mine = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith(service + ":")}
    return ", ".join(f"{name} x{n}" for name, n in sorted(mine.items())) or "-"


def as_of_reads(movements: int, calls: Calls) -> None:
    from chalicelib.core.models import SYSTEM, Movement, MovementKind, StockRecord
    from chalicelib.core.stock.asof import Snapshot, figures_as_of
    from chalicelib.settings import get_settings
    from chalicelib.storage.dynamo import batch_write
    from chalicelib.storage.stock_repo import DynamoStockStore

    store = DynamoStockStore(get_settings().main_table)
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / movements
    record = StockRecord(
        tenant_id="bench", stock_id="s1", product_id="p", location_id="l", created_at=start - timedelta(days=1)
    )
    items = []
    running = Decimal(0)
    snapshots = []
    next_snapshot = start + timedelta(days=1)
    began = time.perf_counter()
    for n in range(movements):
        at = start + step * n
        while at > next_snapshot:
            snapshots.append(Snapshot("bench", "s1", next_snapshot, running, n))
            next_snapshot += timedelta(days=1)
        quantity = Decimal(1 if n % 3 else -1)
        running += quantity
        move = Movement(
            tenant_id="bench",
            stock_id="s1",
            product_id="p",
            location_id="l",
            kind=MovementKind.ADJUSTMENT,
            quantity=quantity,
            actor=SYSTEM,
            occurred_at=at,
        )
        items.append({"PutRequest": {"Item": store._movement_item(move)}})
    batch_write(get_settings().main_table, items)
    store.put_snapshots(snapshots)
    calls.take()
    print(
        f"ledger written: {movements} movements, {len(snapshots)} daily snapshots ({time.perf_counter() - began:.0f} s)"
    )
    print("\n| as-of read of one record | DynamoDB calls | with reserved and held | on hand |")
    print("|---|---|---|---|")
    for label, moment in (
        ("a year back (day 2)", start + timedelta(days=1, hours=12)),
        ("half a year back", start + timedelta(days=182, hours=6)),
        ("a day back", now - timedelta(days=1)),
        ("a minute back", now - timedelta(minutes=1)),
    ):
        figures = figures_as_of([record], moment, store)
        alone = fmt(calls.take())
        figures_as_of([record], moment, store, with_claims=True)
        print(f"| {label} | {alone} | {fmt(calls.take())} | {figures['s1'].on_hand} |")

    # The scheme before snapshots were indexed with the movements: the snapshot from its own partition,
    # then the movements since by time, then reservations and holds apart (4 Queries in a row).
    moment = start + timedelta(days=1, hours=12)
    snapshot = store.snapshot_at("bench", "s1", moment)
    store.movements_between("bench", "s1", snapshot.at if snapshot else start, moment)
    store.reservations_for_record("bench", "s1")
    store.holds_for_record("bench", "s1")
    print(f"| a year back, the previous scheme (with claims) | - | {fmt(calls.take())} | |")

    class NoSnapshots:
        """The ledger window of a record with no snapshot at all: the whole ledger partition."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def ledger_windows(self, tenant_id: str, stock_ids: list[str], at: datetime) -> dict[str, Any]:
            from chalicelib.core.stock.asof import LedgerWindow

            return {
                s: LedgerWindow(None, [m for m in store.movements(tenant_id, s) if m.occurred_at <= at])
                for s in stock_ids
            }

    figures = figures_as_of([record], start + timedelta(days=1, hours=12), NoSnapshots())  # type: ignore[arg-type]
    print(f"| a year back, without snapshots (the whole ledger) | {fmt(calls.take())} | | {figures['s1'].on_hand} |")


MOVES_A_DAY = 2


def as_of_list_page(records: int, calls: Calls) -> None:
    """A page of the 000 list as of a moment: `records` items, each with a month of movements (2 a day)
    and daily snapshots; DynamoDB calls, and the time with the page's reads run 16 at a time vs one by one."""
    from chalicelib import wiring
    from chalicelib.core.models import SYSTEM, Movement, MovementKind, StockRecord
    from chalicelib.core.stock.asof import Snapshot
    from chalicelib.settings import get_settings
    from chalicelib.storage import stock_repo
    from chalicelib.storage.dynamo import batch_write

    tenant, _ = wiring.tenant_service().create_tenant("List bench", ["admin"])
    t = tenant.tenant_id
    store = stock_repo.DynamoStockStore(get_settings().main_table)
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    # Created before the month of movements (a record created after the moment is not listed).
    made = [
        StockRecord(
            tenant_id=t,
            stock_id=f"s{n:05d}",
            product_id=f"p{n}",
            location_id="l",
            name=f"Item {n}",
            on_hand=Decimal(30 * MOVES_A_DAY),
            available=Decimal(30 * MOVES_A_DAY),
            created_at=start - timedelta(days=1),
            updated_at=start - timedelta(days=1),
        )
        for n in range(records)
    ]
    for first in range(0, records, 50):
        store.create_records([(r, None) for r in made[first : first + 50]], SYSTEM)
    items, snapshots = [], []
    for record in made:
        running = Decimal(0)
        for day in range(30):
            for k in range(MOVES_A_DAY):
                running += 1
                move = Movement(
                    tenant_id=t,
                    stock_id=record.stock_id,
                    product_id=record.product_id,
                    location_id="l",
                    kind=MovementKind.ADJUSTMENT,
                    quantity=Decimal(1),
                    actor=SYSTEM,
                    occurred_at=start + timedelta(days=day, hours=k + 1),
                )
                items.append({"PutRequest": {"Item": store._movement_item(move)}})
            snapshots.append(
                Snapshot(t, record.stock_id, start + timedelta(days=day, hours=12), running, 5 * (day + 1))
            )
    batch_write(get_settings().main_table, items)
    store.put_snapshots(snapshots)
    service = wiring.inventory_service()
    moment = now - timedelta(days=10, hours=3)
    print(f"\n| 000 list page as of 10 days back ({records} items) | DynamoDB calls | time |")
    print("|---|---|---|")
    for label, parallel in (("reads 16 at a time", stock_repo.PARALLEL_QUERIES), ("reads one by one", 1)):
        saved = stock_repo.PARALLEL_QUERIES
        stock_repo.PARALLEL_QUERIES = parallel
        try:
            calls.take()
            began = time.perf_counter()
            page = service.page(t, records, None, as_of=moment)
            took = (time.perf_counter() - began) * 1000
        finally:
            stock_repo.PARALLEL_QUERIES = saved
        assert len(page.items) == records
        print(f"| {label} | {fmt(calls.take())} | {took:.0f} ms |")
    calls.take()
    service.page(t, records, None)
    print(f"| now (no asOf) | {fmt(calls.take())} | |")


def stream_records(arn: str, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    from chalicelib.storage.aws import client

    streams = client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        position = {"ShardIteratorType": "TRIM_HORIZON"}
        if after:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], **position)["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    for record in records:
        change = dict(record["dynamodb"])
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
        record["dynamodb"] = change
    last = records[-1]["dynamodb"]["SequenceNumber"] if records else after
    return records, last


LOT = 10


def drain(queue: str) -> None:
    from chalicelib.events import webhooks as sender
    from chalicelib.storage.aws import client

    while True:
        messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]} for m in messages
        ]
        answer = sender.handle({"Records": records})
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            client("sqs").delete_message_batch(QueueUrl=queue, Entries=entries)


def events_and_latency(count: int, calls: Calls) -> None:
    from chalicelib import wiring
    from chalicelib.core.models import SYSTEM
    from chalicelib.core.stock.service import NewStockRecord
    from chalicelib.events import domain
    from chalicelib.settings import get_settings
    from chalicelib.storage.aws import client

    receiver = Receiver()
    tenant, _ = wiring.tenant_service().create_tenant("Bench", ["admin"])
    wiring.webhook_service().create(tenant.tenant_id, receiver.url, ["stock.changed"], None, SYSTEM)
    products = [
        wiring.catalog_service()
        .create_resource(tenant.tenant_id, "product", {"name": f"P{n}", "min_level": Decimal(5)}, SYSTEM)
        .product.product_id
        for n in range(10)
    ]
    stock = wiring.stock_service()
    records = [
        stock.create_record(
            tenant.tenant_id, NewStockRecord(product_id=p, location_id="l", quantity=Decimal(100)), SYSTEM
        )
        for p in products
    ]
    arn = client("dynamodb").describe_table(TableName=get_settings().main_table)["Table"]["LatestStreamArn"]
    _, last = stream_records(arn, None)
    for n in range(count - len(records)):
        stock.adjust(tenant.tenant_id, records[n % len(records)].stock_id, Decimal(-1 if n % 2 else 1), SYSTEM)
    found, last = stream_records(arn, last)
    calls.take()
    print("\n| stream batch (records) | events written | DynamoDB calls | SQS calls |")
    print("|---|---|---|---|")
    queue = client("sqs").get_queue_url(QueueName=get_settings().webhook_queue)["QueueUrl"]
    sent = 0
    for size in (1, 10, 100):
        batch = found[sent : sent + size]
        sent += size
        calls.take()
        result = domain.handle({"Records": batch}, None)
        counts = calls.take()
        events = sum(1 for r in batch if r["dynamodb"].get("NewImage", {}).get("entity_type", {}).get("S") == "stock")
        failed = len(result["batchItemFailures"])
        print(f"| {len(batch)} ({failed} failed) | {events} stock.changed | {fmt(counts)} | {fmt(counts, 'sqs')} |")
    # Then a steady flow: a few changes at a time, each lot read from the stream, published and delivered
    # before the next is written, as the event sources do continuously.
    for start in range(sent, len(found), 100):
        domain.handle({"Records": found[start : start + 100]}, None)
    drain(queue)
    receiver.clear()
    began = time.perf_counter()
    written = 0
    while written < count:
        for _ in range(LOT):
            stock.adjust(tenant.tenant_id, records[written % len(records)].stock_id, Decimal(1), SYSTEM)
            written += 1
        batch, last = stream_records(arn, last)
        domain.handle({"Records": batch}, None)
        drain(queue)
    drained = time.perf_counter() - began
    latencies = sorted(
        (arrived - datetime.fromisoformat(event["occurredAt"].replace("Z", "+00:00")).timestamp()) * 1000
        for arrived, event in receiver.arrivals
    )
    receiver.server.shutdown()
    if not latencies:
        print("no deliveries arrived")
        return
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"\nstream-to-webhook: {len(latencies)} changes written {LOT} at a time, each lot read from the stream, "
        f"published and delivered before the next ({drained:.1f} s in all); latency from occurredAt to arrival: "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.events")
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--page", type=int, default=100, help="items of the as-of list page")
    args = parser.parse_args(argv)

    import os

    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.storage.aws import client, on_call, reset_clients
    from infra.moto_server import cache_condition_parsing, roll_back_by_item
    from infra.provision import provision

    os.environ["STOCKROOM_WEBHOOK_ALLOW_LOOPBACK"] = "true"
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    roll_back_by_item()
    cache_condition_parsing()
    reset_settings()
    reset_clients()
    wiring.reset()
    calls = Calls()
    unsubscribe = on_call(calls)
    try:
        with mock_aws():
            provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
            # The list first: moto reads an index by walking the table, so it is timed before the
            # 100,000 movements of the single-record ledger are written.
            as_of_list_page(args.page, calls)
            as_of_reads(args.movements, calls)
            if args.events:
                events_and_latency(args.events, calls)
    finally:
        unsubscribe()
        reset_clients()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
