"""Limit/offset pages in creation order, with a maintained count (the 002 lists).

A listed entity carries index keys in its collection's partition
(`keys.listing`) while it is active. The collection's counter item
(`keys.counter`, attribute `item_count`) is updated with ADD in the same
transaction as every create and soft delete, and carries the same index
partition under the sort key `keys.COUNT_SORT`, which sorts before every entry:
the Query that reads the first entries of a list reads its count too.

An offset is walked, never computed: the entries before it are read with a
keys-only projection (the least data; DynamoDB still charges their size)
and the page starts after the last of them. Cost grows with the offset, as
with any offset over a key-ordered store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs
from chalicelib.storage.dynamo import ddb
from chalicelib.storage.transaction import Meaning, Role, Transaction

COUNT = "item_count"


@dataclass(frozen=True)
class Listing:
    tenant_id: str
    collection: str
    index: str = "gsi3"

    @property
    def partition(self) -> str:
        return keys.listing_partition(self.tenant_id, self.collection)

    def entry(self, sort: str) -> dict[str, str]:
        """The index keys of an entry of this listing."""
        return keys.listing(self.tenant_id, self.collection, sort, self.index)

    @property
    def counter_key(self) -> dict[str, str]:
        return keys.counter(self.tenant_id, f"{self.index}#{self.collection}")


def counter_write(table: str, listing: Listing, delta: int) -> dict[str, Any]:
    """The transaction item that moves a listing's count by `delta` (creating the counter on first use)."""
    return {
        "Update": {
            "TableName": table,
            "Key": to_attrs(listing.counter_key),
            "UpdateExpression": f"ADD {COUNT} :d SET #ipk = :pk, #isk = :sk",
            "ExpressionAttributeNames": {"#ipk": f"{listing.index}pk", "#isk": f"{listing.index}sk"},
            "ExpressionAttributeValues": to_attrs(
                {":d": Decimal(delta), ":pk": listing.partition, ":sk": keys.COUNT_SORT}
            ),
        }
    }


def counter_writes(table: str, deltas: Mapping[Listing, int]) -> list[dict[str, Any]]:
    """One counter item per listing (a transaction may touch an item once), zero deltas left out."""
    return [counter_write(table, listing, delta) for listing, delta in deltas.items() if delta]


def count_of(table: str, listing: Listing) -> int:
    """A count on its own (a filtered list whose count is not in its index partition)."""
    item = ddb().get_item(TableName=table, Key=to_attrs(listing.counter_key), ConsistentRead=True).get("Item")
    return int(item[COUNT]["N"]) if item and COUNT in item else 0


def next_number(table: str, tenant_id: str, name: str) -> int:
    """The next number of a sequence (1, 2, ...): one atomic ADD, never handed out twice."""
    response = ddb().update_item(
        TableName=table,
        Key=to_attrs(keys.sequence(tenant_id, name)),
        UpdateExpression="ADD #last :one",
        ExpressionAttributeNames={"#last": "last"},
        ExpressionAttributeValues=to_attrs({":one": Decimal(1)}),
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["last"]["N"])


def next_numbers(table: str, tenant_id: str, name: str, count: int) -> range:
    """`count` consecutive numbers of a sequence in one atomic ADD (a failed request leaves a gap)."""
    if count <= 0:
        return range(0)
    response = ddb().update_item(
        TableName=table,
        Key=to_attrs(keys.sequence(tenant_id, name)),
        UpdateExpression="ADD #last :n",
        ExpressionAttributeNames={"#last": "last"},
        ExpressionAttributeValues=to_attrs({":n": Decimal(count)}),
        ReturnValues="UPDATED_NEW",
    )
    last = int(response["Attributes"]["last"]["N"])
    return range(last - count + 1, last + 1)


@dataclass
class RawPage:
    items: list[dict[str, Any]]
    # The counter's figure when the reads passed it (always, for an unfiltered list), else None.
    total: int | None


def offset_page(
    table: str,
    listing: Listing,
    offset: int,
    limit: int,
    *,
    filter_expression: str | None = None,
    filter_names: Mapping[str, str] | None = None,
    filter_values: Mapping[str, Any] | None = None,
) -> RawPage:
    """Entries `offset` to `offset + limit` of a listing (raw items), and its count."""
    pk_name, sk_name = f"{listing.index}pk", f"{listing.index}sk"
    base: dict[str, Any] = {
        "TableName": table,
        "IndexName": listing.index,
        "KeyConditionExpression": "#lpk = :lpk",
        "ExpressionAttributeNames": {"#lpk": pk_name, **(filter_names or {})},
        "ExpressionAttributeValues": to_attrs({":lpk": listing.partition, **(filter_values or {})}),
    }
    if filter_expression:
        base["FilterExpression"] = filter_expression
    state = _Walk(sk_name)
    start: dict[str, Any] | None = None
    if offset > 0:
        start = _skip(base, listing, offset, state, keys_only=filter_expression is None)
        if start is None:
            return RawPage([], state.total)
    items: list[dict[str, Any]] = []
    while len(items) < limit:
        request = {**base, "Limit": limit - len(items) + (0 if state.counter_seen else 1)}
        if start:
            request["ExclusiveStartKey"] = start
        response = ddb().query(**request)
        items += state.entries(response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if not start:
            break
    return RawPage(items[:limit], state.total)


class _Walk:
    """Separates the counter item from the entries while a listing is read."""

    def __init__(self, sort_name: str) -> None:
        self.sort_name = sort_name
        self.total: int | None = None
        self.counter_seen = False

    def entries(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for item in items:
            if item.get(self.sort_name, {}).get("S") == keys.COUNT_SORT:
                self.counter_seen = True
                self.total = int(item[COUNT]["N"]) if COUNT in item else 0
            else:
                found.append(item)
        return found


def _skip(
    base: dict[str, Any], listing: Listing, offset: int, state: _Walk, *, keys_only: bool
) -> dict[str, Any] | None:
    """Walk past `offset` entries; the key to start the page after, or None when the list ends first."""
    pk_name, sk_name = f"{listing.index}pk", f"{listing.index}sk"
    skipped = 0
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {**base, "Limit": offset - skipped + (0 if state.counter_seen else 1)}
        if keys_only:
            request["ProjectionExpression"] = f"pk, sk, #lpk, #lsk, {COUNT}"
            request["ExpressionAttributeNames"] = {**base["ExpressionAttributeNames"], "#lsk": sk_name}
        if start:
            request["ExclusiveStartKey"] = start
        response = ddb().query(**request)
        entries = state.entries(response.get("Items", []))
        if skipped + len(entries) >= offset:
            last = entries[offset - skipped - 1]
            # Start after the offset-th entry itself, even when this read went past it.
            return {name: last[name] for name in ("pk", "sk", pk_name, sk_name)}
        skipped += len(entries)
        start = response.get("LastEvaluatedKey")
        if not start:
            return None


def add_counters(tx: Transaction, table: str, deltas: Mapping[Listing, int]) -> None:
    """Add the counter moves of `deltas` to a unit of work (a counter update has no condition to fail)."""
    for item in counter_writes(table, deltas):
        tx.add(item, Meaning(Role.PLAIN, "counter"))
