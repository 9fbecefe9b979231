"""The request log line and the metrics, as Powertools writes them."""

from __future__ import annotations

import warnings

import pytest

from chalicelib import observability
from tests.capture import captured, value

pytestmark = pytest.mark.disable_socket


def test_a_request_writes_one_line_with_who_what_and_how_long(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        observability.request_finished(
            request_id="req-1",
            route="GET /companies/{companyId}/inventory",
            status=200,
            latency_ms=12.34567,
            tenant_id="acme",
            key_id="k1",
        )
    (line,) = out.lines()
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert line["service"] == "stockroom"
    assert line["request_id"] == "req-1"
    assert line["tenant_id"] == "acme"
    assert line["key_id"] == "k1"
    assert line["route"] == "GET /companies/{companyId}/inventory"
    assert line["status"] == 200
    assert line["latency_ms"] == 12.346


def test_an_unauthenticated_request_still_gets_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        observability.request_finished(
            request_id="req-2", route="GET /whoami", status=401, latency_ms=1, tenant_id=None, key_id=None
        )
    (line,) = out.messages("request")
    assert line["status"] == 401
    # Powertools leaves out keys whose value is None: no company, no key id.
    assert "tenant_id" not in line
    assert "key_id" not in line


@pytest.mark.parametrize(("status", "client", "server"), [(200, 0, 0), (404, 1, 0), (503, 0, 1)])
def test_a_request_publishes_one_emf_line_by_route_and_for_the_service(
    capsys: pytest.CaptureFixture[str], status: int, client: int, server: int
) -> None:
    with captured(capsys) as out:
        observability.request_finished(
            request_id="r", route="POST /api-keys", status=status, latency_ms=5.5, tenant_id="t", key_id="k"
        )
        (doc,) = out.emf()
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Stockroom"
    # By route, and all routes together (what the 5xx-rate alarm watches).
    assert sorted(sorted(d) for d in directive["Dimensions"]) == [["route", "service"], ["service"]]
    assert doc["route"] == "POST /api-keys"
    assert doc["service"] == "stockroom"
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {"Requests": "Count", "ClientErrors": "Count", "ServerErrors": "Count", "Latency": "Milliseconds"}
    figures = [value(doc, name) for name in ("Requests", "ClientErrors", "ServerErrors", "Latency")]
    assert figures == [1, client, server, 5.5]


def test_request_metrics_never_touch_the_handlers_shared_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        observability.count("RowsImported", 3)
        observability.request_finished(
            request_id="r", route="GET /health", status=200, latency_ms=1, tenant_id=None, key_id=None
        )
        (request_doc,) = out.emf()
        assert "RowsImported" not in request_doc
        observability.flush()
        assert out.metric("RowsImported") == [3]


def test_a_failing_metric_never_fails_the_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no metrics today")

    monkeypatch.setattr(observability, "publish_request_metrics", broken)
    with captured(capsys) as out:
        observability.request_finished(
            request_id="r9", route="GET /health", status=200, latency_ms=1, tenant_id=None, key_id=None
        )
    assert out.messages("request")[0]["request_id"] == "r9"
    (problem,) = out.messages("could not record the request")
    assert problem["level"] == "ERROR"


def test_flush_publishes_one_line_and_starts_afresh(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        observability.count("ReservationsExpired", 2)
        observability.count("LedgerMismatches", 0)
        observability.flush()
        (doc,) = out.emf()
        assert (value(doc, "ReservationsExpired"), value(doc, "LedgerMismatches")) == (2, 0)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stockroom"
        observability.flush()
        assert len(out.emf()) == 1


def test_flush_with_nothing_counted_prints_and_warns_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out, warnings.catch_warnings():
        warnings.simplefilter("error")
        observability.flush()
        assert out.emf() == []


def test_disabled_metrics_do_not_pile_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with captured(capsys) as out:
        observability.count("RowsImported", 1)
        observability.flush()
        assert out.emf() == []
        assert observability.metrics.metric_set == {}


def test_flushed_metrics_publishes_even_when_the_job_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with captured(capsys) as out:
        with pytest.raises(RuntimeError), observability.flushed_metrics():
            observability.count("LedgerMismatches", 1)
            raise RuntimeError("boom")
        assert out.metric("LedgerMismatches") == [1]
