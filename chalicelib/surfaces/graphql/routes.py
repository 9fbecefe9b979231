"""The GraphQL routes. Importing this module declares them and loads no GraphQL library: the handlers
import `execution` (strawberry, graphql-core) on their first call, so the app's cold start does not grow.

Authentication is routing's, as for every REST route (API keys, and whatever `http/auth` accepts);
the route asks for a valid credential only, and each field checks its own permission
(inventory.read for queries, inventory.write for mutations), so one document may mix fields and
get FORBIDDEN on exactly the ones the key may not use.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from chalicelib.core.models import Model
from chalicelib.http.openapi import ErrorBody
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.graphql import graphql

PATH = "/graphql"
SDL_PATH = "/graphql/schema.graphql"
TAG = "GraphQL (v2)"
JSON = "application/json"
GRAPHQL = "application/graphql"

DESCRIPTION = (
    "The multi-source inventory (v2) as GraphQL, an Apollo Federation v2 subgraph. The schema (SDL) is at "
    f"[`GET {SDL_PATH}`]({SDL_PATH}) and answers `{{ _service {{ sdl }} }}`; `_entities` resolves "
    '`Product @key(fields: "id")` (the numeric productId, with its aggregated inventory) and '
    '`Inventory @key(fields: "id")`. Queries: `inventory(id)`, `productInventory(lookupKey, key, source, '
    "warehouseId)`, `searchInventory(filter, sort, page, pageSize)`, `importJob(id)`. Mutations: "
    "`updateInventory`, `deleteInventory`, `bulkUpsertInventory(lookupKey, inventoryType, records)`, "
    "`createInventoryUpload` (a presigned S3 POST) and `importInventoryCsv(lookupKey, inventoryType, "
    "fieldMappings, upload)` (an asynchronous import job, followed with `importJob`). The body is "
    '`{"query", "variables", "operationName"}` (or the document itself as `application/graphql`). Any valid '
    "credential may call; each field checks its permission: inventory.read for queries, inventory.write for "
    "mutations. Errors are GraphQL errors with `extensions.code`: BAD_USER_INPUT (with `extensions.field`), "
    "NOT_FOUND (also another company's ids), FORBIDDEN, CONFLICT. A document deeper than 10 levels or with "
    "more than 100 root fields (each alias counts) is refused with QUERY_TOO_COMPLEX (400) and runs nothing; "
    "a document that does not parse or validate is a 400 too; an executed one is a 200, whatever its field "
    "errors. With an Idempotency-Key a retried POST gets the first answer back."
)


class GraphQLBody(Model):
    """Shown in the OpenAPI document only: the handler reads the body itself, to answer GraphQL errors."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="The GraphQL document")
    variables: dict[str, object] | None = None
    operationName: str | None = None


class GraphQLQuery(Model):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="The GraphQL document (queries only over GET)")
    variables: str | None = Field(None, description="The variables as a JSON object")
    operationName: str | None = None


class GraphQLResponse(Model):
    data: dict[str, object] | None = None
    errors: list[dict[str, object]] | None = Field(
        None, description="Each with `message`, `path`, `locations` and `extensions.code`"
    )


# A document that never ran (no query, bad syntax, over the limits) is a 400 in GraphQL's shape;
# routing's own 400s (a bad query string) keep the service's.
ERRORS = {"400": ("The document was not run: `errors` says why", GraphQLResponse | ErrorBody)}

EXAMPLE = {
    "query": 'query($key: String!) { productInventory(lookupKey: "sku", key: $key) '
    "{ productId sku totalQuantity availableQuantity records { id warehouseId quantity } } }",
    "variables": {"key": "WIDGET-L-BLU"},
}


@endpoint(
    graphql,
    PATH,
    "POST",
    permissions=(),
    summary="GraphQL (queries and mutations)",
    tag=TAG,
    content_types=(JSON, GRAPHQL),
    response=GraphQLResponse,
    description=DESCRIPTION,
    example=EXAMPLE,
    documented_body=GraphQLBody,
    error_responses=ERRORS,
)
def post_graphql(call: Call) -> Reply:
    from chalicelib.surfaces.graphql import execution

    return execution.run(call, lambda: execution.from_post(call), mutations=True)


@endpoint(
    graphql,
    PATH,
    "GET",
    permissions=(),
    summary="GraphQL (queries only)",
    tag=TAG,
    query=GraphQLQuery,
    response=GraphQLResponse,
    error_responses=ERRORS,
    description="The same endpoint over GET, for queries: `?query=...&variables=<JSON>&operationName=...`. "
    "A mutation over GET is a 405. " + DESCRIPTION,
)
def get_graphql(call: Call) -> Reply:
    from chalicelib.surfaces.graphql import execution

    query: GraphQLQuery = call.query
    params = {k: v for k, v in query.model_dump().items() if v is not None}
    return execution.run(call, lambda: execution.from_get(params), mutations=False)


@endpoint(
    graphql,
    SDL_PATH,
    "GET",
    public=True,
    summary="The GraphQL schema (SDL)",
    tag=TAG,
    produces="text/plain",
    description="The subgraph's schema in the GraphQL schema definition language, federation directives "
    "included (the same text `{ _service { sdl } }` answers). Public, as /openapi.json is.",
)
def schema_sdl(call: Call) -> Reply:
    from chalicelib.surfaces.graphql.schema import sdl

    return Reply(raw=sdl(), content_type="text/plain; charset=utf-8")
