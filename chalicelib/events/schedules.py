"""Scheduled jobs. Each walks the tenants and calls one core service.

Every line a job logs about a company carries its `tenant_id`; a company whose
run raises is logged by name before the error ends the invocation (Lambda then
retries it and, at last, sends it to the schedules' failure queue).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.core.ids import utcnow
from chalicelib.observability import count, logger
from chalicelib.wiring import stock_service, tenant_service

# Snapshots sum the ledger up to this long ago: a movement stamped earlier has surely committed.
SNAPSHOT_MARGIN = timedelta(minutes=1)
SNAPSHOT_BATCH = 25


def _tenant_ids() -> list[str]:
    return list(tenant_service().tenant_ids())


def expire_reservations() -> int:
    """Release every reservation whose expiry has passed."""
    total = 0
    for tenant_id in _tenant_ids():
        try:
            expired = stock_service().expire_reservations(tenant_id)
        except Exception:
            logger.error("reservation expiry failed", extra={"tenant_id": tenant_id})
            raise
        if expired:
            logger.info("reservations expired", extra={"tenant_id": tenant_id, "count": expired})
        total += expired
    logger.info("reservation expiry done", extra={"count": total})
    count("ReservationsExpired", total)
    return total


def reconcile_ledger(now: datetime | None = None) -> list[tuple[str, str]]:
    """Check every stock record's balance against its ledger, and write its daily snapshot.

    The check is snapshot + movements since = stored on hand (one snapshot
    Query and one movement-range Query per record). A mismatch would be a bug,
    never a business event, so it is logged as an error, counted
    (`LedgerMismatches`; its alarm fires on any) and published as a
    `ledger.mismatch` event (GET /events, webhooks); nothing is corrected.
    The new snapshot (what as-of reads start from) sums the ledger up to a
    minute ago, so no movement of that time can still be in flight.
    """
    from chalicelib.core.events.mapping import DomainEvent, event_id
    from chalicelib.wiring import event_store, stock_store, webhook_service

    mismatches: list[tuple[str, str]] = []
    service = stock_service()
    cutoff = (now or utcnow()) - SNAPSHOT_MARGIN
    for tenant_id in _tenant_ids():
        checked = 0
        found: list[DomainEvent] = []
        snapshots = []
        try:
            for record in service.all_records(tenant_id):
                checked += 1
                reconciled, new = service.reconcile_and_snapshot(tenant_id, record, cutoff)
                if new:
                    snapshots.append(reconciled.snapshot)
                if reconciled.difference != 0:
                    mismatches.append((tenant_id, record.stock_id))
                    logger.error(
                        "ledger mismatch",
                        extra={
                            "tenant_id": tenant_id,
                            "stock_id": record.stock_id,
                            "difference": str(reconciled.difference),
                        },
                    )
                    found.append(
                        DomainEvent(
                            event_id=event_id(tenant_id, "stock", record.stock_id, keys_day(cutoff), "ledger.mismatch"),
                            type="ledger.mismatch",
                            occurred_at=cutoff,
                            tenant_id=tenant_id,
                            product_id=record.product_id,
                            data={
                                "stockId": record.stock_id,
                                "productId": record.product_id,
                                "locationId": record.location_id,
                                "storedOnHand": record.on_hand,
                                "ledgerOnHand": record.on_hand - reconciled.difference,
                                "difference": reconciled.difference,
                            },
                        )
                    )
                if len(snapshots) >= SNAPSHOT_BATCH:
                    stock_store().put_snapshots(snapshots)
                    snapshots = []
            if snapshots:
                stock_store().put_snapshots(snapshots)
            if found:
                event_store().put_events(found)
                webhook_service().fan_out(found)
        except Exception:
            logger.error("ledger reconciliation failed", extra={"tenant_id": tenant_id, "checked": checked})
            raise
        logger.info(
            "ledger reconciled",
            extra={"tenant_id": tenant_id, "checked": checked, "mismatches": len(found)},
        )
    count("LedgerMismatches", len(mismatches))
    return mismatches


def keys_day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
