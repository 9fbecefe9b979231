"""003 order routes through the real app on moto: whole flows per route."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import Actor
from chalicelib.events import audit
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client, on_call
from tests.integration.company import Company, Refs, error_fields, make_company
from tests.integration.test_audit_stream import MainTableStream

pytestmark = pytest.mark.shared_aws

D = Decimal
BUYER = Actor(id="buyer", name="Buyer")
EVERYTHING = ("admin", "inventory.read", "inventory.write", "orders.read", "orders.write")
ORDER_FIELDS = {
    "createdAt",
    "updatedAt",
    "orderReference",
    "quantity",
    "orderDate",
    "deliveryDate",
    "site",
    "status",
    "active",
    "relatedOrganisationId",
    "customerName",
    "orderId",
    "companyId",
    "version",
}
DETAILS_ORDER = [
    "orderId",
    "companyId",
    "orderReference",
    "quantity",
    "orderDate",
    "deliveryDate",
    "site",
    "status",
    "active",
    "relatedOrganisationId",
    "customerName",
    "createdAt",
    "updatedAt",
    "version",
    "lineItems",
]
LINE_FIELDS = [
    "lineItemId",
    "orderId",
    "lineNumber",
    "productName",
    "type",
    "material",
    "diameter",
    "length",
    "width",
    "depth",
    "quantity",
    "weight",
    "requiredHeatCode",
    "certificationRequired",
    "notes",
    "active",
    "version",
    "createdAt",
    "updatedAt",
]


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme", EVERYTHING)


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other", EVERYTHING)


class Shop:
    """A company with a customer, reference data and helpers to write orders and stock."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.refs = Refs(company)
        self.customer = company.ok("POST", "/organisations", [{"name": "Bridge Builders"}], 201)[0]["id"]

    def line(self, **overrides: Any) -> dict[str, Any]:
        return {
            "productName": "Round bar 50mm",
            "type": self.refs.type,
            "material": self.refs.material,
            "diameter": "50",
            "length": "6000",
            "quantity": "2",
            "weight": "92.5",
            "requiredHeatCode": "H-1",
            "certificationRequired": True,
            "notes": "cut to length",
            **overrides,
        }

    def order(self, reference: str = "SO-1", *lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "orderReference": reference,
            "orderDate": "2026-11-02",
            "deliveryDate": "2026-11-20",
            "site": "North yard",
            "status": "open",
            "relatedOrganisationId": self.customer,
            **fields,
        }
        if lines:
            body["lineItems"] = list(lines)
        return body

    def create(self, *orders: dict[str, Any]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = self.company.ok("POST", "/orders", list(orders), 201)
        return created

    def bar(self, quantity: str = "10", name: str = "Bar 50mm") -> str:
        item = self.company.ok("POST", "/inventory", [self.refs.item(quantity=quantity, productName=name)], 201)[0]
        stock_id: str = item["inventoryId"]
        return stock_id


@pytest.fixture
def shop(acme: Company) -> Shop:
    return Shop(acme)


def reserve_path(order: dict[str, Any], line: dict[str, Any], stock_id: str, quantity: str, split: str) -> str:
    return (
        f"/orders/{order['orderId']}/line-items/{line['lineItemId']}/reserve"
        f"?inventoryId={stock_id}&reserveQuantity={quantity}&split={split}"
    )


def unreserve_path(order: dict[str, Any], line: dict[str, Any], stock_id: str) -> str:
    return f"/orders/{order['orderId']}/line-items/{line['lineItemId']}/reservations/{stock_id}"


def available(company: Company, stock_id: str) -> Decimal:
    return wiring.stock_service().get(company.id, stock_id).available


# -- create, get, list ---------------------------------------------------------


def test_create_with_lines_then_get_details_and_list(shop: Shop, acme: Company) -> None:
    response = acme.call(
        "POST", "/orders", [shop.order("SO-1", shop.line(), shop.line(productName="Plate 10mm", quantity="3"))]
    )
    assert response.status_code == 201, response.body
    created = json.loads(response.body)[0]

    assert set(created) == ORDER_FIELDS | {"lineItems"}
    assert created["companyId"] == acme.id
    assert created["customerName"] == "Bridge Builders"
    assert created["quantity"] == 5  # the sum of the lines, not a client value
    assert created["orderDate"] == "2026-11-02"
    assert [line["lineNumber"] for line in created["lineItems"]] == [1, 2]
    first = created["lineItems"][0]
    assert list(first) == LINE_FIELDS
    raw = json.loads(response.body, parse_float=str, parse_int=str)[0]["lineItems"][0]
    assert (raw["weight"], raw["diameter"]) == ("92.5", "50")
    assert first["requiredHeatCode"] == "H-1"
    assert first["certificationRequired"] is True
    assert first["orderId"] == created["orderId"]

    fetched = acme.ok("GET", f"/orders/{created['orderId']}")
    details = acme.ok("GET", f"/orders/{created['orderId']}/details")
    listed = acme.ok("GET", "/orders")

    assert fetched == created
    assert list(details) == DETAILS_ORDER
    assert details == created
    assert listed == [{k: v for k, v in created.items() if k != "lineItems"}]
    assert acme.ok("GET", "/orders/deleted") == []


def test_an_order_without_lines_keeps_its_quantity_and_server_owned_fields_are_ignored(
    shop: Shop, acme: Company, other: Company
) -> None:
    owned = {
        "companyId": other.id,
        "customerName": "Someone Else",
        "createdAt": "2000-01-01T00:00:00Z",
        "updatedAt": "2000-01-01T00:00:00Z",
    }

    created = shop.create(shop.order("SO-1", quantity="7", **owned))[0]
    updated = acme.ok("PUT", "/orders", [{**owned, "orderId": created["orderId"], "site": "South"}])[0]

    for order in (created, updated):
        assert order["companyId"] == acme.id
        assert order["customerName"] == "Bridge Builders"
        assert order["quantity"] == 7
        assert order["lineItems"] == []
        assert not order["createdAt"].startswith("2000")
    assert updated["site"] == "South"
    assert other.ok("GET", "/orders") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orderDate": "02/11/2026"}, "[1].orderDate"),
        ({"deliveryDate": "2026-13-40"}, "[1].deliveryDate"),
        ({"deliveryDate": "2026-11-01"}, "[1].deliveryDate"),  # before orderDate
        ({"quantity": "-1"}, "[1].quantity"),
        ({"status": "lost"}, "[1].status"),
        ({"orderReference": ""}, "[1].orderReference"),
        ({"lineItems": [{"productName": "Bar", "quantity": "-2"}]}, "[1].lineItems[0].quantity"),
        ({"lineItems": [{"productName": "Bar", "quantity": "abc"}]}, "[1].lineItems[0].quantity"),
        ({"lineItems": [{"productName": "Bar"}]}, "[1].lineItems[0].quantity"),
        ({"lineItems": [{"quantity": "1"}]}, "[1].lineItems[0].productName"),
        ({"lineItems": [{"productName": "Bar", "quantity": "1", "weight": "-3"}]}, "[1].lineItems[0].weight"),
        # Numbers DynamoDB could not store exactly are refused, not a 500
        ({"lineItems": [{"productName": "Bar", "quantity": "1e200"}]}, "[1].lineItems[0].quantity"),
        ({"lineItems": [{"productName": "Bar", "quantity": "1", "diameter": "1E-43"}]}, "[1].lineItems[0].diameter"),
        ({"quantity": "1e400000"}, "[1].quantity"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    shop: Shop, acme: Company, change: dict[str, Any], field: str
) -> None:
    response = acme.call("POST", "/orders", [shop.order("SO-1"), shop.order("SO-2", **change)])

    assert response.status_code == 400, response.body
    assert field in error_fields(response)
    assert acme.ok("GET", "/orders") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"relatedOrganisationId": "no-such-org"}, "[1].relatedOrganisationId"),
        ({"lineItems": [{"productName": "Bar", "quantity": "1", "type": "no-type"}]}, "[1].lineItems[0].type"),
    ],
)
def test_an_unknown_reference_is_404_naming_the_field_and_writes_nothing(
    shop: Shop, acme: Company, change: dict[str, Any], field: str
) -> None:
    response = acme.call("POST", "/orders", [shop.order("SO-1"), shop.order("SO-2", **change)])

    assert response.status_code == 404, response.body
    assert field in error_fields(response)
    assert acme.ok("GET", "/orders") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"orderReference": "x"}, "body"),
        ([{"orderReference": "A"}, {"orderReference": "a"}], "[1].orderReference"),
    ],
)
def test_malformed_bodies_are_400(acme: Company, body: Any, field: str) -> None:
    response = acme.call("POST", "/orders", body)

    assert response.status_code == 400, response.body
    assert field in error_fields(response)
    assert acme.ok("GET", "/orders") == []


def test_a_foreign_customer_is_an_unknown_reference(shop: Shop, acme: Company, other: Company) -> None:
    theirs = Shop(other)

    response = acme.call("POST", "/orders", [shop.order("SO-1", relatedOrganisationId=theirs.customer)])

    assert (response.status_code, error_fields(response)) == (404, ["[0].relatedOrganisationId"])


def test_a_taken_reference_is_409(shop: Shop, acme: Company) -> None:
    shop.create(shop.order("SO-1"))

    response = acme.call("POST", "/orders", [shop.order("so-1")])

    assert response.status_code == 409, response.body
    assert len(acme.ok("GET", "/orders")) == 1


def test_idempotent_create_retry_returns_the_same_ids(shop: Shop, acme: Company) -> None:
    headers = {"Idempotency-Key": "orders-1"}
    body = [shop.order("SO-1", shop.line()), shop.order("SO-2")]

    first = acme.call("POST", "/orders", body, headers)
    again = acme.call("POST", "/orders", body, headers)

    assert first.status_code == again.status_code == 201, first.body
    assert json.loads(first.body) == json.loads(again.body)
    # Past the response cache, the ids derived from the key still make the rerun create nothing new
    client("dynamodb").delete_item(
        TableName=get_settings().idempotency_table, Key={"pk": {"S": f"T#{acme.id}#IDEM"}, "sk": {"S": "orders-1"}}
    )
    rerun = json.loads(acme.call("POST", "/orders", body, headers).body)
    first_ids = [(o["orderId"], [x["lineItemId"] for x in o["lineItems"]]) for o in json.loads(first.body)]
    assert [(o["orderId"], [x["lineItemId"] for x in o["lineItems"]]) for o in rerun] == first_ids
    assert len(acme.ok("GET", "/orders")) == 2
    changed = acme.call("POST", "/orders", [shop.order("SO-3")], headers)
    assert changed.status_code == 422


def test_list_pages_with_a_signed_token(shop: Shop, acme: Company) -> None:
    shop.create(*[shop.order(f"SO-{i}") for i in range(5)])

    seen: list[str] = []
    token = None
    while True:
        response = acme.call("GET", "/orders?limit=2" + (f"&nextToken={token}" if token else ""))
        assert response.status_code == 200, response.body
        seen += [o["orderReference"] for o in json.loads(response.body)]
        token = response.headers.get("X-Next-Token")
        if not token:
            break
    assert sorted(seen) == [f"SO-{i}" for i in range(5)]
    assert acme.call("GET", "/orders?nextToken=forged.token").status_code == 400
    assert error_fields(acme.call("GET", "/orders?limit=abc")) == ["limit"]
    assert error_fields(acme.call("GET", "/orders/deleted?limit=0")) == ["limit"]


# -- update --------------------------------------------------------------------


def test_update_changes_lines_soft_deletes_missing_ones_and_recomputes_quantity(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line(quantity="2"), shop.line(productName="Plate", quantity="3")))[0]
    keep, drop = order["lineItems"]

    updated = acme.ok(
        "PUT",
        "/orders",
        [
            {
                "orderId": order["orderId"],
                "version": order["version"],
                "status": "confirmed",
                "quantity": "999",
                "lineItems": [
                    {"lineItemId": keep["lineItemId"], "quantity": "4", "version": keep["version"]},
                    {"productName": "Angle 40x40", "quantity": "1"},
                ],
            }
        ],
    )[0]

    assert updated["status"] == "confirmed"
    assert updated["version"] == order["version"] + 1
    assert updated["quantity"] == 5
    assert [(x["productName"], x["quantity"], x["lineNumber"]) for x in updated["lineItems"]] == [
        ("Round bar 50mm", 4, 1),
        ("Angle 40x40", 1, 3),
    ]
    assert updated["lineItems"][0]["lineItemId"] == keep["lineItemId"]
    assert acme.ok("GET", f"/orders/{order['orderId']}") == updated
    assert drop["lineItemId"] not in {x["lineItemId"] for x in updated["lineItems"]}


def test_stale_version_is_409_and_changes_nothing(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    acme.ok("PUT", "/orders", [{"orderId": order["orderId"], "site": "B"}])

    stale_order = acme.call("PUT", "/orders", [{"orderId": order["orderId"], "version": 1, "site": "C"}])
    stale_line = acme.call(
        "PUT",
        "/orders",
        [{"orderId": order["orderId"], "lineItems": [{"lineItemId": line["lineItemId"], "version": 9}]}],
    )

    assert (stale_order.status_code, error_fields(stale_order)) == (409, ["[0].version"])
    assert (stale_line.status_code, error_fields(stale_line)) == (409, ["[0].lineItems[0].version"])
    current = acme.ok("GET", f"/orders/{order['orderId']}")
    assert (current["site"], current["version"]) == ("B", 2)
    assert current["lineItems"] == order["lineItems"]


def test_update_bad_input_is_400_and_atomic(shop: Shop, acme: Company) -> None:
    a, b = shop.create(shop.order("SO-1"), shop.order("SO-2"))

    response = acme.call(
        "PUT",
        "/orders",
        [{"orderId": a["orderId"], "site": "X"}, {"orderId": b["orderId"], "orderDate": "yesterday"}],
    )
    missing_id = acme.call("PUT", "/orders", [{"site": "X"}])

    assert (response.status_code, error_fields(response)) == (400, ["[1].orderDate"])
    assert (missing_id.status_code, error_fields(missing_id)) == (400, ["[0].orderId"])
    assert acme.ok("GET", f"/orders/{a['orderId']}")["site"] == "North yard"


def test_update_with_three_mistakes_answers_once_naming_every_one(shop: Shop, acme: Company) -> None:
    # Given two orders, and an update that breaks a rule, names an unknown inventory type, names an
    # order that does not exist and breaks a rule only the stored order reveals (its orderDate)
    a, b = shop.create(shop.order("SO-1", shop.line()), shop.order("SO-2"))
    unknown_type = "0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"
    unknown_order = "7f6e5d4c-3b2a-4918-8a7b-6c5d4e3f2a1b"
    bad_line = shop.line(type=unknown_type, productName="  ")
    update = [
        {"orderId": a["orderId"], "status": "shipped-ish", "lineItems": [bad_line]},
        {"orderId": unknown_order, "site": "X"},
        {"orderId": b["orderId"], "deliveryDate": "2026-10-01"},
    ]

    # When
    response = acme.call("PUT", "/orders", update)

    # Then one 400 lists every problem, in request order: a broken rule makes the whole answer a 400,
    # as a create's does, with the unknown order and the unknown reference named beside it
    assert response.status_code == 400, response.body
    body = json.loads(response.body)
    assert body["code"] == "VALIDATION_ERROR"
    assert [(d["field"], d["message"]) for d in body["details"]] == [
        ("[0].status", "must be one of open, confirmed, in_progress, dispatched, completed, cancelled"),
        ("[0].lineItems[0].productName", "is required"),
        ("[0].lineItems[0].type", f"{unknown_type} not found"),
        ("[1].orderId", f"{unknown_order} not found"),
        ("[2].deliveryDate", "must not be before orderDate"),
    ]
    # And nothing changed
    assert acme.ok("GET", f"/orders/{a['orderId']}/details")["lineItems"] == a["lineItems"]
    assert acme.ok("GET", f"/orders/{b['orderId']}")["deliveryDate"] == b["deliveryDate"]


def test_update_naming_unknown_orders_and_no_broken_rule_is_one_404_listing_each(shop: Shop, acme: Company) -> None:
    a, b = shop.create(shop.order("SO-1"), shop.order("SO-2"))
    gone = ["7f6e5d4c-3b2a-4918-8a7b-6c5d4e3f2a1b", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"]
    update = [
        {"orderId": gone[0]},
        {"orderId": a["orderId"], "site": "Y"},
        {"orderId": gone[1]},
        {"orderId": b["orderId"], "version": 7, "site": "Z"},
    ]

    response = acme.call("PUT", "/orders", update)

    # Unknown orders make it a 404; the stale version is listed beside them, and nothing changed
    assert response.status_code == 404, response.body
    assert error_fields(response) == ["[0].orderId", "[2].orderId", "[3].version"]
    assert [acme.ok("GET", f"/orders/{o['orderId']}")["site"] for o in (a, b)] == ["North yard", "North yard"]
    # And a stale version alone is still the 409 it was
    stale = acme.call("PUT", "/orders", [{"orderId": b["orderId"], "version": 7, "site": "Z"}])
    assert (stale.status_code, error_fields(stale)) == (409, ["[0].version"])


# -- other companies and permissions ----------------------------------------------


def test_other_company_ids_are_404_and_other_company_path_is_403(shop: Shop, acme: Company, other: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("4")
    theirs = Shop(other)
    their_stock = theirs.bar("4")
    oid = order["orderId"]

    for suffix in ("", "/details", "/history"):
        assert other.call("GET", f"/orders/{oid}{suffix}").status_code == 404
    put = other.call("PUT", "/orders", [{"orderId": oid, "site": "X"}])
    assert (put.status_code, error_fields(put)) == (404, ["[0].orderId"])
    assert other.call("DELETE", "/orders", {"ids": [oid]}).status_code == 404
    assert other.call("POST", "/orders/restore", {"ids": [oid]}).status_code == 404
    assert other.call("POST", reserve_path(order, line, their_stock, "1", "1")).status_code == 404
    # Our order, their stock: the inventory item is another company's, so not found either
    foreign_stock = acme.call("POST", reserve_path(order, line, their_stock, "1", "1"))
    assert (foreign_stock.status_code, error_fields(foreign_stock)) == (404, ["inventoryId"])
    assert other.call("DELETE", unreserve_path(order, line, stock_id)).status_code == 404

    headers = {"X-API-Key": other.key, "Content-Type": "application/json"}
    base = f"/companies/{acme.id}/orders"
    assert other.http.http.get(base, headers=headers).status_code == 403
    assert other.http.http.get(f"{base}/{oid}", headers=headers).status_code == 403
    assert other.http.http.post(base, headers=headers, body=json.dumps([{"orderReference": "X"}])).status_code == 403
    assert acme.ok("GET", f"/orders/{oid}")["site"] == "North yard"
    assert available(other, their_stock) == 4
    assert [o["orderReference"] for o in acme.ok("GET", "/orders")] == ["SO-1"]


def test_a_key_without_orders_write_gets_403_on_every_write_route(http: Client, shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("4")
    _, key = wiring.tenant_service().issue_key(acme.id, "reader", ["orders.read", "inventory.read"], BUYER)
    reader = Company(http, acme.id, key)

    assert reader.call("GET", "/orders").status_code == 200
    assert reader.call("GET", f"/orders/{order['orderId']}").status_code == 200
    writes = [
        ("POST", "/orders", [shop.order("SO-2")]),
        ("PUT", "/orders", [{"orderId": order["orderId"], "site": "X"}]),
        ("DELETE", "/orders", {"ids": [order["orderId"]]}),
        ("POST", "/orders/restore", {"ids": [order["orderId"]]}),
        ("POST", reserve_path(order, line, stock_id, "1", "1"), None),
        ("DELETE", unreserve_path(order, line, stock_id), None),
    ]
    for method, path, body in writes:
        response = reader.call(method, path, body)
        assert response.status_code == 403, (method, path, response.body)
        assert "orders.write" in json.loads(response.body)["error"]
    assert [o["orderReference"] for o in acme.ok("GET", "/orders")] == ["SO-1"]
    assert available(acme, stock_id) == 4

    _, inventory_only = wiring.tenant_service().issue_key(acme.id, "stock", ["inventory.read"], BUYER)
    assert Company(http, acme.id, inventory_only).call("GET", "/orders").status_code == 403


# -- reserve and unreserve ----------------------------------------------------------


def test_reserve_with_split_moves_the_quantity_into_a_new_linked_row(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-7", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("10")

    result = acme.ok("POST", reserve_path(order, line, stock_id, "3", "1"))

    assert result["originalInventoryId"] == stock_id
    assert result["wasSplit"] is True
    assert result["orderLineItemId"] == line["lineItemId"]
    assert result["linkedInventoryId"] != stock_id
    original = acme.ok("GET", f"/inventory/{stock_id}")
    split_row = acme.ok("GET", f"/inventory/{result['linkedInventoryId']}")
    assert original["quantity"] == 7
    assert original["linkedOrders"] == "[]"
    assert split_row["quantity"] == 3
    assert split_row["productName"] == "Bar 50mm (SO-7)"
    assert json.loads(split_row["linkedOrders"]) == [{"orderId": order["orderId"], "orderReference": "SO-7"}]
    assert available(acme, result["linkedInventoryId"]) == 0
    assert available(acme, stock_id) == 7


def test_reserve_without_split_needs_the_full_quantity_and_never_over_reserves(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("4")

    partial = acme.call("POST", reserve_path(order, line, stock_id, "3", "0"))
    assert (partial.status_code, error_fields(partial)) == (400, ["reserveQuantity"])
    assert available(acme, stock_id) == 4

    result = acme.ok("POST", reserve_path(order, line, stock_id, "4", "0"))

    assert result == {
        "linkedInventoryId": stock_id,
        "originalInventoryId": stock_id,
        "wasSplit": False,
        "orderLineItemId": line["lineItemId"],
    }
    item = acme.ok("GET", f"/inventory/{stock_id}")
    assert json.loads(item["linkedOrders"]) == [{"orderId": order["orderId"], "orderReference": "SO-1"}]
    assert item["quantity"] == 4
    assert available(acme, stock_id) == 0
    again = acme.call("POST", reserve_path(order, line, stock_id, "1", "1"))
    assert again.status_code == 409, again.body
    assert error_fields(again) == ["reserveQuantity"]
    assert available(acme, stock_id) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("reserveQuantity=1&split=2", "split"),
        ("reserveQuantity=1&split=true", "split"),
        ("reserveQuantity=1", "split"),
        ("reserveQuantity=abc&split=1", "reserveQuantity"),
        ("reserveQuantity=-1&split=1", "reserveQuantity"),
        ("reserveQuantity=0&split=1", "reserveQuantity"),
        ("reserveQuantity=NaN&split=1", "reserveQuantity"),
        ("reserveQuantity=1e999999&split=1", "reserveQuantity"),
        ("split=1", "reserveQuantity"),
    ],
)
def test_bad_reserve_query_is_400_naming_it_and_reserves_nothing(
    shop: Shop, acme: Company, query: str, field: str
) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    stock_id = shop.bar("4")
    path = f"/orders/{order['orderId']}/line-items/{order['lineItems'][0]['lineItemId']}/reserve"

    response = acme.call("POST", f"{path}?inventoryId={stock_id}&{query}")

    assert response.status_code == 400, response.body
    assert field in error_fields(response)
    assert available(acme, stock_id) == 4
    assert len(acme.ok("GET", "/inventory")) == 1


def test_reserve_inputs_sent_as_a_json_body_are_a_400_naming_the_query_parameters(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    stock_id = shop.bar("4")
    path = f"/orders/{order['orderId']}/line-items/{order['lineItems'][0]['lineItemId']}/reserve"

    response = acme.call("POST", path, {"inventoryId": stock_id, "reserveQuantity": "4", "split": "0"})

    assert response.status_code == 400, response.body
    error = json.loads(response.body)
    assert error["code"] == "UNEXPECTED_BODY"
    assert "inventoryId, reserveQuantity, split as query parameters" in error["error"]
    assert available(acme, stock_id) == 4


def test_an_order_with_several_mistakes_names_each_in_one_answer(shop: Shop, acme: Company) -> None:
    bad = {
        "orderReference": "",
        "orderDate": "yesterday",
        "qty": 5,
        "lineItems": [{"productName": "Bar", "quantity": "-1", "colour": "red"}],
    }

    response = acme.call("POST", "/orders", [bad])

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) >= {
        "[0].orderReference",
        "[0].orderDate",
        "[0].qty",
        "[0].lineItems[0].quantity",
        "[0].lineItems[0].colour",
    }


def test_an_order_s_rule_mistakes_are_named_together_too(shop: Shop, acme: Company) -> None:
    bad = {
        "orderReference": "SO-9",
        "orderDate": "2026-12-10",
        "deliveryDate": "2026-12-01",
        "relatedOrganisationId": "nobody",
        "lineItems": [{"productName": "Bar", "quantity": "1", "type": "no-such-type"}],
    }

    response = acme.call("POST", "/orders", [bad])

    assert response.status_code in (400, 404), response.body
    assert set(error_fields(response)) >= {"[0].deliveryDate", "[0].relatedOrganisationId", "[0].lineItems[0].type"}


def test_reserve_needs_a_known_line_and_inventory_item(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("4")

    no_line = acme.call("POST", reserve_path(order, {"lineItemId": "nope"}, stock_id, "1", "1"))
    no_item = acme.call("POST", reserve_path(order, line, "nope", "1", "1"))
    no_id = acme.call("POST", f"/orders/{order['orderId']}/line-items/{line['lineItemId']}/reserve?reserveQuantity=1")

    assert (no_line.status_code, error_fields(no_line)) == (404, ["lineItemId"])
    assert (no_item.status_code, error_fields(no_item)) == (404, ["inventoryId"])
    assert no_id.status_code == 400
    assert set(error_fields(no_id)) == {"inventoryId", "split"}


def test_idempotent_reserve_reserves_once(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    stock_id = shop.bar("10")
    path = reserve_path(order, order["lineItems"][0], stock_id, "2", "1")
    headers = {"Idempotency-Key": "reserve-1"}

    first = acme.call("POST", path, headers=headers)
    client("dynamodb").delete_item(
        TableName=get_settings().idempotency_table, Key={"pk": {"S": f"T#{acme.id}#IDEM"}, "sk": {"S": "reserve-1"}}
    )
    rerun = acme.call("POST", path, headers=headers)

    assert first.status_code == rerun.status_code == 200, rerun.body
    assert json.loads(first.body) == json.loads(rerun.body)
    assert available(acme, stock_id) == 8
    assert len(acme.ok("GET", "/inventory")) == 2


def test_unreserve_returns_the_removed_link_and_keeps_the_split_row(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("10")
    split_row = acme.ok("POST", reserve_path(order, line, stock_id, "3", "1"))["linkedInventoryId"]
    link = wiring.order_service().reservations_of(acme.id, order["orderId"])[0]

    removed = acme.ok("DELETE", unreserve_path(order, line, split_row))

    assert removed == {
        "linkId": link.reservation_id,
        "companyId": acme.id,
        "orderLineItemId": line["lineItemId"],
        "inventoryId": split_row,
    }
    row = acme.ok("GET", f"/inventory/{split_row}")
    assert (row["quantity"], row["linkedOrders"]) == (3, "[]")
    assert available(acme, split_row) == 3
    assert acme.ok("GET", f"/inventory/{stock_id}")["quantity"] == 7
    again = acme.call("DELETE", unreserve_path(order, line, split_row))
    assert (again.status_code, error_fields(again)) == (404, ["inventoryId"])


def test_unreserve_reads_the_reservation_once_from_the_orders_register(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1", shop.line()))[0]
    line = order["lineItems"][0]
    stock_id = shop.bar("4")
    acme.ok("POST", reserve_path(order, line, stock_id, "4", "0"))
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        acme.ok("DELETE", unreserve_path(order, line, stock_id))
    finally:
        stop()

    # The API key, the order with its lines and reservation register, the registered reservations
    # (consistently), one transaction: no re-read.
    assert calls == ["GetItem", "Query", "BatchGetItem", "TransactWriteItems"]
    assert available(acme, stock_id) == 4


# -- delete and restore -----------------------------------------------------------


def test_delete_releases_reservations_and_restore_leaves_them_released(shop: Shop, acme: Company) -> None:
    order, kept = shop.create(shop.order("SO-1", shop.line()), shop.order("SO-2"))
    line = order["lineItems"][0]
    stock_id = shop.bar("4")
    acme.ok("POST", reserve_path(order, line, stock_id, "4", "0"))
    assert available(acme, stock_id) == 0

    missing = acme.call("DELETE", "/orders", {"ids": [order["orderId"], "nope"]})
    assert (missing.status_code, error_fields(missing)) == (404, ["[1].ids"])
    assert available(acme, stock_id) == 0

    deleted = acme.ok("DELETE", "/orders", {"ids": [order["orderId"]]})

    assert deleted == {"deletedCount": 1, "deletedIds": [order["orderId"]]}
    assert [o["orderId"] for o in acme.ok("GET", "/orders")] == [kept["orderId"]]
    listed_deleted = acme.ok("GET", "/orders/deleted")
    assert [(o["orderId"], o["active"]) for o in listed_deleted] == [(order["orderId"], False)]
    assert acme.call("GET", f"/orders/{order['orderId']}").status_code == 404
    assert available(acme, stock_id) == 4
    assert acme.ok("GET", f"/inventory/{stock_id}")["linkedOrders"] == "[]"

    restored = acme.ok("POST", "/orders/restore", {"ids": [order["orderId"]]})

    assert restored == {"deletedCount": 1, "deletedIds": [order["orderId"]]}
    back = acme.ok("GET", f"/orders/{order['orderId']}")
    assert back["active"] is True
    assert [x["lineItemId"] for x in back["lineItems"]] == [line["lineItemId"]]
    assert acme.ok("GET", "/orders/deleted") == []
    # The stock stays released; the line must be reserved again
    assert available(acme, stock_id) == 4
    assert acme.ok("GET", f"/inventory/{stock_id}")["linkedOrders"] == "[]"
    assert acme.ok("POST", reserve_path(back, line, stock_id, "4", "0"))["wasSplit"] is False


def test_restore_refuses_active_orders_and_bad_bodies(shop: Shop, acme: Company) -> None:
    order = shop.create(shop.order("SO-1"))[0]

    active = acme.call("POST", "/orders/restore", {"ids": [order["orderId"]]})
    empty = acme.call("POST", "/orders/restore", {"ids": []})
    no_body = acme.call("DELETE", "/orders")
    wrong = acme.call("DELETE", "/orders", {"ids": "x"})

    assert (active.status_code, error_fields(active)) == (404, ["[0].ids"])
    assert (empty.status_code, error_fields(empty)) == (400, ["ids"])
    assert (no_body.status_code, error_fields(no_body)) == (400, ["body"])
    assert (wrong.status_code, error_fields(wrong)) == (400, ["ids"])
    assert len(acme.ok("GET", "/orders")) == 1


# -- history -----------------------------------------------------------------------


def test_history_interleaves_order_and_line_events(shop: Shop, acme: Company) -> None:
    stream = MainTableStream()
    stream.take()  # what the module's other tests wrote
    order = shop.create(shop.order("SO-1", shop.line(quantity="2")))[0]
    line = order["lineItems"][0]
    acme.ok(
        "PUT",
        "/orders",
        [
            {
                "orderId": order["orderId"],
                "site": "South",
                "lineItems": [{"lineItemId": line["lineItemId"], "quantity": "5"}],
            }
        ],
    )
    acme.ok("DELETE", "/orders", {"ids": [order["orderId"]]})
    assert audit.handle({"Records": stream.take()}, None) == {"batchItemFailures": []}

    events = acme.ok("GET", f"/orders/{order['orderId']}/history")

    timeline = [(e["entityType"], e["changeType"]) for e in events]
    assert set(timeline) == {
        ("order", "CREATE"),
        ("orderLineItem", "CREATE"),
        ("order", "UPDATE"),
        ("orderLineItem", "UPDATE"),
        ("order", "DELETE"),
        ("orderLineItem", "DELETE"),
    }
    assert len(timeline) == 6
    assert [e["changedAt"] for e in events] == sorted(e["changedAt"] for e in events)
    order_update = next(e for e in events if e["entityType"] == "order" and e["changeType"] == "UPDATE")
    line_update = next(e for e in events if e["entityType"] == "orderLineItem" and e["changeType"] == "UPDATE")
    assert {c["field"]: (c["old"], c["new"]) for c in order_update["changes"]} == {
        "site": ("North yard", "South"),
        "quantity": (2, 5),
    }
    assert {c["field"]: (c["old"], c["new"]) for c in line_update["changes"]} == {"quantity": (2, 5)}
    assert line_update["entityId"] == line["lineItemId"]
    assert all(e["changedByName"] for e in events)


def test_an_orders_history_with_five_lines_is_one_query(shop: Shop, acme: Company) -> None:
    stream = MainTableStream()
    order = shop.create(shop.order("SO-5", *[shop.line(quantity=str(n)) for n in range(1, 6)]))[0]
    changed = [{"lineItemId": line["lineItemId"], "quantity": "9"} for line in order["lineItems"]]
    acme.ok("PUT", "/orders", [{"orderId": order["orderId"], "lineItems": changed}])
    assert audit.handle({"Records": stream.take()}, None) == {"batchItemFailures": []}
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        events = acme.ok("GET", f"/orders/{order['orderId']}/history")
    finally:
        stop()

    # The API key, the order's existence (its header), then one Query of the order's timeline.
    assert calls == ["GetItem", "BatchGetItem", "Query"]
    assert sorted((e["entityType"], e["changeType"]) for e in events) == sorted(
        [("order", "CREATE"), ("order", "UPDATE")]
        + [("orderLineItem", "CREATE")] * 5
        + [("orderLineItem", "UPDATE")] * 5
    )
    assert [e["changedAt"] for e in events] == sorted(e["changedAt"] for e in events)


# -- OpenAPI -------------------------------------------------------------------------


def test_openapi_documents_the_order_routes_and_line_item_fields(http: Client) -> None:
    document = json.loads(http.http.get("/openapi.json").body)
    schemas = document["components"]["schemas"]
    paths = document["paths"]

    def schema_of(ref_holder: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = schemas[ref_holder["$ref"].rsplit("/", 1)[1]]
        return schema

    line_out = schemas["LineItemOut"]
    assert list(line_out["properties"]) == LINE_FIELDS
    assert "mm" in line_out["properties"]["diameter"]["description"]
    line_in = schemas["LineItemIn"]
    assert {"productName", "quantity", "weight", "requiredHeatCode", "certificationRequired"} <= set(
        line_in["properties"]
    )
    create = paths["/companies/{companyId}/orders"]["post"]
    assert create["x-permissions"] == ["orders.write"]
    assert "201" in create["responses"]
    reserve = paths["/companies/{companyId}/orders/{orderId}/line-items/{lineItemId}/reserve"]["post"]
    params = {p["name"]: p for p in reserve["parameters"]}
    assert {"inventoryId", "reserveQuantity", "split"} <= set(params)
    assert params["split"]["required"] is True
    details = paths["/companies/{companyId}/orders/{orderId}/details"]["get"]
    details_schema = schema_of(details["responses"]["200"]["content"]["application/json"]["schema"])
    assert list(details_schema["properties"]) == DETAILS_ORDER
    restore = paths["/companies/{companyId}/orders/restore"]["post"]
    assert "restored" in restore["description"].lower()
