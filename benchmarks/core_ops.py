"""DynamoDB round trips per core operation.

    python -m benchmarks.core_ops

Runs every core service operation once against moto in-process, with the
tables built from infra/resources.json, and prints how many DynamoDB calls
each one made. Calls are counted with a botocore before-call hook
(chalicelib.storage.aws.on_call), so retries and pagination show up too.
Nothing here asserts: the figures are for reading and comparing.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported

LIST_PAGE = 50
LEDGER_MOVEMENTS = 100


@dataclass
class Result:
    operation: str
    calls: list[str]


@dataclass
class CallLog:
    """Collects the DynamoDB operations made while `measure` is open."""

    calls: list[str] = field(default_factory=list)
    active: bool = False

    def __call__(self, service: str, operation: str) -> None:
        if self.active and service == "dynamodb":
            self.calls.append(operation)

    @contextmanager
    def measure(self) -> Iterator[list[str]]:
        self.calls = []
        self.active = True
        try:
            yield self.calls
        finally:
            self.active = False


class Bench:
    def __init__(self, log: CallLog) -> None:
        self.log = log
        self.results: list[Result] = []

    def run(self, operation: str, action: Callable[[], Any]) -> Any:
        with self.log.measure() as calls:
            value = action()
        self.results.append(Result(operation, list(calls)))
        return value


def summarise(calls: list[str]) -> str:
    counts = Counter(calls)
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items()) or "-"


def table(results: list[Result]) -> str:
    headers = ("operation", "calls", "DynamoDB requests, in order of first use")
    rows = [(r.operation, str(len(r.calls)), summarise(r.calls)) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, str, str]) -> str:
        return f"| {cells[0].ljust(widths[0])} | {cells[1].rjust(widths[1])} | {cells[2].ljust(widths[2])} |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def exercise(bench: Bench) -> None:
    """Every core operation once, in an order where each has what it needs."""
    from chalicelib.core.ids import new_id
    from chalicelib.core.stock.service import NewStockRecord
    from chalicelib.settings import get_settings
    from chalicelib.storage.stock_repo import DynamoStockStore
    from chalicelib.wiring import stock_service, tenant_service

    tenants, stock = tenant_service(), stock_service()
    # Listing has no service method yet: surfaces page through the store the service wraps.
    store = DynamoStockStore(get_settings().main_table)
    tenant, raw_key = bench.run("create tenant (with its first API key)", lambda: tenants.create_tenant("Bench Co"))
    principal = bench.run("authenticate API key", lambda: tenants.authenticate(raw_key))
    t, actor = tenant.tenant_id, principal.actor
    product, here, there = new_id(), new_id(), new_id()

    def new_record(quantity: int, location: str = here, of: str = product) -> Any:
        return stock.create_record(
            t, NewStockRecord(product_id=of, location_id=location, quantity=Decimal(quantity)), actor
        )

    bench.run("create stock record, no quantity", lambda: new_record(0))
    record = bench.run("create stock record, quantity 100", lambda: new_record(100))
    other = new_record(0, there)
    s = record.stock_id

    bench.run("get stock record", lambda: stock.get(t, s))
    bench.run("adjust (+5)", lambda: stock.adjust(t, s, Decimal(5), actor, reason="found"))
    bench.run(
        "adjust with expected quantity (-3)",
        lambda: stock.adjust(t, s, Decimal(-3), actor, expected_on_hand=Decimal(105)),
    )
    command = new_id()
    stock.adjust(t, s, Decimal(1), actor, command_id=command)
    bench.run(
        "adjust, second delivery of a command",
        lambda: stock.adjust(t, s, Decimal(1), actor, command_id=command),
    )
    bench.run("set_on_hand (count to 90)", lambda: stock.set_on_hand(t, s, Decimal(90), actor))
    bench.run("transfer 10 to another record", lambda: stock.transfer(t, s, other.stock_id, Decimal(10), actor))

    reservation = bench.run("reserve 5", lambda: stock.reserve(t, s, Decimal(5), actor, reference={"orderId": "o1"}))
    bench.run("release reservation", lambda: stock.release(t, reservation.reservation_id, actor))
    shipped = stock.reserve(t, s, Decimal(4), actor)
    bench.run("fulfil reservation", lambda: stock.fulfil(t, shipped.reservation_id, actor))
    held = bench.run("hold 2", lambda: stock.hold(t, s, Decimal(2), "damaged", actor))
    bench.run("release hold", lambda: stock.release_hold(t, held.hold_id, actor))

    for _ in range(LIST_PAGE + 10):
        new_record(1, new_id(), new_id())
    bench.run(f"list_records, one page of {LIST_PAGE}", lambda: store.list_records(t, LIST_PAGE, None))
    bench.run("records_for_product (3 records)", lambda: store.records_for_product(t, product))

    ledger = new_record(1)
    for _ in range(LEDGER_MOVEMENTS - 1):
        stock.adjust(t, ledger.stock_id, Decimal(1), actor)
    bench.run(f"reconcile a record with {LEDGER_MOVEMENTS} movements", lambda: stock.reconcile(t, ledger.stock_id))
    listed = stock.get(t, ledger.stock_id)
    bench.run(
        "reconcile a listed record (nightly job)",
        lambda: stock.reconcile(t, ledger.stock_id, listed=listed),
    )


def main() -> int:
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.storage.aws import client, on_call, reset_clients
    from infra.provision import provision

    reset_settings()
    reset_clients()
    wiring.reset()
    log = CallLog()
    unsubscribe = on_call(log)
    bench = Bench(log)
    try:
        with mock_aws():
            provision(get_settings(), client("dynamodb"))
            exercise(bench)
    finally:
        unsubscribe()
        reset_clients()
    print("DynamoDB calls per core operation (moto in-process, tables from infra/resources.json)\n")
    print(table(bench.results))
    print(
        "\nCalls are counted with a botocore before-call hook, so retries and extra pages count too."
        "\nmoto reports a fixed consumed capacity whatever the request does, so capacity is not shown:"
        "\nthe number of round trips is the figure that moto measures truthfully."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
