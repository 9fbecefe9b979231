"""DynamoDB round trips per company inventory request (the 000 surface).

    python -m benchmarks.company_inventory

Sends real HTTP requests through `chalice.test.Client` to the app's route
handlers, against moto in-process with the tables built from
infra/resources.json, and prints how many DynamoDB calls each request made.
Calls are counted with the botocore before-call hook
(chalicelib.storage.aws.on_call). Each call is charged to the code that made
it: the API key lookup (chalicelib.http.auth), the Idempotency-Key record
(chalicelib.http.idempotency), or the route itself. Next to each figure is
the least the access pattern allows, with the reason.

Nothing here asserts on time; a request that fails stops the run, since its
figures would mean nothing.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import quote

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported

LIST_ITEMS = 1000
BATCH = 50  # the most one create or update request accepts (one transaction)
REFS_PER_KIND = 10
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
QUERY_PAGE_BYTES = 1024 * 1024  # a Query page stops at 1 MB of item data
PERMISSIONS = ["admin", "inventory.read", "inventory.write"]

AUTH = "auth"
IDEMPOTENCY = "idempotency"
ROUTE = "route"
# Module of the calling code -> who the call is charged to. Anything else is the route's own.
PHASES = {"chalicelib.http.auth": AUTH, "chalicelib.http.idempotency": IDEMPOTENCY}


def phase_of(frame: FrameType | None) -> str:
    """Who made the DynamoDB call whose stack starts at `frame`: auth, idempotency or the route."""
    while frame is not None:
        found = PHASES.get(frame.f_globals.get("__name__", ""))
        if found:
            return found
        frame = frame.f_back
    return ROUTE


@dataclass(frozen=True)
class Call:
    phase: str
    operation: str


@dataclass
class CallLog:
    """Collects the DynamoDB calls made while `measure` is open, each with its phase."""

    calls: list[Call] = field(default_factory=list)
    active: bool = False

    def __call__(self, service: str, operation: str) -> None:
        if self.active and service == "dynamodb":
            self.calls.append(Call(phase_of(sys._getframe(1)), operation))

    @contextmanager
    def measure(self) -> Iterator[list[Call]]:
        self.calls = []
        self.active = True
        try:
            yield self.calls
        finally:
            self.active = False


@dataclass(frozen=True)
class Minimum:
    calls: int
    reason: str


@dataclass
class Result:
    operation: str
    requests: int
    calls: list[Call]
    minimum: Minimum

    def of(self, *phases: str) -> list[str]:
        return [c.operation for c in self.calls if c.phase in phases]


def summarise(operations: list[str]) -> str:
    counts = Counter(operations)
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items()) or "-"


def batches(keys: int, size: int = BATCH_GET_KEYS) -> int:
    return math.ceil(keys / size)


# -- HTTP --------------------------------------------------------------------


class Company:
    """A tenant with an API key, called through the chalice test client."""

    def __init__(self, http: Any, name: str, permissions: list[str] = PERMISSIONS) -> None:
        from chalicelib import wiring

        tenant, self.key = wiring.tenant_service().create_tenant(name, permissions)
        self.http = http
        self.id = tenant.tenant_id

    def send(self, method: str, path: str, body: Any = None, idempotent: bool = False) -> Any:
        return json.loads(self.request(method, path, body, idempotent).body)

    def request(self, method: str, path: str, body: Any = None, idempotent: bool = False) -> Any:
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.http.http.request(method, f"/companies/{self.id}{path}", headers=headers, body=raw)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.body[:500]!r}")
        return response

    def list_all(self) -> list[list[Any]]:
        """Every page of the inventory list, asking for LIST_ITEMS a page and following the token."""
        pages: list[list[Any]] = []
        token: str | None = ""
        while token is not None:
            query = f"?limit={LIST_ITEMS}" + (f"&nextToken={quote(token)}" if token else "")
            response = self.request("GET", f"/inventory{query}")
            pages.append(json.loads(response.body))
            token = response.headers.get("X-Next-Token")
        return pages


@dataclass
class Refs:
    """REFS_PER_KIND of each reference kind, with a mill certification per heat code."""

    types: list[str]
    materials: list[str]
    suppliers: list[str]
    locations: list[str]
    heat_codes: list[str]

    @classmethod
    def make(cls, company: Company) -> Refs:
        n = range(REFS_PER_KIND)

        def ids(path: str, rows: list[dict[str, str]]) -> list[str]:
            return [row["id"] for row in company.send("POST", path, rows)]

        heat_codes = [f"H-{i}" for i in n]
        ids("/mill-certifications", [{"heatCode": h} for h in heat_codes])
        return cls(
            types=ids("/inventory-types", [{"label": f"Type {i}"} for i in n]),
            materials=ids("/inventory-materials", [{"label": f"Material {i}"} for i in n]),
            suppliers=ids("/organisations", [{"name": f"Supplier {i}"} for i in n]),
            locations=ids("/stock-locations", [{"label": f"Yard {i}"} for i in n]),
            heat_codes=heat_codes,
        )

    @property
    def label_keys(self) -> int:
        """Distinct keys a page that uses every reference looks up for its labels."""
        return len(self.types) + len(self.materials) + len(self.suppliers) + len(self.locations) + len(self.heat_codes)

    def item(self, i: int, name: str, heat_code: str | None = None) -> dict[str, Any]:
        def pick(values: list[str]) -> str:
            return values[i % len(values)]

        return {
            "productName": name,
            "quantity": "4",
            "weight": "12.345",
            "heatCode": heat_code or pick(self.heat_codes),
            "diameter": "50",
            "length": "6000",
            "type": pick(self.types),
            "material": pick(self.materials),
            "supplierId": pick(self.suppliers),
            "stockLocationId": pick(self.locations),
            "unitPrice": "19.99",
        }


def seed(company: Company, refs: Refs, count: int, names: int, own_heat_codes: bool = False) -> list[str]:
    """`count` items over `names` product names, created BATCH at a time (not measured)."""
    ids: list[str] = []
    for start in range(0, count, BATCH):
        rows = [
            refs.item(i, f"Bar {i % names}", f"HX-{i}" if own_heat_codes else None)
            for i in range(start, min(start + BATCH, count))
        ]
        ids += [row["inventoryId"] for row in company.send("POST", "/inventory", rows)]
    return ids


# -- scenarios ---------------------------------------------------------------


class Bench:
    def __init__(self, log: CallLog) -> None:
        self.log = log
        self.results: list[Result] = []

    def requests(self, operation: str, minimum: Minimum, *sends: Any) -> list[Any]:
        """Run each send (a zero-argument callable making one request) and record their calls together."""
        with self.log.measure() as calls:
            answers = [send() for send in sends]
        self.results.append(Result(operation, len(sends), list(calls), minimum))
        return answers

    def add(self, result: Result) -> None:
        self.results.append(result)


def scenarios(bench: Bench, http: Any) -> dict[str, int]:
    """Every measured request; returns the stored size of the listed items.

    The creates run first, as they always have (the local stack's moto no
    longer copies the table per transaction, so the order no longer matters
    for the run's time).
    """
    maker = Company(http, "Bench creates")
    create_scenarios(bench, maker, Refs.make(maker))

    shared = Company(http, "Bench shared references")
    refs = Refs.make(shared)
    ids = seed(shared, refs, LIST_ITEMS, names=20)
    sizes = {"shared": page_bytes(shared.id)}
    listing(bench, shared, "50 distinct labels", lambda items: refs.label_keys)

    spread = Company(http, "Bench own heat codes")
    spread_refs = Refs.make(spread)
    seed(spread, spread_refs, LIST_ITEMS, names=20, own_heat_codes=True)
    sizes["spread"] = page_bytes(spread.id)
    # Each page looks up the 40 shared references and one heat code per item on it.
    listing(bench, spread, "a heat code per item", lambda items: spread_refs.label_keys - REFS_PER_KIND + items)

    bench.requests(
        "get one item",
        Minimum(2, "1 GetItem for the item + 1 BatchGetItem for its labels"),
        lambda: shared.send("GET", f"/inventory/{ids[0]}"),
    )
    update_scenarios(bench, shared, ids)
    return sizes


def listing(bench: Bench, company: Company, label: str, label_keys: Callable[[int], int]) -> None:
    """Every page of the list; the minimum is one Query and the label batches per page DynamoDB returns."""
    with bench.log.measure() as calls:
        pages = company.list_all()
    listed = sum(len(page) for page in pages)
    if listed != LIST_ITEMS:
        raise RuntimeError(f"the list returned {listed} items, expected {LIST_ITEMS}")
    gets = [batches(label_keys(len(page))) for page in pages]
    sizes = " + ".join(str(len(page)) for page in pages)
    reason = f"per page 1 Query + {' / '.join(map(str, gets))} BatchGetItem ({label_keys(len(pages[0])):,} keys"
    reason += ", 100 per BatchGetItem)" if gets[0] > 1 else " on page 1)"
    total = Result(
        f"list {LIST_ITEMS:,} items, {label} (pages of {sizes})",
        len(pages),
        list(calls),
        Minimum(len(pages) + sum(gets), reason),
    )
    bench.add(total)
    first = per_request(total)[0]
    bench.add(Result(f"  page 1 ({len(pages[0])} items)", 1, first, Minimum(1 + gets[0], "(as above)")))


def create_scenarios(bench: Bench, company: Company, refs: Refs) -> None:
    """100 items as two requests of BATCH: first with new product names, then with the same names again.

    Each request reads 100 keys before writing (50 distinct references and heat codes, 50 products): one
    BatchGetItem.
    """
    known = Minimum(
        2 * 2, "per request: 1 BatchGetItem (references, heat codes, products) + 1 TransactWriteItems (100 writes)"
    )
    new = Minimum(
        2 * 5,
        "per request: 1 BatchGetItem + 1 UpdateItem (the products' numeric ids) + 2 TransactWriteItems for the 50 "
        "new products (item + numeric-id guard each: 33 fit one) + 1 for records and ledger",
    )
    # The second round uses the names the first round made products of.
    for label, minimum in (("a new product name per item", new), ("existing product names", known)):
        bodies = [[refs.item(i, f"Bar {i}") for i in range(start, start + BATCH)] for start in (0, BATCH)]
        bench.requests(
            f"create 100 = 2 requests of {BATCH}, {label}",
            minimum,
            *[lambda body=body: company.send("POST", "/inventory", body, idempotent=True) for body in bodies],
        )
        total = bench.results[-1]
        first = per_request(total)[0]
        bench.add(Result(f"  one create request of {BATCH}", 1, first, Minimum(minimum.calls // 2, "(as above)")))


def per_request(result: Result) -> list[list[Call]]:
    """The calls of each request: every request starts with its API key lookup."""
    requests: list[list[Call]] = []
    for call in result.calls:
        if call.phase == AUTH or not requests:
            requests.append([])
        requests[-1].append(call)
    return requests


def update_scenarios(bench: Bench, company: Company, ids: list[str]) -> None:
    def body(chosen: list[str]) -> list[dict[str, Any]]:
        return [{"inventoryId": i, "quantity": "7", "weight": "13.5"} for i in chosen]

    for count in (1, BATCH):
        chosen = ids[1 : 1 + count]
        bench.requests(
            f"update {count} item{'s' if count > 1 else ''} (quantity + weight)",
            Minimum(
                3,
                "1 BatchGetItem before (items, references, heat codes) + 1 TransactWriteItems (items + ledger lines) "
                "+ 1 BatchGetItem after (the items as stored, with the labels they kept)",
            ),
            lambda chosen=chosen: company.send("PUT", "/inventory", body(chosen), idempotent=True),
        )


def overhead_rows(results: list[Result]) -> list[Result]:
    """The auth and idempotency calls of one request, as rows of their own."""
    get = next(r for r in results if r.operation == "get one item")
    create = next(r for r in results if r.operation.startswith("  one create"))
    return [
        Result(
            "auth: API key lookup (every request)",
            1,
            [c for c in get.calls if c.phase == AUTH],
            Minimum(1, "1 GetItem of the key by its id (hash compared in memory)"),
        ),
        Result(
            "idempotency: Idempotency-Key record",
            1,
            [c for c in create.calls if c.phase == IDEMPOTENCY],
            Minimum(2, "1 conditional PutItem to claim + 1 UpdateItem to store the response"),
        ),
    ]


# -- sizes -------------------------------------------------------------------


def attribute_bytes(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (the documented rules, numbers approximated)."""
    kind, inner = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_bytes(v) + 1 for v in inner)
    return sum(len(str(v)) for v in inner)  # sets: close enough for a size estimate


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


def page_bytes(tenant_id: str) -> int:
    """Item data in the tenant's stock partition, read outside any measurement."""
    from chalicelib.settings import get_settings
    from chalicelib.storage import keys
    from chalicelib.storage.dynamo import query_all

    items = query_all(
        get_settings().main_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.stocks_partition(tenant_id)}},
    )
    return sum(item_bytes(item) for item in items)


# -- report ------------------------------------------------------------------


def row(result: Result) -> tuple[str, ...]:
    route = result.of(ROUTE)
    overhead = result.of(AUTH, IDEMPOTENCY)
    gap = len(route) - result.minimum.calls
    if result.operation.startswith(("auth", "idempotency")):
        route, overhead, gap = overhead, [], len(overhead) - result.minimum.calls
    return (
        result.operation,
        str(result.requests),
        str(len(result.calls)),
        summarise(overhead),
        str(len(route)),
        summarise(route),
        str(result.minimum.calls),
        f"+{gap}" if gap > 0 else "0",
        result.minimum.reason,
    )


HEADERS = (
    "operation",
    "requests",
    "calls",
    "auth + idempotency",
    "route",
    "route's calls by API",
    "min",
    "over",
    "least the access pattern allows (route's own calls)",
)
RIGHT = {1, 2, 4, 6, 7}


def table(results: list[Result]) -> str:
    rows = [row(r) for r in results]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: tuple[str, ...]) -> str:
        padded = [c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(HEADERS), rule, *(line(r) for r in rows)])


def report(results: list[Result], sizes: dict[str, int]) -> str:
    def kb(n: int) -> str:
        return f"{n / 1024:,.0f} KB ({n / QUERY_PAGE_BYTES:.0%} of the 1 MB Query page)"

    return "\n".join(
        [
            "DynamoDB calls per company inventory request (HTTP route handlers via chalice.test.Client,",
            "moto in-process, tables from infra/resources.json)",
            "",
            table(results),
            "",
            "calls: every DynamoDB round trip of the request(s). auth + idempotency: calls made by",
            "chalicelib.http.auth and chalicelib.http.idempotency, which every request (auth) or every",
            "mutating request with an Idempotency-Key (idempotency) pays. route: the rest, the route's own.",
            "min: the least the access pattern allows for the route's own calls; over: how many more it makes.",
            "",
            f"Stored size of the {LIST_ITEMS:,} items, estimated: {kb(sizes['shared'])}; with a heat code per "
            f"item: {kb(sizes['spread'])}.",
            "A Query stops at 1 MB of items read (DynamoDB, and moto alike), so a list page ends there with an",
            "X-Next-Token whatever `limit` asks for, and listing them all takes one request per 1 MB.",
        ]
    )


@contextmanager
def app_client(log: CallLog) -> Iterator[Any]:
    """The app behind chalice's test client, on moto in-process, with `log` counting DynamoDB calls."""
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.storage.aws import client, on_call, reset_clients
    from infra.moto_server import cache_condition_parsing, roll_back_by_item
    from infra.provision import provision

    reset_settings()
    reset_clients()
    wiring.reset()
    unsubscribe = on_call(log)
    try:
        # moto as the local stack runs it (infra.moto_server): a transaction rolls back by item instead of
        # deep-copying the table once per write, and conditions are parsed once. Calls are counted before moto.
        roll_back_by_item()
        cache_condition_parsing()
        with mock_aws():
            provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
            from app import app

            with Client(app) as http:
                yield http
    finally:
        unsubscribe()
        reset_clients()
        wiring.reset()


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        sizes = scenarios(bench, http)
    print(report([*bench.results, *overhead_rows(bench.results)], sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
