"""Faults injected below the service (the reliability goal): DynamoDB throttling, transaction
conflicts, unprocessed batch items, and a crash between two chunks of an import.

Every case ends with nothing lost and nothing applied twice (ledger sum = on
hand, import counts = rows), retries are bounded and logged, and a request
that storage keeps refusing answers a JSON 503 that names nothing internal.
moto never throttles, conflicts or leaves items unprocessed by itself, so the
tests wrap the shared boto3 client's calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.storage import transaction
from chalicelib.storage.aws import client
from tests.integration.company import Company, Refs
from tests.integration.test_inventory_import import HEADER, deliver, items, upload

pytestmark = pytest.mark.shared_aws

THROTTLED = "ProvisionedThroughputExceededException"


@contextmanager
def failing(operation: str, fail: Callable[[int, dict[str, Any]], Any]) -> Iterator[list[dict[str, Any]]]:
    """Wrap the shared DynamoDB client's `operation`: `fail(call number, request)` returns None to
    let the call through, an exception to raise instead (the call never ran), or a dict to
    return after running it (a partial answer)."""
    ddb = client("dynamodb")
    real = getattr(ddb, operation)
    calls: list[dict[str, Any]] = []

    def wrapped(**request: Any) -> Any:
        calls.append(request)
        outcome = fail(len(calls) - 1, request)
        if isinstance(outcome, Exception):
            raise outcome
        answer = real(**request)
        return outcome(answer) if callable(outcome) else answer

    setattr(ddb, operation, wrapped)
    try:
        yield calls
    finally:
        delattr(ddb, operation)


def cancelled(code: str, count: int) -> ClientError:
    reasons = [{"Code": code, "Message": f"{code} (injected)"} for _ in range(count)]
    return ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}, "CancellationReasons": reasons},
        "TransactWriteItems",
    )


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": THROTTLED, "Message": "Rate exceeded (injected)"}}, operation)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transaction, "_backoff", lambda attempt: None)
    from chalicelib.storage import dynamo

    monkeypatch.setattr(dynamo, "_backoff", lambda attempt: None)


def ledger_matches(company: Company) -> None:
    stock = wiring.stock_service()
    for item in items(company):
        assert stock.ledger_total(company.id, item["inventoryId"]) == Decimal(str(item["quantity"]))


def change_quantity(company: Company, item: dict[str, Any], quantity: str) -> Any:
    return company.call("PUT", "/inventory", [{"inventoryId": item["inventoryId"], "quantity": quantity}])


@pytest.mark.parametrize("code", ["TransactionConflict", "ProvisionedThroughputExceeded"])
def test_a_write_cancelled_twice_for_conflict_or_capacity_is_retried_and_applied_once(
    acme: Company, refs: Refs, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an item
    item = acme.ok("POST", "/inventory", [refs.item(quantity="4")], 201)[0]

    # When its quantity change is cancelled twice (every item of the transaction: conflict or capacity)
    def fail(number: int, request: dict[str, Any]) -> Any:
        return cancelled(code, len(request["TransactItems"])) if number < 2 else None

    with caplog.at_level(logging.WARNING), failing("transact_write_items", fail) as calls:
        response = change_quantity(acme, item, "9")

    # Then the third attempt applies it, once; the ledger still sums to on hand; the retries were logged
    assert response.status_code == 200, response.body
    assert len(calls) == 3
    assert acme.ok("GET", f"/inventory/{item['inventoryId']}")["quantity"] == 9
    ledger_matches(acme)
    assert [r.getMessage() for r in caplog.records].count("transaction retried") == 2


def test_a_write_storage_keeps_refusing_is_a_json_503_after_bounded_retries_and_writes_nothing(
    acme: Company, refs: Refs, caplog: pytest.LogCaptureFixture
) -> None:
    item = acme.ok("POST", "/inventory", [refs.item(quantity="4")], 201)[0]

    with caplog.at_level(logging.WARNING), failing("transact_write_items", lambda n, r: throttled("Tx")) as calls:
        response = change_quantity(acme, item, "9")

    assert response.status_code == 503, response.body
    body = json.loads(response.body)
    assert (set(body), body["code"]) == ({"error", "code", "details"}, "UNAVAILABLE")
    assert "Provisioned" not in response.body.decode() and "Traceback" not in response.body.decode()
    assert len(calls) == transaction.CONFLICT_ATTEMPTS + 1
    assert "transaction gave up" in [r.getMessage() for r in caplog.records]
    assert acme.ok("GET", f"/inventory/{item['inventoryId']}")["quantity"] == 4
    ledger_matches(acme)


def test_unprocessed_keys_of_a_batch_read_are_read_again_and_nothing_is_missed(acme: Company, refs: Refs) -> None:
    # A partial BatchGetItem answer: the first call leaves every key unprocessed (as under throttling).
    def fail(number: int, request: dict[str, Any]) -> Any:
        if number > 0:
            return None
        return lambda answer: {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}

    with failing("batch_get_item", fail) as calls:
        created = acme.ok("POST", "/inventory", [refs.item()], 201)[0]

    assert len(calls) >= 2
    # The references were all found on the retry: the labels are there.
    assert created["typeLabel"] == "Round bar"
    assert created["stockLocationLabel"] == "Yard A"


def test_a_batch_read_left_unprocessed_every_time_is_a_json_503(acme: Company, refs: Refs) -> None:
    def fail(number: int, request: dict[str, Any]) -> Any:
        return lambda answer: {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}

    with failing("batch_get_item", fail):
        response = acme.call("POST", "/inventory", [refs.item()])

    assert response.status_code == 503, response.body
    assert json.loads(response.body)["code"] == "UNAVAILABLE"
    assert items(acme) == []


def test_a_crash_between_two_chunks_of_an_import_resumes_after_the_last_commit(acme: Company, refs: Refs) -> None:
    # Given a file of three chunks
    from chalicelib.core.imports import jobs as core_imports

    total = 3 * core_imports.CHUNK_ROWS
    # One product for every row: a chunk is then one transaction (new products would halve it).
    rows = "\n".join(f"Bar,{n},{refs.location},,," for n in range(1, total + 1))
    job_id = json.loads(upload(acme, f"{HEADER}\n{rows}\n").body)["jobId"]
    key = f"uploads/{acme.id}/inventory/{job_id}.csv"

    # When the worker crashes on the second chunk's commit (the call never reaches DynamoDB)
    chunk_commits = [0]

    def crash(number: int, request: dict[str, Any]) -> Any:
        if any(
            "Put" in op and op["Put"]["Item"].get("entity_type", {}).get("S") == "stock"
            for op in request["TransactItems"]
        ):
            chunk_commits[0] += 1
            if chunk_commits[0] == 2:
                return RuntimeError("worker crashed (injected)")
        return None

    with failing("transact_write_items", crash):
        first = deliver(key)

    # Then that delivery failed, the first chunk is committed and nothing of the second
    assert first["batchItemFailures"], first
    assert len(items(acme)) == core_imports.CHUNK_ROWS

    # And the redelivery resumes after the last commit: every row once, counts = rows
    assert deliver(key) == {"batchItemFailures": []}
    job = acme.ok("GET", f"/imports/{job_id}")
    assert (job["status"], job["processed"], job["created"], job["failed"]) == ("completed", total, total, 0)
    assert len(items(acme)) == total
    assert sorted(int(i["quantity"]) for i in items(acme)) == list(range(1, total + 1))
    ledger_matches(acme)
