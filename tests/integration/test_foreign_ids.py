"""Another company's ids sent in request bodies and query strings of the 000 (company inventory) and 003
(company orders) surfaces: each is a 404 naming the field, as an unknown id is, nothing is written, and
no answer carries anything of the other company."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from tests.integration.company import Company, Refs, error_fields, make_company

SECRET = "Zz-their-secret"


@dataclass
class Theirs:
    """One of each object of the other company, each labelled with SECRET so a leak shows."""

    location: str
    type: str
    material: str
    supplier: str
    tag: str
    cert: str
    item: str
    order: str
    line: str


@dataclass
class Mine:
    refs: Refs
    item: str
    order: str
    line: str
    tag: str


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme", tuple(sorted(ALL_PERMISSIONS)))


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other", tuple(sorted(ALL_PERMISSIONS)))


def _first(company: Company, path: str, body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = company.ok("POST", path, [body], 201)[0]
    return found


def _order(company: Company, refs: Refs, reference: str, customer: str | None = None) -> dict[str, Any]:
    line = {"productName": f"{SECRET} bar", "quantity": "2", "type": refs.type, "material": refs.material}
    body: dict[str, Any] = {"orderReference": reference, "orderDate": "2026-11-02", "lineItems": [line]}
    if customer:
        body["relatedOrganisationId"] = customer
    return _first(company, "/orders", body)


@pytest.fixture
def theirs(other: Company) -> Theirs:
    refs = Refs(other)
    location = _first(other, "/stock-locations", {"label": f"{SECRET} yard"})["id"]
    supplier = _first(other, "/organisations", {"name": f"{SECRET} steel"})["id"]
    tag = _first(other, "/tags", {"name": f"{SECRET} tag"})["id"]
    item = _first(other, "/inventory", refs.item(productName=f"{SECRET} item", stockLocationId=location))
    order = _order(other, refs, f"{SECRET}-SO", supplier)
    return Theirs(
        location=location,
        type=refs.type,
        material=refs.material,
        supplier=supplier,
        tag=tag,
        cert=refs.cert,
        item=item["inventoryId"],
        order=order["orderId"],
        line=order["lineItems"][0]["lineItemId"],
    )


@pytest.fixture
def mine(acme: Company) -> Mine:
    refs = Refs(acme)
    item = _first(acme, "/inventory", refs.item())
    order = _order(acme, refs, "SO-1")
    tag = _first(acme, "/tags", {"name": "Mine"})["id"]
    return Mine(refs, item["inventoryId"], order["orderId"], order["lineItems"][0]["lineItemId"], tag)


Case = tuple[str, Callable[[Mine, Theirs], str], Callable[[Mine, Theirs], Any], str]
RULE = {"field": "length", "op": "gte", "value": 6000}

# (method, path, body, the field the 404 names): every id a 000 or 003 body or query takes. A delete names
# the entry (`[i].id` / `[i].ids`, as those routes always have). An order line's `lineItemId` is not here: a
# GUID that names no line of the order adds a line under it, as documented (it is the client's new id).
CASES: dict[str, Case] = {
    "inventory create stockLocationId": (
        "POST",
        lambda m, t: "/inventory",
        lambda m, t: [m.refs.item(stockLocationId=t.location)],
        "[0].stockLocationId",
    ),
    "inventory create type": ("POST", lambda m, t: "/inventory", lambda m, t: [m.refs.item(type=t.type)], "[0].type"),
    "inventory create material": (
        "POST",
        lambda m, t: "/inventory",
        lambda m, t: [m.refs.item(material=t.material)],
        "[0].material",
    ),
    "inventory create supplierId": (
        "POST",
        lambda m, t: "/inventory",
        lambda m, t: [m.refs.item(supplierId=t.supplier)],
        "[0].supplierId",
    ),
    "inventory create tags": (
        "POST",
        lambda m, t: "/inventory",
        lambda m, t: [m.refs.item(tags=[t.tag])],
        "[0].tags[0]",
    ),
    "inventory update stockLocationId": (
        "PUT",
        lambda m, t: "/inventory",
        lambda m, t: [{"inventoryId": m.item, "stockLocationId": t.location}],
        "[0].stockLocationId",
    ),
    "inventory update type": (
        "PUT",
        lambda m, t: "/inventory",
        lambda m, t: [{"inventoryId": m.item, "type": t.type}],
        "[0].type",
    ),
    "inventory update supplierId": (
        "PUT",
        lambda m, t: "/inventory",
        lambda m, t: [{"inventoryId": m.item, "supplierId": t.supplier}],
        "[0].supplierId",
    ),
    "inventory update tags": (
        "PUT",
        lambda m, t: "/inventory",
        lambda m, t: [{"inventoryId": m.item, "tags": [t.tag]}],
        "[0].tags[0]",
    ),
    "inventory update inventoryId": (
        "PUT",
        lambda m, t: "/inventory",
        lambda m, t: [{"inventoryId": t.item, "quantity": "1"}],
        "[0].inventoryId",
    ),
    "inventory delete ids": ("DELETE", lambda m, t: "/inventory", lambda m, t: {"ids": [t.item]}, "[0].ids"),
    "certificate create supplierId": (
        "POST",
        lambda m, t: "/mill-certifications",
        lambda m, t: [{"heatCode": "H-9", "supplierId": t.supplier}],
        "[0].supplierId",
    ),
    "certificate update id": (
        "PUT",
        lambda m, t: "/mill-certifications",
        lambda m, t: [{"id": t.cert, "heatCode": "H-9"}],
        "[0].id",
    ),
    "certificate delete ids": ("DELETE", lambda m, t: "/mill-certifications", lambda m, t: {"ids": [t.cert]}, "[0].id"),
    "tag rule create tagId": (
        "POST",
        lambda m, t: "/tag-rules",
        lambda m, t: [{"tagId": t.tag, "condition": RULE}],
        "[0].tagId",
    ),
    "location update id": (
        "PUT",
        lambda m, t: "/stock-locations",
        lambda m, t: [{"id": t.location, "label": "Moved"}],
        "[0].id",
    ),
    "location delete ids": ("DELETE", lambda m, t: "/stock-locations", lambda m, t: {"ids": [t.location]}, "[0].id"),
    "type delete ids": ("DELETE", lambda m, t: "/inventory-types", lambda m, t: {"ids": [t.type]}, "[0].id"),
    "organisation update id": (
        "PUT",
        lambda m, t: "/organisations",
        lambda m, t: [{"id": t.supplier, "name": "Mine now"}],
        "[0].id",
    ),
    "tag delete ids": ("DELETE", lambda m, t: "/tags", lambda m, t: {"ids": [t.tag]}, "[0].id"),
    "order create relatedOrganisationId": (
        "POST",
        lambda m, t: "/orders",
        lambda m, t: [{"orderReference": "SO-9", "orderDate": "2026-11-02", "relatedOrganisationId": t.supplier}],
        "[0].relatedOrganisationId",
    ),
    "order create line type": (
        "POST",
        lambda m, t: "/orders",
        lambda m, t: [
            {
                "orderReference": "SO-9",
                "orderDate": "2026-11-02",
                "lineItems": [{"productName": "Bar", "quantity": "1", "type": t.type}],
            }
        ],
        "[0].lineItems[0].type",
    ),
    "order update orderId": (
        "PUT",
        lambda m, t: "/orders",
        lambda m, t: [{"orderId": t.order, "site": "Moved"}],
        "[0].orderId",
    ),
    "order update relatedOrganisationId": (
        "PUT",
        lambda m, t: "/orders",
        lambda m, t: [{"orderId": m.order, "relatedOrganisationId": t.supplier}],
        "[0].relatedOrganisationId",
    ),
    "order delete ids": ("DELETE", lambda m, t: "/orders", lambda m, t: {"ids": [t.order]}, "[0].ids"),
    "order restore ids": ("POST", lambda m, t: "/orders/restore", lambda m, t: {"ids": [t.order]}, "[0].ids"),
    "reserve query inventoryId": (
        "POST",
        lambda m, t: f"/orders/{m.order}/line-items/{m.line}/reserve?inventoryId={t.item}&reserveQuantity=1&split=1",
        lambda m, t: None,
        "inventoryId",
    ),
}


def _snapshot(company: Company) -> list[Any]:
    return [company.ok("GET", path) for path in ("/inventory", "/orders", "/stock-locations", "/tags", "/tag-rules")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_another_companys_id_in_a_body_or_query_is_a_404_naming_it(
    name: str, acme: Company, other: Company, mine: Mine, theirs: Theirs
) -> None:
    method, path, body, field = CASES[name]
    mine_before, theirs_before = _snapshot(acme), _snapshot(other)

    response = acme.call(method, path(mine, theirs), body(mine, theirs))

    # A 404 naming the field, in the service's error shape
    assert response.status_code == 404, response.body
    answer = json.loads(response.body)
    assert set(answer) == {"error", "code", "details"} and answer["code"] == "NOT_FOUND"
    assert field in error_fields(response)
    # Nothing of the other company in it
    assert SECRET not in response.body.decode()
    # And nothing written, on either side
    assert _snapshot(acme) == mine_before
    assert _snapshot(other) == theirs_before
