"""Every request through the real app writes one structured line, findable by
the X-Request-Id the client saw, and one EMF line of request metrics."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from tests.capture import captured, value
from tests.integration.company import Company


def test_a_request_line_carries_the_request_id_the_client_saw(
    http: Client, acme: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    with captured(capsys) as out:
        response = acme.call("GET", "/inventory")
    assert response.status_code == 200, response.body
    (line,) = out.messages("request")
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["tenant_id"] == acme.id
    assert line["key_id"] == acme.key.split("_")[2]
    assert line["route"] == "GET /companies/{companyId}/inventory"
    assert line["status"] == 200
    assert line["latency_ms"] >= 0
    assert line["level"] == "INFO"


def test_each_request_gets_its_own_line_and_id(http: Client, acme: Company, capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        ids = [acme.call("GET", "/inventory").headers["X-Request-Id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert [line["request_id"] for line in out.messages("request")] == ids


def test_a_rejected_key_is_logged_with_its_status_and_no_secret(
    http: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_key = "sr_nobody_nokey_s3cr3t-value-never-logged"
    with captured(capsys) as out:
        response = http.http.get(f"/whoami?x-inventora-api-key={bad_key}", headers={"X-API-Key": bad_key})
    assert response.status_code == 401
    (line,) = out.messages("request")
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["status"] == 401
    assert line["route"] == "GET /whoami"
    assert "tenant_id" not in line
    everything = out.stream.getvalue()
    assert "s3cr3t" not in everything
    assert "x-inventora-api-key" not in everything.lower()


def test_a_key_passed_in_the_query_string_never_reaches_the_log(
    http: Client, acme: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    with captured(capsys) as out:
        response = http.http.get(f"/companies/{acme.id}/inventory?x-inventora-api-key={acme.key}")
    assert response.status_code == 200, response.body
    (line,) = out.messages("request")
    assert line["tenant_id"] == acme.id
    secret = acme.key.split("_")[3]
    assert secret not in out.stream.getvalue()
    assert secret not in json.dumps(out.emf())


def test_a_client_error_is_logged_and_counted_by_route(
    http: Client, acme: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    with captured(capsys) as out:
        response = acme.call("POST", "/inventory-types", body={"not": "a list"})
        assert response.status_code == 400
        (line,) = out.messages("request")
        assert line["status"] == 400
        assert line["tenant_id"] == acme.id
        (doc,) = out.emf()
    assert doc["route"] == "POST /companies/{companyId}/inventory-types"
    assert [value(doc, n) for n in ("Requests", "ClientErrors", "ServerErrors")] == [1, 1, 0]


def test_an_unexpected_error_is_a_logged_500_and_counted(
    http: Client, acme: Company, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.features.company_inventory.service import InventoryService

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("storage fell over")

    monkeypatch.setattr(InventoryService, "page", broken)
    with captured(capsys) as out:
        response = acme.call("GET", "/inventory")
        (doc,) = out.emf()
    assert response.status_code == 500
    (line,) = out.messages("request")
    assert line["status"] == 500
    assert line["request_id"] == response.headers["X-Request-Id"]
    # The traceback's line carries the same request id, so one search finds both.
    (failure,) = out.messages("unhandled error")
    assert failure["request_id"] == line["request_id"]
    assert failure["tenant_id"] == acme.id
    assert [value(doc, n) for n in ("Requests", "ClientErrors", "ServerErrors")] == [1, 0, 1]
