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


# Refusals of a whole call for capacity or contention. botocore retries them itself (standard mode, 4
# attempts, `storage/aws.py`); one still refused after that is the domain's Unavailable (503 with
# Retry-After over HTTP), raised here for every call of the shared client, the one place that maps them.
REFUSED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
# TransactWriteItems retries its refusals itself and explains its cancellations (storage/transaction.py).
OWN_RETRIES = frozenset({"TransactWriteItems"})


def ddb() -> Any:
    return client("dynamodb")


def watch_refusals(dynamodb: Any) -> None:
    """Log each refused attempt botocore retries, and turn a call refused past its retries into Unavailable
    (`storage/aws.py` calls this once for the DynamoDB client it builds)."""
    dynamodb.meta.events.register("needs-retry.dynamodb", _log_refused_attempt)
    dynamodb.meta.events.register("after-call.dynamodb", _raise_if_refused)


def _refusal(parsed: Any) -> str | None:
    code = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
    return str(code) if code in REFUSED_CODES else None


def _log_refused_attempt(response: Any = None, attempts: int = 0, operation: Any = None, **_: Any) -> None:
    code = _refusal(response[1]) if response else None
    if code is not None:
        name = getattr(operation, "name", "?")
        logger.warning("storage call refused", extra={"operation": name, "code": code, "attempt": attempts})


def _raise_if_refused(parsed: Any = None, model: Any = None, **_: Any) -> None:
    code = _refusal(parsed)
    name = getattr(model, "name", "?")
    if code is None or name in OWN_RETRIES:
        return
    logger.error("storage call gave up", extra={"operation": name, "code": code})
    # The refused call itself did nothing (DynamoDB refuses before running it).
    raise Unavailable("storage is busy: send the request again")


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
