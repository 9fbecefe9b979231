"""GraphQL through the app (chalice's test client on moto): the routes, auth, errors and limits.

The v2 queries and mutations over real records are in test_graphql_inventory.py.
"""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from tests.integration.company import Company
from tests.integration.gql_client import gql, gql_get

pytestmark = pytest.mark.shared_aws

JOB = "query($id: String!) { importJob(id: $id) { jobId kind status processed } }"


def reader_of(company: Company, *permissions: str) -> Company:
    _, raw = wiring.tenant_service().issue_key(company.id, "gql", list(permissions), SYSTEM)
    return Company(company.http, company.id, raw)


def test_no_credential_is_a_401_before_any_graphql(http: Client) -> None:
    response = http.http.request(
        "POST", "/graphql", headers={"Content-Type": "application/json"}, body=b'{"query": "{ __typename }"}'
    )

    assert response.status_code == 401


def test_a_query_runs_over_post_and_get(acme: Company) -> None:
    assert gql(acme, "{ __typename }").ok() == {"__typename": "Query"}
    assert gql_get(acme, "query Q { __typename }").ok() == {"__typename": "Query"}


def test_a_mutation_over_get_is_a_405_and_runs_nothing(acme: Company) -> None:
    answer = gql_get(acme, "mutation { createInventoryUpload { key } }")

    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.codes == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"{not json", "body"),
        (b"[1]", "body"),
        (b'{"query": ""}', "query"),
        (b'{"query": "{ __typename }", "variables": [1]}', "variables"),
    ],
)
def test_a_body_without_a_runnable_request_is_a_400_in_graphql_shape(acme: Company, body: bytes, field: str) -> None:
    response = acme.http.http.request(
        "POST", "/graphql", headers={"X-API-Key": acme.key, "Content-Type": "application/json"}, body=body
    )

    assert response.status_code == 400
    error = json.loads(response.body)["errors"][0]
    assert error["extensions"] == {"code": "BAD_REQUEST", "field": field}


def test_a_document_that_does_not_parse_or_validate_is_a_400(acme: Company) -> None:
    assert gql(acme, "{ inventory(id: 1) { ").codes == ["GRAPHQL_PARSE_FAILED"]
    answer = gql(acme, "{ nope }")
    assert answer.status == 400
    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_the_document_may_be_sent_as_application_graphql(acme: Company) -> None:
    response = acme.http.http.request(
        "POST",
        "/graphql",
        headers={"X-API-Key": acme.key, "Content-Type": "application/graphql"},
        body=b"{ __typename }",
    )

    assert json.loads(response.body) == {"data": {"__typename": "Query"}}


def test_too_many_root_fields_are_refused_with_a_400_before_any_read(acme: Company) -> None:
    aliases = " ".join(f'j{i}: importJob(id: "{i}") {{ jobId }}' for i in range(101))

    answer = gql(acme, "{ " + aliases + " }")

    assert answer.status == 400
    assert answer.codes == ["QUERY_TOO_COMPLEX"]
    assert answer.data is None


def test_an_unknown_job_and_another_companys_job_are_not_found(acme: Company, other: Company) -> None:
    job = gql(
        other,
        'mutation { importInventoryCsv(lookupKey: "sku", inventoryType: "local", '
        'fieldMappings: [], upload: "sku,quantity\\nA,1\\n") { jobId } }',
    ).ok()["importInventoryCsv"]

    assert gql(acme, JOB, {"id": "nope"}).codes == ["NOT_FOUND"]
    mine = gql(acme, JOB, {"id": job["jobId"]})
    assert mine.codes == ["NOT_FOUND"]
    assert mine.errors[0]["path"] == ["importJob"]
    assert gql(other, JOB, {"id": job["jobId"]}).ok()["importJob"]["kind"] == "v2-inventory"


def test_each_field_checks_its_own_permission(acme: Company) -> None:
    writer = reader_of(acme, "inventory.write")
    reader = reader_of(acme, "inventory.read")

    refused = gql(writer, JOB, {"id": "x"})
    assert refused.codes == ["FORBIDDEN"]
    assert refused.errors[0]["extensions"]["requires"] == ["inventory.read"]
    assert gql(reader, "mutation { createInventoryUpload { key } }").codes == ["FORBIDDEN"]
    assert gql(writer, "mutation { createInventoryUpload { key } }").ok()["createInventoryUpload"]["key"]


def test_the_sdl_is_served_as_text_and_linked_from_openapi(http: Client) -> None:
    response = http.http.request("GET", "/graphql/schema.graphql")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'type Product @key(fields: "id")' in response.body.decode()
    document = json.loads(http.http.request("GET", "/openapi.json").body)
    operation = document["paths"]["/graphql"]["post"]
    assert "/graphql/schema.graphql" in operation["description"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GraphQLBody"
    }
    assert "get" in document["paths"]["/graphql"]
    assert "/graphql/schema.graphql" in document["paths"]


def test_a_mutation_with_an_idempotency_key_is_answered_once(acme: Company) -> None:
    mutation = "mutation { createInventoryUpload { key } }"
    first = gql(acme, mutation, headers={"Idempotency-Key": "gql-1"})
    again = gql(acme, mutation, headers={"Idempotency-Key": "gql-1"})

    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.data == first.data


def test_a_field_error_of_an_executed_document_is_a_200_and_a_bad_representation_is_the_clients(
    acme: Company,
) -> None:
    missing = gql(acme, "{ inventory(id: 999999) { id } }")
    assert (missing.status, missing.codes, missing.data) == (200, ["NOT_FOUND"], None)

    entities = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }"
    unknown = gql(acme, entities, {"r": [{"__typename": "Product", "id": 1}, {"__typename": "Order", "id": 1}]})
    assert unknown.status == 200
    assert unknown.codes == ["BAD_USER_INPUT"]
    assert unknown.errors[0]["extensions"]["field"] == "representations[1].__typename"
