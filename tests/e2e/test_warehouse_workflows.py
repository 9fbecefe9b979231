"""The 001 workflow routes (issue 16) over HTTP against the local stack: transfers, stock requests, cycle
counts, replenishment and put-away, every route with its transitions (allowed and not) and the stock
figures after each step, an Idempotency-Key replay, another company's ids and a missing permission."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e
D = Decimal


class Client:
    def __init__(self, base: str, company_id: str, key: str) -> None:
        self.base = base
        self.id = company_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, headers=headers, timeout=30)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        response = self.call(method, path, body, **headers)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)

    def fails(self, method: str, path: str, body: Any = None, status: int = 400) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()
        return error


def fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


@pytest.fixture
def wh(api: Api, make_tenant: MakeTenant) -> Client:
    tenant = make_tenant("Workflows E2E")
    return Client(api.base_url, tenant.company_id, tenant.api_key)


@pytest.fixture
def rival(api: Api, make_tenant: MakeTenant) -> Client:
    tenant = make_tenant("Workflows rival")
    return Client(api.base_url, tenant.company_id, tenant.api_key)


def levels(wh: Client, product: str, location: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(onHand, reserved, available, inTransit) of a product at a location."""
    found = wh.ok("GET", f"/api/products/{product}/inventory-levels")["locations"]
    for e in found:
        if e["locationId"] == location:
            return e["onHand"], e["reserved"], e["available"], e["inTransit"]
    return D(0), D(0), D(0), D(0)


def receive(wh: Client, product: str, location: str, quantity: int, **extra: Any) -> None:
    wh.ok(
        "POST",
        "/api/inventory/record-stock",
        {"productMasterId": product, "locationId": location, "quantity": quantity, **extra},
        201,
    )


def test_transfers_and_stock_requests_end_to_end(wh: Client, rival: Client) -> None:
    product = wh.ok("POST", "/api/products", {"name": "Flour"}, 201)["id"]
    store = wh.ok("POST", "/api/locations", {"name": "Store"}, 201)["id"]
    kitchen = wh.ok("POST", "/api/locations", {"name": "Kitchen"}, 201)["id"]
    receive(wh, product, store, 20)
    # -- transfers
    body = {"fromLocationId": store, "toLocationId": kitchen, "lines": [{"productMasterId": product, "quantity": 5}]}
    key = {"Idempotency-Key": "wf-e2e-transfer-1"}
    created = wh.ok("POST", "/api/inventory/transfers", body, 201, **key)
    assert wh.ok("POST", "/api/inventory/transfers", body, 201, **key)["id"] == created["id"]  # replayed
    tid, line = created["id"], created["lines"][0]["id"]
    assert wh.fails("POST", f"/api/inventory/transfers/{tid}", {"action": "receive"}, 409)["details"][0]["message"] == (
        "current state is draft; allowed transitions: ship, complete, cancel"
    )
    wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "ship"})
    assert levels(wh, product, store) == (D(15), D(0), D(15), D(0))
    assert levels(wh, product, kitchen) == (D(0), D(0), D(0), D(5))
    wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "receive", "lines": [{"lineId": line, "quantity": 2}]})
    assert levels(wh, product, kitchen) == (D(2), D(0), D(2), D(3))
    cancelled = wh.ok("POST", f"/api/inventory/transfers/{tid}", {"action": "cancel"})
    assert cancelled["status"] == "cancelled" and levels(wh, product, store) == (D(18), D(0), D(18), D(0))
    assert wh.ok("GET", f"/api/inventory/transfers/{tid}")["lines"][0]["returnedQuantity"] == D(3)
    assert wh.ok("GET", "/api/inventory/transfers?status=cancelled")["pagination"]["total"] == 1
    assert wh.ok("GET", f"/api/inventory/transfers/bins?locationId={store}")["bins"] == []
    rival.fails("GET", f"/api/inventory/transfers/{tid}", status=404)
    # -- stock requests: a second key of the company approves
    approver = wh.ok(
        "POST",
        "/api-keys",
        {"name": "Approver", "permissions": ["stockrequests.read", "stockrequests.write", "stockrequests.approve"]},
        201,
    )["apiKey"]
    boss = Client(wh.base, wh.id, approver)
    request = wh.ok(
        "POST",
        "/api/stock-requests",
        {"title": "Restock", "category": "Kitchen", "locationId": kitchen, "sourceLocationId": store},
        201,
    )
    rid = request["id"]
    assert request["number"].startswith("SR-")
    assert fields(wh.fails("POST", f"/api/stock-requests/{rid}/submit", {})) == ["lines"]
    wh.ok("POST", f"/api/stock-requests/{rid}/lines", {"productMasterId": product, "quantity": 6}, 201)
    wh.ok("PATCH", f"/api/stock-requests/{rid}", {"priority": "urgent"})
    wh.ok("POST", f"/api/stock-requests/{rid}/comment", {"text": "for Saturday"}, 201)
    wh.ok("POST", f"/api/stock-requests/{rid}/submit", {})
    wh.fails("POST", f"/api/stock-requests/{rid}/approve", {}, 403)  # the submitter
    assert len(boss.ok("GET", "/api/stock-requests/pending-approvals")["data"]) == 1
    boss.ok("POST", f"/api/stock-requests/{rid}/approve", {})
    assert levels(wh, product, store) == (D(18), D(6), D(12), D(0))
    status = wh.ok("GET", f"/api/stock-requests/{rid}/status")
    assert status["status"] == "approved" and status["allowedTransitions"] == ["fulfil", "cancel", "rollback"]
    line_id = wh.ok("GET", f"/api/stock-requests/{rid}/lines")["data"][0]["id"]
    wh.ok(
        "POST",
        f"/api/stock-requests/{rid}/status",
        {"status": "fulfilled", "lines": [{"lineId": line_id, "quantity": 4}]},
    )
    assert levels(wh, product, store) == (D(14), D(2), D(12), D(0))
    assert levels(wh, product, kitchen) == (D(6), D(0), D(6), D(0))
    wh.ok("POST", f"/api/stock-requests/{rid}/rollback", {})
    assert levels(wh, product, store) == (D(18), D(6), D(12), D(0))
    wh.ok("POST", f"/api/stock-requests/{rid}/status", {"status": "fulfilled"})
    assert wh.ok("GET", f"/api/stock-requests/{rid}")["status"] == "fulfilled"
    assert levels(wh, product, store) == (D(12), D(0), D(12), D(0))
    assert (
        wh.fails("POST", f"/api/stock-requests/{rid}/status", {"status": "cancelled"}, 409)["code"] == "INVALID_STATE"
    )
    assert wh.ok("GET", "/api/stock-requests?status=fulfilled")["pagination"]["total"] == 1
    assert wh.ok("GET", "/api/stock-requests/by-category")["data"][0]["category"] == "Kitchen"
    assert wh.ok("GET", "/api/stock-requests/dashboard")["byStatus"]["fulfilled"] == 1
    assert "Kitchen" in wh.ok("GET", "/api/stock-requests/filters")["category"]
    assert wh.ok("GET", "/api/stock-requests/products/search?q=flo")["data"][0]["productMasterId"] == product
    assert wh.ok("GET", f"/api/stock-requests/products/stocklist?locationId={store}")["data"][0]["available"] == D(12)
    draft = wh.ok(
        "POST", "/api/stock-requests", {"title": "Spare", "locationId": kitchen, "sourceLocationId": store}, 201
    )
    assert wh.ok("DELETE", f"/api/stock-requests/{draft['id']}")["deleted"] is True
    rival.fails("GET", f"/api/stock-requests/{rid}", status=404)
    reject_me = wh.ok(
        "POST",
        "/api/stock-requests",
        {
            "title": "No",
            "locationId": kitchen,
            "sourceLocationId": store,
            "lines": [{"productMasterId": product, "quantity": 1}],
        },
        201,
    )["id"]
    wh.ok("POST", f"/api/stock-requests/{reject_me}/submit", {})
    assert fields(boss.fails("POST", f"/api/stock-requests/{reject_me}/reject", {})) == ["reason"]
    assert boss.ok("POST", f"/api/stock-requests/{reject_me}/reject", {"reason": "later"})["status"] == "rejected"


def test_cycle_counts_replenishment_putaway_end_to_end(wh: Client, api: Api, make_tenant: MakeTenant) -> None:
    product = wh.ok("POST", "/api/products", {"name": "Bolts", "sku": "B-1"}, 201)["id"]
    loc = wh.ok("POST", "/api/locations", {"name": "Hall"}, 201)["id"]
    depot = wh.ok("POST", "/api/locations", {"name": "Depot"}, 201)["id"]
    dock = wh.ok("POST", "/api/inventory/bins", {"locationId": loc, "code": "DOCK", "type": "receiving"}, 201)["id"]
    shelf = wh.ok("POST", "/api/inventory/bins", {"locationId": loc, "code": "S1", "capacity": 100}, 201)["id"]
    receive(wh, product, loc, 30, binId=dock)
    receive(wh, product, depot, 40)
    # -- put-away
    task = wh.ok(
        "POST", "/api/inventory/put-away", {"productMasterId": product, "fromBinId": dock, "quantity": 10}, 201
    )
    assert task["toBinId"] == shelf and task["suggested"] is True
    wh.ok("POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "complete"}, 201)
    assert (
        wh.fails("POST", "/api/inventory/put-away", {"taskId": task["id"], "action": "cancel"}, 409)["code"]
        == "INVALID_STATE"
    )
    assert wh.ok("GET", "/api/inventory/put-away?status=completed")["pagination"]["total"] == 1
    bins = {b["code"]: b["onHand"] for b in wh.ok("GET", f"/api/inventory/transfers/bins?locationId={loc}")["bins"]}
    assert bins == {"DOCK": D(20), "S1": D(10)}
    # -- cycle count, with stock moving while counting
    batch = wh.ok(
        "POST",
        "/api/inventory/cycle-count",
        {"name": "Shelf", "locationId": loc, "blind": True, "binIds": [shelf]},
        201,
    )
    bid, line = batch["id"], batch["lines"][0]["id"]
    assert "expectedQuantity" not in wh.ok("GET", f"/api/inventory/cycle-count/{bid}")["lines"][0]
    assert "expectedQuantity" not in wh.ok("GET", f"/api/inventory/cycle-count/blind-form?batchId={bid}")["lines"][0]
    receive(wh, product, loc, 5, binId=shelf)
    wh.ok("POST", f"/api/inventory/cycle-count/{bid}", {"counts": [{"lineId": line, "countedQuantity": 8}]})
    assert wh.ok("POST", f"/api/inventory/cycle-count/{bid}", {"status": "review"})["lines"][0]["variance"] == D(-2)
    done = wh.ok(
        "POST", "/api/inventory/cycle-count/resolve", {"batchId": bid, "lines": [{"lineId": line, "action": "accept"}]}
    )
    assert done["status"] == "completed"
    assert {b["code"]: b["onHand"] for b in wh.ok("GET", f"/api/inventory/transfers/bins?locationId={loc}")["bins"]}[
        "S1"
    ] == D(13)
    assert wh.ok("GET", "/api/inventory/cycle-count?status=completed")["pagination"]["total"] == 1
    assert wh.ok("GET", f"/api/inventory/cycle-count/abc?locationId={loc}")["data"][0]["class"] in {"A", "C"}
    abc = wh.ok("POST", "/api/inventory/cycle-count/abc", {"classes": ["A", "B", "C"], "locationId": loc}, 201)
    assert abc["abcClasses"] == ["A", "B", "C"]
    # -- replenishment from the depot
    config = {
        "productMasterId": product,
        "locationId": loc,
        "minQuantity": 50,
        "maxQuantity": 60,
        "sourceLocationId": depot,
    }
    wh.ok("POST", "/api/inventory/replenishment/config", config)
    assert wh.ok("GET", "/api/inventory/replenishment/config")["pagination"]["total"] == 1
    suggestion = wh.ok("POST", "/api/inventory/replenishment/suggestions", {})["data"][0]
    assert suggestion["available"] == D(33) and suggestion["suggestedQuantity"] == D(27)
    record = wh.ok(
        "POST",
        "/api/inventory/replenishment",
        {"productMasterId": product, "locationId": loc, "quantity": 27, "sourceLocationId": depot},
        201,
    )
    assert record["status"] == "ordered"
    assert (
        wh.fails("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "order"}, 409)["code"]
        == "INVALID_STATE"
    )
    wh.ok("POST", "/api/inventory/replenishment", {"recordId": record["id"], "action": "receive"}, 201)
    assert levels(wh, product, depot)[0] == D(13)
    assert wh.ok("GET", "/api/inventory/replenishment?status=received")["pagination"]["total"] == 1
    # -- a key without the workflow permissions
    reader = make_tenant("Workflows reader", permissions="inventory.read")
    limited = Client(api.base_url, reader.company_id, reader.api_key)
    for path in (
        "/api/inventory/cycle-count",
        "/api/inventory/transfers",
        "/api/inventory/replenishment",
        "/api/stock-requests",
    ):
        limited.fails("GET", path, status=403)
