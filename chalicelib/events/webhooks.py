"""The webhook sender: an SQS (FIFO) handler that makes one delivery attempt per message.

A message whose attempt fails stays on the queue: its visibility is set to
the backoff delay (core/events/webhooks.backoff_seconds) and it is reported
as a batch item failure, so SQS hands it back then. While it waits, the FIFO
queue holds back the later messages of its group (same company, webhook and
product), which keeps one product's events in order. Later messages of a
group that failed in this batch are not attempted; they are reported too.

The HTTP request goes to the address the SSRF check just approved (the
host is resolved and checked again here, at delivery time), with the URL's
host name as Host header and TLS server name, so a DNS answer that changes
between check and connect cannot redirect it. Redirects are not followed;
timeouts are short.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.core.events.urls import UnsafeUrl, check
from chalicelib.core.events.webhooks import DeliveryJob, Response
from chalicelib.observability import count, logger
from chalicelib.settings import get_settings

MAX_RESPONSE_BYTES = 4096


def post(url: str, headers: dict[str, str], body: bytes) -> Response:
    """POST `body` to `url` after the SSRF check, pinned to the checked address."""
    import urllib3

    from chalicelib.storage.resolver import resolve

    settings = get_settings()
    try:
        target = check(url, resolve, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        return Response(None, f"refused: {exc}")
    address = target.addresses[0]
    timeout = urllib3.Timeout(connect=settings.webhook_connect_timeout, read=settings.webhook_read_timeout)
    pool: Any
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        answer = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            preload_content=False,
        )
        answer.read(MAX_RESPONSE_BYTES)
        answer.release_conn()
        return Response(answer.status)
    except urllib3.exceptions.HTTPError as exc:
        return Response(None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        pool.close()


def handle(
    event: dict[str, Any],
    poster: Callable[[str, dict[str, str], bytes], Response] = post,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One attempt per message; returns the SQS batch item failures (retried after their delay)."""
    from chalicelib.wiring import webhook_service

    service = webhook_service()
    queue: Any = service.queue
    failures: list[dict[str, str]] = []
    blocked: set[str] = set()
    for record in event.get("Records") or []:
        message_id = record["messageId"]
        try:
            job = DeliveryJob.parse(record["body"])
        except (KeyError, TypeError, ValueError):
            logger.error("webhook message unreadable, dropped", extra={"message_id": message_id})
            count("WebhookMessagesUnreadable", 1)
            continue
        if job.group in blocked:
            # Behind a failed message of its group: back on the queue at once, where FIFO keeps it
            # behind that message (which is in flight until its backoff ends).
            failures.append({"itemIdentifier": message_id})
            receipt = record.get("receiptHandle")
            if receipt and hasattr(queue, "retry_later"):
                queue.retry_later(receipt, 0)
            continue
        outcome = service.deliver(job, poster, now)
        count(f"WebhookDeliveries{outcome.status.capitalize()}", 1)
        if not outcome.done:
            blocked.add(job.group)
            failures.append({"itemIdentifier": message_id})
            receipt = record.get("receiptHandle")
            if receipt and hasattr(queue, "retry_later"):
                queue.retry_later(receipt, outcome.delay)
    return {"batchItemFailures": failures}
