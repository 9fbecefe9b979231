"""The event functions, invoked as Lambda runs them: each names the company in
its log lines and publishes its figures as one EMF line per invocation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.events import blueprint
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.codec import to_attrs
from infra.event_sources import lambda_context, scheduled_event
from tests.capture import captured
from tests.integration.company import Company, Refs

ACTOR = Actor(id="u1", name="Planner")
HEADER = "productName,quantity,stockLocationId,heatCode,type,weight"


@pytest.fixture
def lambdas(http: Client) -> Client:
    return http


def scheduled() -> dict[str, Any]:
    return scheduled_event("rule", "eu-west-1", "123456789012")


def sqs_event(key: str) -> dict[str, Any]:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": get_settings().bucket}, "object": {"key": key}},
    }
    return {
        "Records": [
            {
                "messageId": f"m-{key}",
                "receiptHandle": "r",
                "body": json.dumps({"Records": [record]}),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:imports",
            }
        ]
    }


def stock_in(tenant_id: str, quantity: int) -> str:
    new = NewStockRecord(product_id="p1", location_id="l1", quantity=Decimal(quantity))
    return wiring.stock_service().create_record(tenant_id, new, ACTOR).stock_id


def test_an_import_logs_its_company_and_counts_rows_once_when_it_finishes(
    lambdas: Client, acme: Company, refs: Refs, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "\n".join([HEADER, f"Bar,4,{refs.location},,,", "Tube,2,no-such-location,,,", f"Box,1,{refs.location},,,"])
    response = acme.http.http.request(
        "POST",
        f"/companies/{acme.id}/inventory/csv",
        headers={"X-API-Key": acme.key, "Content-Type": "text/csv"},
        body=text.encode(),
    )
    job_id = json.loads(response.body)["jobId"]
    with captured(capsys) as out:
        # As Lambda calls it, with the function's 15 minutes (the test client's context has seconds).
        result = blueprint.import_queue(
            sqs_event(f"uploads/{acme.id}/inventory/{job_id}.csv"), lambda_context("import_queue")
        )
        (doc,) = out.emf()
    assert result == {"batchItemFailures": []}
    (ended,) = out.messages("import ended")
    assert (ended["tenant_id"], ended["job_id"], ended["status"]) == (acme.id, job_id, "completed")
    assert out.messages("import started")[0]["tenant_id"] == acme.id
    assert (doc["RowsImported"], doc["RowsFailed"], doc["ImportJobsFailed"]) == ([2.0], [1.0], [0.0])
    assert doc["service"] == "stockroom"


def test_expiry_logs_each_company_that_had_reservations_and_counts_them(
    lambdas: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = wiring.tenant_service().create_tenant("First")
    quiet, _ = wiring.tenant_service().create_tenant("Quiet")
    stock_id = stock_in(first.tenant_id, 10)
    stock_in(quiet.tenant_id, 10)
    past = utcnow() - timedelta(minutes=1)
    wiring.stock_service().reserve(first.tenant_id, stock_id, Decimal(2), ACTOR, expires_at=past)
    wiring.stock_service().reserve(first.tenant_id, stock_id, Decimal(3), ACTOR, expires_at=past)

    with captured(capsys) as out:
        lambdas.lambda_.invoke("expire_reservations", scheduled())
        (doc,) = out.emf()
    (line,) = out.messages("reservations expired")
    assert (line["tenant_id"], line["count"]) == (first.tenant_id, 2)
    assert doc["ReservationsExpired"] == [2.0]


def test_a_ledger_mismatch_is_logged_with_its_company_and_counted(
    lambdas: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy, _ = wiring.tenant_service().create_tenant("Healthy")
    broken, _ = wiring.tenant_service().create_tenant("Broken")
    stock_in(healthy.tenant_id, 5)
    broken_stock = stock_in(broken.tenant_id, 5)
    client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key=to_attrs(keys.stock(broken.tenant_id, broken_stock)),
        UpdateExpression="SET on_hand = on_hand + :d, available = available + :d",
        ExpressionAttributeValues=to_attrs({":d": Decimal(1)}),
    )
    with captured(capsys) as out:
        lambdas.lambda_.invoke("reconcile_ledger", scheduled())
        (doc,) = out.emf()
    (mismatch,) = out.messages("ledger mismatch")
    assert (mismatch["level"], mismatch["tenant_id"], mismatch["stock_id"]) == ("ERROR", broken.tenant_id, broken_stock)
    reconciled = {line["tenant_id"]: line["mismatches"] for line in out.messages("ledger reconciled")}
    assert reconciled[broken.tenant_id] == 1
    assert reconciled[healthy.tenant_id] == 0
    assert doc["LedgerMismatches"] == [1.0]


@pytest.fixture
def failing_expiry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from chalicelib.core.stock.service import StockService

    def broken(self: object, tenant_id: str) -> int:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(StockService, "expire_reservations", broken)
    yield


def test_a_schedule_that_fails_names_the_company_and_still_publishes(
    lambdas: Client, failing_expiry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant, _ = wiring.tenant_service().create_tenant("Unlucky")
    with captured(capsys) as out:
        with pytest.raises(RuntimeError):
            lambdas.lambda_.invoke("expire_reservations", scheduled())
        # Nothing was counted before the failure: no EMF line, and no Powertools warning either.
        assert out.emf() == []
    (line,) = out.messages("reservation expiry failed")
    assert line["tenant_id"] == tenant.tenant_id
