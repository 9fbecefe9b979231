"""Idempotency records: one per (tenant, Idempotency-Key), expiring by TTL.

A DynamoDB item holds at most 400 KB, and a response can be bigger (an order
of many lines with long non-ASCII notes, every character escaped). A response
is kept inline when it fits, compressed in the item when that fits, and
otherwise compressed in the files bucket under `idempotency/` (expired by a
lifecycle rule) with the item pointing at it: a success is never turned into
a 500 because its replay copy did not fit.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, to_attrs
from chalicelib.storage.dynamo import ddb, is_conditional_failure
from chalicelib.storage.files import S3Files

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
# Room left in a 400 KB item for the key, the fingerprint, the headers and the attribute names.
INLINE_BODY_BYTES = 300_000
BODY_PREFIX = "idempotency/"


@dataclass(frozen=True)
class StoredRequest:
    status: str
    fingerprint: str
    response_status: int | None = None
    response_body: str | None = None
    response_headers: dict[str, str] | None = None


class DynamoIdempotencyStore:
    def __init__(self, table: str, files: S3Files | None = None) -> None:
        self._table = table
        self._files = files

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
            return self._stored(from_attrs(old))
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
                {":done": COMPLETED, ":code": Decimal(status), ":body": self._kept(tenant_id, key, body), ":h": headers}
            ),
        )

    def _kept(self, tenant_id: str, key: str, body: str) -> str | bytes | dict[str, str]:
        """The body as the item holds it: text, gzip bytes, or a pointer to the files bucket."""
        raw = body.encode()
        if len(raw) <= INLINE_BODY_BYTES:
            return body
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        if len(packed) <= INLINE_BODY_BYTES or self._files is None:
            return packed
        digest = hashlib.sha256(f"{tenant_id}\0{key}".encode()).hexdigest()
        object_key = f"{BODY_PREFIX}{tenant_id}/{digest}.json.gz"
        self._files.put(object_key, packed, "application/gzip")
        return {"s3": object_key}

    def _stored(self, data: dict[str, Any]) -> StoredRequest:
        code = data.get("response_status")
        return StoredRequest(
            status=str(data.get("status", IN_PROGRESS)),
            fingerprint=str(data.get("fingerprint", "")),
            response_status=int(code) if code is not None else None,
            response_body=self._body(data.get("response_body")),
            response_headers=data.get("response_headers"),
        )

    def _body(self, kept: Any) -> str | None:
        if kept is None or isinstance(kept, str):
            return kept
        if isinstance(kept, dict) and self._files is not None:
            kept = self._files.read_bytes(str(kept["s3"]))
        return gzip.decompress(bytes(kept)).decode()

    def release(self, tenant_id: str, key: str) -> None:
        """Free the key after a failure, so the client's retry can run."""
        ddb().delete_item(TableName=self._table, Key=to_attrs(keys.idempotency(tenant_id, key)))
