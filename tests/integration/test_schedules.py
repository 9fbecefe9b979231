"""Scheduled jobs walk every tenant and call the core services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
