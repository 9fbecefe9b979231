"""The GraphQL schema's limits and its federation SDL, executed in process (no HTTP, no AWS).

Given a schema whose resolvers count their calls, when a document is too deep or selects too many
root fields, then it is refused with QUERY_TOO_COMPLEX and no resolver ran; one level or one field
less runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_socket

from chalicelib.surfaces.graphql import resolvers
from chalicelib.surfaces.graphql.execution import Context, formatted
from chalicelib.surfaces.graphql.limits import MAX_DEPTH, MAX_ROOT_FIELDS
from chalicelib.surfaces.graphql.schema import Inventory, Product, schema, sdl

pytestmark = pytest.mark.disable_socket


def execute(document: str, context: Context, variables: dict[str, Any] | None = None) -> Any:
    # GraphQL runs on an asyncio loop (DataLoader), which wakes itself through a local AF_UNIX socketpair:
    # that is allowed here (the tier's setup hook has just disabled every socket), and still no network.
    pytest_socket.enable_socket()
    pytest_socket.disable_socket(allow_unix_socket=True)
    return asyncio.run(schema().execute(document, context_value=context, variable_values=variables))


class Caller:
    """The part of routing's Call a resolver uses."""

    tenant_id = "t-1"

    def __init__(self, *permissions: str) -> None:
        self.permissions = set(permissions)

    def allows(self, permission: str) -> bool:
        return permission in self.permissions


def record(record_id: int) -> Inventory:
    return Inventory(
        id=record_id,
        productId=7,
        quantity=1,
        supplier="INTERN",
        supplierCode=None,
        sku="S",
        warehouseId=0,
        companyId=0,
        location=None,
        costPrice=None,
        notes=None,
        nextDeliveryDate=None,
        createdAt=None,
        lastModifiedAt=None,
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    async def inventory(info: Any, record_id: int, as_of: Any = None) -> Inventory:
        seen.append(f"inventory {record_id}")
        return record(record_id)

    async def product_of_record(info: Any, product_id: int) -> Product:
        seen.append(f"product {product_id}")
        return Product(
            id=product_id,
            sku="S",
            totalQuantity=1,
            localQuantity=1,
            supplierQuantity=0,
            reservedQuantity=0,
            availableQuantity=1,
            records=[record(1)],
        )

    monkeypatch.setattr(resolvers, "inventory", inventory)
    monkeypatch.setattr(resolvers, "product_of_record", product_of_record)
    return seen


def run(document: str) -> Any:
    context = Context(Caller("inventory.read", "inventory.write"))  # type: ignore[arg-type]
    return execute(document, context)


def nested(levels: int) -> str:
    """`inventory { product { records { product { ... } } } }`, `levels` fields deep."""
    names = ["inventory(id: 1)"] + ["product" if i % 2 == 0 else "records" for i in range(levels - 1)]
    selection = "id"
    for name in reversed(names):
        selection = f"{name} {{ {selection} }}"
    return "{ " + selection + " }"


def codes(result: Any) -> list[str]:
    return [formatted(error)["extensions"]["code"] for error in result.errors or []]


def test_a_document_deeper_than_the_limit_is_refused_and_no_resolver_runs(calls: list[str]) -> None:
    result = run(nested(MAX_DEPTH + 1))

    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert result.data is None
    assert calls == []


def test_a_document_at_the_depth_limit_runs(calls: list[str]) -> None:
    result = run(nested(MAX_DEPTH))

    assert result.errors is None
    assert calls[0] == "inventory 1"


def test_depth_counts_through_fragments(calls: list[str]) -> None:
    deep = "records { product { records { product { records { product { records { id } } } } } } }"
    document = f"fragment Deep on Product {{ {deep} }}\n"
    document += "{ inventory(id: 1) { product { records { product { ...Deep } } } } }"

    result = run(document)

    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert calls == []


def test_more_root_fields_than_the_limit_are_refused_counting_each_alias(calls: list[str]) -> None:
    aliases = " ".join(f"r{i}: inventory(id: {i}) {{ id }}" for i in range(MAX_ROOT_FIELDS + 1))

    result = run("{ " + aliases + " }")

    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert "101 root fields" in result.errors[0].message
    assert calls == []


def test_root_fields_in_fragments_and_inline_fragments_count(calls: list[str]) -> None:
    half = MAX_ROOT_FIELDS // 2
    spread = " ".join(f"f{i}: inventory(id: {i}) {{ id }}" for i in range(half))
    inline = " ".join(f"g{i}: inventory(id: {i}) {{ id }}" for i in range(half))
    document = f"fragment Many on Query {{ {spread} }}\n{{ ...Many ... on Query {{ {inline} }} extra: __typename }}"

    result = run(document)

    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert calls == []


def test_exactly_the_limit_of_root_fields_runs_each_resolver(calls: list[str]) -> None:
    aliases = " ".join(f"r{i}: inventory(id: {i}) {{ id }}" for i in range(MAX_ROOT_FIELDS))

    result = run("{ " + aliases + " }")

    assert result.errors is None
    assert len(calls) == MAX_ROOT_FIELDS


def test_a_field_without_its_permission_is_forbidden_and_its_resolver_never_reads(calls: list[str]) -> None:
    context = Context(Caller("inventory.write"))  # type: ignore[arg-type]

    result = execute('{ importJob(id: "j") { jobId } }', context)

    assert codes(result) == ["FORBIDDEN"]
    assert formatted(result.errors[0])["extensions"]["requires"] == ["inventory.read"]


def test_the_sdl_is_a_federation_v2_subgraph_with_both_entities() -> None:
    text = sdl()

    assert '@link(url: "https://specs.apollo.dev/federation/v2' in text
    assert 'type Product @key(fields: "id")' in text
    assert 'type Inventory @key(fields: "id")' in text
    for field in ("inventory(", "productInventory(", "searchInventory(", "importJob("):
        assert field in text
    for field in ("updateInventory(", "deleteInventory(", "bulkUpsertInventory(", "importInventoryCsv("):
        assert field in text


def test_service_sdl_and_entities_are_served(calls: list[str]) -> None:
    result = run("{ _service { sdl } }")

    assert result.errors is None
    assert 'type Product @key(fields: "id")' in result.data["_service"]["sdl"]
    assert "_entities(representations: [_Any!]!): [_Entity]!" in schema().as_str()


class Searches:
    """The v2 service's search, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any, Any]] = []

    def search(self, tenant_id: str, query: Any, as_of: Any = None) -> Any:
        from chalicelib.features.multisource.model import SearchResult

        self.asked.append((tenant_id, query, as_of))
        return SearchResult(data=[], pagination={"page": 1, "pageSize": 50, "totalCount": 0})


def test_search_inventory_passes_as_of_to_the_search_and_refuses_a_future_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    searches = Searches()
    monkeypatch.setattr(resolvers, "_v2", lambda: searches)
    query = 'query($at: DateTime) { searchInventory(filter: {skus: ["S"]}, asOf: $at) { pagination { totalCount } } }'
    context = Context(Caller("inventory.read"))  # type: ignore[arg-type]

    now = execute(query, context, {"at": None})
    past = execute(query, context, {"at": "2026-01-02T03:04:05"})
    future = execute(query, context, {"at": "2999-01-01T00:00:00Z"})

    assert now.errors is None and past.errors is None
    assert [as_of for _, _, as_of in searches.asked] == [None, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)]
    assert searches.asked[1][1].filter.skus == ["S"]
    # A future moment is the client's mistake, named, and the search never ran.
    assert codes(future) == ["BAD_USER_INPUT"]
    assert formatted(future.errors[0])["extensions"]["field"] == "asOf"
    assert len(searches.asked) == 2
