"""The company inventory benchmark's call counter: counts DynamoDB calls and charges each to its caller.

A before-send handler answers every call with an empty item, so nothing leaves
the process (botocore's Stubber answers at before-call, before the counting
hook runs, so it would hide the calls).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from benchmarks.company_inventory import AUTH, ROUTE, Call, CallLog, Minimum, Result, per_request
from chalicelib import wiring
from chalicelib.http import auth
from chalicelib.http.errors import HttpError
from chalicelib.settings import reset_settings
from chalicelib.storage.aws import client, on_call, reset_clients


@pytest.fixture
def log() -> Iterator[CallLog]:
    reset_settings()
    reset_clients()
    wiring.reset()
    counter = CallLog()
    unsubscribe = on_call(counter)
    yield counter
    unsubscribe()
    reset_clients()
    wiring.reset()


class EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


def answer_empty(request: Any, **_: Any) -> AWSResponse:
    return AWSResponse(request.url, 200, HTTPHeaders(), EmptyBody())


@pytest.fixture
def sent(log: CallLog) -> Iterator[list[str]]:
    """The DynamoDB requests that reached the wire, answered in process."""
    targets: list[str] = []

    def handler(request: Any, **kwargs: Any) -> AWSResponse:
        targets.append(request.headers["X-Amz-Target"].decode().split(".")[-1])
        return answer_empty(request, **kwargs)

    client("dynamodb").meta.events.register("before-send.dynamodb", handler)
    yield targets


def get_item(key: str) -> Any:
    return client("dynamodb").get_item(TableName="t", Key={"pk": {"S": key}, "sk": {"S": key}})


def test_given_a_call_inside_measure_then_it_is_counted_as_the_routes_own(log: CallLog, sent: list[str]) -> None:
    get_item("outside")
    with log.measure() as calls:
        get_item("inside")

    assert sent == ["GetItem", "GetItem"]
    assert calls == [Call(ROUTE, "GetItem")]


def test_given_an_api_key_lookup_then_it_is_charged_to_auth(log: CallLog, sent: list[str]) -> None:
    raw = f"sr_{uuid.uuid4().hex}_{'a' * 16}_{'b' * 64}"

    with log.measure() as calls, pytest.raises(HttpError):
        auth.authenticate({"x-api-key": raw}, None)
    with log.measure() as later:
        pass

    assert sent == ["GetItem"]  # no such key: a 401
    assert calls == [Call(AUTH, "GetItem")]
    assert later == []


def test_given_calls_of_two_requests_then_each_request_starts_at_its_key_lookup() -> None:
    calls = [Call(AUTH, "GetItem"), Call(ROUTE, "Query"), Call(AUTH, "GetItem"), Call(ROUTE, "BatchGetItem")]

    split = per_request(Result("two pages", 2, calls, Minimum(2, "")))

    assert split == [calls[:2], calls[2:]]
