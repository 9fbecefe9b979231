"""Logger, metrics and tracer: built once, here, for the whole service."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = "stockroom"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Stockroom", service=SERVICE)


@lru_cache(maxsize=1)
def get_tracer() -> Any:
    """X-Ray tracer, built on first use and only inside Lambda.

    Importing the X-Ray SDK costs ~130 ms; outside Lambda there is no daemon
    to send traces to, so local runs and tests never pay for it.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def clear_request_keys() -> None:
    """Drop per-request log keys.

    Logger.append_keys is process-global; the local server runs requests on
    threads, so keys from one request would leak into the next.
    """
    logger.clear_state()


@contextmanager
def flushed_metrics() -> Iterator[None]:
    """Publish the metrics a job added, even when it fails part way."""
    try:
        yield
    finally:
        metrics.flush_metrics()
