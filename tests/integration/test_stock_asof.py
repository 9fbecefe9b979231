"""`asOf` reads over HTTP against a scripted history: the figures at each moment are what was true then.

The day's moments are real clock readings taken between the writes; the
reconciliation schedule runs once in the middle (its cutoff set to a moment
of the day), so some reads start from its snapshot and some from the bare
ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalice.test import Client

from chalicelib.core.models import Actor
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.events import schedules
from chalicelib.storage.aws import on_call
from chalicelib.wiring import catalog_service, stock_service, stock_store
from tests.integration.company import make_company

ANN = Actor(id="user-ann", name="Ann")
PERMISSIONS = ("inventory.read", "inventory.write", "products.read", "products.write")


def tick() -> datetime:
    moment = datetime.now(UTC)
    # Writes stamped later than this moment, whatever the clock's resolution.
    while datetime.now(UTC) <= moment:
        pass
    return moment


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def get(http: Client, key: str, path: str) -> Any:
    response = http.http.request("GET", path, headers={"X-API-Key": key})
    return response.status_code, json.loads(response.body) if response.body else None


def test_as_of_reads_at_five_moments_of_a_scripted_day(http: Client) -> None:
    company = make_company(http, "Acme", PERMISSIONS)
    tenant = company.id
    product = catalog_service().create_resource(tenant, "product", {"name": "Bolt"}, ANN).product.product_id
    service = stock_service()
    before = tick()
    record = service.create_record(
        tenant, NewStockRecord(product_id=product, location_id="loc-1", quantity=Decimal(10)), ANN
    )
    m1 = tick()
    service.adjust(tenant, record.stock_id, Decimal(-3), ANN, reason="damaged")
    m2 = tick()
    # The nightly reconciliation: snapshots every record as of m2.
    assert schedules.reconcile_ledger(now=m2 + schedules.SNAPSHOT_MARGIN) == []
    snapshot = stock_store().snapshot_at(tenant, record.stock_id, m2)
    assert snapshot is not None and snapshot.on_hand == 7
    service.adjust(tenant, record.stock_id, Decimal(5), ANN, reason="receipt")
    m3 = tick()
    reservation = service.reserve(tenant, record.stock_id, Decimal(2), ANN)
    m4 = tick()
    service.adjust(tenant, record.stock_id, Decimal(-1), ANN)
    service.release(tenant, reservation.reservation_id, ANN)
    m5 = tick()

    expected = {m1: 10, m2: 7, m3: 12, m4: 12, m5: 11}
    for moment, on_hand in expected.items():
        status, body = get(http, company.key, f"/api/products/{product}?asOf={iso(moment)}")
        assert status == 200, body
        assert Decimal(str(body["stockLevel"])) == on_hand, (moment, body)
        status, item = get(http, company.key, f"/companies/{tenant}/inventory/{record.stock_id}?asOf={iso(moment)}")
        assert status == 200, item
        assert Decimal(str(item["quantity"])) == on_hand
    # Now, without asOf, agrees with the last moment.
    assert Decimal(str(get(http, company.key, f"/api/products/{product}")[1]["stockLevel"])) == 11

    # Before the record existed: no stock; the item itself did not exist.
    status, body = get(http, company.key, f"/api/products/{product}?asOf={iso(before)}")
    assert status == 200 and Decimal(str(body["stockLevel"])) == 0
    status, _ = get(http, company.key, f"/companies/{tenant}/inventory/{record.stock_id}?asOf={iso(before)}")
    assert status == 404

    # Reserved as of m4 is visible to the figure function (the 000 item shows on hand only).
    figures = service.figures_as_of([service.get(tenant, record.stock_id)], m4, with_claims=True)[record.stock_id]
    assert (figures.on_hand, figures.reserved, figures.available) == (12, 2, 10)

    # The future is a 400 naming asOf; so is a moment that is not one.
    future = iso(datetime.now(UTC) + timedelta(days=1))
    for path in (f"/api/products/{product}", f"/companies/{tenant}/inventory/{record.stock_id}"):
        for value in (future, "yesterday"):
            response = http.http.request("GET", f"{path}?asOf={value}", headers={"X-API-Key": company.key})
            assert response.status_code == 400, (path, value, response.body)
            assert "asOf" in response.body.decode()


def test_an_as_of_read_costs_one_query_per_record_after_its_first_snapshot_one_more_with_claims(http: Client) -> None:
    company = make_company(http, "Acme", PERMISSIONS)
    tenant = company.id
    service = stock_service()
    record = service.create_record(tenant, NewStockRecord(product_id="p", location_id="l", quantity=Decimal(1)), ANN)
    early = tick()
    for _ in range(5):
        service.adjust(tenant, record.stock_id, Decimal(1), ANN)
    schedules.reconcile_ledger(now=tick() + schedules.SNAPSHOT_MARGIN)
    service.adjust(tenant, record.stock_id, Decimal(1), ANN)
    recent = tick()
    calls: list[str] = []
    stop = on_call(lambda svc, op: calls.append(op) if svc == "dynamodb" else None)
    try:
        # Before the first snapshot, the index read finds none: the ledger partition answers (one more Query).
        for moment, expected, queries in ((early, 1, 2), (recent, 7, 1)):
            calls.clear()
            figures = service.figures_as_of([record], moment)
            assert figures[record.stock_id].on_hand == expected
            # The snapshot and the movements since come from one Query of the record's ledger index.
            assert calls == ["Query"] * queries, calls
            calls.clear()
            figures = service.figures_as_of([record], moment, with_claims=True)
            assert (figures[record.stock_id].on_hand, figures[record.stock_id].reserved) == (expected, 0)
            assert calls == ["Query"] * (queries + 1), calls
    finally:
        stop()


def test_reconciliation_reports_a_difference_as_a_metric_and_an_event(http: Client) -> None:
    from chalicelib.settings import get_settings
    from chalicelib.storage import keys
    from chalicelib.storage.aws import client
    from chalicelib.wiring import event_store

    company = make_company(http, "Acme", PERMISSIONS)
    tenant = company.id
    record = stock_service().create_record(
        tenant, NewStockRecord(product_id="p", location_id="l", quantity=Decimal(4)), ANN
    )
    # A balance changed behind the ledger's back (what reconciliation exists to catch).
    client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key={k: {"S": v} for k, v in keys.stock(tenant, record.stock_id).items()},
        UpdateExpression="SET on_hand = :x, available = :x",
        ExpressionAttributeValues={":x": {"N": "9"}},
    )
    found = schedules.reconcile_ledger(now=tick() + schedules.SNAPSHOT_MARGIN)
    assert (tenant, record.stock_id) in found
    page = event_store().page(tenant, since=None, types=["ledger.mismatch"], product_id=None, limit=10, cursor=None)
    [event] = page.items
    assert event.data["difference"] == 5 and event.data["ledgerOnHand"] == 4


def test_a_window_past_its_first_page_or_without_an_indexed_snapshot_reads_the_snapshot_partition(
    http: Client, monkeypatch: Any
) -> None:
    """A busy day (more movements since the snapshot than the first page holds), or a snapshot written
    before snapshots were indexed: the read falls back to the snapshot's own partition and is still right."""
    from chalicelib.settings import get_settings
    from chalicelib.storage import keys, stock_repo
    from chalicelib.storage.aws import client
    from chalicelib.storage.codec import to_attrs

    company = make_company(http, "Acme", PERMISSIONS)
    tenant = company.id
    service = stock_service()
    record = service.create_record(tenant, NewStockRecord(product_id="p", location_id="l", quantity=Decimal(2)), ANN)
    for _ in range(3):
        service.adjust(tenant, record.stock_id, Decimal(1), ANN)
    cut = tick()
    # An unindexed snapshot (no gsi2 keys) that disagrees with the ledger, so using it shows.
    client("dynamodb").put_item(
        TableName=get_settings().main_table,
        Item=to_attrs(
            {
                **keys.snapshot(tenant, record.stock_id, cut),
                "tenant_id": tenant,
                "stock_id": record.stock_id,
                "at": keys.stamp(cut),
                "on_hand": Decimal(100),
                "movements": 4,
            }
        ),
    )
    for _ in range(3):
        service.adjust(tenant, record.stock_id, Decimal(-1), ANN)
    now = tick()
    # The whole ledger fits the first page: no snapshot is needed, the bare ledger answers.
    assert service.figures_as_of([record], now)[record.stock_id].on_hand == 2
    # With a first page of two items the read turns to the snapshot partition (100) and the three since.
    monkeypatch.setattr(stock_repo, "LEDGER_PAGE", 2)
    assert service.figures_as_of([record], now)[record.stock_id].on_hand == 97
    assert service.figures_as_of([record], cut - timedelta(microseconds=1))[record.stock_id].on_hand == 5
