"""`Idempotency-Key` end to end: replay, reuse with another payload, requests
in flight, failures that release the key, lock take-over, and tenant scoping.

Real routes (`POST /api-keys`) show what a client sees. Behaviour no real
route can provoke on demand (a handler still running, a handler that fails
once) uses throwaway endpoints on a separate Chalice app, removed from
`routing.ENDPOINTS` afterwards.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.core.errors import Conflict
from chalicelib.http import idempotency, openapi, routing
from chalicelib.http.routing import Call
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.codec import to_attrs

pytestmark = pytest.mark.shared_aws

JSON = "application/json"
NEW_KEY = {"name": "scanner", "permissions": ["inventory.read"]}
OTHER_KEY = {"name": "scanner", "permissions": ["inventory.write"]}


@pytest.fixture
def http(aws: None) -> Iterator[Client]:
    wiring.reset()
    with Client(app) as test_client:
        yield test_client
    wiring.reset()


@dataclass
class Tenant:
    tenant_id: str
    raw_key: str

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"X-API-Key": self.raw_key, "Content-Type": JSON}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers


def make_tenant(name: str) -> Tenant:
    tenant, raw = wiring.tenant_service().create_tenant(name, ["admin", "inventory.read", "inventory.write"])
    return Tenant(tenant.tenant_id, raw)


@pytest.fixture
def acme(http: Client) -> Tenant:
    return make_tenant("Acme")


def issue(http: Client, tenant: Tenant, key: str | None, payload: Any = None) -> Any:
    body = json.dumps(NEW_KEY if payload is None else payload)
    return http.http.post("/api-keys", headers=tenant.headers(key), body=body)


def key_count(http: Client, tenant: Tenant) -> int:
    response = http.http.get("/api-keys", headers=tenant.headers())
    assert response.status_code == 200, response.body
    return len(json.loads(response.body))


def error_code(response: Any) -> str:
    assert response.headers["Content-Type"] == JSON
    return str(json.loads(response.body)["code"])


def claim(tenant: Tenant, key: str, payload: Any, now: int, lock_seconds: int = 60, ttl: int = 86_400) -> None:
    """Take the key in the store, as a first request of this payload would on arrival."""
    print_ = idempotency.fingerprint("POST", "/api-keys", None, json.dumps(payload).encode())
    held = wiring.idempotency_store().claim(tenant.tenant_id, key, print_, now, lock_seconds, ttl)
    assert held is None


def stored_record(tenant: Tenant, key: str) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(
        TableName=get_settings().idempotency_table, Key=to_attrs(keys.idempotency(tenant.tenant_id, key))
    )
    return item.get("Item")


# --- replay and reuse ---------------------------------------------------------


def test_given_same_key_and_payload_when_retried_then_first_response_is_replayed_and_one_key_is_made(
    http: Client, acme: Tenant
) -> None:
    # Given a first request
    first = issue(http, acme, "create-scanner-1")
    assert first.status_code == 201, first.body
    assert "Idempotent-Replayed" not in first.headers

    # When the client retries it, twice
    second = issue(http, acme, "create-scanner-1")
    third = issue(http, acme, "create-scanner-1")

    # Then both retries get the first answer, marked as a replay, without the
    # secret, which is shown once and never stored
    issued = json.loads(first.body)
    for retry in (second, third):
        assert retry.status_code == 201
        assert json.loads(retry.body) == {**issued, "apiKey": None}
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.headers["Content-Type"] == JSON
        assert retry.headers["X-Request-Id"] and retry.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    # And only one key was created (besides the tenant's first one)
    assert key_count(http, acme) == 2
    # And the idempotency record holds no trace of the secret
    secret = issued["apiKey"].rsplit("_", 1)[1]
    assert secret not in json.dumps(stored_record(acme, "create-scanner-1"), default=str)


def test_given_same_key_with_another_payload_when_sent_then_422_and_nothing_written(http: Client, acme: Tenant) -> None:
    # Given
    assert issue(http, acme, "k-1").status_code == 201

    # When
    response = issue(http, acme, "k-1", OTHER_KEY)

    # Then
    assert response.status_code == 422
    assert error_code(response) == "IDEMPOTENCY_KEY_REUSED"
    assert json.loads(response.body)["details"][0]["field"] == "Idempotency-Key"
    assert "Idempotent-Replayed" not in response.headers
    assert key_count(http, acme) == 2


def test_given_same_key_on_another_path_when_sent_then_422(http: Client, acme: Tenant) -> None:
    # Given a key used to revoke one API key
    other = json.loads(issue(http, acme, None).body)["keyId"]
    third = json.loads(issue(http, acme, None).body)["keyId"]
    revoke = http.http.delete(f"/api-keys/{other}", headers=acme.headers("revoke-1"))
    assert revoke.status_code == 200, revoke.body

    # When the same key is sent to revoke another one
    response = http.http.delete(f"/api-keys/{third}", headers=acme.headers("revoke-1"))

    # Then the path is part of the payload: refused, and the second key stays live
    assert response.status_code == 422
    assert error_code(response) == "IDEMPOTENCY_KEY_REUSED"
    listed = json.loads(http.http.get("/api-keys", headers=acme.headers()).body)
    assert {k["keyId"]: k["revoked"] for k in listed if k["keyId"] in (other, third)} == {other: True, third: False}


def test_given_two_tenants_when_using_the_same_key_then_each_gets_its_own_result(http: Client, acme: Tenant) -> None:
    # Given
    globex = make_tenant("Globex")

    # When both send the same key and payload
    for_acme = issue(http, acme, "shared-key")
    for_globex = issue(http, globex, "shared-key")

    # Then neither sees the other's response
    assert for_acme.status_code == for_globex.status_code == 201
    assert "Idempotent-Replayed" not in for_globex.headers
    assert json.loads(for_acme.body)["keyId"] != json.loads(for_globex.body)["keyId"]
    assert key_count(http, acme) == key_count(http, globex) == 2
    # And each one's retry replays its own first response
    assert json.loads(issue(http, acme, "shared-key").body) == {**json.loads(for_acme.body), "apiKey": None}
    assert json.loads(issue(http, globex, "shared-key").body) == {**json.loads(for_globex.body), "apiKey": None}
    # And another payload under that key is judged per tenant too
    assert issue(http, globex, "shared-key", OTHER_KEY).status_code == 422


def test_given_get_request_with_a_key_when_repeated_then_it_is_not_replayed(http: Client, acme: Tenant) -> None:
    first = http.http.get("/api-keys", headers=acme.headers("read-1"))
    issue(http, acme, None)
    second = http.http.get("/api-keys", headers=acme.headers("read-1"))

    assert "Idempotent-Replayed" not in second.headers
    assert len(json.loads(second.body)) == len(json.loads(first.body)) + 1


# --- keys themselves ----------------------------------------------------------


def test_given_over_long_or_blank_key_when_sent_then_400_and_nothing_written(http: Client, acme: Tenant) -> None:
    for bad in ("k" * 256, "   "):
        response = issue(http, acme, bad)

        assert response.status_code == 400, bad
        body = json.loads(response.body)
        assert body["details"][0]["field"] == "Idempotency-Key"
    assert key_count(http, acme) == 1

    # The longest allowed key works
    longest = "k" * idempotency.MAX_KEY_LENGTH
    assert issue(http, acme, longest).status_code == 201
    assert issue(http, acme, longest).headers["Idempotent-Replayed"] == "true"
    assert key_count(http, acme) == 2


def test_given_request_refused_by_validation_when_fixed_and_resent_under_same_key_then_it_runs(
    http: Client, acme: Tenant
) -> None:
    # Given a request refused before it ran: it does not take the key
    bad = issue(http, acme, "fix-me", {"name": "", "permissions": ["inventory.read"]})
    assert bad.status_code == 400
    assert stored_record(acme, "fix-me") is None

    # When the client corrects it
    fixed = issue(http, acme, "fix-me")

    # Then
    assert fixed.status_code == 201, fixed.body
    assert key_count(http, acme) == 2


# --- in flight and lock take-over ---------------------------------------------


def test_given_request_in_flight_when_retried_then_409_request_in_progress(http: Client, acme: Tenant) -> None:
    # Given a first request that has taken the key and is still running
    claim(acme, "in-flight", NEW_KEY, now=int(time.time()))

    # When the client retries
    response = issue(http, acme, "in-flight")

    # Then
    assert response.status_code == 409
    assert error_code(response) == "REQUEST_IN_PROGRESS"
    assert key_count(http, acme) == 1
    # and a different payload under that key is still a reuse
    assert issue(http, acme, "in-flight", OTHER_KEY).status_code == 422


def test_given_expired_lock_when_same_payload_retried_then_it_takes_over_and_runs(http: Client, acme: Tenant) -> None:
    # Given a first attempt that died holding the key, its lock now expired
    claim(acme, "crashed", NEW_KEY, now=int(time.time()) - 120, lock_seconds=60)

    # When the client retries the same request
    response = issue(http, acme, "crashed")

    # Then it runs, once, and is then replayed
    assert response.status_code == 201, response.body
    assert "Idempotent-Replayed" not in response.headers
    assert issue(http, acme, "crashed").headers["Idempotent-Replayed"] == "true"
    assert key_count(http, acme) == 2


def test_given_expired_lock_when_another_payload_arrives_then_it_cannot_take_over(http: Client, acme: Tenant) -> None:
    claim(acme, "crashed", NEW_KEY, now=int(time.time()) - 120, lock_seconds=60)

    response = issue(http, acme, "crashed", OTHER_KEY)

    assert response.status_code == 422
    assert error_code(response) == "IDEMPOTENCY_KEY_REUSED"
    assert key_count(http, acme) == 1


def test_given_record_past_its_ttl_but_not_yet_swept_when_key_reused_then_it_runs(http: Client, acme: Tenant) -> None:
    # Given a record whose TTL passed (DynamoDB deletes expired items lazily)
    claim(acme, "old", NEW_KEY, now=int(time.time()) - 500, lock_seconds=60, ttl=100)

    # When the key comes again, even with another payload
    response = issue(http, acme, "old", OTHER_KEY)

    # Then it is a new request
    assert response.status_code == 201, response.body
    assert json.loads(response.body)["permissions"] == OTHER_KEY["permissions"]


# --- throwaway endpoints: in-flight handler, failures --------------------------


@dataclass
class Probe:
    client: Client
    calls: Counter[str] = field(default_factory=Counter)
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def probe(http: Client) -> Iterator[Probe]:
    """A separate app with test-only endpoints, declared through `routing.endpoint`."""
    declared_before = len(routing.ENDPOINTS)
    bp = Blueprint(__name__)
    test_app = Chalice(app_name="idempotency-probe")
    state = Probe(client=Client(test_app))

    @routing.endpoint(
        bp, "/probe/slow", "POST", permissions=(), summary="Blocks until released", tag="Test", body=dict[str, Any]
    )
    def slow(call: Call) -> dict[str, Any]:
        state.calls["slow"] += 1
        state.started.set()
        if not state.release.wait(timeout=10):
            raise AssertionError("the test never released the slow handler")
        return {"done": True, "amount": Decimal("12.50")}

    @routing.endpoint(bp, "/probe/flaky", "POST", permissions=(), summary="Fails on the first call", tag="Test")
    def flaky(call: Call) -> dict[str, Any]:
        state.calls["flaky"] += 1
        if state.calls["flaky"] == 1:
            raise RuntimeError("storage hiccup")
        return {"attempt": state.calls["flaky"], "amount": Decimal("0.30")}

    @routing.endpoint(bp, "/probe/conflict", "POST", permissions=(), summary="Always a conflict", tag="Test")
    def conflict(call: Call) -> dict[str, Any]:
        state.calls["conflict"] += 1
        raise Conflict(f"conflict number {state.calls['conflict']}")

    @routing.endpoint(bp, "/probe/big", "POST", permissions=(), summary="A response over 400 KB", tag="Test")
    def big(call: Call) -> dict[str, Any]:
        state.calls["big"] += 1
        kind = call.request.query_params.get("kind") if call.request.query_params else None
        # Escaped non-ASCII text packs well; random text barely packs, so it goes to the files bucket.
        text = "é" * 200_000 if kind == "packs" else secrets.token_urlsafe(600_000)
        return {"attempt": state.calls["big"], "text": text}

    added = routing.ENDPOINTS[declared_before:]
    test_app.register_blueprint(bp)
    try:
        yield state
    finally:
        state.release.set()
        state.client.__exit__(None, None, None)
        routing.ENDPOINTS[:] = [e for e in routing.ENDPOINTS if not any(e is a for a in added)]
        openapi.document.cache_clear()
        assert not [e for e in routing.ENDPOINTS if e.path.startswith("/probe/")]


def test_given_handler_still_running_when_retried_then_409_and_the_first_answer_is_kept(
    probe: Probe, acme: Tenant
) -> None:
    # Given a first request blocked inside its handler
    results: dict[str, Any] = {}

    def first_request() -> None:
        results["first"] = probe.client.http.post("/probe/slow", headers=acme.headers("slow-1"), body="{}")

    worker = threading.Thread(target=first_request)
    worker.start()
    try:
        assert probe.started.wait(timeout=10)

        # When the client retries while it runs
        retry = probe.client.http.post("/probe/slow", headers=acme.headers("slow-1"), body="{}")
        reuse = probe.client.http.post("/probe/slow", headers=acme.headers("slow-1"), body='{"x": 1}')
    finally:
        probe.release.set()
        worker.join(timeout=10)

    # Then the retry is told to wait, and the handler ran once
    assert retry.status_code == 409
    assert error_code(retry) == "REQUEST_IN_PROGRESS"
    assert reuse.status_code == 422
    assert results["first"].status_code == 200
    assert results["first"].body == b'{"done":true,"amount":12.50}'
    # And once it finished, a retry gets its answer
    after = probe.client.http.post("/probe/slow", headers=acme.headers("slow-1"), body="{}")
    assert (after.status_code, after.body) == (200, results["first"].body)
    assert after.headers["Idempotent-Replayed"] == "true"
    assert probe.calls["slow"] == 1


def test_given_5xx_when_retried_then_the_key_was_released_and_the_retry_runs(probe: Probe, acme: Tenant) -> None:
    # Given a first attempt that failed on the server
    failed = probe.client.http.post("/probe/flaky", headers=acme.headers("flaky-1"), body="{}")
    assert failed.status_code == 500
    assert json.loads(failed.body) == {"error": "Internal server error", "code": "INTERNAL", "details": []}
    assert "storage hiccup" not in failed.body.decode()
    assert stored_record(acme, "flaky-1") is None

    # When the client retries
    retried = probe.client.http.post("/probe/flaky", headers=acme.headers("flaky-1"), body="{}")

    # Then the handler runs again, and its success is what later retries get
    assert retried.status_code == 200
    assert retried.body == b'{"attempt":2,"amount":0.30}'
    assert "Idempotent-Replayed" not in retried.headers
    replayed = probe.client.http.post("/probe/flaky", headers=acme.headers("flaky-1"), body="{}")
    assert (replayed.status_code, replayed.body) == (200, retried.body)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert probe.calls["flaky"] == 2


def test_given_4xx_from_the_handler_when_retried_then_it_is_stored_and_replayed(probe: Probe, acme: Tenant) -> None:
    # Given
    first = probe.client.http.post("/probe/conflict", headers=acme.headers("conflict-1"), body="{}")
    assert first.status_code == 409
    assert json.loads(first.body)["error"] == "conflict number 1"

    # When
    retry = probe.client.http.post("/probe/conflict", headers=acme.headers("conflict-1"), body="{}")

    # Then the first answer comes back, without running the handler again
    assert (retry.status_code, retry.body) == (409, first.body)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert probe.calls["conflict"] == 1


def test_given_4xx_from_a_real_route_when_retried_then_it_is_replayed(http: Client, acme: Tenant) -> None:
    first = http.http.delete("/api-keys/ffffffffffffffff", headers=acme.headers("revoke-missing"))
    retry = http.http.delete("/api-keys/ffffffffffffffff", headers=acme.headers("revoke-missing"))

    assert first.status_code == 404
    assert (retry.status_code, retry.body) == (404, first.body)
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_given_key_passed_in_the_query_when_retried_with_a_header_then_it_is_the_same_request(
    http: Client, acme: Tenant
) -> None:
    body = json.dumps({"name": "scanner", "permissions": ["inventory.read"]})
    headers = {"Content-Type": JSON, "Idempotency-Key": "query-then-header"}
    first = http.http.post(f"/api-keys?x-inventora-api-key={acme.raw_key}", headers=headers, body=body)
    retry = http.http.post("/api-keys", headers={**headers, "Authorization": f"Bearer {acme.raw_key}"}, body=body)
    assert first.status_code == 201, first.body
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("kind", ["packs", "random"])
def test_given_a_response_too_big_for_the_record_when_retried_then_it_is_replayed_whole(
    probe: Probe, acme: Tenant, kind: str
) -> None:
    # Given a first request whose response is bigger than a DynamoDB item may hold
    first = probe.client.http.post(f"/probe/big?kind={kind}", headers=acme.headers("big-1"), body=b"{}")
    assert first.status_code == 200, first.body[:200]
    assert len(first.body) > 400_000

    # When it is retried under the same key
    retry = probe.client.http.post(f"/probe/big?kind={kind}", headers=acme.headers("big-1"), body=b"{}")

    # Then the first response comes back whole, and the handler ran once
    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.body == first.body
    assert probe.calls["big"] == 1
