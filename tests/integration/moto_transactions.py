"""TransactWriteItems in moto without copying every table it touches.

moto 5 keeps a deep copy of each table named in a transaction (its items and
its stream records) to roll back a refused one, so every transaction costs
time in proportion to everything the table holds. Tests that share one moto
for a whole module (the `shared_aws` marker) would get slower with each test.

`install()` keeps moto's transaction code and its answers, and changes only
the rollback: it remembers the items the transaction names and the length of
each table's stream, and on a refusal puts those items back and drops the
stream records the refused writes added, which is what restoring the copy did.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


class _CopyButNotTables:
    """The `copy` module as moto's backend module sees it: a Table "copy" is the table itself."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _keys(table: Table, key: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _current(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> Any:
    if range_value is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _restore(table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    if item is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


def install() -> None:
    if getattr(DynamoDBBackend.transact_write_items, "_light_rollback", False):
        return
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
        streams: dict[str, tuple[Table, int]] = {}
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName", ""))
            if table is None:
                continue
            key = op["Item"] if "Item" in op else op.get("Key", {})
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                continue  # moto refuses the request itself; nothing is written
            hash_value, range_value = _keys(table, key)
            saved.append((table, hash_value, range_value, copy.deepcopy(_current(table, hash_value, range_value))))
            if table.stream_shard is not None:
                streams.setdefault(table.name, (table, len(table.stream_shard.items)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                _restore(table, hash_value, range_value, item)
            for table, length in streams.values():
                if table.stream_shard is not None:
                    del table.stream_shard.items[length:]
            raise

    transact_write_items._light_rollback = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = _CopyButNotTables()  # type: ignore[assignment]
