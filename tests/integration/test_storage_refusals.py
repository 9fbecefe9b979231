"""A single DynamoDB call that storage keeps refusing (throttled, or a transaction conflict on a lone item),
injected below botocore so that its own retries run: the request answers a JSON 503 with Retry-After and
the service's error body, nothing is half-written, and every refused attempt is logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from chalice.test import Client
from moto.core.botocore_stubber import MockRawResponse

from chalicelib.storage.aws import client
from tests.integration.company import Company, Refs
from tests.integration.test_inventory_import import items

pytestmark = pytest.mark.shared_aws

# What DynamoDB answers when it refuses a call before running it.
REFUSALS = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
BOTOCORE_ATTEMPTS = 5  # storage/aws.py: standard retry mode, max_attempts 4 retries after the first


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore sleeps between its attempts; the test does not wait for them."""
    import time

    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None, time=time.time))


@contextmanager
def refused(operation: str, code: str, when: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """DynamoDB refuses every `operation` call whose request `when` picks, with error `code`: an HTTP 400
    answer that botocore parses, retries and finally raises, as it would from AWS (moto never sees it)."""
    events = client("dynamodb").meta.events
    seen: list[dict[str, Any]] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        body = json.loads(request.body or b"{}")
        if not when(body):
            return None
        seen.append(body)
        # Every before-send handler runs, moto's too (the first answer wins): moto gets the call with a table
        # that does not exist, so that, as with DynamoDB's refusal, nothing runs.
        request.body = json.dumps(_elsewhere(body)).encode()
        payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"})
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, 400, headers, MockRawResponse(payload.encode()))

    event = f"before-send.dynamodb.{operation}"
    events.register_first(event, answer, unique_id="refuse-injected")
    try:
        yield seen
    finally:
        events.unregister(event, unique_id="refuse-injected")


def _elsewhere(body: dict[str, Any]) -> dict[str, Any]:
    """The call with every table name replaced by one that does not exist."""
    if "TransactItems" in body:
        return {
            **body,
            "TransactItems": [
                {op: {**params, "TableName": "refused-by-the-test"} for op, params in item.items()}
                for item in body["TransactItems"]
            ],
        }
    return {**body, "TableName": "refused-by-the-test"}


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.body
    assert response.headers["Retry-After"] == "1"
    body = json.loads(response.body)
    assert set(body) == {"error", "code", "details"} and body["code"] == "UNAVAILABLE"
    text = response.body.decode()
    assert "Exception" not in text and "Traceback" not in text and "dynamodb" not in text.lower()


def attempts_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("storage call")]


@pytest.mark.parametrize("code", REFUSALS)
def test_a_read_refused_past_botocores_retries_is_a_503_with_retry_after(
    acme: Company, refs: Refs, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an item
    item = acme.ok("POST", "/inventory", [refs.item(quantity="4")], 201)[0]

    # When every read of its stock record is refused
    def reads_the_record(body: dict[str, Any]) -> bool:
        return "#STOCK" in body.get("Key", {}).get("pk", {}).get("S", "")

    with caplog.at_level(logging.WARNING), refused("GetItem", code, reads_the_record) as calls:
        response = acme.call("GET", f"/inventory/{item['inventoryId']}")

    # Then botocore tried it its number of times, each refusal was logged, and the answer is a JSON 503
    assert len(calls) == BOTOCORE_ATTEMPTS
    assert attempts_logged(caplog) == ["storage call refused"] * BOTOCORE_ATTEMPTS + ["storage call gave up"]
    assert_unavailable(response)
    # And once storage takes calls again the same request answers
    assert acme.ok("GET", f"/inventory/{item['inventoryId']}")["quantity"] == 4


@pytest.mark.parametrize("code", [*REFUSALS, "TransactionConflictException"])
def test_a_single_item_write_refused_past_its_retries_is_a_503_and_writes_nothing(
    http: Client, acme: Company, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the company's keys
    keys_before = json.loads(_call(http, acme, "GET", "/api-keys").body)

    # When storing a new key (one PutItem) is refused every time
    def puts_a_key(body: dict[str, Any]) -> bool:
        return body.get("Item", {}).get("sk", {}).get("S", "").startswith("KEY#")

    with caplog.at_level(logging.WARNING), refused("PutItem", code, puts_a_key) as calls:
        response = _call(http, acme, "POST", "/api-keys", {"name": "ci", "permissions": ["inventory.read"]})

    # Then a JSON 503 with Retry-After, after botocore's retries (a conflict is not retried by botocore)
    assert_unavailable(response)
    tries = 1 if code == "TransactionConflictException" else BOTOCORE_ATTEMPTS
    assert len(calls) == tries
    assert attempts_logged(caplog)[-1] == "storage call gave up"
    assert attempts_logged(caplog).count("storage call refused") == tries
    # And nothing was written: the keys are as they were
    assert json.loads(_call(http, acme, "GET", "/api-keys").body) == keys_before


def test_a_refusal_while_authenticating_is_a_503_not_a_500(acme: Company, caplog: pytest.LogCaptureFixture) -> None:
    def reads_a_key(body: dict[str, Any]) -> bool:
        return body.get("Key", {}).get("sk", {}).get("S", "").startswith("KEY#")

    with caplog.at_level(logging.WARNING), refused("GetItem", "ThrottlingException", reads_a_key):
        response = acme.call("GET", "/inventory")

    assert_unavailable(response)


def test_an_idempotent_write_refused_releases_its_key_so_the_retry_runs(
    acme: Company, refs: Refs, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a create whose transaction storage keeps refusing
    from chalicelib.storage import transaction

    headers = {"Idempotency-Key": "refused-once-0001"}
    original = transaction._backoff
    transaction._backoff = lambda attempt: None  # type: ignore[assignment]
    try:
        with refused("TransactWriteItems", "ProvisionedThroughputExceededException", lambda body: True):
            first = acme.call("POST", "/inventory", [refs.item(quantity="3")], headers=headers)
    finally:
        transaction._backoff = original  # type: ignore[assignment]
    assert_unavailable(first)
    assert items(acme) == []

    # When the client sends it again with the same key, it runs (the 503 was not stored as the answer)
    again = acme.call("POST", "/inventory", [refs.item(quantity="3")], headers=headers)
    assert again.status_code == 201, again.body
    assert [i["quantity"] for i in items(acme)] == [3]


def _call(http: Client, company: Company, method: str, path: str, body: Any = None) -> Any:
    return http.http.request(
        method,
        path,
        headers={"X-API-Key": company.key, "Content-Type": "application/json"},
        body=json.dumps(body).encode() if body is not None else b"",
    )
