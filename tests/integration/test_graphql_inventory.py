"""Every GraphQL query and mutation over real v2 records, through the app on moto.

Given a company with products (made through the v2 service), when it calls each field, then the
answers are the v2 records, another company's ids are NOT_FOUND (or null entities), a key without
the field's permission gets FORBIDDEN and changes nothing, and reads are batched: _entities for many
products costs the same DynamoDB calls as for a few.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client, on_call
from tests.integration.company import Company, make_company
from tests.integration.gql_client import gql
from tests.integration.test_import_permissions import deliver

pytestmark = pytest.mark.shared_aws

RECORD = "id productId quantity supplier supplierCode sku warehouseId companyId location costPrice notes"
BULK = """mutation($lookup: String!, $type: String!, $records: [InventoryRecordInput!]!) {
  bulkUpsertInventory(lookupKey: $lookup, inventoryType: $type, records: $records) {
    created updated failed results { index id status error }
  }
}"""
IMPORT = """mutation($mappings: [FieldMappingInput!]!, $upload: String!, $type: String!) {
  importInventoryCsv(lookupKey: "sku", inventoryType: $type, fieldMappings: $mappings, upload: $upload) {
    jobId kind status
  }
}"""
JOB = """query($id: String!) {
  importJob(id: $id) { status total processed created updated failed errors { line field message } }
}"""


def products(company: Company, *skus: str) -> dict[str, int]:
    """Products made through the v2 service: sku -> numeric productId."""
    service = wiring.multisource_service()
    made = {sku: service.create_product(company.id, sku, f"Widget {sku}", {"shop": f"S-{sku}"}, SYSTEM) for sku in skus}
    return {sku: view.productId for sku, view in made.items() if view.productId is not None}


def bulk(company: Company, records: list[dict[str, Any]], lookup: str = "sku", kind: str = "local") -> Any:
    return gql(company, BULK, {"lookup": lookup, "type": kind, "records": records}).ok()["bulkUpsertInventory"]


def key_with(company: Company, *permissions: str) -> Company:
    _, raw = wiring.tenant_service().issue_key(company.id, "gql", list(permissions), SYSTEM)
    return Company(company.http, company.id, raw)


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "GraphQL Acme")


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "GraphQL Other")


def test_bulk_upsert_then_every_read(acme: Company) -> None:
    ids = products(acme, "GQ-A", "GQ-B")
    done = bulk(
        acme,
        [
            {"sku": "GQ-A", "quantity": "5", "location": "Aisle-1", "costPrice": "12.99"},
            {"sku": "GQ-B", "quantity": 3},
            {"sku": "NOPE", "quantity": 1},
        ],
    )
    assert (done["created"], done["updated"], done["failed"]) == (2, 0, 1)
    assert done["results"][2]["status"] == "error" and "product" in done["results"][2]["error"]
    supplied = bulk(
        acme, [{"sku": "GQ-A", "supplier": "Acme Corp", "supplierCode": "AC-1", "quantity": 7}], kind="supplier"
    )
    assert supplied["created"] == 1
    record_id = done["results"][0]["id"]

    one = gql(acme, f"query($id: Int!) {{ inventory(id: $id) {{ {RECORD} }} }}", {"id": record_id}).ok()["inventory"]
    assert one["quantity"] == 5 and one["supplier"] == "INTERN" and one["location"] == "Aisle-1"
    assert one["costPrice"] == 12.99 and one["productId"] == ids["GQ-A"] and one["warehouseId"] == 0

    aggregate = gql(
        acme,
        '{ productInventory(lookupKey: "sku", key: "GQ-A") { productId sku totalQuantity localQuantity '
        "supplierQuantity reservedQuantity availableQuantity records { id supplier } } }",
    ).ok()["productInventory"]
    assert (aggregate["localQuantity"], aggregate["supplierQuantity"], aggregate["availableQuantity"]) == (5, 7, 5)
    assert len(aggregate["records"]) == 2

    by_source = gql(acme, '{ productInventory(lookupKey: "sourceId", key: "S-GQ-B", source: "shop") { sku } }')
    assert by_source.ok()["productInventory"]["sku"] == "GQ-B"
    in_warehouse = gql(acme, '{ productInventory(lookupKey: "sku", key: "GQ-A", warehouseId: 0) { warehouseId } }')
    assert in_warehouse.ok()["productInventory"]["warehouseId"] == 0

    page = gql(
        acme,
        '{ searchInventory(filter: {skus: ["GQ-A"], inventoryType: "supplier"}, sort: [{field: "quantity"}], '
        "pageSize: 10) { data { id supplierCode } pagination { page pageSize totalCount } } }",
    ).ok()["searchInventory"]
    assert page["pagination"] == {"page": 1, "pageSize": 10, "totalCount": 1}
    assert page["data"][0]["supplierCode"] == "AC-1"


def test_update_and_delete(acme: Company) -> None:
    products(acme, "GQ-U")
    record_id = bulk(acme, [{"sku": "GQ-U", "quantity": 4}])["results"][0]["id"]
    update = (
        "mutation($id: Int!, $in: InventoryUpdateInput!) { updateInventory(id: $id, input: $in) { quantity notes } }"
    )

    changed = gql(acme, update, {"id": record_id, "in": {"quantity": "9", "notes": "Reorder at 20"}}).ok()
    assert changed["updateInventory"] == {"quantity": 9, "notes": "Reorder at 20"}
    too_long = gql(acme, update, {"id": record_id, "in": {"notes": "x" * 256}})
    assert too_long.codes == ["BAD_USER_INPUT"]
    assert too_long.errors[0]["extensions"]["field"] == "notes"

    delete = "mutation($id: Int!, $force: Boolean!) { deleteInventory(id: $id, force: $force) { id deleted } }"
    held = gql(acme, delete, {"id": record_id, "force": False})
    assert held.codes == ["CONFLICT"]
    assert gql(acme, delete, {"id": record_id, "force": True}).ok()["deleteInventory"] == {
        "id": record_id,
        "deleted": True,
    }
    gone = gql(acme, "query($id: Int!) { inventory(id: $id) { id } }", {"id": record_id})
    assert gone.codes == ["NOT_FOUND"]


def test_bad_arguments_are_bad_user_input_naming_the_field(acme: Company) -> None:
    bad_lookup = gql(acme, '{ productInventory(lookupKey: "ean", key: "1") { sku } }')
    assert bad_lookup.codes == ["BAD_USER_INPUT"]
    assert bad_lookup.errors[0]["extensions"]["field"] == "lookupKey"
    bad_type = gql(acme, BULK, {"lookup": "sku", "type": "borrowed", "records": []})
    assert bad_type.errors[0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "inventoryType",
        "details": [{"field": "inventoryType", "message": "must be one of: local, supplier"}],
    }
    unknown_sort = gql(acme, '{ searchInventory(sort: [{field: "colour"}]) { data { id } } }')
    assert unknown_sort.codes == ["BAD_USER_INPUT"]
    assert gql(acme, '{ productInventory(lookupKey: "sku", key: "missing") { sku } }').codes == ["NOT_FOUND"]


def test_another_companys_ids_are_not_found(acme: Company, other: Company) -> None:
    theirs = products(other, "GQ-X")
    record_id = bulk(other, [{"sku": "GQ-X", "quantity": 2}])["results"][0]["id"]

    assert gql(acme, "query($id: Int!) { inventory(id: $id) { id } }", {"id": record_id}).codes == ["NOT_FOUND"]
    update = "mutation($id: Int!) { updateInventory(id: $id, input: {quantity: 0}) { id } }"
    assert gql(acme, update, {"id": record_id}).codes == ["NOT_FOUND"]
    delete = "mutation($id: Int!) { deleteInventory(id: $id, force: true) { id } }"
    assert gql(acme, delete, {"id": record_id}).codes == ["NOT_FOUND"]
    assert gql(acme, '{ productInventory(lookupKey: "sku", key: "GQ-X") { sku } }').codes == ["NOT_FOUND"]
    entities = gql(
        acme,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } ... on Inventory { id } } }",
        {"r": [{"__typename": "Product", "id": theirs["GQ-X"]}, {"__typename": "Inventory", "id": record_id}]},
    )
    assert entities.ok()["_entities"] == [None, None]
    assert gql(other, "query($id: Int!) { inventory(id: $id) { quantity } }", {"id": record_id}).ok() == {
        "inventory": {"quantity": 2}
    }


def test_a_key_without_the_fields_permission_is_forbidden_and_writes_nothing(acme: Company) -> None:
    products(acme, "GQ-R")
    reader = key_with(acme, "inventory.read")
    blind = key_with(acme, "orders.read")

    refused = gql(reader, BULK, {"lookup": "sku", "type": "local", "records": [{"sku": "GQ-R", "quantity": 1}]})
    assert refused.codes == ["FORBIDDEN"]
    assert refused.errors[0]["extensions"]["requires"] == ["inventory.write"]
    empty = gql(reader, '{ productInventory(lookupKey: "sku", key: "GQ-R") { totalQuantity records { id } } }')
    assert empty.ok()["productInventory"] == {"totalQuantity": 0, "records": []}
    assert gql(blind, '{ productInventory(lookupKey: "sku", key: "GQ-R") { sku } }').codes == ["FORBIDDEN"]


def test_federation_entities_resolve_products_with_inventory_and_records(acme: Company) -> None:
    ids = products(acme, "GQ-F1", "GQ-F2")
    done = bulk(acme, [{"sku": "GQ-F1", "quantity": 2}, {"sku": "GQ-F2", "quantity": 3}])
    record_id = done["results"][1]["id"]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Product { id sku totalQuantity records { id quantity } }
      ... on Inventory { id quantity product { id sku availableQuantity } }
    } }"""
    representations = [
        {"__typename": "Product", "id": ids["GQ-F1"]},
        {"__typename": "Product", "id": str(ids["GQ-F2"])},
        {"__typename": "Inventory", "id": record_id},
        {"__typename": "Product", "id": 999999},
    ]

    found = gql(acme, query, {"r": representations}).ok()["_entities"]

    assert found[0]["sku"] == "GQ-F1" and found[0]["totalQuantity"] == 2
    assert found[1]["records"] == [{"id": record_id, "quantity": 3}]
    assert found[2]["product"] == {"id": ids["GQ-F2"], "sku": "GQ-F2", "availableQuantity": 3}
    assert found[3] is None


@contextmanager
def counted() -> Iterator[list[str]]:
    calls: list[str] = []

    def hook(service: str, operation: str) -> None:
        if service == "dynamodb":
            calls.append(operation)

    unsubscribe = on_call(hook)
    try:
        yield calls
    finally:
        unsubscribe()


def test_many_products_cost_the_same_dynamodb_calls_as_a_few(acme: Company) -> None:
    skus = [f"GQ-N{i}" for i in range(30)]
    ids = products(acme, *skus)
    bulk(acme, [{"sku": sku, "quantity": 1} for sku in skus])
    query = (
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id totalQuantity records { id } } } }"
    )

    def calls_for(count: int) -> list[str]:
        representations = [{"__typename": "Product", "id": ids[sku]} for sku in skus[:count]]
        with counted() as calls:
            got = gql(acme, query, {"r": representations}).ok()["_entities"]
        assert [(p["totalQuantity"], len(p["records"])) for p in got] == [(1, 1)] * count
        return calls

    # No Query per product: the API key, then guards, products, their stock keys and the records, each
    # one BatchGetItem (100 keys a call) for 3 products as for 30.
    assert calls_for(3) == calls_for(30) == ["GetItem"] + ["BatchGetItem"] * 4


def run(company: Company, job_id: str) -> None:
    """What the import queue does with the notification of the job's file (moto in-process delivers none)."""
    deliver(f"uploads/{company.id}/v2-inventory/{job_id}.csv")


def put_staged(key: str, text: str) -> None:
    """What the client's POST to the presigned form does: the file lands under the staged key."""
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=text.encode())


def test_csv_import_with_field_mappings_from_text_and_from_a_staged_upload(acme: Company, other: Company) -> None:
    products(acme, "GQ-C1", "GQ-C2")
    mappings = [{"column": "Article", "field": "sku"}, {"column": "Stock", "field": "quantity"}]
    text = "Article,Stock,Notes\nGQ-C1,4,first\nGQ-C2,x,bad\nGQ-MISSING,1,\n"

    job = gql(acme, IMPORT, {"mappings": mappings, "upload": text, "type": "local"}).ok()["importInventoryCsv"]
    assert (job["kind"], job["status"]) == ("v2-inventory", "queued")
    run(acme, job["jobId"])
    ended = gql(acme, JOB, {"id": job["jobId"]}).ok()["importJob"]
    assert (ended["status"], ended["total"], ended["created"], ended["failed"]) == ("completed", 3, 1, 2)
    assert [(e["line"], e["field"]) for e in ended["errors"]] == [(3, "quantity"), (4, "sku")]

    upload = gql(acme, "mutation { createInventoryUpload { key url fields { name value } maxBytes } }").ok()
    staged = upload["createInventoryUpload"]
    assert staged["key"].startswith(f"tmp/{acme.id}/v2-inventory/")
    put_staged(staged["key"], "Article,Stock\nGQ-C1,6\nGQ-C2,2\n")
    assert gql(other, IMPORT, {"mappings": mappings, "upload": staged["key"], "type": "local"}).codes == ["NOT_FOUND"]
    job = gql(acme, IMPORT, {"mappings": mappings, "upload": staged["key"], "type": "local"}).ok()["importInventoryCsv"]
    run(acme, job["jobId"])
    ended = gql(acme, JOB, {"id": job["jobId"]}).ok()["importJob"]
    assert (ended["status"], ended["created"], ended["updated"], ended["failed"]) == ("completed", 1, 1, 0)
    totals = gql(acme, '{ productInventory(lookupKey: "sku", key: "GQ-C1") { localQuantity } }').ok()
    assert totals["productInventory"]["localQuantity"] == 6


def test_a_large_import_splits_its_chunks_to_fit_one_transaction(acme: Company) -> None:
    skus = [f"GQ-L{i}" for i in range(40)]
    products(acme, *skus)
    text = "sku,quantity,supplier\n" + "".join(f"{sku},{i + 1},Vendor\n" for i, sku in enumerate(skus))
    before = bulk(acme, [{"sku": skus[0], "quantity": 1}])["results"][0]["id"]

    job = gql(acme, IMPORT, {"mappings": [], "upload": text, "type": "supplier"}).ok()["importInventoryCsv"]
    run(acme, job["jobId"])

    ended = gql(acme, JOB, {"id": job["jobId"]}).ok()["importJob"]
    assert (ended["status"], ended["created"], ended["failed"]) == ("completed", 40, 0)
    page = gql(acme, '{ searchInventory(filter: {skus: ["GQ-L39"]}) { data { quantity supplier } } }').ok()
    assert page["searchInventory"]["data"] == [{"quantity": 40, "supplier": "Vendor"}]
    # Chunks of 19 rows fit one transaction each, so no chunk was planned twice: no record number was lost.
    search = "query($skus: [String!]) { searchInventory(filter: {skus: $skus}, pageSize: 100) { data { id } } }"
    ids = sorted(r["id"] for r in gql(acme, search, {"skus": skus}).ok()["searchInventory"]["data"])
    assert ids == [before, *range(before + 1, before + 41)]


def test_import_options_are_checked_before_a_job_exists(acme: Company) -> None:
    bad = gql(acme, IMPORT, {"mappings": [{"column": "A", "field": "colour"}], "upload": "A\n1\n", "type": "local"})

    assert bad.codes == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "fieldMappings[0].field"
    missing = gql(acme, IMPORT, {"mappings": [], "upload": f"tmp/{acme.id}/v2-inventory/none.csv", "type": "local"})
    assert missing.codes == ["NOT_FOUND"]
    assert missing.errors[0]["extensions"]["field"] == "upload"


def test_aliased_product_inventory_root_fields_share_one_batched_read(acme: Company) -> None:
    skus = [f"GQ-A{i}" for i in range(20)]
    products(acme, *skus)
    bulk(acme, [{"sku": sku, "quantity": i + 1} for i, sku in enumerate(skus)])

    def document(count: int) -> str:
        fields = " ".join(
            f'p{i}: productInventory(lookupKey: "sku", key: "{sku}") {{ sku totalQuantity records {{ id }} }}'
            for i, sku in enumerate(skus[:count])
        )
        return "{ " + fields + " }"

    def calls_for(count: int) -> list[str]:
        with counted() as calls:
            data = gql(acme, document(count)).ok()
        assert [data[f"p{i}"]["totalQuantity"] for i in range(count)] == list(range(1, count + 1))
        return calls

    # The API key, the SKU guards, the products, their stock keys, the records: 2 aliases as 20.
    assert calls_for(2) == calls_for(20)


def test_an_alias_fails_alone_an_unknown_product_and_a_bad_key(acme: Company) -> None:
    products(acme, "GQ-B1")
    bulk(acme, [{"sku": "GQ-B1", "quantity": 4}])
    good = 'a: productInventory(lookupKey: "sku", key: "GQ-B1") { totalQuantity }'

    for bad, code in (
        ('b: productInventory(lookupKey: "sku", key: "GQ-NONE") { totalQuantity }', "NOT_FOUND"),
        ('b: productInventory(lookupKey: "id", key: "x") { totalQuantity }', "BAD_USER_INPUT"),
    ):
        answer = gql(acme, "{ " + good + " " + bad + " }")
        # productInventory is non-null: the failed alias nulls `data`; its error names that alias only.
        assert answer.status == 200 and answer.data is None
        assert [(e["path"], e["extensions"]["code"]) for e in answer.errors] == [(["b"], code)]


def test_as_of_gives_the_figures_of_then_and_a_future_moment_names_as_of(acme: Company) -> None:
    from datetime import UTC, datetime, timedelta

    ids = products(acme, "GQ-T1")
    created = bulk(acme, [{"sku": "GQ-T1", "quantity": 5}])["results"][0]["id"]
    then = datetime.now(UTC)
    while datetime.now(UTC) <= then:
        pass
    bulk(acme, [{"sku": "GQ-T1", "quantity": 9}])
    moment = then.isoformat()
    query = """query($at: DateTime, $id: Int!, $key: [_Any!]!) {
      now: productInventory(lookupKey: "sku", key: "GQ-T1") { totalQuantity records { quantity } }
      then: productInventory(lookupKey: "sku", key: "GQ-T1", asOf: $at) { totalQuantity records { quantity } }
      record: inventory(id: $id, asOf: $at) { quantity }
      found: searchInventory(filter: {skus: ["GQ-T1"]}, asOf: $at) { data { id quantity } }
      _entities(representations: $key) { ... on Product { inventory(asOf: $at) { localQuantity } } }
    }"""
    variables = {"at": moment, "id": created, "key": [{"__typename": "Product", "id": ids["GQ-T1"]}]}

    data = gql(acme, query, variables).ok()

    assert data["now"] == {"totalQuantity": 9, "records": [{"quantity": 9}]}
    assert data["then"] == {"totalQuantity": 5, "records": [{"quantity": 5}]}
    assert data["record"] == {"quantity": 5}
    assert data["found"]["data"] == [{"id": created, "quantity": 5}]
    assert data["_entities"] == [{"inventory": {"localQuantity": 5}}]

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    refused = gql(acme, query, {**variables, "at": future})
    assert {e["extensions"]["code"] for e in refused.errors} == {"BAD_USER_INPUT"}
    assert {e["extensions"]["field"] for e in refused.errors} == {"asOf"}
    assert refused.data is None or refused.data.get("then") is None
