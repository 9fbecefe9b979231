"""The scheduled jobs' registry: a run from `POST /jobs/{name}/run` and a scheduled run call the same function."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.events import schedules

pytestmark = pytest.mark.disable_socket


class FakeStock:
    def __init__(self) -> None:
        self.expired_for: list[str] = []

    def expire_reservations(self, tenant_id: str) -> int:
        self.expired_for.append(tenant_id)
        return {"a": 2, "b": 3}[tenant_id]


@pytest.fixture
def stock(monkeypatch: pytest.MonkeyPatch) -> FakeStock:
    fake = FakeStock()
    monkeypatch.setattr(schedules, "stock_service", lambda: fake)
    monkeypatch.setattr(schedules, "_tenant_ids", lambda: ["a", "b"])
    return fake


def test_the_route_runs_one_company_and_the_schedule_every_company_through_the_same_function(
    stock: FakeStock,
) -> None:
    assert schedules.run_job("reservation-expiry", "b") == {"job": "reservation-expiry", "expired": 3}
    assert stock.expired_for == ["b"]
    assert schedules.expire_reservations() == 5
    assert stock.expired_for == ["b", "a", "b"]


def test_registered_jobs_are_listed_and_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules, "JOBS", dict(schedules.JOBS))
    seen: list[str] = []

    def probe(tenant_id: str) -> dict[str, Any]:
        seen.append(tenant_id)
        return {"checked": Decimal(1)}

    schedules.register("probe", probe)
    assert schedules.job_names() == [
        "backfill",
        "expiry",
        "hold-expiry",
        "probe",
        "reconciliation",
        "replenishment",
        "reservation-expiry",
    ]
    assert schedules.run_job("probe", "t1") == {"job": "probe", "checked": Decimal(1)}
    assert seen == ["t1"]
    with pytest.raises(KeyError):
        schedules.run_job("defrost", "t1")
