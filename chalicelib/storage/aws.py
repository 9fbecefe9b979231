"""AWS clients, built on first use (never at import time) and shared.

Low-level clients are thread-safe, so one per service serves every thread of
the local server and every invocation of a warm Lambda.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.settings import get_settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_call_listeners: list[Callable[..., None]] = []


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            _clients[service] = _build(service)
        return _clients[service]


def _build(service: str) -> Any:
    import boto3
    from botocore.config import Config

    settings = get_settings()
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=32,
        # Path-style keeps presigned URLs valid for the loopback endpoint.
        s3={"addressing_style": "path"} if settings.aws_endpoint_url else None,
        # botocore still presigns S3 with SigV2 by default, which buckets made since 2020 refuse.
        signature_version="s3v4" if service == "s3" else None,
    )
    session: Any = boto3.session.Session()
    made = session.client(service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config)
    made.meta.events.register(f"before-call.{service}", _notify)
    if service == "dynamodb":
        from chalicelib.storage.dynamo import watch_refusals

        watch_refusals(made)
    return made


def _notify(model: Any, **_: Any) -> None:
    for listener in _call_listeners:
        listener(model.service_model.service_name, model.name)


def on_call(listener: Callable[[str, str], None]) -> Callable[[], None]:
    """Call `listener(service, operation)` before every AWS call; returns an unsubscribe."""
    _call_listeners.append(listener)
    return lambda: _call_listeners.remove(listener)


def reset_clients() -> None:
    """Forget built clients (tests point them at a new endpoint)."""
    with _lock:
        _clients.clear()
