"""moto's server, made safe for concurrent clients.

moto's backend has no locking: an UpdateItem reads, checks its condition and
writes in separate Python steps, and a failed transaction rolls back by
restoring a copy of the whole table, wiping whatever another thread wrote
meanwhile. Handling one request at a time gives DynamoDB's guarantee (each
request atomic and isolated) while clients still race freely between their
requests. The local stack and the concurrency tests both start moto here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


class OneRequestAtATime:
    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            # Drain the body inside the lock: the request is handled while it is read.
            return list(self._app(environ, start_response))


def start(port: int) -> Any:
    """Start moto's threaded server on 127.0.0.1:`port`, one request at a time."""
    from moto.server import ThreadedMotoServer

    from infra.moto_tokens import honour_client_request_tokens

    _stamp_sequencers()
    honour_client_request_tokens()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wsgi = server._server
    assert wsgi is not None, "moto server did not start"
    wsgi.app = OneRequestAtATime(wsgi.app)
    return server


def _stamp_sequencers() -> None:
    """Give moto's S3 notifications the `sequencer` real S3 sends.

    The import tells a new drop to the same key from a redelivery of the old
    one by it; moto leaves it out, so a second drop would look like a repeat.
    """
    import time

    from moto.s3 import notifications

    original = notifications._get_s3_event
    if getattr(original, "stamps_sequencer", False):
        return

    def with_sequencer(*args: Any, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        event = original(*args, **kwargs)
        for record in event["Records"]:
            record["s3"]["object"].setdefault("sequencer", f"{time.time_ns():020X}")
        return event

    with_sequencer.stamps_sequencer = True  # type: ignore[attr-defined]
    notifications._get_s3_event = with_sequencer
