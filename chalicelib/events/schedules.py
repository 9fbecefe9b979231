"""Scheduled jobs. Each is a function of one company (tenant id -> a summary of what it did), kept in
`JOBS` by the name operators use (`POST /jobs/{name}/run`); the schedules walk the tenants and call the
same functions, so a run from the route and a scheduled run do the same work.

Every line a job logs about a company carries its `tenant_id`; a company whose
run raises is logged by name before the error ends the invocation (Lambda then
retries it and, at last, sends it to the schedules' failure queue).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.observability import count, logger
from chalicelib.wiring import job_cursors, stock_service, tenant_service

Job = Callable[[str], dict[str, Any]]
# Snapshots sum the ledger up to this long ago: a movement stamped earlier has surely committed.
SNAPSHOT_MARGIN = timedelta(minutes=1)
SNAPSHOT_BATCH = 25
RECONCILE_JOB = "reconciliation"
# A scheduled reconciliation stops between pages with this much of its invocation left, or a quarter of it
# when that is less (a page of 500 records costs 500 Queries); the next invocation of the night goes on
# (blueprint.reconcile_ledger).
RECONCILE_STOP_SECONDS = 120.0


def _tenant_ids() -> list[str]:
    return list(tenant_service().tenant_ids())


# -- the jobs, one company at a time -----------------------------------------------------


def expire_reservations_of(tenant_id: str) -> dict[str, Any]:
    """Release the company's reservations whose expiry has passed."""
    expired = stock_service().expire_reservations(tenant_id)
    if expired:
        logger.info("reservations expired", extra={"tenant_id": tenant_id, "count": expired})
    return {"expired": expired}


def reconcile_ledger_of(
    tenant_id: str, now: datetime | None = None, out_of_time: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Check every stock record's balance against its ledger, and write its daily snapshot.

    The check is snapshot + movements since = stored on hand (one Query per
    record). A mismatch would be a bug, never a business event, so it is
    logged as an error, counted by the schedule (`LedgerMismatches`; its alarm
    fires on any) and published as a `ledger.mismatch` event (GET /events,
    webhooks); nothing is corrected. The new snapshot (what as-of reads start
    from) sums the ledger up to a minute ago, so no movement of that time can
    still be in flight.

    With `out_of_time` (the nightly schedule: see `reconcile_ledger`) the day's
    pass is resumable, as a million records do not fit one invocation: it
    stops between pages once `out_of_time()`, saving where it stands
    (`T#t#JOBCURSOR / reconciliation`), and the next invocation of the night
    goes on from there; a company whose pass of the day is done is skipped.
    Without it (a run on request, tests) every record is checked now. `done`
    says whether the day's pass is complete.
    """
    cutoff = (now or utcnow()) - SNAPSHOT_MARGIN
    day = keys_day(cutoff)
    start: dict[str, object] | None = None
    if out_of_time is not None:
        saved = job_cursors().load(tenant_id, RECONCILE_JOB) or {}
        if saved.get("day") == day and saved.get("done"):
            return {"checked": 0, "mismatches": [], "done": True}
        start = saved.get("start") if saved.get("day") == day else None
    tally = _Tally(tenant_id, cutoff)
    resume_at = None
    for page in stock_service().record_pages(tenant_id, start):
        tally.check(page.items)
        if out_of_time is not None and page.cursor is not None and out_of_time():
            resume_at = page.cursor
            break
    done = resume_at is None
    tally.flush()  # before the cursor moves past these records: a failed write leaves them to the next run
    if out_of_time is not None:
        job_cursors().save(
            tenant_id, RECONCILE_JOB, {"day": day, "done": True} if done else {"day": day, "start": resume_at}
        )
    logger.info(
        "ledger reconciled" if done else "ledger reconciliation paused",
        extra={"tenant_id": tenant_id, "checked": tally.checked, "mismatches": len(tally.mismatches)},
    )
    return {"checked": tally.checked, "mismatches": tally.mismatches, "done": done}


class _Tally:
    """One run's checks of a company's records: its counts, and the snapshots and events it has to write."""

    def __init__(self, tenant_id: str, cutoff: datetime) -> None:
        self._tenant_id = tenant_id
        self._cutoff = cutoff
        self.checked = 0
        self.mismatches: list[dict[str, Any]] = []
        self._events: list[Any] = []
        self._snapshots: list[Any] = []

    def check(self, records: list[Any]) -> None:
        from chalicelib.wiring import stock_store

        service = stock_service()
        for record in records:
            self.checked += 1
            reconciled, new = service.reconcile_and_snapshot(self._tenant_id, record, self._cutoff)
            if new:
                self._snapshots.append(reconciled.snapshot)
            if reconciled.difference != 0:
                self._mismatch(record, reconciled.difference)
            if len(self._snapshots) >= SNAPSHOT_BATCH:
                stock_store().put_snapshots(self._snapshots)
                self._snapshots = []

    def _mismatch(self, record: Any, difference: Any) -> None:
        self.mismatches.append({"stockId": record.stock_id, "difference": difference})
        logger.error(
            "ledger mismatch",
            extra={"tenant_id": self._tenant_id, "stock_id": record.stock_id, "difference": str(difference)},
        )
        self._events.append(_mismatch_event(self._tenant_id, record, difference, self._cutoff))

    def flush(self) -> None:
        from chalicelib.wiring import event_store, stock_store, webhook_service

        if self._snapshots:
            stock_store().put_snapshots(self._snapshots)
            self._snapshots = []
        if self._events:
            event_store().put_events(self._events)
            webhook_service().fan_out(self._events)
            self._events = []


def _mismatch_event(tenant_id: str, record: Any, difference: Any, cutoff: datetime) -> Any:
    from chalicelib.core.events.mapping import DomainEvent, event_id

    return DomainEvent(
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
            "ledgerOnHand": record.on_hand - difference,
            "difference": difference,
        },
    )


def keys_day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


# The registry: what `POST /jobs/{name}/run` runs for the caller's company. Features add theirs with
# `register` (expiry, hold-expiry, replenishment).
JOBS: dict[str, Job] = {
    "reservation-expiry": expire_reservations_of,
    "reconciliation": reconcile_ledger_of,
}


def register(name: str, job: Job) -> Job:
    """Add a job to the registry under `name` (usable as a decorator's target)."""
    JOBS[name] = job
    return job


def job_names() -> list[str]:
    return sorted(JOBS)


def run_job(name: str, tenant_id: str) -> dict[str, Any]:
    """Run job `name` for one company now and answer its summary (KeyError for an unknown name)."""
    job = JOBS[name]
    logger.info("job run on request", extra={"tenant_id": tenant_id, "job": name})
    return {"job": name, **job(tenant_id)}


# -- the schedules: every company --------------------------------------------------------------


def expire_reservations() -> int:
    """Release every reservation whose expiry has passed."""
    total = 0
    for tenant_id in _tenant_ids():
        try:
            total += expire_reservations_of(tenant_id)["expired"]
        except Exception:
            logger.error("reservation expiry failed", extra={"tenant_id": tenant_id})
            raise
    logger.info("reservation expiry done", extra={"count": total})
    count("ReservationsExpired", total)
    return total


def reconcile_ledger(
    now: datetime | None = None, time_left: Callable[[], float] | None = None
) -> list[tuple[str, str]]:
    """Reconcile every company's ledger and write the day's snapshots; the (tenant, stock id) pairs that disagree.

    With `time_left` (seconds left in the invocation: the schedule's) each company's pass of the day is
    resumable, and the invocation stops while a quarter of its time, at most RECONCILE_STOP_SECONDS, is
    left; the next goes on (see `reconcile_ledger_of`).
    """
    out_of_time = None
    if time_left is not None:
        reserve = min(RECONCILE_STOP_SECONDS, time_left() / 4)
        out_of_time = lambda: time_left() < reserve  # noqa: E731 - a one-line deadline
    mismatches: list[tuple[str, str]] = []
    for tenant_id in _tenant_ids():
        if out_of_time is not None and out_of_time():
            logger.info("ledger reconciliation paused: the next invocation goes on", extra={"tenant_id": tenant_id})
            break
        try:
            found = reconcile_ledger_of(tenant_id, now, out_of_time)["mismatches"]
        except Exception:
            logger.error("ledger reconciliation failed", extra={"tenant_id": tenant_id})
            raise
        mismatches.extend((tenant_id, m["stockId"]) for m in found)
    count("LedgerMismatches", len(mismatches))
    return mismatches


# -- 001 warehouse jobs: each runs for ONE company and answers a summary; the all-company
# schedule walks the tenants with it (and an operator's "run now" can call it directly).


def run_expiry(tenant_id: str) -> dict[str, int]:
    """The `expiry` job for one company: every active lot past its date is marked expired, its stock held.

    A Query on the lot expiry index (never a Scan); a second run finds nothing to do.
    """
    from chalicelib.wiring import warehouse_stock

    return warehouse_stock().run_expiry(tenant_id)


def run_hold_expiry(tenant_id: str) -> dict[str, int]:
    """The `hold-expiry` job for one company: every active hold past its expiresAt is released (status expired)."""
    from chalicelib.wiring import warehouse_stock

    return warehouse_stock().expire_holds(tenant_id)


register("expiry", run_expiry)
register("hold-expiry", run_hold_expiry)


def run_replenishment(tenant_id: str) -> dict[str, int]:
    """The `replenishment` job for one company: a record for every configured pair below its reorder point,
    at most one outstanding per pair (a guard item per pair), so a second run, or a concurrent one, adds
    nothing. Reads the configuration with a Query, never a Scan."""
    from chalicelib.wiring import replenishment_service

    summary: dict[str, int] = replenishment_service().run_schedule(tenant_id)
    return summary


def _every_tenant(job: str, run: Callable[[str], dict[str, int]], metric: str, key: str) -> dict[str, int]:
    """Run a one-company job for every company, logging each summary; the totals are returned and counted."""
    totals: dict[str, int] = {}
    for tenant_id in _tenant_ids():
        try:
            summary = run(tenant_id)
        except Exception:
            logger.error(f"{job} failed", extra={"tenant_id": tenant_id})
            raise
        if any(summary.values()):
            logger.info(f"{job} done for a company", extra={"tenant_id": tenant_id, **summary})
        for name, value in summary.items():
            totals[name] = totals.get(name, 0) + value
    logger.info(f"{job} done", extra=totals)
    count(metric, totals.get(key, 0))
    return totals


def expire_lots() -> dict[str, int]:
    """The daily expiry schedule: `run_expiry` for every company."""
    return _every_tenant("lot expiry", run_expiry, "LotsExpired", "lotsExpired")


def expire_holds() -> dict[str, int]:
    """The hold-expiry schedule: `run_hold_expiry` for every company."""
    return _every_tenant("hold expiry", run_hold_expiry, "HoldsExpired", "holdsExpired")


def replenish() -> dict[str, int]:
    """The daily replenishment schedule: `run_replenishment` for every company."""
    return _every_tenant("replenishment", run_replenishment, "ReplenishmentsCreated", "recordsCreated")


register("replenishment", run_replenishment)


def run_backfill(tenant_id: str) -> dict[str, Any]:
    """The `backfill` job for one company (`core/backfill.py`): numbers products and locations written before
    numbering, adds the gsi3 `STOCKTYPE` and gsi2 `BYTIME` entries older items lack; bounded per invocation,
    resumed from its cursor by the next, idempotent. `done: false` means: run it again."""
    from chalicelib.core.backfill import run_backfill as backfill
    from chalicelib.settings import get_settings
    from chalicelib.storage.backfill_repo import DynamoBackfillStore

    summary = backfill(DynamoBackfillStore(get_settings().main_table), tenant_id).public()
    logger.info("backfill ran", extra={"tenant_id": tenant_id, **summary})
    return summary


register("backfill", run_backfill)
