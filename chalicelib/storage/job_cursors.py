"""Where a resumable job (the backfill, the nightly reconciliation) stands for one company between its
invocations (`keys.job_cursor`).

The item carries no `entity_type`: neither the history nor the domain events see it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, to_attrs
from chalicelib.storage.dynamo import ddb


class DynamoJobCursors:
    def __init__(self, table: str) -> None:
        self._table = table

    def load(self, tenant_id: str, job: str) -> dict[str, Any] | None:
        """The state the job saved for the company (None: none saved)."""
        key = to_attrs(keys.job_cursor(tenant_id, job))
        item = ddb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        state = from_attrs(item)
        for name in ("pk", "sk", "saved_at"):
            state.pop(name, None)
        return state

    def save(self, tenant_id: str, job: str, state: dict[str, Any]) -> None:
        item = {**state, **keys.job_cursor(tenant_id, job), "saved_at": utcnow()}
        ddb().put_item(TableName=self._table, Item=to_attrs(item))

    def clear(self, tenant_id: str, job: str) -> None:
        ddb().delete_item(TableName=self._table, Key=to_attrs(keys.job_cursor(tenant_id, job)))
