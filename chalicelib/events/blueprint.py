"""Every non-HTTP entry point: the audit stream, the import queue, the webhook sender and the schedules.

Handlers stay thin and import their logic on first call, so the HTTP
functions never pay for it at cold start.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron, Rate

from chalicelib.observability import flushed_metrics
from chalicelib.settings import setting_at_import

events = Blueprint(__name__)


# Declared as a plain function: its DynamoDB event source mapping lives in
# infra/resources.json, because on_dynamodb_record cannot set
# ReportBatchItemFailures, bisection, retries or an on-failure queue.
@events.lambda_function(name="audit_stream")
def audit_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.events.audit import handle

    return handle(event, context)


# The same stream, a second consumer: domain events and webhook fan-out (mapping in infra/resources.json).
@events.lambda_function(name="events_stream")
def events_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.events.domain import handle

    return handle(event, context)


@events.on_sqs_message(queue=setting_at_import("import_queue"), batch_size=10, name="import_queue")
def import_queue(event: Any) -> dict[str, Any]:
    from chalicelib.events.imports import handle

    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    with flushed_metrics():
        return handle(event.to_dict(), (lambda: remaining() / 1000) if remaining else None)


@events.on_sqs_message(queue=setting_at_import("webhook_queue"), batch_size=10, name="webhook_sender")
def webhook_sender(event: Any) -> dict[str, Any]:
    from chalicelib.events.webhooks import handle

    with flushed_metrics():
        return handle(event.to_dict())


@events.schedule(Rate(5, unit=Rate.MINUTES), name="expire_reservations")
def expire_reservations(event: Any) -> None:
    from chalicelib.events.schedules import expire_reservations as run

    with flushed_metrics():
        run()


# Nightly from 03:00 UTC, every 15 minutes until 05:45: the first invocation reconciles, and each later one
# goes on where the last ran out of time (a million records do not fit one) or finds the day's pass done.
@events.schedule(Cron("0/15", "3-5", "*", "*", "?", "*"), name="reconcile_ledger")
def reconcile_ledger(event: Any) -> None:
    from chalicelib.events.schedules import reconcile_ledger as run

    remaining = getattr(getattr(event, "context", None), "get_remaining_time_in_millis", None)
    with flushed_metrics():
        run(time_left=(lambda: remaining() / 1000) if remaining else None)


@events.schedule(Cron(30, 0, "*", "*", "?", "*"), name="expire_lots")
def expire_lots(event: Any) -> None:
    """Daily (00:30 UTC): lots past their expiry date are marked expired and their stock held."""
    from chalicelib.events.schedules import expire_lots as run

    with flushed_metrics():
        run()


@events.schedule(Rate(5, unit=Rate.MINUTES), name="expire_holds")
def expire_holds(event: Any) -> None:
    """Every 5 minutes: holds past their expiresAt are released."""
    from chalicelib.events.schedules import expire_holds as run

    with flushed_metrics():
        run()


@events.schedule(Cron(0, 2, "*", "*", "?", "*"), name="replenish")
def replenish(event: Any) -> None:
    """Daily (02:00 UTC): a replenishment record for every configured pair below its reorder point."""
    from chalicelib.events.schedules import replenish as run

    with flushed_metrics():
        run()
