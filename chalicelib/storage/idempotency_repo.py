"""Idempotency records: one per (tenant, Idempotency-Key), expiring by TTL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, to_attrs
from chalicelib.storage.dynamo import ddb, is_conditional_failure

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class StoredRequest:
    status: str
    fingerprint: str
    response_status: int | None = None
    response_body: str | None = None
    response_headers: dict[str, str] | None = None


class DynamoIdempotencyStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def claim(
        self, tenant_id: str, key: str, fingerprint: str, now: int, lock_seconds: int, ttl_seconds: int
    ) -> StoredRequest | None:
        """Take the key for this request. Returns None when taken, else what holds it.

        One conditional put: the key is free if it never existed, if it
        expired (TTL deletion is lazy), or if the same request's earlier
        attempt died holding the lock.
        """
        item = {
            **keys.idempotency(tenant_id, key),
            "status": IN_PROGRESS,
            "fingerprint": fingerprint,
            "lock_until": Decimal(now + lock_seconds),
            "expires_at": Decimal(now + ttl_seconds),
        }
        try:
            ddb().put_item(
                TableName=self._table,
                Item=to_attrs(item),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at < :now OR "
                    "(#status = :progress AND lock_until < :now AND fingerprint = :fp)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_attrs(
                    {":now": Decimal(now), ":progress": IN_PROGRESS, ":fp": fingerprint}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
            return _stored(from_attrs(old))
        return None

    def complete(self, tenant_id: str, key: str, status: int, body: str, headers: dict[str, str]) -> None:
        ddb().update_item(
            TableName=self._table,
            Key=to_attrs(keys.idempotency(tenant_id, key)),
            UpdateExpression=(
                "SET #status = :done, response_status = :code, response_body = :body, response_headers = :h"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_attrs(
                {":done": COMPLETED, ":code": Decimal(status), ":body": body, ":h": headers}
            ),
        )

    def release(self, tenant_id: str, key: str) -> None:
        """Free the key after a failure, so the client's retry can run."""
        ddb().delete_item(TableName=self._table, Key=to_attrs(keys.idempotency(tenant_id, key)))


def _stored(data: dict[str, Any]) -> StoredRequest:
    code = data.get("response_status")
    return StoredRequest(
        status=str(data.get("status", IN_PROGRESS)),
        fingerprint=str(data.get("fingerprint", "")),
        response_status=int(code) if code is not None else None,
        response_body=data.get("response_body"),
        response_headers=data.get("response_headers"),
    )
