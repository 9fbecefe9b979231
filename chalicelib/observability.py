"""Logger, metrics and tracer: built once, here, for the whole service.

What an operator gets (README, "Operating"):

- one structured log line per API request (`request_finished`): request id
  (the `X-Request-Id` the client saw), tenant id (the company), key id, route,
  status and latency;
- EMF metrics in the `Stockroom` namespace: per request `Requests`,
  `ClientErrors`, `ServerErrors` and `Latency`, by route and for the whole
  service; the event handlers' own figures (`RowsImported`, `RowsFailed`,
  `HistoryEventsWritten`, `ReservationsExpired`, `LedgerMismatches`, ...),
  published once per invocation by `flush`.

Nothing here may fail a request or a job: a metric that cannot be published
is logged and dropped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = "stockroom"
NAMESPACE = "Stockroom"

logger = Logger(service=SERVICE)
# Shared by the event handlers, each of which flushes it once per invocation (`flush`).
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# The local stack runs handlers on threads: one flush at a time, so one handler's figures never
# land in another's line half-built.
_flush_lock = threading.Lock()


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


# -- one line per request ----------------------------------------------------------


def request_finished(
    *,
    request_id: str,
    route: str,
    status: int,
    latency_ms: float,
    tenant_id: str | None,
    key_id: str | None,
) -> None:
    """The request's log line and its metrics. `route` is the declared route
    (`GET /companies/{companyId}/inventory`), never the path or query string as
    sent, so no key passed as a query parameter can reach the log."""
    latency = round(latency_ms, 3)
    try:
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "tenant_id": tenant_id,
                "key_id": key_id,
                "route": route,
                "status": status,
                "latency_ms": latency,
            },
        )
        publish_request_metrics(route, status, latency)
    except Exception:  # observability never fails a request
        logger.exception("could not record the request", extra={"request_id": request_id})


def publish_request_metrics(route: str, status: int, latency_ms: float) -> None:
    """One EMF line: Requests, ClientErrors, ServerErrors (0 or 1, so their
    average is a rate) and Latency, by route and for the service as a whole.

    A fresh EphemeralMetrics per request: the local server answers requests on
    threads, and a shared Metrics object would mix their routes.
    """
    request_metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    request_metrics.add_dimension(name="route", value=route)
    # A second dimension set, service alone: the alarms watch every route together.
    request_metrics.add_dimensions(service=SERVICE)
    request_metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    request_metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=int(400 <= status < 500))
    request_metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=int(status >= 500))
    request_metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    request_metrics.flush_metrics()


# -- event handlers ------------------------------------------------------------------


def count(name: str, value: float) -> None:
    """Add to a count the current invocation publishes when it flushes."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush() -> None:
    """Publish what this invocation counted, as one EMF line, and start afresh.

    Nothing counted, nothing printed (Powertools would warn). Powertools keeps
    the figures when metrics are disabled (POWERTOOLS_METRICS_DISABLED), so
    they are cleared here either way, or a warm process would grow with them.
    """
    with _flush_lock:
        try:
            if metrics.metric_set:
                metrics.flush_metrics()
        except Exception:  # observability never fails a job
            logger.exception("could not publish metrics")
        finally:
            metrics.clear_metrics()


@contextmanager
def flushed_metrics() -> Iterator[None]:
    """Publish the metrics a job added, even when it fails part way."""
    try:
        yield
    finally:
        flush()
