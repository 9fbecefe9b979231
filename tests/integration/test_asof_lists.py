"""`asOf` on the lists: the 000 inventory list and the 004 v2 search, at five moments of a scripted day.

Each day creates a record, changes it, snapshots the ledger (the nightly
reconciliation) in the middle, creates a second record, deletes the first and
changes the second, so the moments cover: before anything, a record alone, a
read from the snapshot, a record created after a moment (not listed then), and
a record deleted since (listed then, with its figures then).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.events import schedules
from chalicelib.storage.aws import on_call
from tests.integration.company import Company, Refs, error_fields
from tests.integration.maker import ALL, fields_of, make_maker

pytestmark = pytest.mark.shared_aws

D = Decimal


def tick() -> datetime:
    moment = datetime.now(UTC)
    # Writes stamped later than this moment, whatever the clock's resolution.
    while datetime.now(UTC) <= moment:
        pass
    return moment


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def listed(acme: Company, moment: datetime | None, limit: int = 1) -> dict[str, Decimal]:
    """Every page of the 000 list (as of `moment`), a page of `limit` at a time: quantity by id."""
    found: dict[str, Decimal] = {}
    token = None
    while True:
        query = (
            f"?limit={limit}" + (f"&asOf={iso(moment)}" if moment else "") + (f"&nextToken={token}" if token else "")
        )
        response = acme.call("GET", f"/inventory{query}")
        assert response.status_code == 200, response.body
        for item in json.loads(response.body):
            found[item["inventoryId"]] = D(str(item["quantity"]))
        token = response.headers.get("X-Next-Token") or response.headers.get("x-next-token")
        if not token:
            return found


def test_the_000_list_as_of_five_moments(acme: Company, refs: Refs) -> None:
    before = tick()
    [a] = acme.ok("POST", "/inventory", [refs.item(quantity="10")], 201)
    m1 = tick()
    acme.ok("PUT", "/inventory", [{"inventoryId": a["inventoryId"], "quantity": "7"}])
    m2 = tick()
    schedules.reconcile_ledger(now=m2 + schedules.SNAPSHOT_MARGIN)
    [b] = acme.ok("POST", "/inventory", [refs.item(quantity="4", productName="Bar 60mm")], 201)
    m3 = tick()
    acme.ok("DELETE", "/inventory", {"ids": [a["inventoryId"]]})
    m4 = tick()
    acme.ok("PUT", "/inventory", [{"inventoryId": b["inventoryId"], "quantity": "9"}])
    m5 = tick()
    ida, idb = a["inventoryId"], b["inventoryId"]

    assert listed(acme, before) == {}
    assert listed(acme, m1) == {ida: 10}  # b created later: not listed
    assert listed(acme, m2) == {ida: 7}
    assert listed(acme, m3) == {ida: 7, idb: 4}  # a deleted since: listed with its quantity then
    assert listed(acme, m4) == {idb: 4}
    assert listed(acme, m5) == {idb: 9}
    assert listed(acme, None) == {idb: 9}
    assert listed(acme, m3, limit=50) == {ida: 7, idb: 4}

    for value in (iso(datetime.now(UTC) + timedelta(days=1)), "yesterday"):
        response = acme.call("GET", f"/inventory?asOf={value}")
        assert response.status_code == 400, response.body
        assert error_fields(response) == ["asOf"]


def test_a_000_list_page_as_of_costs_two_queries_per_item_and_the_page_read(acme: Company, refs: Refs) -> None:
    acme.ok("POST", "/inventory", [refs.item(quantity=str(n + 1), productName=f"Bar {n}") for n in range(5)], 201)
    # After the nightly snapshot (before it, a record's ledger partition is read too: one more Query).
    schedules.reconcile_ledger(now=tick() + schedules.SNAPSHOT_MARGIN)
    moment = tick()
    calls: list[str] = []
    stop = on_call(lambda svc, op: calls.append(op) if svc == "dynamodb" else None)
    try:
        assert len(acme.ok("GET", "/inventory?limit=50")) == 5
        now = calls.count("Query")
        calls.clear()
        assert len(acme.ok("GET", f"/inventory?limit=50&asOf={iso(moment)}")) == 5
    finally:
        stop()
    # Each item: its ledger window, its claims (run 16 at a time, so 5 items are one round of each).
    assert calls.count("Query") == now + 2 * 5, calls


def search(shop: Any, body: dict[str, Any], moment: datetime | None) -> list[tuple[int, Decimal]]:
    path = "/v2/inventory/search" + (f"?asOf={iso(moment)}" if moment else "")
    found = shop.ok("POST", path, body)
    if body.get("page", 1) == 1:
        assert found["pagination"]["totalCount"] == len(found["data"])
    return [(r["id"], D(str(r["quantity"]))) for r in found["data"]]


def test_the_v2_search_as_of_five_moments(http: Client) -> None:
    shop = make_maker(http, "Searching Co", (*ALL, "inventory.adjust"))
    shop.product("Iron", sku="FE-1")
    shop.product("Zinc", sku="ZN-1")
    every = {"filter": {"skus": ["FE-1", "ZN-1"]}, "sort": [{"field": "id", "direction": "asc"}]}
    before = tick()
    assert shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "FE-1", "quantity": 10}])["created"] == 1
    [a] = shop.ok("POST", "/v2/inventory/search", every)["data"]
    m1 = tick()
    shop.ok("PATCH", f"/v2/inventory/id/{a['id']}", {"quantity": 7})
    m2 = tick()
    schedules.reconcile_ledger(now=m2 + schedules.SNAPSHOT_MARGIN)
    assert shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": "ZN-1", "quantity": 4}])["created"] == 1
    b = next(r for r in shop.ok("POST", "/v2/inventory/search", every)["data"] if r["id"] != a["id"])
    m3 = tick()
    assert shop.call("DELETE", f"/v2/inventory/id/{a['id']}?force=true").status_code == 204
    m4 = tick()
    shop.ok("PATCH", f"/v2/inventory/id/{b['id']}", {"quantity": 9})
    m5 = tick()
    ida, idb = a["id"], b["id"]

    assert search(shop, every, before) == []
    assert search(shop, every, m1) == [(ida, 10)]  # b created later: not listed
    assert search(shop, every, m2) == [(ida, 7)]
    assert search(shop, every, m3) == [(ida, 7), (idb, 4)]  # a deleted since: listed, its quantity then
    assert search(shop, every, m4) == [(idb, 4)]
    assert search(shop, every, m5) == [(idb, 9)]
    assert search(shop, every, None) == [(idb, 9)]

    # The quantity filters and sort apply to the quantity then, not now.
    by_quantity = {**every, "sort": [{"field": "quantity", "direction": "desc"}]}
    assert search(shop, by_quantity, m3) == [(ida, 7), (idb, 4)]
    assert search(shop, {**every, "filter": {**every["filter"], "minQuantity": 5}}, m3) == [(ida, 7)]
    assert search(shop, {**every, "filter": {**every["filter"], "maxQuantity": 5}}, m3) == [(idb, 4)]
    assert search(shop, {**every, "filter": {**every["filter"], "minQuantity": 5}}, m4) == []
    # Sorted by what only the product says (sku): the page still carries the quantities then.
    by_sku = {**every, "sort": [{"field": "sku", "direction": "desc"}]}
    assert search(shop, by_sku, m3) == [(idb, 4), (ida, 7)]
    # Paged: the second page of one.
    assert search(shop, {**every, "page": 2, "pageSize": 1}, m3) == [(idb, 4)]

    for value in (iso(datetime.now(UTC) + timedelta(days=1)), "yesterday"):
        error = shop.error("POST", f"/v2/inventory/search?asOf={value}", every)
        assert fields_of(error) == ["asOf"], (value, error)
