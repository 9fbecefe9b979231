"""001 channels, availability, ATP, analytics and operator-run jobs through the real app on moto."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client, on_call
from chalicelib.storage.codec import to_attrs
from tests.integration.maker import Maker, fields_of, make_maker

pytestmark = pytest.mark.shared_aws
D = Decimal
ACTOR = Actor(id="u1", name="Planner")
INV = "/api/inventory"


class Shop:
    """A company with two locations, two channels and stock of a few products."""

    def __init__(self, maker: Maker) -> None:
        self.m = maker
        self.main = maker.default_location()
        self.store = maker.location("Store")
        self.web = maker.ok("POST", f"{INV}/channels", {"code": "WEB", "name": "Web shop"}, 201)
        self.market = maker.ok("POST", f"{INV}/channels", {"code": "MKT", "name": "Marketplace"}, 201)
        self.oak = maker.product("Oak shelf", sku="OAK-1")
        self.elm = maker.product("Elm shelf", sku="ELM-1")
        maker.level("products", self.oak["id"], "restock", 100, self.main["name"])
        maker.level("products", self.oak["id"], "restock", 20, "Store")
        maker.level("products", self.elm["id"], "restock", 8, self.main["name"])

    def oak_record(self) -> str:
        records = wiring.stock_store().records_for_product(self.m.id, self.oak["id"])
        return next(r.stock_id for r in records if r.location_id == self.main["id"])


@pytest.fixture
def shop(http: Client) -> Shop:
    return Shop(make_maker(http, "Shelf Co"))


@pytest.fixture
def rival(http: Client) -> Shop:
    return Shop(make_maker(http, "Rival Co"))


def test_channels_are_created_listed_unique_and_permissioned(http: Client, shop: Shop) -> None:
    listed = shop.m.ok("GET", f"{INV}/channels")
    assert [c["code"] for c in listed["data"]] == ["MKT", "WEB"]
    assert listed["pagination"] == {"page": 1, "limit": 50, "total": 2, "totalPages": 1}
    assert shop.m.ok("GET", f"{INV}/channels?page=2&limit=1")["data"][0]["code"] == "WEB"
    assert fields_of(shop.m.error("POST", f"{INV}/channels", {"code": "web", "name": "Again"}, 409)) == ["code"]
    assert fields_of(shop.m.error("POST", f"{INV}/channels", {"code": "X"})) == ["name"]
    assert fields_of(shop.m.error("POST", f"{INV}/channels", {"code": "X", "name": "Y", "colour": 1})) == ["colour"]
    assert fields_of(shop.m.error("GET", f"{INV}/channels?limit=201")) == ["limit"]
    reader = make_maker(http, "Reader", ("inventory.read",))
    reader.error("POST", f"{INV}/channels", {"code": "R", "name": "R"}, 403)
    assert reader.ok("GET", f"{INV}/channels")["data"] == []  # another company sees none of them
    # A retried create with the same Idempotency-Key makes one channel.
    headers = {"Idempotency-Key": "chan-1"}
    first = shop.m.ok("POST", f"{INV}/channels", {"code": "POS", "name": "Tills"}, 201, headers=headers)
    again = shop.m.ok("POST", f"{INV}/channels", {"code": "POS", "name": "Tills"}, 201, headers=headers)
    assert first == again


def test_an_availability_record_computes_atp_from_available(shop: Shop) -> None:
    stock = wiring.stock_service()
    record = shop.oak_record()
    stock.reserve(shop.m.id, record, D(10), ACTOR)
    stock.hold(shop.m.id, record, D(10), "damaged", ACTOR)
    body = {
        "locationId": shop.main["id"],
        "channels": [
            {"channelId": shop.web["id"], "mode": "percent", "value": "60", "buffer": "5"},
            {"channelId": shop.market["id"], "mode": "fixed", "value": "30"},
        ],
    }
    written = shop.m.ok("POST", f"{INV}/availability/{shop.oak['id']}", body)
    assert (written["onHand"], written["reserved"], written["held"], written["available"]) == (100, 10, 10, 80)
    assert [(c["channelId"], c["atp"]) for c in written["channels"]] == [
        (shop.web["id"], D(43)),
        (shop.market["id"], D(30)),
    ]
    assert written["version"] == 1
    got = shop.m.ok("GET", f"{INV}/availability/{shop.oak['id']}")
    by_place = {p["locationId"]: p for p in got["locations"]}
    assert by_place[shop.main["id"]] == written
    store = by_place[shop.store["id"]]  # no record at the store: every channel takes all
    assert (store["hasRecord"], {c["channelId"]: c["atp"] for c in store["channels"]}) == (
        False,
        {shop.web["id"]: 20, shop.market["id"]: 20},
    )
    only = shop.m.ok("GET", f"{INV}/availability/{shop.oak['id']}?locationId={shop.store['id']}")
    assert [p["locationId"] for p in only["locations"]] == [shop.store["id"]]
    listed = shop.m.ok("GET", f"{INV}/availability")
    assert [(r["productMasterId"], r["productName"]) for r in listed["data"]] == [(shop.oak["id"], "Oak shelf")]
    assert listed["data"][0]["channels"] == written["channels"]
    assert shop.m.ok("GET", f"{INV}/availability?locationId={shop.store['id']}")["pagination"]["total"] == 0
    body["channels"] = [{"channelId": shop.web["id"], "mode": "all"}]
    assert shop.m.ok("POST", f"{INV}/availability/{shop.oak['id']}", body)["version"] == 2


@pytest.mark.parametrize(
    ("channel", "field"),
    [
        ({"mode": "percent", "value": "101"}, "channels[0].value"),
        ({"mode": "percent"}, "channels[0].value"),
        ({"mode": "all", "value": "3"}, "channels[0].value"),
        ({"mode": "fixed", "value": "-1"}, "channels[0].value"),
        ({"mode": "share"}, "channels[0].mode"),
        ({"mode": "all", "buffer": "-2"}, "channels[0].buffer"),
        ({"mode": "all", "buffer": "1e200"}, "channels[0].buffer"),
    ],
)
def test_bad_allocations_are_400_naming_the_field(shop: Shop, channel: dict[str, Any], field: str) -> None:
    body = {"locationId": shop.main["id"], "channels": [{"channelId": shop.web["id"], **channel}]}
    assert field in fields_of(shop.m.error("POST", f"{INV}/availability/{shop.oak['id']}", body))


def test_another_companys_ids_are_404(shop: Shop, rival: Shop) -> None:
    mine = {"locationId": shop.main["id"], "channels": [{"channelId": shop.web["id"], "mode": "all"}]}
    shop.m.error("POST", f"{INV}/availability/{rival.oak['id']}", mine, 404)
    shop.m.error("GET", f"{INV}/availability/{rival.oak['id']}", status=404)
    theirs = {"locationId": rival.main["id"], "channels": [{"channelId": shop.web["id"], "mode": "all"}]}
    assert fields_of(shop.m.error("POST", f"{INV}/availability/{shop.oak['id']}", theirs, 404)) == ["locationId"]
    their_channel = {"locationId": shop.main["id"], "channels": [{"channelId": rival.web["id"], "mode": "all"}]}
    found = shop.m.error("POST", f"{INV}/availability/{shop.oak['id']}", their_channel, 404)
    assert fields_of(found) == ["channels[0].channelId"]
    shop.m.error("GET", f"{INV}/channel-location?locationId={rival.main['id']}", status=404)
    drill = f"{INV}/channel-location/drilldown?locationId={shop.main['id']}&productMasterId={rival.oak['id']}"
    assert fields_of(shop.m.error("GET", drill, status=404)) == ["productMasterId"]
    check = {"lines": [{"productMasterId": rival.oak["id"], "quantity": 1}]}
    assert fields_of(shop.m.error("POST", f"{INV}/availability/check", check, 404)) == ["lines[0].productMasterId"]
    for path, field in (
        (f"{INV}/analytics?locationId={rival.main['id']}", "locationId"),
        (f"{INV}/channel/summary?locationId={rival.main['id']}", "locationId"),
        (f"{INV}/availability?locationId={rival.main['id']}", "locationId"),
        (f"{INV}/availability?productMasterId={rival.oak['id']}", "productMasterId"),
        (f"{INV}/availability/{shop.oak['id']}?locationId={rival.main['id']}", "locationId"),
    ):
        assert fields_of(shop.m.error("GET", path, status=404)) == [field], path


def test_check_says_what_falls_short(shop: Shop) -> None:
    body = {
        "lines": [
            {"productMasterId": shop.oak["id"], "quantity": "110"},
            {"productMasterId": shop.oak["id"], "quantity": "110", "locationId": shop.main["id"]},
            {"productMasterId": shop.elm["id"], "quantity": "3", "channelId": shop.web["id"]},
        ]
    }
    checked = shop.m.ok("POST", f"{INV}/availability/check", body)
    assert checked["available"] is False
    assert [(line["available"], line["shortfall"]) for line in checked["lines"]] == [(120, 0), (100, 10), (8, 0)]
    assert fields_of(shop.m.error("POST", f"{INV}/availability/check", {"lines": []})) == ["lines"]
    bad = {"lines": [{"productMasterId": shop.oak["id"], "quantity": 0}]}
    assert fields_of(shop.m.error("POST", f"{INV}/availability/check", bad)) == ["lines[0].quantity"]


def test_the_matrix_pages_searches_filters_and_costs_no_call_per_product(shop: Shop) -> None:
    m = shop.m
    for i in range(12):
        product = m.product(f"Pine {i:02d}", sku=f"PINE-{i:02d}")
        m.level("products", product["id"], "restock", i + 1, shop.main["name"])
    body = {"locationId": shop.main["id"], "channels": [{"channelId": shop.web["id"], "mode": "fixed", "value": "7"}]}
    m.ok("POST", f"{INV}/availability/{shop.oak['id']}", body)
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation))
    try:
        page = m.ok("GET", f"{INV}/channel-location?locationId={shop.main['id']}&limit=10")
    finally:
        unsubscribe()
    # auth GetItem, the location's stock (gsi2 Query), its products and the location (BatchGetItem), the
    # channels (Query), the page's records (BatchGetItem): whatever the page size, never a call per product
    assert calls == ["GetItem", "Query", "BatchGetItem", "Query", "BatchGetItem"]
    assert page["pagination"] == {"page": 1, "limit": 10, "total": 14, "totalPages": 2}
    assert [r["productName"] for r in page["data"]][:3] == ["Elm shelf", "Oak shelf", "Pine 00"]
    oak = page["data"][1]
    assert (oak["onHand"], oak["available"], oak["channels"]) == (100, 100, {shop.web["id"]: 7, shop.market["id"]: 0})
    assert page["data"][0]["channels"] == {shop.web["id"]: 8, shop.market["id"]: 8}
    assert [c["code"] for c in page["channels"]] == ["MKT", "WEB"]
    found = m.ok("GET", f"{INV}/channel-location?locationId={shop.main['id']}&search=pine-1")
    assert [r["sku"] for r in found["data"]] == ["PINE-10", "PINE-11"]
    only = m.ok("GET", f"{INV}/channel-location?locationId={shop.main['id']}&channels={shop.web['id']}&limit=1")
    assert list(only["data"][0]["channels"]) == [shop.web["id"]]
    assert fields_of(m.error("GET", f"{INV}/channel-location")) == ["locationId"]
    assert fields_of(m.error("GET", f"{INV}/channel-location?locationId=x&limit=500")) == ["limit"]
    assert fields_of(m.error("GET", f"{INV}/channel-location?locationId=x&page=0")) == ["page"]
    m.error("GET", f"{INV}/channel-location?locationId={shop.main['id']}&channels=ghost", status=404)


def test_drilldown_and_summary(shop: Shop) -> None:
    stock = wiring.stock_service()
    record = shop.oak_record()
    stock.reserve(shop.m.id, record, D(4), ACTOR, reference={"channel": "web"})
    stock.hold(shop.m.id, record, D(6), "inspection", ACTOR)
    path = f"{INV}/channel-location/drilldown?locationId={shop.main['id']}&productMasterId={shop.oak['id']}"
    found = shop.m.ok("GET", path)
    assert found["totals"] == {"onHand": 100, "reserved": 4, "held": 6, "available": 90}
    assert [r["id"] for r in found["records"]] == [record]
    assert [(h["quantity"], h["reason"]) for h in found["holds"]] == [(6, "inspection")]
    assert [(r["quantity"], r["reference"]) for r in found["reservations"]] == [(4, {"channel": "web"})]
    assert {c["name"]: c["atp"] for c in found["channels"]} == {"Web shop": 90, "Marketplace": 90}
    missing = f"{INV}/channel-location/drilldown?locationId={shop.main['id']}"
    assert fields_of(shop.m.error("GET", missing)) == ["productMasterId"]
    summary = shop.m.ok("GET", f"{INV}/channel/summary")["data"]
    assert {s["code"]: (s["atp"], s["productCount"]) for s in summary} == {"WEB": (118, 2), "MKT": (118, 2)}
    at_store = shop.m.ok("GET", f"{INV}/channel/summary?locationId={shop.store['id']}")["data"]
    assert {s["code"]: s["atp"] for s in at_store} == {"WEB": 20, "MKT": 20}


def test_analytics_from_the_ledger(http: Client, shop: Shop) -> None:
    m = shop.m
    m.level("products", shop.oak["id"], "loss", 5, shop.main["name"])
    today = utcnow().date().isoformat()
    found = m.ok("GET", f"{INV}/analytics?fromDate={today}&toDate={today}")
    assert (found["onHand"], found["skuCount"], found["received"]) == (123, 2, 128)
    assert found["adjustmentsByReason"] == {"LOSS": {"count": 1, "increase": 0, "decrease": 5, "net": -5}}
    assert [t["productName"] for t in found["topMovers"]] == ["Oak shelf", "Elm shelf"]
    at_store = m.ok("GET", f"{INV}/analytics?locationId={shop.store['id']}")
    assert (at_store["onHand"], at_store["received"]) == (20, 20)
    assert m.ok("GET", f"{INV}/analytics?categoryId=none")["movements"] == 0
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    later = m.ok("GET", f"{INV}/analytics?fromDate={tomorrow}&toDate={tomorrow}")
    assert (later["onHand"], later["received"], later["movements"]) == (123, 0, 0)  # stock as at the end
    assert fields_of(m.error("GET", f"{INV}/analytics?fromDate=yesterday")) == ["fromDate"]
    assert fields_of(m.error("GET", f"{INV}/analytics?fromDate={tomorrow}&toDate={today}")) == ["fromDate"]
    # Found by the 100-case fuzz: an empty id reached DynamoDB as an empty key (a 500).
    assert fields_of(m.error("GET", f"{INV}/analytics?toDate=&locationId=&categoryId=x")) == ["locationId"]
    assert fields_of(m.error("GET", f"{INV}/analytics?categoryId=")) == ["categoryId"]
    assert fields_of(m.error("GET", f"{INV}/availability?locationId=")) == ["locationId"]
    make_maker(http, "No rights", ("products.read",)).error("GET", f"{INV}/analytics", status=403)


def test_every_movement_is_on_the_ledger_time_index(shop: Shop) -> None:
    stock = wiring.stock_service()
    record = shop.oak_record()
    stock.adjust(shop.m.id, record, D(-1), ACTOR)
    reservation = stock.reserve(shop.m.id, record, D(2), ACTOR)
    stock.fulfil(shop.m.id, reservation.reservation_id, ACTOR)
    ddb, table = client("dynamodb"), get_settings().main_table
    per_record = 0
    for r in wiring.stock_service().all_records(shop.m.id):
        per_record += ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.ledger_partition(shop.m.id, r.stock_id)}),
            Select="COUNT",
        )["Count"]
    by_time = ddb.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues=to_attrs({":pk": keys.ledger_by_time_partition(shop.m.id)}),
        Select="COUNT",
    )["Count"]
    assert by_time == per_record >= 5


def test_operators_run_jobs_for_their_own_company(http: Client, shop: Shop, rival: Shop) -> None:
    stock = wiring.stock_service()
    past = utcnow() - timedelta(minutes=1)
    stock.reserve(shop.m.id, shop.oak_record(), D(3), ACTOR, expires_at=past)
    stock.reserve(rival.m.id, rival.oak_record(), D(3), ACTOR, expires_at=past)
    assert shop.m.ok("POST", "/jobs/reservation-expiry/run") == {"job": "reservation-expiry", "expired": 1}
    assert stock.get(rival.m.id, rival.oak_record()).reserved == 3  # another company's are left alone
    assert shop.m.ok("POST", "/jobs/reservation-expiry/run")["expired"] == 0
    reconciled = shop.m.ok("POST", "/jobs/reconciliation/run")
    assert (reconciled["checked"], reconciled["mismatches"]) == (3, [])
    unknown = shop.m.error("POST", "/jobs/defrost/run", status=404)
    assert "reconciliation" in unknown["details"][0]["message"]
    make_maker(http, "Clerk", ("inventory.write",)).error("POST", "/jobs/reconciliation/run", status=403)


def test_answers_match_the_documented_models(shop: Shop) -> None:
    from pydantic import TypeAdapter

    from chalicelib.http.routing import ENDPOINTS

    models = {(e.method, e.path): e.response for e in ENDPOINTS}
    body = {"locationId": shop.main["id"], "channels": [{"channelId": shop.web["id"], "mode": "all"}]}
    oak = shop.oak["id"]
    drill = f"{INV}/channel-location/drilldown?locationId={shop.main['id']}&productMasterId={oak}"
    calls = [
        ("GET", f"{INV}/channels", None, "/api/inventory/channels"),
        ("POST", f"{INV}/availability/{oak}", body, "/api/inventory/availability/{id}"),
        ("GET", f"{INV}/availability/{oak}", None, "/api/inventory/availability/{id}"),
        ("GET", f"{INV}/availability", None, "/api/inventory/availability"),
        ("GET", f"{INV}/channel-location?locationId={shop.main['id']}", None, "/api/inventory/channel-location"),
        ("GET", drill, None, "/api/inventory/channel-location/drilldown"),
        ("GET", f"{INV}/channel/summary", None, "/api/inventory/channel/summary"),
        ("GET", f"{INV}/analytics", None, "/api/inventory/analytics"),
        ("POST", "/jobs/reconciliation/run", None, "/jobs/{name}/run"),
    ]
    for method, path, sent, route in calls:
        TypeAdapter(models[(method, route)]).validate_python(shop.m.ok(method, path, sent))
    check = {"lines": [{"productMasterId": oak, "quantity": 1}]}
    TypeAdapter(models[("POST", "/api/inventory/availability/check")]).validate_python(
        shop.m.ok("POST", f"{INV}/availability/check", check)
    )
