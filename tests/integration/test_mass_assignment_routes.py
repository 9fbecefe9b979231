"""Mass assignment (OWASP API3) on EVERY write route, driven from the route table.

For each POST/PUT/PATCH route with a JSON body (`routing.ENDPOINTS`, so a new
write route is covered without editing this file), the request is the
route's documented OpenAPI example, its example ids swapped for real ones of
a fresh company, plus the server-owned fields of what the route answers: the
fields of the route's response model that its body model does not declare
(ids, companyId, timestamps, labels, computed quantities, workflow status,
history...), each with a forged value, and `version` where the body takes it
as a compare-and-set. One level down the same holds for the entries of a
nested list the body sends (an order's `lineItems`, a request's `lines`):
the server-owned fields of their answer (`reservedQuantity`,
`shippedQuantity`, line ids, timestamps) are forged into each entry.

Two things must hold:

1. Refused by name: one request with every forged field is a 400 whose
   details name exactly the forged fields the body neither declares nor
   lists as `read_only` (`Body` has extra=forbid), and nothing else (so the
   example itself is valid and every refusal is for a forged field).
2. Not taken: the forged fields the body accepts (its `read_only` fields,
   dropped before validation, and a `version` compare-and-set) are sent with
   the example again; the write succeeds and the answer carries none of the
   forged values. A made-up `version` is either refused as stale (409) or
   ignored.

Step 1 needs no data: validation refuses the request before any lookup, so
the example is sent as documented, by one company for the whole module.
For step 2 the example ids are replaced by field name (`SWAPS`): a company
of the test's own (one moto per module; unique names and SKUs of one route's
writes cannot clash with another's) gets, lazily, the reference data,
orders, maker locations, products, users and tasks the example names. A
route whose example names something new fails loudly (an id it cannot
resolve is a 4xx) rather than passing silently. Where the route table has a
GET of the written entity (by id, or its collection's list), what a later
read shows is checked as well as the write's answer.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import pytest
from chalice.test import Client
from pydantic import BaseModel

from app import app
from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from chalicelib.http.openapi import document
from chalicelib.http.routing import ENDPOINTS, JSON, Endpoint

pytestmark = pytest.mark.shared_aws

FORGED_TIME = "2001-01-01T00:00:00Z"
FORGED_DATE = "2001-01-01"
FORGED_NUMBER = 987654
FORGED_VERSION = 99
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

WRITE_ROUTES = [
    e for e in ENDPOINTS if e.method in ("POST", "PUT", "PATCH") and e.body is not None and JSON in e.content_types
]


def route_id(spec: Endpoint) -> str:
    return f"{spec.method} {spec.path}"


def model_of(kind: Any) -> type[BaseModel] | None:
    """The model a body or response is made of (the item model of a list)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind
    for arg in typing.get_args(kind):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def declared(model: type[BaseModel] | None) -> set[str]:
    """The names a body model takes: its fields and their aliases."""
    if model is None:
        return set()
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
            elif alias is not None and hasattr(alias, "choices"):
                names.update(c for c in alias.choices if isinstance(c, str))
    return names


def response_schema(spec: Endpoint) -> dict[str, Any]:
    """The JSON schema of one answered entity (the item of a list answer), from the OpenAPI document."""
    operation = document()["paths"][spec.path][spec.method.lower()]
    success = next(r for status, r in operation["responses"].items() if status.startswith("2"))
    return entity_schema(success.get("content", {}).get(JSON, {}).get("schema", {})) or {}


def entity_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a property holds, itself or as the items of a list (nullable or not); else None."""
    schemas = document()["components"]["schemas"]
    for _ in range(5):
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema:
            schema = next((o for o in schema["anyOf"] if o.get("type") != "null"), {})
        elif schema.get("type") == "array":
            schema = schema.get("items", {})
        else:
            break
    return schema if "properties" in schema else None


def nested_bodies(model: type[BaseModel] | None) -> dict[str, type[BaseModel]]:
    """The body's fields that hold models of their own (a list of lines), by every name they take."""
    found: dict[str, type[BaseModel]] = {}
    for name, info in (model.model_fields if model is not None else {}).items():
        inner = model_of(info.annotation)
        if inner is not None:
            found[name] = inner
            if isinstance(info.alias, str):
                found[info.alias] = inner
    return found


def forged_value(name: str, schema: dict[str, Any]) -> Any:
    """A value the server would never choose itself, of the field's documented type."""
    options = [schema, *schema.get("anyOf", [])]
    types = {o.get("type") for o in options}
    formats = {o.get("format") for o in options}
    enums = [v for o in options for v in o.get("enum", [])]
    if "boolean" in types:
        # Server-owned flags: `active` is true on everything a client writes, the others false.
        return name != "active"
    if enums:
        return enums[-1]
    if "date-time" in formats:
        return FORGED_TIME
    if "date" in formats:
        return FORGED_DATE
    if types & {"integer", "number"}:
        return FORGED_NUMBER
    if "array" in types:
        return [f"forged-{name}"]
    if "object" in types:
        return {"forged": name}
    return f"forged-{name}"


class Plan:
    """What one write route is sent and what it must do with it."""

    def __init__(self, spec: Endpoint) -> None:
        self.spec = spec
        body = model_of(spec.body)
        self.takes = declared(body)
        self.read_only = set(getattr(body, "read_only", frozenset())) - self.takes
        properties = response_schema(spec).get("properties", {})
        self.answered = set(properties)
        owned = {name for name in properties if name not in self.takes}
        self.forged = {name: forged_value(name, properties[name]) for name in sorted(owned)}
        # Refused by extra=forbid: what the body neither declares nor drops as read-only.
        self.refused = {name for name in self.forged if name not in self.read_only}
        # Accepted and dropped before validation: must not reach what is stored.
        self.dropped = {name: v for name, v in self.forged.items() if name in self.read_only}
        self.compare_and_set = "version" in self.takes and "version" in properties
        operation = document()["paths"][spec.path][spec.method.lower()]
        self.example = operation["requestBody"]["content"][JSON]["example"]
        # One level down: the lines of a document, as the body sends them and the answer shows them.
        self.nested: dict[str, Plan.Part] = {}
        for name, inner in nested_bodies(body).items():
            answered = entity_schema(properties.get(name, {}))
            if answered is not None and name in json.dumps(self.example):
                self.nested[name] = Plan.Part(inner, answered["properties"])

    class Part:
        """The server-owned fields of one nested list's entries (an order's lineItems, a request's lines)."""

        def __init__(self, body: type[BaseModel], properties: dict[str, Any]) -> None:
            takes = declared(body)
            read_only = set(getattr(body, "read_only", frozenset())) - takes
            self.forged = {n: forged_value(n, properties[n]) for n in sorted(properties) if n not in takes}
            self.refused = {n for n in self.forged if n not in read_only}
            self.dropped = {n: v for n, v in self.forged.items() if n in read_only}
            self.compare_and_set = "version" in takes and "version" in properties

    def expected_refusals(self, sent: Any) -> set[str]:
        """The forged fields a 400 must name for this body: the top-level ones, and each nested list's
        where the body sends entries of that list (as `lines.reservedQuantity`)."""
        entries = sent if isinstance(sent, list) else [sent]
        nested = {
            f"{name}.{field}"
            for name, part in self.nested.items()
            if any(isinstance(entry.get(name), list) and entry[name] for entry in entries)
            for field in part.refused
        }
        return self.refused | nested


def with_forged(example: Any, top: dict[str, Any], nested: dict[str, dict[str, Any]]) -> Any:
    """The example's entries with `top` added to each, and `nested[name]` to each entry of its list `name`."""

    def entry_with(entry: dict[str, Any]) -> dict[str, Any]:
        entry = {**entry, **top}
        for name, fields in nested.items():
            if isinstance(entry.get(name), list):
                entry[name] = [{**line, **fields} if isinstance(line, dict) else line for line in entry[name]]
        return entry

    return [entry_with(e) for e in example] if isinstance(example, list) else entry_with(example)


PLANS = [Plan(spec) for spec in WRITE_ROUTES]
# Example ids by the field that holds them: an id under a field SWAPS does not name (a tag rule's
# condition value) is read as the field the same example id stands for elsewhere.
EXAMPLE_IDS: dict[str, str] = {}


def _index_example_ids(value: Any, key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _index_example_ids(v, k)
    elif isinstance(value, list):
        for v in value:
            _index_example_ids(v, key)
    elif isinstance(value, str) and UUID.match(value) and key not in ("id", "value"):
        EXAMPLE_IDS.setdefault(value, key)


for _plan in PLANS:
    _index_example_ids(_plan.example)


class World:
    """A fresh company with every permission; what an example names is made the first time it is needed."""

    def __init__(self, http: Client) -> None:
        self.http = http
        service = wiring.tenant_service()
        tenant, _ = service.create_tenant("Mass assignment", ["admin"])
        _, self.key = service.issue_key(tenant.tenant_id, "all", sorted(ALL_PERMISSIONS), SYSTEM)
        self.company = tenant.tenant_id
        self.examples = {(p.spec.method, p.spec.path): p.example for p in PLANS}
        self.made: dict[str, dict[str, Any]] = {}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        path = path.replace("{companyId}", self.company)
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {"X-API-Key": self.key, "Content-Type": JSON}
        return self.http.http.request(method, path, headers=headers, body=payload)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.call(method, path, body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.body!r}"
        return json.loads(response.body)

    def created(self, path: str) -> dict[str, Any]:
        """The entity made by POSTing the collection's own documented example (ids swapped), made once."""
        if path not in self.made:
            answer = self.ok("POST", path, self.swap(self.examples[("POST", path)]))
            self.made[path] = answer[0] if isinstance(answer, list) else answer
        return self.made[path]

    def reference(self, kind: str, body: dict[str, Any]) -> str:
        entity_id: str = self.ok("POST", f"/companies/{{companyId}}/{kind}", [body])[0]["id"]
        return entity_id

    # -- what examples name ------------------------------------------------------------

    @cached_property
    def type(self) -> str:
        return self.reference("inventory-types", {"label": "Flat bar"})

    @cached_property
    def material(self) -> str:
        return self.reference("inventory-materials", {"label": "S235"})

    @cached_property
    def organisation(self) -> str:
        return self.reference("organisations", {"name": "Buyer Co"})

    @cached_property
    def stock_location(self) -> str:
        return self.reference("stock-locations", {"label": "Yard Z"})

    @cached_property
    def tag(self) -> str:
        return self.reference("tags", {"name": "Urgent"})

    @cached_property
    def maker_location(self) -> dict[str, Any]:
        # The maker examples name stock by location name.
        found: dict[str, Any] = self.ok("POST", "/api/locations", {"name": "Main Warehouse"})
        return found

    @cached_property
    def maker_material(self) -> str:
        made: str = self.ok("POST", "/api/materials", {"name": "Paraffin", "unitType": "weight.kg"})["id"]
        return made

    @cached_property
    def product(self) -> str:
        made: str = self.ok("POST", "/api/products", {"name": "Taper candle", "unitType": "pieces"})["id"]
        return made

    @cached_property
    def user(self) -> str:
        email: str = self.ok("POST", "/api/users", {"email": "maker@example.com", "name": "Maker"})["email"]
        return email

    @cached_property
    def task(self) -> dict[str, Any]:
        return self.created("/api/tasks")

    def path_entity(self, path: str, param: str) -> str:
        """A real value for a path parameter: the entity the collection's example makes."""
        if param == "companyId":
            return self.company
        if param == "item_id":
            return str(self.task["Items"][0]["id"])
        collection = path.split(f"/{{{param}}}", 1)[0]
        if collection == "/api/tasks":
            return str(self.task["id"])
        return str(self.created(collection)["id"])

    def path(self, path: str, real: bool) -> str:
        """The route's path with the caller's company and, when `real`, entities that exist."""
        return re.sub(
            r"{(\w+)}",
            lambda m: (
                self.path_entity(path, m.group(1))
                if real or m.group(1) == "companyId"
                else PATH_SAMPLES.get(m.group(1), "1")
            ),
            path,
        )

    def swap(self, value: Any, key: str = "", parent: str = "") -> Any:
        """The example with each id it names replaced by a real one of this company."""
        if isinstance(value, dict):
            return {k: self.swap(v, k, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self.swap(v, key, parent) for v in value]
        swap = SWAPS.get((parent, key)) or SWAPS.get(("", key))
        if swap is None and isinstance(value, str) and value in EXAMPLE_IDS:
            swap = SWAPS.get(("", EXAMPLE_IDS[value]))
        return swap(self, value) if swap is not None else value


SWAPS: dict[tuple[str, str], Callable[[World, Any], Any]] = {
    ("", "type"): lambda w, v: w.type if UUID.match(str(v)) else v,
    ("", "material"): lambda w, _: w.material,
    ("", "supplierId"): lambda w, _: w.organisation,
    ("", "relatedOrganisationId"): lambda w, _: w.organisation,
    ("", "stockLocationId"): lambda w, _: w.stock_location,
    ("", "tags"): lambda w, _: w.tag,
    ("", "tagId"): lambda w, _: w.tag,
    ("", "inventoryId"): lambda w, _: w.created("/companies/{companyId}/inventory")["inventoryId"],
    ("", "orderId"): lambda w, _: w.created("/companies/{companyId}/orders")["orderId"],
    ("", "locationName"): lambda w, _: w.maker_location["name"],
    ("", "LocationId"): lambda w, _: w.maker_location["id"],
    ("", "Assignee"): lambda w, _: w.user,
    ("", "ProductId"): lambda w, _: w.product,
    ("materials", "id"): lambda w, _: w.maker_material,
}
# Path parameters that are not ids (004's bulk route), for requests validation refuses before any lookup.
PATH_SAMPLES = {"lookupKey": "sku", "inventoryType": "local"}
# A PUT of the company surface names the entry it changes by `id`: one made by the collection's POST.
SAME_ENTRY = "id"


def body_with(plan: Plan, world: World, extra: dict[str, Any], nested: dict[str, dict[str, Any]]) -> Any:
    """The example with real ids, plus `extra` in each entry and `nested[name]` in each entry of list `name`."""
    example = world.swap(plan.example)
    if plan.spec.method == "PUT" and isinstance(example, list):
        for entry in example:
            if SAME_ENTRY in entry:
                made = world.created(plan.spec.path)
                entry[SAME_ENTRY], entry["version"] = made["id"], made["version"]
    return with_forged(example, extra, nested)


def named(response: Any) -> set[str]:
    """The fields a 400 names, without list positions: `[0].lines[2].id` is `lines.id`."""
    return {re.sub(r"\[\d+\]", "", d["field"]).lstrip(".") for d in json.loads(response.body)["details"]}


@pytest.fixture(scope="module")
def client(module_aws: None) -> Iterator[Client]:
    """The real app on the module's one moto."""
    wiring.reset()
    with Client(app) as test_client:
        yield test_client
    wiring.reset()


@pytest.fixture(scope="module")
def shared(client: Client) -> World:
    """One company for the requests validation refuses: they write nothing."""
    return World(client)


@pytest.fixture
def world(client: Client) -> World:
    """A company of the test's own: its writes cannot clash with another route's (unique names, SKUs)."""
    return World(client)


def test_given_the_route_table_then_every_json_write_route_is_checked() -> None:
    # The net is the route table itself: every surface's writes are here.
    paths = {plan.spec.path for plan in PLANS}
    assert len(PLANS) >= 70
    for expected in ("/companies/{companyId}/orders", "/api/tasks/{id}", "/api/inventory/holds", "/v2/products"):
        assert expected in paths
    # And every one of them answers fields of its own that the body cannot set.
    assert all(plan.answered for plan in PLANS)


@pytest.mark.parametrize(
    "plan", [p for p in PLANS if p.refused or any(n.refused for n in p.nested.values())], ids=lambda p: route_id(p.spec)
)
def test_given_server_owned_fields_the_body_does_not_take_then_400_names_each_of_them(
    shared: World, plan: Plan
) -> None:
    # Given the route's documented example plus every server-owned field of its answer
    body = world_free_body(plan)

    # When
    response = shared.call(plan.spec.method, shared.path(plan.spec.path, real=False), body)

    # Then one 400 names every refused field, and only those: the example itself is valid
    if response.status_code == 207:
        # A bulk route answers per record: every record refused, for the forged fields alone.
        results = json.loads(response.body)["results"]
        assert results and all(r["status"] == "error" for r in results), response.body
        assert all(set(re.findall(r"(\w+): Extra inputs", r["error"])) <= plan.expected_refusals(body) for r in results)
        assert all(re.search(r"(\w+): Extra inputs", r["error"]) for r in results), response.body
        return
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["code"] == "VALIDATION_ERROR"
    assert named(response) == plan.expected_refusals(body), response.body


def world_free_body(plan: Plan) -> Any:
    """The example plus every forged field, ids left as documented: validation refuses it before any lookup."""
    return with_forged(plan.example, plan.forged, {name: part.forged for name, part in plan.nested.items()})


@pytest.mark.parametrize(
    "plan",
    [
        p
        for p in PLANS
        if p.dropped or p.compare_and_set or any(n.dropped or n.compare_and_set for n in p.nested.values())
    ],
    ids=lambda p: route_id(p.spec),
)
def test_given_server_owned_fields_the_body_accepts_then_none_is_stored(world: World, plan: Plan) -> None:
    # Given the example with the server-owned fields the body accepts (and drops), and a version
    # the client made up where the body takes one
    made_up = {"version": FORGED_VERSION}
    forged = {**plan.dropped, **(made_up if plan.compare_and_set else {})}
    nested = {name: {**part.dropped, **(made_up if part.compare_and_set else {})} for name, part in plan.nested.items()}
    path = world.path(plan.spec.path, real=True)

    # When
    response = world.call(plan.spec.method, path, body_with(plan, world, forged, nested))
    if response.status_code == 409 and any("version" in fields for fields in (forged, *nested.values())):
        # A compare-and-set refused the made-up version as stale, so nothing was written; without it:
        body = json.loads(response.body)
        assert body["code"] == "STALE_VERSION", body
        assert {d["field"].rsplit(".", 1)[-1] for d in body["details"]} <= {"version"}, body
        for fields in (forged, *nested.values()):
            fields.pop("version", None)
        response = world.call(plan.spec.method, path, body_with(plan, world, forged, nested))

    # Then the write succeeds and its answer carries the server's values, none of the forged ones
    assert response.status_code in (200, 201), response.body
    stored = stored_of(response)
    checked = {name for name in forged if name in stored} | {name for name in nested if stored.get(name)}
    assert checked, f"the answer shows none of {sorted(forged)}: nothing to compare"
    taken = {name for name in forged if name in stored and stored[name] == forged[name]}
    assert not taken, f"took the client's {sorted(taken)}: {stored}"
    # And no entry of a nested list took a forged value either
    for name, fields in nested.items():
        lines = [line for line in stored.get(name) or [] if isinstance(line, dict)]
        taken = {f"{name}.{k}" for line in lines for k, v in fields.items() if line.get(k) == v}
        assert not taken, f"took the client's {sorted(taken)}: {lines}"
    # And where the entity can be read back by its id, what is stored says the same
    again = read_back(world, plan.spec, stored, path)
    if again is not None:
        taken = {name for name in forged if name in again and again[name] == forged[name]}
        assert not taken, f"stored the client's {sorted(taken)}: {again}"


GETS = {e.path for e in ENDPOINTS if e.method == "GET"}


def reader(spec: Endpoint, stored: dict[str, Any], path: str) -> str | None:
    """The GET of the written entity, when the route table has one: the item path itself (PATCH), or
    the collection's item route named by an id field the answer carries (POST, PUT)."""
    if spec.path in GETS and "{" in spec.path.rsplit("/", 1)[-1]:
        return path
    for candidate in GETS:
        match = re.fullmatch(re.escape(spec.path) + r"/{(\w+)}", candidate)
        if match and match.group(1) in stored:
            return path + "/" + str(stored[match.group(1)])
    return None


def read_back(world: World, spec: Endpoint, stored: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The written entity as a later GET shows it: by its own route, else found by id in its collection's list."""
    item = reader(spec, stored, path)
    if item is not None:
        found: dict[str, Any] = world.ok("GET", item)
        return found
    if spec.path in GETS and "id" in stored:
        listed = world.ok("GET", path)
        rows = listed["data"] if isinstance(listed, dict) else listed
        return next(row for row in rows if row["id"] == stored["id"])
    return None


def stored_of(response: Any) -> dict[str, Any]:
    answer = json.loads(response.body)
    stored: dict[str, Any] = answer[0] if isinstance(answer, list) else answer
    return stored
