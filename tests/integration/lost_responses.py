"""Lose DynamoDB's answer to TransactWriteItems calls: the call runs, its caller sees a timeout.

This is what a client sees when the response is lost on the way back (a read
timeout after DynamoDB committed, a dropped connection): it cannot tell a
transaction that ran from one that did not, and must retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ReadTimeoutError

from chalicelib.storage.aws import client


@dataclass
class Losses:
    """What happened to each TransactWriteItems call, in order."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    lost: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def losing(lose: Callable[[int, dict[str, Any]], bool], *, forget_tokens: bool = False) -> Iterator[Losses]:
    """Run every TransactWriteItems call, but raise a read timeout instead of the answer when
    `lose(call number, request)` says so. `forget_tokens` makes every call a new request to the
    server, as if DynamoDB ignored ClientRequestToken (a retry is then evaluated again)."""
    ddb = client("dynamodb")
    real = ddb.transact_write_items
    losses = Losses()

    def transact_write_items(**request: Any) -> Any:
        with losses._lock:
            number = len(losses.calls)
            losses.calls.append(request)
        sent = {k: v for k, v in request.items() if k != "ClientRequestToken"} if forget_tokens else request
        answer = real(**sent)
        if lose(number, request):
            with losses._lock:
                losses.lost += 1
            raise ReadTimeoutError(endpoint_url="http://dynamodb.test")
        return answer

    ddb.transact_write_items = transact_write_items
    try:
        yield losses
    finally:
        del ddb.transact_write_items


@contextmanager
def losing_on_the_wire(operation: str, times: int = 1) -> Iterator[Losses]:
    """Lose the answer of the next `times` `operation` calls below botocore's retries.

    moto has handled the request by the time this handler runs; raising a read
    timeout here is what botocore sees when the answer is lost on the way
    back, so its standard retry mode sends the very same request again.
    """
    events = client("dynamodb").meta.events
    losses = Losses()
    target = f"DynamoDB_20120810.{operation}"

    def lose(request: Any, **_: Any) -> None:
        if request.headers.get("X-Amz-Target", b"").decode() != target:
            return
        with losses._lock:
            losses.calls.append({"body": request.body})
            if losses.lost >= times:
                return
            losses.lost += 1
        raise ReadTimeoutError(endpoint_url="http://dynamodb.test")

    # Last of the generic handlers, so after moto's (a handler for the specific event would run first).
    events.register_last("before-send", lose)
    try:
        yield losses
    finally:
        events.unregister("before-send", lose)
