"""Scheduled jobs. Each walks the tenants and calls one core service."""

from __future__ import annotations

from chalicelib.observability import logger, metrics
from chalicelib.wiring import stock_service, tenant_service


def _tenant_ids() -> list[str]:
    return list(tenant_service().tenant_ids())


def expire_reservations() -> int:
    """Release every reservation whose expiry has passed."""
    total = 0
    for tenant_id in _tenant_ids():
        total += stock_service().expire_reservations(tenant_id)
    logger.info("reservations expired", extra={"count": total})
    metrics.add_metric(name="ReservationsExpired", unit="Count", value=total)
    return total


def reconcile_ledger() -> list[tuple[str, str]]:
    """Check on-hand against the ledger sum for every stock record.

    A mismatch would be a bug, never a business event, so it is logged as an
    error and counted; nothing is corrected automatically.
    """
    mismatches: list[tuple[str, str]] = []
    service = stock_service()
    for tenant_id in _tenant_ids():
        for record in service.all_records(tenant_id):
            # The record just listed is the one checked: one ledger Query per record, no re-read.
            difference = service.reconcile(tenant_id, record.stock_id, listed=record)
            if difference != 0:
                mismatches.append((tenant_id, record.stock_id))
                logger.error(
                    "ledger mismatch",
                    extra={"tenant_id": tenant_id, "stock_id": record.stock_id, "difference": str(difference)},
                )
    metrics.add_metric(name="LedgerMismatches", unit="Count", value=len(mismatches))
    return mismatches
