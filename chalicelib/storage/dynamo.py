"""Thin helpers over the DynamoDB client: batching within the service limits,
retries of unprocessed items, pagination. Write transactions are
`storage/transaction.Transaction`."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.errors import Unavailable
from chalicelib.observability import logger
from chalicelib.storage.aws import client

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
MAX_BATCH_RETRIES = 8


def ddb() -> Any:
    return client("dynamodb")


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count(request: dict[str, Any]) -> int:
    return sum(len(v.get("Keys", ())) if isinstance(v, dict) else len(v) for v in request.values())


def _backoff(attempt: int) -> None:
    # Full jitter: the retries of many writers do not line up again.
    time.sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311


def batch_get(
    table: str,
    keys: list[dict[str, Any]],
    consistent: bool = True,
    projection: str | None = None,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Fetch items by key, 100 per call, retrying unprocessed keys; `projection` picks the attributes."""
    found: list[dict[str, Any]] = []
    unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
    for chunk in chunks(unique, BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": chunk, "ConsistentRead": consistent}}
        if projection:
            request[table]["ProjectionExpression"] = projection
            if names:
                request[table]["ExpressionAttributeNames"] = names
        for attempt in range(MAX_BATCH_RETRIES):
            response = ddb().batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            _backoff(attempt)
            logger.warning("unprocessed keys retried", extra={"keys": _count(request), "attempt": attempt + 1})
        else:
            logger.error("unprocessed keys gave up", extra={"attempts": MAX_BATCH_RETRIES})
            raise Unavailable("storage is throttled: send the request again")
    return found


def batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """Write or delete items, 25 per call, retrying unprocessed items."""
    for chunk in chunks(requests, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: chunk}
        for attempt in range(MAX_BATCH_RETRIES):
            response = ddb().batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            _backoff(attempt)
            logger.warning("unprocessed items retried", extra={"items": _count(pending), "attempt": attempt + 1})
        else:
            logger.error("unprocessed items gave up", extra={"attempts": MAX_BATCH_RETRIES})
            raise Unavailable("storage is throttled: send the request again")


def query_page(
    table: str, *, limit: int, start: dict[str, Any] | None = None, **params: Any
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a query (one round trip) and the key to resume from."""
    request: dict[str, Any] = {"TableName": table, "Limit": limit, **params}
    if start:
        request["ExclusiveStartKey"] = start
    response = ddb().query(**request)
    return response.get("Items", []), response.get("LastEvaluatedKey")


def query_all(table: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a query, page by page, without holding them all."""
    request: dict[str, Any] = {"TableName": table, **params}
    while True:
        response = ddb().query(**request)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
