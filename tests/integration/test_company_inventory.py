"""000 inventory routes through the real app on moto."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import Actor, Product
from chalicelib.core.ports import Found, Wanted
from chalicelib.events import audit
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client, on_call
from tests.integration.company import Company, Refs, error_fields
from tests.integration.test_audit_stream import MainTableStream

pytestmark = pytest.mark.shared_aws

D = Decimal
BUYER = Actor(id="buyer", name="Buyer")


DOCUMENTED = {
    "createdAt",
    "updatedAt",
    "millCertificationId",
    "linkedOrders",
    "typeLabel",
    "materialLabel",
    "supplierName",
    "stockLocationLabel",
    "quantity",
    "weight",
    "heatCode",
    "diameter",
    "length",
    "width",
    "depth",
    "type",
    "material",
    "supplierId",
    "stockLocationId",
    "inventoryId",
    "companyId",
    "productName",
    "unitPrice",
    "version",
}


def raw_number(response: Any, name: str) -> str:
    """A number exactly as the JSON text carries it (no float round trip)."""
    parsed = json.loads(response.body, parse_float=str, parse_int=str)
    return str(parsed[0][name] if isinstance(parsed, list) else parsed[name])


def test_create_then_get_and_list_carry_every_documented_field(acme: Company, refs: Refs) -> None:
    response = acme.call("POST", "/inventory", [refs.item()])
    assert response.status_code == 201, response.body
    created = json.loads(response.body)[0]

    assert set(created) >= DOCUMENTED
    assert created["companyId"] == acme.id
    assert created["typeLabel"] == "Round bar"
    assert created["materialLabel"] == "S355"
    assert created["supplierName"] == "Steel Co"
    assert created["stockLocationLabel"] == "Yard A"
    assert created["millCertificationId"] == refs.cert
    assert created["linkedOrders"] == "[]"
    assert raw_number(response, "weight") == "12.345"
    assert raw_number(response, "unitPrice") == "19.99"

    fetched = acme.ok("GET", f"/inventory/{created['inventoryId']}")
    listed = acme.ok("GET", "/inventory")
    assert fetched == created
    assert listed == [created]
    # The quantity is on the ledger, for every surface
    stock = wiring.stock_service()
    assert stock.get(acme.id, created["inventoryId"]).on_hand == D(4)
    assert stock.reconcile(acme.id, created["inventoryId"]) == 0


def test_bad_item_writes_nothing_and_names_index_and_field(acme: Company, refs: Refs) -> None:
    bad = [refs.item(), refs.item(quantity="-1"), refs.item(weight="heavy"), refs.item(productName="")]

    response = acme.call("POST", "/inventory", bad)

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[1].quantity", "[2].weight", "[3].productName"}
    assert acme.ok("GET", "/inventory") == []


def test_numbers_dynamodb_cannot_store_are_400_not_500(acme: Company, refs: Refs) -> None:
    bad = [refs.item(weight="1e200"), refs.item(unitPrice="1E-43"), refs.item(quantity="1.1234567")]

    response = acme.call("POST", "/inventory", bad)

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[0].weight", "[1].unitPrice", "[2].quantity"}
    assert acme.ok("GET", "/inventory") == []


def test_unknown_or_foreign_reference_is_404_naming_it_and_nothing_written(
    acme: Company, other: Company, refs: Refs
) -> None:
    theirs = Refs(other)

    response = acme.call(
        "POST",
        "/inventory",
        [refs.item(), refs.item(type=theirs.type), refs.item(stockLocationId="nowhere", supplierId=theirs.supplier)],
    )

    assert response.status_code == 404, response.body
    assert set(error_fields(response)) == {"[1].type", "[2].stockLocationId", "[2].supplierId"}
    assert acme.ok("GET", "/inventory") == []


def test_server_owned_fields_are_ignored(acme: Company, other: Company, refs: Refs) -> None:
    owned = {
        "companyId": other.id,
        "inventoryId": "chosen-id",
        "createdAt": "2000-01-01T00:00:00Z",
        "updatedAt": "2000-01-01T00:00:00Z",
        "typeLabel": "Fake",
        "materialLabel": "Fake",
        "supplierName": "Fake",
        "stockLocationLabel": "Fake",
        "millCertificationId": "fake",
        "linkedOrders": '[{"orderId":"x","orderReference":"y"}]',
    }

    created = acme.ok("POST", "/inventory", [refs.item(**owned)], 201)[0]
    updated = acme.ok("PUT", "/inventory", [{**owned, "inventoryId": created["inventoryId"]}])[0]

    for item in (created, updated):
        assert item["companyId"] == acme.id
        assert item["inventoryId"] != "chosen-id"
        assert item["typeLabel"] == "Round bar"
        assert item["millCertificationId"] == refs.cert
        assert item["linkedOrders"] == "[]"
        assert not item["createdAt"].startswith("2000")
    assert other.ok("GET", "/inventory") == []


def test_update_changes_fields_and_quantity_through_the_ledger(acme: Company, refs: Refs) -> None:
    created = acme.ok("POST", "/inventory", [refs.item()], 201)[0]

    updated = acme.ok(
        "PUT",
        "/inventory",
        [{"inventoryId": created["inventoryId"], "quantity": "7", "heatCode": None, "width": "20.5", "version": 1}],
    )[0]

    assert updated["quantity"] == 7
    assert updated["heatCode"] is None
    assert updated["millCertificationId"] is None
    assert updated["width"] == 20.5
    assert updated["weight"] == 12.345  # untouched
    assert updated["version"] == 2
    stock = wiring.stock_service()
    movements = list(wiring.stock_service()._store.movements(acme.id, created["inventoryId"]))
    assert sorted(m.quantity for m in movements) == [D(3), D(4)]
    assert stock.reconcile(acme.id, created["inventoryId"]) == 0


def test_stale_version_is_409_and_changes_nothing(acme: Company, refs: Refs) -> None:
    created = acme.ok("POST", "/inventory", [refs.item()], 201)[0]
    acme.ok("PUT", "/inventory", [{"inventoryId": created["inventoryId"], "length": "5000"}])

    stale = acme.call("PUT", "/inventory", [{"inventoryId": created["inventoryId"], "quantity": "1", "version": 1}])

    assert stale.status_code == 409, stale.body
    item = acme.ok("GET", f"/inventory/{created['inventoryId']}")
    assert (item["quantity"], item["length"]) == (4, 5000)


def test_bulk_update_is_atomic(acme: Company, refs: Refs) -> None:
    a, b = acme.ok("POST", "/inventory", [refs.item(), refs.item(productName="Plate")], 201)

    response = acme.call(
        "PUT",
        "/inventory",
        [{"inventoryId": a["inventoryId"], "quantity": "9"}, {"inventoryId": b["inventoryId"], "type": "unknown"}],
    )

    assert response.status_code == 404
    assert error_fields(response) == ["[1].type"]
    assert acme.ok("GET", f"/inventory/{a['inventoryId']}")["quantity"] == 4


def test_other_company_ids_are_404_and_other_company_path_is_403(acme: Company, other: Company, refs: Refs) -> None:
    mine = acme.ok("POST", "/inventory", [refs.item()], 201)[0]["inventoryId"]
    item_paths = ["", "/history"]

    for suffix in item_paths:
        assert other.call("GET", f"/inventory/{mine}{suffix}").status_code == 404
    for suffix in ("/tags/evaluate", "/unreserve"):
        assert other.call("POST", f"/inventory/{mine}{suffix}").status_code == 404
    put = other.call("PUT", "/inventory", [{"inventoryId": mine, "quantity": "0"}])
    delete = other.call("DELETE", "/inventory", {"ids": [mine]})
    assert (put.status_code, error_fields(put)) == (404, ["[0].inventoryId"])
    assert delete.status_code == 404

    foreign_path = other.http.http.get(f"/companies/{acme.id}/inventory", headers={"X-API-Key": other.key})
    foreign_item = other.http.http.get(f"/companies/{acme.id}/inventory/{mine}", headers={"X-API-Key": other.key})
    assert foreign_path.status_code == foreign_item.status_code == 403
    assert acme.ok("GET", f"/inventory/{mine}")["quantity"] == 4


def test_missing_permission_is_403(http: Client, acme: Company, refs: Refs) -> None:
    service = wiring.tenant_service()
    _, reader = service.issue_key(acme.id, "reader", ["inventory.read"], BUYER)
    read_only = Company(http, acme.id, reader)

    assert read_only.call("GET", "/inventory").status_code == 200
    assert read_only.call("POST", "/inventory", [refs.item()]).status_code == 403
    assert acme.ok("GET", "/inventory") == []


def test_delete_soft_deletes_all_or_nothing_and_releases_reservations(acme: Company, refs: Refs) -> None:
    a, b = acme.ok("POST", "/inventory", [refs.item(), refs.item()], 201)
    stock = wiring.stock_service()
    reservation = stock.reserve(
        acme.id, a["inventoryId"], D(2), BUYER, reference={"orderId": "o-1", "orderReference": "SO-1"}
    )

    missing = acme.call("DELETE", "/inventory", {"ids": [a["inventoryId"], "nope"]})
    assert missing.status_code == 404
    assert len(acme.ok("GET", "/inventory")) == 2

    deleted = acme.ok("DELETE", "/inventory", {"ids": [a["inventoryId"]]})

    assert deleted == {"deletedCount": 1, "deletedIds": [a["inventoryId"]]}
    assert [i["inventoryId"] for i in acme.ok("GET", "/inventory")] == [b["inventoryId"]]
    assert acme.call("GET", f"/inventory/{a['inventoryId']}").status_code == 404
    assert stock._store.get_reservation(acme.id, reservation.reservation_id).status == "released"  # type: ignore[attr-defined]
    assert stock.get(acme.id, a["inventoryId"]).reserved == 0


def test_linked_orders_and_unreserve(acme: Company, refs: Refs) -> None:
    item = acme.ok("POST", "/inventory", [refs.item()], 201)[0]
    stock = wiring.stock_service()
    first = stock.reserve(
        acme.id,
        item["inventoryId"],
        D(1),
        BUYER,
        reference={"orderId": "o-1", "orderReference": "SO-1", "lineItemId": "l-1"},
    )
    second = stock.reserve(
        acme.id,
        item["inventoryId"],
        D(1),
        BUYER,
        reference={"orderId": "o-2", "orderReference": "SO-2", "lineItemId": "l-2"},
    )

    linked = json.loads(acme.ok("GET", f"/inventory/{item['inventoryId']}")["linkedOrders"])
    assert linked == [{"orderId": "o-1", "orderReference": "SO-1"}, {"orderId": "o-2", "orderReference": "SO-2"}]

    links = acme.ok("POST", f"/inventory/{item['inventoryId']}/unreserve")

    assert sorted(links, key=lambda link: link["linkId"]) == sorted(
        [
            {
                "linkId": first.reservation_id,
                "companyId": acme.id,
                "orderLineItemId": "l-1",
                "inventoryId": item["inventoryId"],
            },
            {
                "linkId": second.reservation_id,
                "companyId": acme.id,
                "orderLineItemId": "l-2",
                "inventoryId": item["inventoryId"],
            },
        ],
        key=lambda link: link["linkId"],
    )
    after = acme.ok("GET", f"/inventory/{item['inventoryId']}")
    assert after["productName"] == "Bar 50mm - Prev Reserved (SO-2)"
    assert after["linkedOrders"] == "[]"
    assert after["quantity"] == 4
    assert stock.get(acme.id, item["inventoryId"]).reserved == 0
    assert acme.ok("POST", f"/inventory/{item['inventoryId']}/unreserve") == []


def test_tag_evaluation_replaces_rule_tags_and_keeps_manual_ones(acme: Company, refs: Refs) -> None:
    long_tag, heavy_tag, manual_tag = (
        t["id"] for t in acme.ok("POST", "/tags", [{"name": "Long"}, {"name": "Heavy"}, {"name": "VIP"}], 201)
    )
    acme.ok(
        "POST",
        "/tag-rules",
        [
            {
                "tagId": long_tag,
                "condition": {
                    "all": [
                        {"field": "length", "op": "gte", "value": 6000},
                        {"field": "materialLabel", "op": "in", "value": ["s355", "s275"]},
                    ]
                },
            },
            {"tagId": heavy_tag, "condition": {"field": "weight", "op": "between", "value": [100, 200]}},
        ],
        201,
    )
    item = acme.ok("POST", "/inventory", [refs.item(tags=[manual_tag])], 201)[0]

    result = acme.ok("POST", f"/inventory/{item['inventoryId']}/tags/evaluate")
    assert result == {"inventoryId": item["inventoryId"], "companyId": acme.id, "assignedTagCount": 1}
    tagged = acme.ok("GET", f"/inventory/{item['inventoryId']}")
    assert (tagged["tags"], tagged["ruleTags"]) == ([manual_tag], [long_tag])

    # When the item changes, evaluation replaces the rule tags only
    acme.ok("PUT", "/inventory", [{"inventoryId": item["inventoryId"], "length": "100", "weight": "150"}])
    result = acme.ok("POST", f"/inventory/{item['inventoryId']}/tags/evaluate")
    retagged = acme.ok("GET", f"/inventory/{item['inventoryId']}")
    assert result["assignedTagCount"] == 1
    assert (retagged["tags"], retagged["ruleTags"]) == ([manual_tag], [heavy_tag])


def test_a_page_resolves_labels_with_one_batch_get(acme: Company, refs: Refs) -> None:
    acme.ok("POST", "/inventory", [refs.item(productName=f"Bar {i}") for i in range(30)], 201)
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        listed = acme.ok("GET", "/inventory")
    finally:
        stop()

    assert len(listed) == 30
    assert all(i["supplierName"] == "Steel Co" and i["millCertificationId"] == refs.cert for i in listed)
    # Authentication, the page query, one batch for every label
    assert calls.count("BatchGetItem") == 1
    assert calls.count("Query") == 1
    assert "GetItem" not in calls[1:]


def test_list_pages_with_a_signed_token(acme: Company, refs: Refs) -> None:
    acme.ok("POST", "/inventory", [refs.item(productName=f"Bar {i}") for i in range(5)], 201)

    seen: list[str] = []
    token = None
    while True:
        path = "/inventory?limit=2" + (f"&nextToken={token}" if token else "")
        response = acme.call("GET", path)
        assert response.status_code == 200, response.body
        seen += [i["inventoryId"] for i in json.loads(response.body)]
        token = response.headers.get("X-Next-Token")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    assert acme.call("GET", "/inventory?limit=2&nextToken=forged.token").status_code == 400
    assert acme.call("GET", "/inventory?limit=1001").status_code == 400


def test_idempotent_bulk_create_creates_once(acme: Company, refs: Refs) -> None:
    headers = {"Idempotency-Key": "bulk-1"}
    first = acme.call("POST", "/inventory", [refs.item(), refs.item()], headers)
    again = acme.call("POST", "/inventory", [refs.item(), refs.item()], headers)

    assert first.status_code == again.status_code == 201
    assert json.loads(first.body) == json.loads(again.body)
    assert len(acme.ok("GET", "/inventory")) == 2
    # Even past the response cache, the derived ids make a rerun create nothing new
    ids = [i["inventoryId"] for i in json.loads(first.body)]
    client("dynamodb").delete_item(
        TableName=get_settings().idempotency_table, Key={"pk": {"S": f"T#{acme.id}#IDEM"}, "sk": {"S": "bulk-1"}}
    )
    rerun = acme.call("POST", "/inventory", [refs.item(), refs.item()], headers)
    assert [i["inventoryId"] for i in json.loads(rerun.body)] == ids
    assert len(acme.ok("GET", "/inventory")) == 2


def test_history_names_changes_in_documented_fields(acme: Company, refs: Refs) -> None:
    stream = MainTableStream()
    stream.take()  # what the module's other tests wrote
    item = acme.ok("POST", "/inventory", [refs.item()], 201)[0]
    acme.ok("PUT", "/inventory", [{"inventoryId": item["inventoryId"], "quantity": "2", "heatCode": "H-2"}])
    acme.ok("DELETE", "/inventory", {"ids": [item["inventoryId"]]})
    assert audit.handle({"Records": stream.take()}, None) == {"batchItemFailures": []}

    events = acme.ok("GET", f"/inventory/{item['inventoryId']}/history")

    assert [e["changeType"] for e in events] == ["CREATE", "UPDATE", "DELETE"]
    assert all(e["entityType"] == "inventory" and e["changedByName"] for e in events)
    updated = {c["field"]: (c["old"], c["new"]) for c in events[1]["changes"]}
    assert updated == {"quantity": (4, 2), "heatCode": ("H-1", "H-2")}
    assert {c["field"]: (c["old"], c["new"]) for c in events[2]["changes"]} == {"active": (True, False)}


def test_new_product_names_cost_one_transaction_for_all_their_products(acme: Company, refs: Refs) -> None:
    names = [f"New bar {i}" for i in range(33)]
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        acme.ok("POST", "/inventory", [refs.item(productName=name) for name in names], 201)
    finally:
        stop()

    # One for the 33 new products (each is its item and its numeric-id guard), one for the records, their
    # ledger lines and their products' stock keys (99 writes: with the products they would not fit); one
    # counter call numbers all 33.
    assert calls.count("TransactWriteItems") == 2
    assert calls.count("UpdateItem") == 1
    assert wiring.inventory_service().missing_products(acme.id, names) == []


def test_a_product_created_by_a_concurrent_request_is_not_an_error(
    acme: Company, refs: Refs, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme.ok("POST", "/inventory", [refs.item(productName="Bar 1")], 201)
    service = wiring.inventory_service()
    batch = wiring.batch_reads()
    real_read, real_missing = batch.read, service.missing_products
    rereads: list[list[str]] = []

    def read_before_the_other_request(tenant_id: str, wanted: Wanted) -> Found:
        # As if read just before another request created Bar 1's product.
        found = real_read(tenant_id, wanted)
        found.products.clear()
        return found

    def missing_again(tenant_id: str, names: Iterable[str]) -> list[Product]:
        names = list(names)
        rereads.append(names)
        return real_missing(tenant_id, names)

    monkeypatch.setattr(batch, "read", read_before_the_other_request)
    monkeypatch.setattr(service, "missing_products", missing_again)
    created = acme.ok("POST", "/inventory", [refs.item(productName="Bar 1"), refs.item(productName="Bar 2")], 201)

    assert [i["productName"] for i in created] == ["Bar 1", "Bar 2"]
    # The one-transaction create of both products failed on Bar 1; a fresh read found Bar 1, and Bar 2 was made.
    assert rereads == [["Bar 1", "Bar 2"]]
    assert real_missing(acme.id, ["Bar 1", "Bar 2"]) == []


def test_every_mistake_of_a_request_is_named_in_one_answer(acme: Company, refs: Refs) -> None:
    # Field mistakes of two items, and an unknown field: one round trip names them all
    response = acme.call(
        "POST", "/inventory", [refs.item(quantity="-1", qty=5), refs.item(productName="", weight="heavy")]
    )
    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[0].quantity", "[0].qty", "[1].productName", "[1].weight"}

    # References that do not exist, in several items: named together too
    response = acme.call(
        "POST", "/inventory", [refs.item(type="no-such-type", supplierId="nobody"), refs.item(material="nothing")]
    )
    assert response.status_code in (400, 404), response.body
    assert set(error_fields(response)) == {"[0].type", "[0].supplierId", "[1].material"}
