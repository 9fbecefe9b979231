"""001 stock requests through the real app on moto: every route, every transition (allowed and not) with
the stock figures after each; the submitter cannot approve; racing approvals for the last units never
both succeed; rollback of each transition with its stock effect; another company's ids; permissions."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from tests.integration.maker import ALL, Maker, fields_of, make_maker

D = Decimal
pytestmark = pytest.mark.shared_aws
PERMS = (*ALL, "stockrequests.read", "stockrequests.write", "stockrequests.approve")


@pytest.fixture
def sr(http: Client) -> tuple[Maker, Maker]:
    """A company's requester key and a second key of the same company that approves."""
    requester = make_maker(http, "Request Co", PERMS)
    _, raw = wiring.tenant_service().issue_key(requester.id, "Approver", list(PERMS), SYSTEM)
    return requester, Maker(http, requester.id, raw)


def receive(wh: Maker, product: str, location: str, quantity: Any, **extra: Any) -> None:
    body = {"productMasterId": product, "locationId": location, "quantity": str(quantity), **extra}
    wh.ok("POST", "/api/inventory/record-stock", body, 201)


def at(wh: Maker, product: str, location: str) -> tuple[Decimal, Decimal, Decimal]:
    """(onHand, reserved, available) of the product at the location."""
    levels = wh.ok("GET", f"/api/products/{product}/inventory-levels")
    for e in levels["locations"]:
        if e["locationId"] == location:
            return e["onHand"], e["reserved"], e["available"]
    return D(0), D(0), D(0)


def reserved_matches_requests(wh: Maker) -> None:
    """Every active reservation of the company's records is held by an approved request, and no more."""
    stock = wiring.stock_service()
    held = sum((r.reserved for r in stock.all_records(wh.id)), D(0))
    requests = wh.ok("GET", "/api/stock-requests?limit=200")["data"]
    assert held == sum((line["reservedQuantity"] for r in requests for line in r["lines"]), D(0))
    for record in stock.all_records(wh.id):
        assert record.on_hand == stock.ledger_total(wh.id, record.stock_id) and record.available >= 0


def new_request(wh: Maker, product: str, dest: str, source: str, quantity: Any = 5, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Kitchen restock",
        "category": "Kitchen",
        "locationId": dest,
        "sourceLocationId": source,
        "lines": [{"productMasterId": product, "quantity": str(quantity)}],
        **extra,
    }
    created: dict[str, Any] = wh.ok("POST", "/api/stock-requests", body, 201)
    return created


def test_draft_submit_approve_fulfil_partly_then_all(sr: tuple[Maker, Maker]) -> None:
    req, boss = sr
    product = req.product("Flour")["id"]
    store, kitchen = req.location("Store")["id"], req.location("Kitchen")["id"]
    receive(req, product, store, 10)
    r = new_request(req, product, kitchen, store, 6, priority="high")
    rid, line = r["id"], r["lines"][0]["id"]
    assert r["number"].startswith("SR-") and len(r["number"]) == 9 and r["status"] == "draft"
    assert r["allowedTransitions"] == ["submit", "cancel"]
    # not allowed from draft: approve, reject, fulfil
    err = boss.error("POST", f"/api/stock-requests/{rid}/approve", {}, 409)
    assert err["details"][0]["message"] == "current state is draft; allowed transitions: submit, cancel"
    boss.error("POST", f"/api/stock-requests/{rid}/reject", {"reason": "no"}, 409)
    assert fields_of(req.error("POST", f"/api/stock-requests/{rid}/status", {"status": "fulfilled"}, 409)) == ["status"]
    # editing a draft
    patched = req.ok("PATCH", f"/api/stock-requests/{rid}", {"notes": "before noon"})
    assert patched["notes"] == "before noon" and patched["version"] == 2
    assert req.ok("POST", f"/api/stock-requests/{rid}/comment", {"text": "hi"}, 201)["comments"][0]["text"] == "hi"
    submitted = req.ok("POST", f"/api/stock-requests/{rid}/submit")  # no body: reads as {}
    assert submitted["status"] == "submitted"
    assert req.error("PATCH", f"/api/stock-requests/{rid}", {"notes": "x"}, 409)["code"] == "INVALID_STATE"
    req.error("DELETE", f"/api/stock-requests/{rid}", status=409)
    # the submitter cannot approve or reject
    assert req.error("POST", f"/api/stock-requests/{rid}/approve", {}, 403)["code"] == "FORBIDDEN"
    req.error("POST", f"/api/stock-requests/{rid}/reject", {"reason": "x"}, 403)
    assert boss.ok("GET", "/api/stock-requests/pending-approvals")["data"][0]["canApprove"] is True
    assert req.ok("GET", "/api/stock-requests/pending-approvals")["data"][0]["canApprove"] is False
    approved = boss.ok("POST", f"/api/stock-requests/{rid}/approve", {})
    assert approved["status"] == "approved" and approved["lines"][0]["reservedQuantity"] == D(6)
    assert at(req, product, store) == (D(10), D(6), D(4))
    reserved_matches_requests(req)
    # partial fulfilment
    part = req.ok(
        "POST", f"/api/stock-requests/{rid}/status", {"status": "fulfilled", "lines": [{"lineId": line, "quantity": 2}]}
    )
    assert part["status"] == "approved" and part["lines"][0]["fulfilledQuantity"] == D(2)
    assert at(req, product, store) == (D(8), D(4), D(4))
    assert at(req, product, kitchen) == (D(2), D(0), D(2))
    reserved_matches_requests(req)
    done = req.ok("POST", f"/api/stock-requests/{rid}/status", {"status": "fulfilled"})
    assert done["status"] == "fulfilled"
    assert at(req, product, store) == (D(4), D(0), D(4)) and at(req, product, kitchen) == (D(6), D(0), D(6))
    status = req.ok("GET", f"/api/stock-requests/{rid}/status")
    assert [h["action"] for h in status["history"]] == ["submit", "approve", "fulfil", "fulfil"]
    assert status["allowedTransitions"] == ["rollback"]
    assert req.error("POST", f"/api/stock-requests/{rid}/status", {"status": "cancelled"}, 409)["details"][0][
        "message"
    ] == ("current state is fulfilled; allowed transitions: none (final state)")
    # rollback the last fulfilment: 4 go back to the store and are reserved again
    back = req.ok("POST", f"/api/stock-requests/{rid}/rollback", {})
    assert back["status"] == "approved" and back["lines"][0]["reservedQuantity"] == D(4)
    assert at(req, product, store) == (D(8), D(4), D(4)) and at(req, product, kitchen) == (D(2), D(0), D(2))
    reserved_matches_requests(req)
    # cancel releases what is reserved
    cancelled = req.ok("POST", f"/api/stock-requests/{rid}/status", {"status": "cancelled"})
    assert cancelled["status"] == "cancelled" and at(req, product, store) == (D(8), D(0), D(8))
    reserved_matches_requests(req)


def test_short_stock_partial_reject_rollback(sr: tuple[Maker, Maker]) -> None:
    req, boss = sr
    product = req.product("Sugar")["id"]
    store, bar = req.location("Store S")["id"], req.location("Bar")["id"]
    receive(req, product, store, 3)
    rid = new_request(req, product, bar, store, 5)["id"]
    req.ok("POST", f"/api/stock-requests/{rid}/submit", {})
    short = boss.error("POST", f"/api/stock-requests/{rid}/approve", {}, 409)
    assert short["code"] == "INSUFFICIENT_STOCK" and fields_of(short) == ["lines[0].quantity"]
    assert at(req, product, store) == (D(3), D(0), D(3))
    partial = boss.ok("POST", f"/api/stock-requests/{rid}/approve", {"partial": True})
    assert partial["lines"][0]["approvedQuantity"] == D(3) and at(req, product, store) == (D(3), D(3), D(0))
    # rollback the approval: released
    rolled = req.ok("POST", f"/api/stock-requests/{rid}/rollback", {"comment": "oops"})
    assert rolled["status"] == "submitted" and at(req, product, store) == (D(3), D(0), D(3))
    assert rolled["history"][-1]["action"] == "rollback" and rolled["history"][-1]["comment"] == "oops"
    assert fields_of(boss.error("POST", f"/api/stock-requests/{rid}/reject", {})) == ["reason"]
    rejected = boss.ok("POST", f"/api/stock-requests/{rid}/reject", {"reason": "use the delivery"})
    assert rejected["status"] == "rejected" and rejected["rejectionReason"] == "use the delivery"
    # rejected: editable again, resubmit, or delete
    assert req.ok("POST", f"/api/stock-requests/{rid}/lines", {"productMasterId": product, "quantity": 1}, 201)[
        "lines"
    ][1]["quantity"] == D(1)
    assert len(req.ok("GET", f"/api/stock-requests/{rid}/lines")["data"]) == 2
    assert req.ok("POST", f"/api/stock-requests/{rid}/rollback", {})["status"] == "submitted"  # undo the reject
    assert req.ok("POST", f"/api/stock-requests/{rid}/rollback", {})["status"] == "draft"  # then the first submit
    assert req.ok("DELETE", f"/api/stock-requests/{rid}")["deleted"] is True
    req.error("GET", f"/api/stock-requests/{rid}", status=404)
    # submit needs lines; nothing to roll back on a fresh draft
    empty = req.ok(
        "POST", "/api/stock-requests", {"title": "Empty", "locationId": bar, "sourceLocationId": store}, 201
    )["id"]
    assert fields_of(req.error("POST", f"/api/stock-requests/{empty}/submit", {})) == ["lines"]
    assert req.error("POST", f"/api/stock-requests/{empty}/rollback", {}, 409)["code"] == "INVALID_STATE"
    reserved_matches_requests(req)


def test_racing_approvals_for_the_last_units_never_both_succeed(sr: tuple[Maker, Maker]) -> None:
    req, _boss = sr
    product = req.product("Salt")["id"]
    store, a, b = req.location("Store R")["id"], req.location("A")["id"], req.location("B")["id"]
    receive(req, product, store, 5)
    ids = []
    for dest in (a, b):
        rid = new_request(req, product, dest, store, 4)["id"]
        req.ok("POST", f"/api/stock-requests/{rid}/submit", {})
        ids.append(rid)
    service = wiring.stock_request_service()
    approver = SYSTEM.model_copy(update={"id": "approver", "name": "Approver"})
    results: list[str] = []
    barrier = threading.Barrier(2)

    def approve(rid: str) -> None:
        barrier.wait()
        try:
            service.approve(req.id, rid, approver)
            results.append("ok")
        except Exception as error:
            results.append(type(error).__name__)

    threads = [threading.Thread(target=approve, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["InsufficientStock", "ok"]
    assert at(req, product, store) == (D(5), D(4), D(1))
    reserved_matches_requests(req)


def test_views_filters_search_and_other_company(sr: tuple[Maker, Maker], http: Client) -> None:
    req, boss = sr
    flour = req.product("Flour", sku="FL-9")["id"]
    store, kitchen = req.location("Main store")["id"], req.location("Main kitchen")["id"]
    receive(req, flour, store, 7)
    rid = new_request(req, flour, kitchen, store, 2)["id"]
    new_request(req, flour, kitchen, store, 1, category="Bar", priority="low")
    req.ok("POST", f"/api/stock-requests/{rid}/submit", {})
    boss.ok("POST", f"/api/stock-requests/{rid}/approve", {})
    assert req.ok("GET", "/api/stock-requests?category=bar")["pagination"]["total"] == 1
    assert req.ok("GET", "/api/stock-requests?status=approved")["data"][0]["id"] == rid
    assert req.ok("GET", "/api/stock-requests?priority=low&search=kitchen")["pagination"]["total"] == 1
    assert req.ok("GET", f"/api/stock-requests?locationId={store}")["pagination"]["total"] == 2
    categories = {c["category"]: c["count"] for c in req.ok("GET", "/api/stock-requests/by-category")["data"]}
    assert categories == {"Bar": 1, "Kitchen": 1}
    dash = req.ok("GET", "/api/stock-requests/dashboard")
    assert dash["byStatus"]["approved"] == 1 and dash["byStatus"]["draft"] == 1
    assert dash["topRequestedProducts"][0]["quantity"] == D(3) and dash["averageTimeToApproveSeconds"] >= 0
    assert req.ok("GET", "/api/stock-requests/filters")["category"] == ["Bar", "Kitchen"]
    found = req.ok("GET", f"/api/stock-requests/products/search?q=fl-&locationId={store}")["data"]
    assert found == [
        {"productMasterId": flour, "name": "Flour", "sku": "FL-9", "available": D(5), "availableAtLocation": D(5)}
    ]
    listed = req.ok("GET", f"/api/stock-requests/products/stocklist?locationId={store}")["data"]
    assert listed[0]["available"] == D(5)
    assert fields_of(req.error("GET", "/api/stock-requests/products/stocklist")) == ["locationId"]
    rival = make_maker(http, "Rival SR", PERMS)
    rival.error("GET", f"/api/stock-requests/{rid}", status=404)
    rival.error("POST", f"/api/stock-requests/{rid}/approve", {}, 404)
    assert fields_of(
        rival.error(
            "POST", "/api/stock-requests", {"title": "x", "locationId": kitchen, "sourceLocationId": store}, 404
        )
    ) == ["locationId"]
    no_products = make_maker(http, "No products", ("stockrequests.read",))
    no_products.error("GET", "/api/stock-requests/products/search?q=a", status=403)
    writer = make_maker(http, "Writer", ("stockrequests.read", "stockrequests.write"))
    writer.error("GET", "/api/stock-requests/pending-approvals", status=403)
    writer.error("POST", f"/api/stock-requests/{rid}/approve", {}, 403)
