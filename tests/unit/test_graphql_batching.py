"""GraphQL reads are batched per request: aliased root fields and Product.inventory share one load.

Given a v2 service fake that counts its calls, when a document asks for many `productInventory` root
fields (aliases) or many entities' `inventory(asOf:)`, then the service is called once per
(warehouse, moment) group, not once per field; a moment in the future fails before any read.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_socket

from chalicelib.core.errors import NotFound
from chalicelib.features.multisource import ProductInventory, ProductRef
from chalicelib.surfaces.graphql import resolvers
from chalicelib.surfaces.graphql.execution import Context, formatted
from chalicelib.surfaces.graphql.schema import schema

pytestmark = pytest.mark.disable_socket


class Caller:
    tenant_id = "t-1"

    def allows(self, permission: str) -> bool:
        return permission == "inventory.read"


def aggregate(number: int) -> ProductInventory:
    one = Decimal(number)
    return ProductInventory(
        productId=number,
        sku=f"S-{number}",
        totalQuantity=one,
        localQuantity=one,
        supplierQuantity=Decimal(0),
        reservedQuantity=Decimal(0),
        availableQuantity=one,
        records=[],
    )


class FakeV2:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any, Any]] = []

    def inventories(
        self, tenant_id: str, refs: list[ProductRef], warehouse_id: int | None = None, as_of: datetime | None = None
    ) -> dict[ProductRef, Any]:
        self.calls.append(("inventories", len(refs), warehouse_id, as_of))
        found: dict[ProductRef, Any] = {}
        for ref in refs:
            number = int(ref.key.removeprefix("S-"))
            found[ref] = aggregate(number) if number < 1000 else NotFound(f"product {ref.key} not found")
        return found

    def products_inventory(self, tenant_id: str, numbers: list[int], *args: Any) -> dict[int, ProductInventory]:
        self.calls.append(("products_inventory", len(numbers), None, None))
        return {n: aggregate(n) for n in numbers}


@pytest.fixture
def v2(monkeypatch: pytest.MonkeyPatch) -> FakeV2:
    fake = FakeV2()
    monkeypatch.setattr(resolvers, "_v2", lambda: fake)
    return fake


def run(document: str, variables: dict[str, Any] | None = None) -> Any:
    pytest_socket.enable_socket()
    pytest_socket.disable_socket(allow_unix_socket=True)  # the asyncio loop's own socketpair, no network
    context = Context(Caller())  # type: ignore[arg-type]
    return asyncio.run(schema().execute(document, variable_values=variables, context_value=context))


def test_a_hundred_aliased_root_fields_are_one_batched_read(v2: FakeV2) -> None:
    fields = " ".join(f'p{i}: productInventory(lookupKey: "sku", key: "S-{i}") {{ sku }}' for i in range(100))

    result = run("{ " + fields + " }")

    assert result.errors is None
    assert [result.data[f"p{i}"]["sku"] for i in range(100)] == [f"S-{i}" for i in range(100)]
    assert v2.calls == [("inventories", 100, None, None)]


def test_fields_of_one_warehouse_and_moment_share_a_read_and_other_groups_get_their_own(v2: FakeV2) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    result = run(
        """query($at: DateTime) {
          a: productInventory(lookupKey: "sku", key: "S-1") { sku }
          b: productInventory(lookupKey: "sku", key: "S-2") { sku }
          c: productInventory(lookupKey: "sku", key: "S-1", asOf: $at) { sku }
          d: productInventory(lookupKey: "sku", key: "S-2", asOf: $at) { sku }
          e: productInventory(lookupKey: "sku", key: "S-3", warehouseId: 4) { sku warehouseId }
        }""",
        {"at": moment.isoformat()},
    )

    assert result.errors is None
    assert result.data["e"] == {"sku": "S-3", "warehouseId": 4}
    assert sorted(v2.calls, key=str) == sorted(
        [("inventories", 2, None, None), ("inventories", 2, None, moment), ("inventories", 1, 4, None)], key=str
    )


def test_entities_inventory_as_of_is_one_read_for_every_entity(v2: FakeV2) -> None:
    representations = [{"__typename": "Product", "id": n} for n in range(1, 51)]
    result = run(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { "
        'inventory(asOf: "2026-01-01T00:00:00Z") { localQuantity } } } }',
        {"r": representations},
    )

    assert result.errors is None
    assert [e["inventory"]["localQuantity"] for e in result.data["_entities"]] == list(range(1, 51))
    # One batched entities read, one batched as-of read for the 50 Product.inventory fields.
    assert [(name, size) for name, size, _, _ in v2.calls] == [("products_inventory", 50), ("inventories", 50)]


def test_an_unknown_product_fails_its_own_alias_and_a_future_moment_reads_nothing(v2: FakeV2) -> None:
    missing = run('{ a: productInventory(lookupKey: "sku", key: "S-1000") { sku } }')
    assert [(e.path, formatted(e)["extensions"]["code"]) for e in missing.errors] == [(["a"], "NOT_FOUND")]

    v2.calls.clear()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    refused = run(
        'query($at: DateTime) { a: productInventory(lookupKey: "sku", key: "S-1", asOf: $at) { sku } }', {"at": future}
    )
    assert [formatted(e)["extensions"]["field"] for e in refused.errors] == ["asOf"]
    assert v2.calls == []
