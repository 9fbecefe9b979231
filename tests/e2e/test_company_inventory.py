"""The 000 company inventory surface over HTTP against the local stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from chalicelib.core.models import Actor
from chalicelib.wiring import stock_service

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant, Stack

    Eventually = Callable[..., Any]
    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e

REFERENCE = {
    "inventory-types": "label",
    "inventory-materials": "label",
    "organisations": "name",
    "stock-locations": "label",
    "tags": "name",
    "mill-certifications": "heatCode",
}


class Company:
    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.api = api.with_key(tenant.api_key)
        self.id = tenant.company_id

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.api.request(method, f"/companies/{self.id}{path}", json=body)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)


@pytest.fixture
def acme(api: Api, make_tenant: MakeTenant) -> Company:
    return Company(api, make_tenant("E2E Acme"))


@pytest.fixture
def other(api: Api, make_tenant: MakeTenant) -> Company:
    return Company(api, make_tenant("E2E Other"))


def item_body(company: Company) -> dict[str, Any]:
    created = {
        segment: company.ok("POST", f"/{segment}", [{field: f"{segment} 1"}], 201)[0]["id"]
        for segment, field in REFERENCE.items()
    }
    return {
        "productName": "Bar 50mm",
        "quantity": "4",
        "weight": "12.345",
        "heatCode": "mill-certifications 1",
        "type": created["inventory-types"],
        "material": created["inventory-materials"],
        "supplierId": created["organisations"],
        "stockLocationId": created["stock-locations"],
        "unitPrice": "19.99",
    }


def test_reference_routes_happy_path_and_failures(acme: Company, other: Company) -> None:
    for segment, field in REFERENCE.items():
        created = acme.ok("POST", f"/{segment}", [{field: "A"}, {field: "B"}], 201)
        first, second = (c["id"] for c in created)
        acme.ok("PUT", f"/{segment}", [{"id": first, field: "A2"}])
        assert acme.ok("DELETE", f"/{segment}", {"ids": [second]}) == {"deletedCount": 1, "deletedIds": [second]}
        # Stock locations also list the company's default location.
        listed = [e for e in acme.ok("GET", f"/{segment}") if not e.get("isDefault")]
        assert [(e["id"], e[field]) for e in listed] == [(first, "A2")]

        assert other.call("DELETE", f"/{segment}", {"ids": [first]}).status_code == 404, segment
        foreign = other.api.get(f"/companies/{acme.id}/{segment}")
        assert foreign.status_code == 403, segment


def test_inventory_routes_end_to_end(stack_aws: Stack, acme: Company, other: Company, eventually: Eventually) -> None:
    # Create, read, list
    body = item_body(acme)
    created = acme.ok("POST", "/inventory", [body], 201)[0]
    item_id = created["inventoryId"]
    assert created["typeLabel"] == "inventory-types 1"
    assert created["millCertificationId"]
    assert created["linkedOrders"] == "[]"
    assert created["weight"] == Decimal("12.345")
    assert acme.ok("GET", f"/inventory/{item_id}") == created
    assert [i["inventoryId"] for i in acme.ok("GET", "/inventory")] == [item_id]

    # An id that names nothing of the company is a 404 naming index and field; another company's ids are
    # 404; its path is 403
    bad = acme.call("POST", "/inventory", [body, {"productName": "x", "stockLocationId": "nowhere"}])
    assert bad.status_code == 404
    assert "[1].stockLocationId" in {d["field"] for d in bad.json()["details"]}
    assert other.call("GET", f"/inventory/{item_id}").status_code == 404
    assert other.call("PUT", "/inventory", [{"inventoryId": item_id, "quantity": "1"}]).status_code == 404
    assert other.call("POST", f"/inventory/{item_id}/unreserve").status_code == 404
    assert other.call("POST", f"/inventory/{item_id}/tags/evaluate").status_code == 404
    assert other.call("GET", f"/inventory/{item_id}/history").status_code == 404
    assert other.api.get(f"/companies/{acme.id}/inventory/{item_id}").status_code == 403

    # Update through the ledger; stale version is a 409
    updated = acme.ok("PUT", "/inventory", [{"inventoryId": item_id, "quantity": "6", "version": 1}])[0]
    assert (updated["quantity"], updated["version"]) == (6, 2)
    # A stale quantity change fails its transaction; the history delivered below
    # shows the local stack still reads the stream after a failed transaction.
    assert acme.call("PUT", "/inventory", [{"inventoryId": item_id, "quantity": "9", "version": 1}]).status_code == 409

    # Tag rules
    tag = acme.ok("POST", "/tags", [{"name": "Stocked"}], 201)[0]["id"]
    acme.ok("POST", "/tag-rules", [{"tagId": tag, "condition": {"field": "quantity", "op": "gte", "value": 5}}], 201)
    evaluated = acme.ok("POST", f"/inventory/{item_id}/tags/evaluate")
    assert evaluated == {"inventoryId": item_id, "companyId": acme.id, "assignedTagCount": 1}

    # Unreserve a reservation made for an order (orders arrive with issue 4)
    reservation = stock_service().reserve(
        acme.id,
        item_id,
        Decimal(2),
        Actor(id="e2e", name="E2E"),
        reference={"orderId": "o-1", "orderReference": "SO-1", "lineItemId": "l-1"},
    )
    linked = json.loads(acme.ok("GET", f"/inventory/{item_id}")["linkedOrders"])
    assert linked == [{"orderId": "o-1", "orderReference": "SO-1"}]
    links = acme.ok("POST", f"/inventory/{item_id}/unreserve")
    assert links == [
        {"linkId": reservation.reservation_id, "companyId": acme.id, "orderLineItemId": "l-1", "inventoryId": item_id}
    ]
    assert acme.ok("GET", f"/inventory/{item_id}")["productName"] == "Bar 50mm - Prev Reserved (SO-1)"

    # Delete, then the stream-fed history tells the story
    assert acme.ok("DELETE", "/inventory", {"ids": [item_id]}) == {"deletedCount": 1, "deletedIds": [item_id]}
    assert acme.call("GET", f"/inventory/{item_id}").status_code == 404
    assert acme.ok("GET", "/inventory") == []

    def deleted_in_history() -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = acme.ok("GET", f"/inventory/{item_id}/history")
        return events if events and events[-1]["changeType"] == "DELETE" else None

    events = eventually(deleted_in_history, timeout=5)
    assert events[0]["changeType"] == "CREATE"
    quantity_changes = [c for e in events for c in e["changes"] if c["field"] == "quantity"]
    assert [(c["old"], c["new"]) for c in quantity_changes] == [(None, 4), (4, 6)]


def test_missing_permission_is_403(stack: Stack, api: Api, make_tenant: MakeTenant) -> None:
    reader = Company(api, make_tenant("E2E reader", "inventory.read"))

    assert reader.call("GET", "/inventory").status_code == 200
    assert reader.call("POST", "/inventory-types", [{"label": "x"}]).status_code == 403
    assert reader.call("DELETE", "/inventory", {"ids": ["x"]}).status_code == 403
