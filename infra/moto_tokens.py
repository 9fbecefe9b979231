"""DynamoDB's `ClientRequestToken` for moto, which ignores it.

Real DynamoDB (TransactWriteItems API reference): a transaction that
succeeded is remembered under its token for 10 minutes after it completed.
The same token with the same request within that window succeeds again
without writing anything (only the consumed capacity in the answer
differs); the same token with any other parameter is refused with
IdempotentParameterMismatchException (HTTP 400). A request that failed (a
cancelled transaction, say) is not remembered, so its retry is evaluated
again, conditions and all.

moto runs every transaction again, so a retry after a lost response applies
it twice (or is cancelled by its own first success). This patch, on moto's
response handler only, gives moto the documented behaviour. It is applied
by the local stack (`infra/moto_server.py`) and the integration tier
(`tests/integration/conftest.py`); it leaves everything else about moto's
transactions alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any

# How long DynamoDB remembers a token after the request that used it completed.
WINDOW_SECONDS = 600.0

_lock = threading.Lock()


def honour_client_request_tokens() -> None:
    """Patch moto's TransactWriteItems handler to keep DynamoDB's token semantics (idempotent)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items
    if getattr(original, "honours_client_request_tokens", False):
        return

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "DynamoDB rejected the request because you retried a request with a different payload "
                "but with an idempotent token that was already used.",
            )

    def transact_write_items(self: Any) -> Any:
        body = dict(self.body or {})
        token = body.pop("ClientRequestToken", None)
        if not token:
            return original(self)
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        backend = self.dynamodb_backend
        # Check, run and remember under one lock: two calls with one token never both run.
        with _lock:
            seen: OrderedDict[str, tuple[str, float]] = backend.__dict__.setdefault(
                "_client_request_tokens", OrderedDict()
            )
            _forget_expired(seen, time.monotonic())
            remembered = seen.get(token)
            if remembered is not None:
                if remembered[0] != fingerprint:
                    raise IdempotentParameterMismatch()
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            result = original(self)  # a cancelled transaction raises: nothing is remembered
            seen[token] = (fingerprint, time.monotonic())
            return result

    transact_write_items.honours_client_request_tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _forget_expired(seen: OrderedDict[str, tuple[str, float]], now: float) -> None:
    """Drop the tokens older than the window.

    A token is remembered once, when its transaction completes, so the order
    of `seen` is the order of their times: only its oldest entries can have
    expired, and the walk stops at the first that has not (it used to read
    every token of the last ten minutes on every transaction).
    """
    while seen:
        token, (_, at) = next(iter(seen.items()))
        if now - at <= WINDOW_SECONDS:
            return
        del seen[token]
