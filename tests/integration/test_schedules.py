"""Scheduled jobs walk every tenant and call the core services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib import wiring
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.events import schedules
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.codec import to_attrs

ACTOR = Actor(id="u1", name="Planner")


@pytest.fixture
def services(aws: None) -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def _tenant_with_stock(name: str, quantity: int) -> tuple[str, str]:
    tenant, _ = wiring.tenant_service().create_tenant(name)
    record = wiring.stock_service().create_record(
        tenant.tenant_id, NewStockRecord(product_id="p1", location_id="l1", quantity=Decimal(quantity)), ACTOR
    )
    return tenant.tenant_id, record.stock_id


def test_given_expired_reservations_in_two_tenants_when_the_job_runs_then_only_expired_ones_are_released(
    services: None,
) -> None:
    stock = wiring.stock_service()
    first, first_stock = _tenant_with_stock("First", 10)
    second, second_stock = _tenant_with_stock("Second", 10)
    past, future = utcnow() - timedelta(minutes=1), utcnow() + timedelta(hours=1)
    stock.reserve(first, first_stock, Decimal(4), ACTOR, expires_at=past)
    stock.reserve(second, second_stock, Decimal(3), ACTOR, expires_at=past)
    kept = stock.reserve(second, second_stock, Decimal(2), ACTOR, expires_at=future)
    stock.reserve(second, second_stock, Decimal(1), ACTOR)  # no expiry at all

    assert schedules.expire_reservations() == 2

    assert stock.get(first, first_stock).reserved == 0
    assert stock.get(second, second_stock).reserved == 3
    assert stock.get(second, second_stock).available == 7
    assert stock.get_reservation(second, kept.reservation_id).status == "active"
    # A second run finds nothing left to expire.
    assert schedules.expire_reservations() == 0


def test_given_a_balance_changed_outside_the_ledger_when_reconciling_then_it_is_reported(services: None) -> None:
    healthy, healthy_stock = _tenant_with_stock("Healthy", 5)
    broken, broken_stock = _tenant_with_stock("Broken", 5)
    wiring.stock_service().adjust(healthy, healthy_stock, Decimal(-2), ACTOR)
    # Simulate a bug: on-hand moved without a ledger line.
    client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key=to_attrs(keys.stock(broken, broken_stock)),
        UpdateExpression="SET on_hand = on_hand + :d, available = available + :d",
        ExpressionAttributeValues=to_attrs({":d": Decimal(1)}),
    )

    assert schedules.reconcile_ledger() == [(broken, broken_stock)]


class Remaining:
    """Seconds left in an invocation: 900 for the first `after` questions, then 100 (under the 120 kept)."""

    def __init__(self, after: int) -> None:
        self.calls = 0
        self._after = after

    def __call__(self) -> float:
        self.calls += 1
        return 900.0 if self.calls <= self._after else 100.0


def out_of_time_after(after: int) -> Callable[[], bool]:
    """Out of time once `after` questions have been answered no (the schedule's test, on `Remaining`)."""
    remaining = Remaining(after)
    return lambda: remaining() < schedules.RECONCILE_STOP_SECONDS


def _records_of_one_tenant(count: int) -> tuple[str, list[str]]:
    tenant, _ = wiring.tenant_service().create_tenant("Big")
    stock = wiring.stock_service()
    made = [
        stock.create_record(
            tenant.tenant_id, NewStockRecord(product_id=f"p{n}", location_id="l1", quantity=Decimal(n + 1)), ACTOR
        ).stock_id
        for n in range(count)
    ]
    return tenant.tenant_id, made


def test_a_nightly_pass_that_runs_out_of_time_goes_on_where_it_stopped_and_runs_once_a_day(
    services: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chalicelib.core.stock.service.RECORD_PAGE", 2)
    tenant, made = _records_of_one_tenant(5)  # three pages: 2, 2, 1
    broken = sorted(made)[4]  # on the last page (records are listed by id)
    client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key=to_attrs(keys.stock(tenant, broken)),
        UpdateExpression="SET on_hand = on_hand + :d, available = available + :d",
        ExpressionAttributeValues=to_attrs({":d": Decimal(1)}),
    )
    # Tomorrow at 03:00 UTC, after the records were made: its later invocations (+15 and +30 minutes)
    # fall on the same day whenever the test runs (utcnow() at 23:50 put them on the next day's pass).
    night = datetime.combine(utcnow().date() + timedelta(days=1), time(3), tzinfo=UTC)

    # The first invocation has time for the tenant check and one page only: it saves where it stands.
    first = schedules.reconcile_ledger_of(tenant, night, out_of_time_after(after=0))
    assert (first["checked"], first["mismatches"], first["done"]) == (2, [], False)
    # The next one goes on from there, and finds the mismatch on the last page.
    second = schedules.reconcile_ledger_of(tenant, night + timedelta(minutes=15), out_of_time_after(after=10))
    assert second["checked"] == 3 and second["done"] is True
    assert [m["stockId"] for m in second["mismatches"]] == [broken]
    # Every record got its snapshot of the day, once.
    snapshots = [
        client("dynamodb").query(
            TableName=get_settings().main_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": f"T#{tenant}#SNAP#{stock_id}"}),
        )["Count"]
        for stock_id in made
    ]
    assert snapshots == [1] * 5
    # Later invocations that night find the day's pass done and read no record.
    assert schedules.reconcile_ledger_of(tenant, night + timedelta(minutes=30), out_of_time_after(after=10)) == {
        "checked": 0,
        "mismatches": [],
        "done": True,
    }
    # The next night starts a new pass from the first record.
    next_night = schedules.reconcile_ledger_of(tenant, night + timedelta(days=1), out_of_time_after(after=10))
    assert (next_night["checked"], next_night["done"]) == (5, True)
    # A run on request (no clock) checks every record whatever the cursor says.
    assert schedules.reconcile_ledger_of(tenant, night + timedelta(days=1))["checked"] == 5


def test_the_schedule_stops_before_the_next_company_when_its_time_is_short(services: None) -> None:
    first, _ = _tenant_with_stock("First", 5)
    second, _ = _tenant_with_stock("Second", 5)
    # 900 s when the run starts and before the first company; 100 s (under the 120 s it keeps) before the second.
    assert schedules.reconcile_ledger(utcnow(), Remaining(after=2)) == []

    cursors = wiring.job_cursors()
    done = {t: (cursors.load(t, schedules.RECONCILE_JOB) or {}).get("done") for t in (first, second)}
    ordered = list(schedules._tenant_ids())
    assert done[ordered[0]] is True and done[ordered[1]] is None
