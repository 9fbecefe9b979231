"""001 channels, availability, ATP matrix, analytics and operator-run jobs over HTTP against the local stack:
every route, its 400s, another company's ids and missing permissions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e
D = Decimal
INV = "/api/inventory"


class Company:
    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.base = api.base_url
        self.id = tenant.company_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {tenant.api_key}"

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, headers=headers, timeout=15)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        response = self.call(method, path, body, **headers)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)

    def fails(self, method: str, path: str, body: Any = None, status: int = 400) -> list[str]:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        error = response.json()
        assert isinstance(error["error"], str) and error["error"]
        return [d["field"] for d in error.get("details", [])]


class Shop:
    """Two locations, two channels, two products with stock, made through the documented routes."""

    def __init__(self, company: Company) -> None:
        self.c = company
        self.main = next(loc for loc in company.ok("GET", "/api/locations")["data"] if loc["isDefault"])
        self.store = company.ok("POST", "/api/locations", {"name": "Store"}, 201)
        self.web = company.ok("POST", f"{INV}/channels", {"code": "WEB", "name": "Web shop"}, 201)
        self.market = company.ok("POST", f"{INV}/channels", {"code": "MKT", "name": "Marketplace"}, 201)
        self.oak = company.ok("POST", "/api/products", {"name": "Oak shelf", "sku": "OAK-1"}, 201)
        self.elm = company.ok("POST", "/api/products", {"name": "Elm shelf", "sku": "ELM-1"}, 201)
        self.level(self.oak, 100, self.main["name"])
        self.level(self.oak, 20, "Store")
        self.level(self.elm, 8, self.main["name"])

    def level(self, product: dict[str, Any], quantity: int, location: str, kind: str = "restock") -> None:
        body = {"quantity": quantity, "locationName": location, "updateType": kind}
        self.c.ok("POST", f"/api/products/{product['id']}/stock-level-updates", body)


@pytest.fixture
def shop(api: Api, make_tenant: MakeTenant) -> Shop:
    return Shop(Company(api, make_tenant("E2E Shelf Co")))


@pytest.fixture
def rival(api: Api, make_tenant: MakeTenant) -> Shop:
    return Shop(Company(api, make_tenant("E2E Rival Shelves")))


@pytest.fixture
def reader(api: Api, make_tenant: MakeTenant) -> Company:
    """A key that may read inventory and nothing else."""
    return Company(api, make_tenant("E2E Reader", "inventory.read"))


def test_every_availability_route_over_http(shop: Shop) -> None:
    c = shop.c
    # Channels
    listed = c.ok("GET", f"{INV}/channels")
    assert [ch["code"] for ch in listed["data"]] == ["MKT", "WEB"]
    assert listed["pagination"] == {"page": 1, "limit": 50, "total": 2, "totalPages": 1}

    # An availability record, read back, listed
    body = {
        "locationId": shop.main["id"],
        "channels": [
            {"channelId": shop.web["id"], "mode": "percent", "value": "60", "buffer": "5"},
            {"channelId": shop.market["id"], "mode": "fixed", "value": "30"},
        ],
    }
    written = c.ok("POST", f"{INV}/availability/{shop.oak['id']}", body, **{"Idempotency-Key": "alloc-1"})
    assert {ch["channelId"]: ch["atp"] for ch in written["channels"]} == {shop.web["id"]: 55, shop.market["id"]: 30}
    replay = c.call("POST", f"{INV}/availability/{shop.oak['id']}", body, **{"Idempotency-Key": "alloc-1"})
    assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (200, "true")
    got = c.ok("GET", f"{INV}/availability/{shop.oak['id']}?locationId={shop.main['id']}")
    assert got["locations"] == [written]
    assert [r["productMasterId"] for r in c.ok("GET", f"{INV}/availability")["data"]] == [shop.oak["id"]]

    # The check
    check = {
        "lines": [
            {"productMasterId": shop.oak["id"], "quantity": "80", "channelId": shop.web["id"]},
            {"productMasterId": shop.elm["id"], "quantity": "8", "locationId": shop.main["id"]},
        ]
    }
    checked = c.ok("POST", f"{INV}/availability/check", check)
    assert checked["available"] is False
    # web: 55 at main (60% of 100 less 5) + 20 at the store (no record there: every channel takes all)
    assert [(line["available"], line["shortfall"]) for line in checked["lines"]] == [(75, 5), (8, 0)]

    # The matrix, its drilldown and the summary
    matrix = c.ok("GET", f"{INV}/channel-location?locationId={shop.main['id']}&search=shelf")
    assert [(r["productName"], r["channels"]) for r in matrix["data"]] == [
        ("Elm shelf", {shop.market["id"]: 8, shop.web["id"]: 8}),
        ("Oak shelf", {shop.market["id"]: 30, shop.web["id"]: 55}),
    ]
    assert matrix["pagination"] == {"page": 1, "limit": 50, "total": 2, "totalPages": 1}
    drill = c.ok(
        "GET", f"{INV}/channel-location/drilldown?locationId={shop.main['id']}&productMasterId={shop.oak['id']}"
    )
    assert (drill["totals"]["available"], drill["hasRecord"], len(drill["records"])) == (100, True, 1)
    summary = {s["code"]: (s["atp"], s["productCount"]) for s in c.ok("GET", f"{INV}/channel/summary")["data"]}
    assert summary == {"WEB": (55 + 20 + 8, 2), "MKT": (30 + 20 + 8, 2)}

    # Analytics, from the ledger
    shop.level(shop.oak, 5, shop.main["name"], "loss")
    today = datetime.now(UTC).date().isoformat()
    figures = c.ok("GET", f"{INV}/analytics?fromDate={today}&toDate={today}")
    assert (figures["onHand"], figures["received"], figures["skuCount"]) == (123, 128, 2)
    assert figures["adjustmentsByReason"]["LOSS"]["decrease"] == 5
    assert c.ok("GET", f"{INV}/analytics?locationId={shop.store['id']}")["onHand"] == 20

    # Jobs, for this company only
    assert c.ok("POST", "/jobs/reservation-expiry/run") == {"job": "reservation-expiry", "expired": 0}
    reconciled = c.ok("POST", "/jobs/reconciliation/run")
    assert (reconciled["checked"], reconciled["mismatches"]) == (3, [])


def test_bad_input_is_400_naming_the_field(shop: Shop) -> None:
    c = shop.c
    assert c.fails("POST", f"{INV}/channels", {"code": "X"}) == ["name"]
    assert c.fails("POST", f"{INV}/channels", {"code": "web", "name": "Again"}, 409) == ["code"]
    assert c.fails("GET", f"{INV}/channels?limit=0") == ["limit"]
    record = f"{INV}/availability/{shop.oak['id']}"
    base = {"locationId": shop.main["id"]}
    assert c.fails("POST", record, {**base, "channels": [{"channelId": shop.web["id"], "mode": "percent"}]}) == [
        "channels[0].value"
    ]
    too_much = [{"channelId": shop.web["id"], "mode": "percent", "value": "100.5"}]
    assert c.fails("POST", record, {**base, "channels": too_much}) == ["channels[0].value"]
    twice = [{"channelId": shop.web["id"], "mode": "all"}, {"channelId": shop.web["id"], "mode": "all"}]
    assert c.fails("POST", record, {**base, "channels": twice}) == ["channels[1].channelId"]
    assert c.fails("POST", record, {"channels": []}) == ["locationId"]
    assert c.fails("POST", f"{INV}/availability/check", {"lines": []}) == ["lines"]
    negative = {"lines": [{"productMasterId": shop.oak["id"], "quantity": "-1"}]}
    assert c.fails("POST", f"{INV}/availability/check", negative) == ["lines[0].quantity"]
    assert c.fails("GET", f"{INV}/availability?page=0") == ["page"]
    assert c.fails("GET", f"{INV}/channel-location") == ["locationId"]
    assert c.fails("GET", f"{INV}/channel-location?locationId={shop.main['id']}&limit=201") == ["limit"]
    assert c.fails("GET", f"{INV}/channel-location/drilldown?productMasterId={shop.oak['id']}") == ["locationId"]
    assert c.fails("GET", f"{INV}/analytics?toDate=31/12/2026") == ["toDate"]
    assert c.fails("GET", f"{INV}/analytics?fromDate=2026-12-02&toDate=2026-12-01") == ["fromDate"]
    assert "name" in c.fails("POST", "/jobs/thaw/run", status=404)


def test_another_companys_ids_are_404(shop: Shop, rival: Shop) -> None:
    c = shop.c
    mine = {"locationId": shop.main["id"], "channels": [{"channelId": shop.web["id"], "mode": "all"}]}
    c.fails("POST", f"{INV}/availability/{rival.oak['id']}", mine, 404)
    c.fails("GET", f"{INV}/availability/{rival.oak['id']}", status=404)
    their_place = {"locationId": rival.main["id"], "channels": []}
    assert c.fails("POST", f"{INV}/availability/{shop.oak['id']}", their_place, 404) == ["locationId"]
    their_channel = {"locationId": shop.main["id"], "channels": [{"channelId": rival.web["id"], "mode": "all"}]}
    assert c.fails("POST", f"{INV}/availability/{shop.oak['id']}", their_channel, 404) == ["channels[0].channelId"]
    line = {"lines": [{"productMasterId": shop.oak["id"], "quantity": 1, "locationId": rival.store["id"]}]}
    assert c.fails("POST", f"{INV}/availability/check", line, 404) == ["lines[0].locationId"]
    assert c.fails("GET", f"{INV}/channel-location?locationId={rival.main['id']}", status=404) == ["locationId"]
    c.fails("GET", f"{INV}/channel-location?locationId={shop.main['id']}&channels={rival.web['id']}", status=404)
    drill = f"{INV}/channel-location/drilldown?locationId={rival.main['id']}&productMasterId={shop.oak['id']}"
    assert c.fails("GET", drill, status=404) == ["locationId"]
    assert c.fails("GET", f"{INV}/analytics?locationId={rival.main['id']}", status=404) == ["locationId"]
    assert c.fails("GET", f"{INV}/channel/summary?locationId={rival.main['id']}", status=404) == ["locationId"]
    assert c.fails("GET", f"{INV}/availability?productMasterId={rival.oak['id']}", status=404) == ["productMasterId"]
    only_there = f"{INV}/availability/{shop.oak['id']}?locationId={rival.main['id']}"
    assert c.fails("GET", only_there, status=404) == ["locationId"]


def test_missing_permissions_are_403(shop: Shop, reader: Company, api: Api, make_tenant: MakeTenant) -> None:
    products_only = Company(api, make_tenant("E2E Catalogue clerk", "products.read"))
    for path in (
        f"{INV}/channels",
        f"{INV}/availability",
        f"{INV}/availability/{shop.oak['id']}",
        f"{INV}/channel/summary",
        f"{INV}/analytics",
        f"{INV}/channel-location?locationId={shop.main['id']}",
        f"{INV}/channel-location/drilldown?locationId={shop.main['id']}&productMasterId={shop.oak['id']}",
    ):
        products_only.fails("GET", path, status=403)
    products_only.fails("POST", f"{INV}/availability/check", {"lines": []}, 403)
    record = {"locationId": shop.main["id"], "channels": []}
    reader.fails("POST", f"{INV}/channels", {"code": "R", "name": "R"}, 403)
    reader.fails("POST", f"{INV}/availability/{shop.oak['id']}", record, 403)
    reader.fails("POST", "/jobs/reconciliation/run", status=403)
    # Reading is allowed: the reader's own (empty) company.
    assert reader.ok("GET", f"{INV}/channels")["data"] == []
    assert reader.ok("GET", f"{INV}/channel/summary")["data"] == []
    assert reader.ok("GET", f"{INV}/analytics")["movements"] == 0
    for path in (
        f"{INV}/channels",
        f"{INV}/availability",
        f"{INV}/channel/summary",
        f"{INV}/analytics",
        f"{INV}/channel-location?locationId=x",
    ):
        response = requests.get(shop.c.base + path, timeout=15)
        assert response.status_code == 401, path
