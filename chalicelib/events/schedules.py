"""Scheduled jobs. Each walks the tenants and calls one core service.

Every line a job logs about a company carries its `tenant_id`; a company whose
run raises is logged by name before the error ends the invocation (Lambda then
retries it and, at last, sends it to the schedules' failure queue).
"""

from __future__ import annotations

from chalicelib.observability import count, logger
from chalicelib.wiring import stock_service, tenant_service


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


def reconcile_ledger() -> list[tuple[str, str]]:
    """Check on-hand against the ledger sum for every stock record.

    A mismatch would be a bug, never a business event, so it is logged as an
    error and counted (the LedgerMismatches alarm fires on any); nothing is
    corrected automatically.
    """
    mismatches: list[tuple[str, str]] = []
    service = stock_service()
    for tenant_id in _tenant_ids():
        checked = 0
        found = len(mismatches)
        try:
            for record in service.all_records(tenant_id):
                checked += 1
                # The record just listed is the one checked: one ledger Query per record, no re-read.
                difference = service.reconcile(tenant_id, record.stock_id, listed=record)
                if difference != 0:
                    mismatches.append((tenant_id, record.stock_id))
                    logger.error(
                        "ledger mismatch",
                        extra={"tenant_id": tenant_id, "stock_id": record.stock_id, "difference": str(difference)},
                    )
        except Exception:
            logger.error("ledger reconciliation failed", extra={"tenant_id": tenant_id, "checked": checked})
            raise
        logger.info(
            "ledger reconciled",
            extra={"tenant_id": tenant_id, "checked": checked, "mismatches": len(mismatches) - found},
        )
    count("LedgerMismatches", len(mismatches))
    return mismatches
