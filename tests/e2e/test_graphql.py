"""GraphQL over HTTP on the local stack: queries, mutations, a federation query, limits, tenant
isolation, and CSV imports with field mappings run to completion by the stack's queue worker
(from CSV text, and from a file sent to the presigned POST that createInventoryUpload returns).

Each company calls with an OAuth2 access token from `POST /oauth2/token`, of a client made with
`POST /oauth2/clients`; the reader's client holds inventory.read only. One test shows that an API key
still works."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from chalicelib.core.models import Actor
from chalicelib.wiring import multisource_service, tenant_service
from infra.localstack import forget_cached_aws
from tests.e2e.conftest import Api, Stack
from tests.e2e.tokens import client_token, new_client

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 10.0
ADMIN = Actor(id="e2e", name="E2E GraphQL")
BULK = """mutation($records: [InventoryRecordInput!]!) {
  bulkUpsertInventory(lookupKey: "sku", inventoryType: "local", records: $records) {
    created updated failed results { id }
  }
}"""
IMPORT = """mutation($upload: String!) {
  importInventoryCsv(lookupKey: "sku", inventoryType: "supplier",
                     fieldMappings: [{column: "Article", field: "sku"}, {column: "Vendor", field: "supplier"},
                                     {column: "On hand", field: "quantity"}],
                     upload: $upload) { jobId status }
}"""
JOB = "query($id: String!) { importJob(id: $id) { status total created updated failed errors { line field } } }"


@dataclass(frozen=True)
class Caller:
    api: Api
    company_id: str

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> requests.Response:
        return self.api.post("/graphql", json={"query": query, "variables": variables or {}})

    def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = self.gql(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


@dataclass(frozen=True)
class Companies:
    acme: Caller
    other: Caller
    reader: Caller
    products: dict[str, int]
    keyed: Caller  # the acme reader's API key (inventory.read), not a token


@pytest.fixture(scope="module")
def companies(stack: Stack) -> Iterator[Companies]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOCKROOM_AWS_ENDPOINT", stack.moto_endpoint)
        forget_cached_aws()
        service = tenant_service()
        acme, acme_key = service.create_tenant("E2E GraphQL Acme")
        other, other_key = service.create_tenant("E2E GraphQL Other")
        _, reader_key = service.issue_key(acme.tenant_id, "reader", ["inventory.read"], ADMIN)
        v2 = multisource_service()
        made = {sku: v2.create_product(acme.tenant_id, sku, sku, {}, ADMIN).productId for sku in ("E2E-G1", "E2E-G2")}
        everything = ["inventory.read", "inventory.write"]
        tokens = {
            name: client_token(stack.base_url, *new_client(stack.base_url, key, f"E2E GraphQL {name}", scopes))
            for name, key, scopes in (
                ("acme", acme_key, everything),
                ("other", other_key, everything),
                ("reader", acme_key, ["inventory.read"]),
            )
        }
        yield Companies(
            acme=Caller(Api(stack.base_url, tokens["acme"]), acme.tenant_id),
            other=Caller(Api(stack.base_url, tokens["other"]), other.tenant_id),
            reader=Caller(Api(stack.base_url, tokens["reader"]), acme.tenant_id),
            products={sku: number for sku, number in made.items() if number is not None},
            keyed=Caller(Api(stack.base_url, reader_key), acme.tenant_id),
        )
    forget_cached_aws()


def finished(caller: Caller, job_id: str, eventually: Callable[..., Any]) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = caller.data(JOB, {"id": job_id})["importJob"]
        return job if job["status"] in ("completed", "failed") else None

    job: dict[str, Any] = eventually(ended, timeout=JOB_TIMEOUT)
    return job


def test_mutations_queries_and_a_federation_query(companies: Companies) -> None:
    acme = companies.acme
    done = acme.data(BULK, {"records": [{"sku": "E2E-G1", "quantity": "8.5"}, {"sku": "E2E-G2", "quantity": 1}]})
    assert done["bulkUpsertInventory"]["created"] == 2
    record_id = done["bulkUpsertInventory"]["results"][0]["id"]

    # Exact decimals, as JSON numbers.
    response = acme.gql('{ productInventory(lookupKey: "sku", key: "E2E-G1") { localQuantity records { id } } }')
    assert '"localQuantity":8.5' in response.text.replace(" ", "")
    federated = acme.data(
        "query($r: [_Any!]!) { _service { sdl } _entities(representations: $r) { "
        "... on Product { id totalQuantity } ... on Inventory { id product { id } } } }",
        {
            "r": [
                {"__typename": "Product", "id": companies.products["E2E-G2"]},
                {"__typename": "Inventory", "id": record_id},
            ]
        },
    )
    assert '@key(fields: "id")' in federated["_service"]["sdl"]
    assert federated["_entities"] == [
        {"id": companies.products["E2E-G2"], "totalQuantity": 1},
        {"id": record_id, "product": {"id": companies.products["E2E-G1"]}},
    ]
    got = acme.api.get(
        "/graphql", params={"query": '{ searchInventory(filter: {skus: ["E2E-G2"]}) { pagination { totalCount } } }'}
    )
    assert got.json()["data"]["searchInventory"]["pagination"]["totalCount"] == 1
    assert requests.get(acme.api.base_url + "/graphql/schema.graphql", timeout=10).text.startswith("schema")


def test_aliased_root_fields_and_as_of(companies: Companies) -> None:
    from datetime import UTC, datetime, timedelta

    acme = companies.acme
    acme.data(BULK, {"records": [{"sku": "E2E-G1", "quantity": 3}]})
    then = datetime.now(UTC)
    acme.data(BULK, {"records": [{"sku": "E2E-G1", "quantity": 5}]})
    both = acme.data(
        """query($at: DateTime) {
          now: productInventory(lookupKey: "sku", key: "E2E-G1") { localQuantity }
          then: productInventory(lookupKey: "sku", key: "E2E-G1", asOf: $at) { localQuantity }
          other: productInventory(lookupKey: "sku", key: "E2E-G2") { sku }
        }""",
        {"at": then.isoformat()},
    )
    assert both == {"now": {"localQuantity": 5}, "then": {"localQuantity": 3}, "other": {"sku": "E2E-G2"}}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    refused = acme.gql(
        'query($at: DateTime) { productInventory(lookupKey: "sku", key: "E2E-G1", asOf: $at) { sku } }', {"at": future}
    ).json()
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in refused["errors"]] == [
        ("BAD_USER_INPUT", "asOf")
    ]


def test_an_api_key_still_works(companies: Companies) -> None:
    found = companies.keyed.data('{ productInventory(lookupKey: "sku", key: "E2E-G2") { sku } }')
    assert found == {"productInventory": {"sku": "E2E-G2"}}
    refused = companies.keyed.gql(BULK, {"records": [{"sku": "E2E-G2", "quantity": 0}]}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_isolation_permissions_and_limits(companies: Companies) -> None:
    acme, other = companies.acme, companies.other
    record_id = acme.data(BULK, {"records": [{"sku": "E2E-G2", "quantity": 2}]})["bulkUpsertInventory"]["results"][0][
        "id"
    ]

    foreign = other.gql("query($id: Int!) { inventory(id: $id) { id } }", {"id": record_id}).json()
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    refused = companies.reader.gql(BULK, {"records": [{"sku": "E2E-G2", "quantity": 0}]}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    too_many = acme.gql("{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }")
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert (
        requests.post(acme.api.base_url + "/graphql", json={"query": "{ __typename }"}, timeout=10).status_code == 401
    )


def test_csv_import_with_field_mappings_runs_to_completion(
    companies: Companies, eventually: Callable[..., Any]
) -> None:
    acme = companies.acme
    text = "Article,Vendor,On hand\nE2E-G1,Northern Steel,12\nE2E-G2,INTERN,3\n"

    job = acme.data(IMPORT, {"upload": text})["importInventoryCsv"]
    assert job["status"] == "queued"
    ended = finished(acme, job["jobId"], eventually)
    assert (ended["status"], ended["total"], ended["created"], ended["failed"]) == ("completed", 2, 1, 1)
    assert [(e["line"], e["field"]) for e in ended["errors"]] == [(3, "supplier")]

    staged = acme.data("mutation { createInventoryUpload { key url fields { name value } } }")["createInventoryUpload"]
    posted = requests.post(
        staged["url"],
        data={f["name"]: f["value"] for f in staged["fields"]},
        files={
            "file": ("stock.csv", b"Article,Vendor,On hand\nE2E-G1,Northern Steel,20\nE2E-G2,Southern,4\n", "text/csv")
        },
        timeout=10,
    )
    assert posted.status_code in (200, 201, 204), posted.text
    job = acme.data(IMPORT, {"upload": staged["key"]})["importInventoryCsv"]
    ended = finished(acme, job["jobId"], eventually)
    assert (ended["status"], ended["created"], ended["updated"], ended["failed"]) == ("completed", 1, 1, 0)
    totals = acme.data('{ productInventory(lookupKey: "sku", key: "E2E-G1") { supplierQuantity } }')
    assert totals["productInventory"]["supplierQuantity"] == 20
