"""The 002 maker surface over HTTP against the local stack: every route, its failures, and a maker's day
whose every stock figure is checked here and through the company inventory surface (000)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    Eventually = Callable[..., Any]
    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e
D = Decimal


class Maker:
    """A company calling /api with the documented `X-Inventora-API-Key` header (or the query parameter)."""

    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.base = api.base_url
        self.key = tenant.api_key
        self.id = tenant.company_id
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, *, in_query: bool = False, **headers: str) -> Any:
        params = {"x-inventora-api-key": self.key} if in_query else None
        sent = dict(headers) if in_query else {"X-Inventora-API-Key": self.key, **headers}
        return self.session.request(method, self.base + path, json=body, params=params, headers=sent, timeout=15)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal) if response.text else None

    def fails(self, method: str, path: str, body: Any = None, status: int = 400) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()
        assert isinstance(error["error"], str) and error["error"]
        return error

    def company(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """The same company through the 000 surface (Bearer key, company path)."""
        response = self.session.request(
            method,
            f"{self.base}/companies/{self.id}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=15,
        )
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)

    def level(self, kind: str, resource_id: str, update: str, quantity: Any, location: str, **extra: Any) -> Any:
        body = {"quantity": str(quantity), "locationName": location, "updateType": update, **extra}
        return self.ok("POST", f"/api/{kind}/{resource_id}/stock-level-updates", body)

    def stock(self, kind: str, resource_id: str) -> tuple[Decimal, dict[str, Decimal]]:
        found = self.ok("GET", f"/api/{kind}/{resource_id}")
        return found["stockLevel"], found["locationStockLevels"]


def fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


@pytest.fixture
def maker(api: Api, make_tenant: MakeTenant) -> Maker:
    return Maker(api, make_tenant("E2E Candle Co"))


@pytest.fixture
def rival(api: Api, make_tenant: MakeTenant) -> Maker:
    return Maker(api, make_tenant("E2E Rival"))


def test_every_maker_route_over_http(maker: Maker) -> None:
    # Locations
    listed = maker.ok("GET", "/api/locations")
    (main,) = listed["data"]
    assert (main["isDefault"], listed["pagination"]) == (True, {"totalCount": 1, "offset": 0, "limit": 100})
    shop = maker.ok("POST", "/api/locations", {"name": "Retail Store", "city": "Portland", "hideMaterials": True}, 201)
    assert maker.ok("GET", f"/api/locations/{shop['id']}") == shop
    assert maker.ok("PATCH", f"/api/locations/{shop['id']}", {"zip": "97202"})["zip"] == "97202"
    spare = maker.ok("POST", "/api/locations", {"name": "Spare"}, 201)
    assert maker.call("DELETE", f"/api/locations/{spare['id']}").status_code == 204

    # Users and custom statuses
    sam = maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)
    assert maker.ok("GET", "/api/users")["data"] == [sam]
    gifted = maker.ok("POST", "/api/custom-statuses", {"name": "Gifted", "effect": "subtract"}, 201)
    assert maker.ok("GET", "/api/custom-statuses")["data"] == [gifted]

    # Materials and products
    wax = maker.ok(
        "POST",
        "/api/materials",
        {
            "name": "Soy Wax",
            "unitType": "weight.kg",
            "unitPrice": "3.25",
            "initialStock": {"locationName": main["name"], "quantity": 5},
        },
        201,
    )
    assert maker.ok("GET", "/api/materials")["pagination"]["totalCount"] == 1
    assert maker.ok("GET", f"/api/materials/{wax['id']}")["stockLevel"] == D(5)
    assert maker.ok("PATCH", f"/api/materials/{wax['id']}", {"minLevel": "2"})["minLevel"] == D(2)
    assert maker.level("materials", wax["id"], "restock", 3, main["name"])["stockLevel"] == D(8)
    assert maker.ok("GET", f"/api/materials/{wax['id']}/stock-blocks")["stockLevel"] == D(8)
    candle = maker.ok(
        "POST", "/api/products", {"name": "Candle", "materials": [{"id": wax["id"], "quantityUsed": "0.5"}]}, 201
    )
    assert maker.ok("GET", "/api/products")["data"][0]["materials"][0]["stockLevel"] == D(8)
    assert maker.ok("GET", f"/api/products/{candle['id']}")["productionType"] == "produced"
    assert maker.ok("PATCH", f"/api/products/{candle['id']}", {"retailPrice": "15"})["retailPrice"] == D(15)
    assert maker.level("products", candle["id"], "restock", 2, "Retail Store")["stockLevel"] == D(2)
    assert maker.ok("GET", f"/api/products/{candle['id']}/stock-blocks")["blocks"][0]["initial"] is True
    assert maker.level("products", candle["id"], "custom", 2, "Retail Store", customStatusId=gifted["id"])[
        "stockLevel"
    ] == D(0)

    # Tasks and batches
    task = maker.ok(
        "POST",
        "/api/tasks",
        {"name": "Candles", "Assignee": "sam@example.com", "Items": [{"ProductId": candle["id"], "quantity": 4}]},
        201,
    )
    assert maker.ok("GET", f"/api/tasks?UserId={sam['id']}")["pagination"]["totalCount"] == 1
    assert maker.ok("PATCH", f"/api/tasks/{task['id']}", {"status": "in-progress"})["status"] == "in-progress"
    batch = maker.ok("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 4}, 201)
    assert maker.ok("GET", f"/api/tasks/{task['id']}")["status"] == "done"
    assert maker.stock("materials", wax["id"])[0] == D(6)
    assert maker.call("DELETE", f"/api/task-batches/{batch['id']}").status_code == 204
    assert maker.stock("materials", wax["id"])[0] == D(8)
    assert maker.call("DELETE", f"/api/tasks/{task['id']}").status_code == 204
    assert maker.ok("GET", "/api/tasks")["data"] == []

    # Deletes of resources (stock at zero, no open task)
    assert maker.call("DELETE", f"/api/products/{candle['id']}").status_code == 204
    maker.level("materials", wax["id"], "audit", 0, main["name"])
    assert maker.call("DELETE", f"/api/materials/{wax['id']}").status_code == 204
    assert maker.ok("GET", "/api/materials")["pagination"]["totalCount"] == 0


def test_bad_input_is_a_400_naming_the_field(maker: Maker) -> None:
    main = maker.ok("GET", "/api/locations")["data"][0]["name"]
    wax = maker.ok("POST", "/api/materials", {"name": "Wax", "unitType": "weight.kg"}, 201)
    candle = maker.ok(
        "POST", "/api/products", {"name": "Candle", "materials": [{"id": wax["id"], "quantityUsed": 1}]}, 201
    )
    task = maker.ok("POST", "/api/tasks", {"name": "T", "Items": [{"ProductId": candle["id"], "quantity": 2}]}, 201)
    level = f"/api/materials/{wax['id']}/stock-level-updates"
    for method, path, body, field in [
        ("GET", "/api/products?limit=1001", None, "limit"),
        ("GET", "/api/materials?offset=-1", None, "offset"),
        ("GET", "/api/locations?limit=abc", None, "limit"),
        ("GET", "/api/tasks?status=paused", None, "status"),
        ("POST", "/api/products", {"name": "X", "unitType": "bundles"}, "unitType"),
        ("POST", "/api/materials", {"name": "X", "unitType": "weight.stone"}, "unitType"),
        ("PATCH", f"/api/materials/{wax['id']}", {"unitType": "bundles"}, "unitType"),
        (
            "PATCH",
            f"/api/products/{candle['id']}",
            {"materials": [{"id": "ghost", "quantityUsed": 1}]},
            "materials[0].id",
        ),
        ("POST", level, {"quantity": 1, "locationName": "Nowhere", "updateType": "restock"}, "locationName"),
        ("POST", level, {"quantity": 1, "locationName": main, "updateType": "loss"}, "quantity"),
        ("POST", level, {"quantity": 1, "locationName": main, "updateType": "custom"}, "customStatusId"),
        (
            "POST",
            level,
            {"quantity": 1, "locationName": main, "updateType": "custom", "customStatusId": 7},
            "customStatusId",
        ),
        ("POST", "/api/tasks", {"name": "T", "Items": []}, "Items"),
        (
            "POST",
            "/api/tasks",
            {"name": "T", "Items": [{"ProductId": candle["id"], "quantity": 0}]},
            "Items[0].quantity",
        ),
        ("POST", "/api/tasks", {"name": "T", "Items": [{"ProductId": "ghost", "quantity": 1}]}, "Items[0].ProductId"),
        (
            "POST",
            "/api/tasks",
            {"name": "T", "Items": [{"ProductId": candle["id"], "quantity": 1, "unitType": "weight.kg"}]},
            "Items[0].unitType",
        ),
        (
            "POST",
            "/api/tasks",
            {"name": "T", "Assignee": "ghost@example.com", "Items": [{"ProductId": candle["id"], "quantity": 1}]},
            "Assignee",
        ),
        ("PATCH", f"/api/tasks/{task['id']}", {"name": ""}, "name"),
        ("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 0}, "quantity"),
        ("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1}, "quantity"),  # no wax: short
        ("POST", "/api/users", {"email": "nope", "name": "X"}, "email"),
        ("POST", "/api/custom-statuses", {"name": "X", "effect": "double"}, "effect"),
        ("POST", "/api/locations", {"name": ""}, "name"),
    ]:
        error = maker.fails(method, path, body)
        assert field in fields(error), (method, path, error)
    short = maker.fails("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1})
    assert wax["id"] in short["details"][0]["message"]
    broken = maker.call("POST", "/api/products", None, **{"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_other_companies_ids_are_404_permissions_403_and_keys_401(
    maker: Maker, rival: Maker, api: Api, make_tenant: MakeTenant
) -> None:
    main = rival.ok("GET", "/api/locations")["data"][0]
    wax = rival.ok(
        "POST",
        "/api/materials",
        {"name": "Their wax", "initialStock": {"locationName": main["name"], "quantity": 9}},
        201,
    )
    candle = rival.ok(
        "POST", "/api/products", {"name": "Their candle", "materials": [{"id": wax["id"], "quantityUsed": 1}]}, 201
    )
    task = rival.ok(
        "POST", "/api/tasks", {"name": "Theirs", "Items": [{"ProductId": candle["id"], "quantity": 3}]}, 201
    )
    batch = rival.ok("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1}, 201)
    for method, path, body in [
        ("GET", f"/api/materials/{wax['id']}", None),
        ("PATCH", f"/api/products/{candle['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/materials/{wax['id']}", None),
        (
            "POST",
            f"/api/materials/{wax['id']}/stock-level-updates",
            {"quantity": 1, "locationName": main["name"], "updateType": "restock"},
        ),
        ("GET", f"/api/products/{candle['id']}/stock-blocks", None),
        ("GET", f"/api/locations/{main['id']}", None),
        ("GET", f"/api/tasks/{task['id']}", None),
        ("PATCH", f"/api/tasks/{task['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/tasks/{task['id']}", None),
        ("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1}),
        ("DELETE", f"/api/task-batches/{batch['id']}", None),
    ]:
        maker.fails(method, path, body, 404)
    assert rival.ok("GET", f"/api/materials/{wax['id']}")["stockLevel"] == D(8)

    reader = Maker(api, make_tenant("E2E reader", "products.read,inventory.read,tasks.read"))
    for method, path, body in [
        ("POST", "/api/products", {"name": "X"}),
        ("PATCH", "/api/materials/x", {"name": "X"}),
        ("POST", "/api/materials/x/stock-level-updates", {"quantity": 1, "locationName": "x", "updateType": "audit"}),
        ("POST", "/api/locations", {"name": "X"}),
        ("POST", "/api/tasks", {"name": "X", "Items": []}),
        ("DELETE", "/api/task-batches/1", None),
        ("POST", "/api/users", {"email": "a@b.co", "name": "A"}),
        ("POST", "/api/custom-statuses", {"name": "A", "effect": "add"}),
    ]:
        maker_error = reader.fails(method, path, body, 403)
        assert "lacks the permission" in maker_error["error"]
    assert reader.ok("GET", "/api/products")["data"] == []
    assert reader.ok("GET", "/api/tasks", in_query=True)["data"] == []

    missing = requests.get(f"{maker.base}/api/products", timeout=10)
    assert (missing.status_code, missing.json()["error"]) == (401, "API key missing")
    wrong = requests.get(f"{maker.base}/api/products", headers={"X-Inventora-API-Key": "sr_x_y_z"}, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Invalid API key")
    wrong_query = requests.get(f"{maker.base}/api/products?x-inventora-api-key=nope", timeout=10)
    assert (wrong_query.status_code, wrong_query.json()["error"]) == (401, "Invalid API key")


def test_a_makers_day(maker: Maker, eventually: Eventually) -> None:
    """Set up materials and a product with a bill of materials, restock, produce in two batches, delete one
    batch, audit a location; check every figure here and through the company inventory surface."""
    main = maker.ok("GET", "/api/locations")["data"][0]
    studio = maker.ok("POST", "/api/locations", {"name": "Studio", "address1": "1 Mill Lane", "city": "Leeds"}, 201)
    sam = maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)

    # Morning: materials (wax in kg, scent in ml), a candle of 250 g wax, 10 ml scent and a wick.
    wax = maker.ok(
        "POST", "/api/materials", {"name": "Soy Wax", "unitType": "weight.kg", "unitPrice": "3.25", "sku": "WAX"}, 201
    )
    scent = maker.ok("POST", "/api/materials", {"name": "Vanilla", "unitType": "volume.ml", "unitPrice": "0.05"}, 201)
    wick = maker.ok("POST", "/api/materials", {"name": "Wick", "unitPrice": "0.10"}, 201)
    candle = maker.ok(
        "POST",
        "/api/products",
        {
            "name": "Handmade Candle",
            "sku": "CANDLE-001",
            "unitPrice": "5.50",
            "retailPrice": "15",
            "materials": [
                {"id": wax["id"], "quantityUsed": "0.25"},
                {"id": scent["id"], "quantityUsed": "10"},
                {"id": wick["id"], "quantityUsed": "1"},
            ],
        },
        201,
    )

    # Restock: deliveries arrive at the studio (and some wicks at the main location).
    maker.level("materials", wax["id"], "restock", 6, "Studio", notes="Delivery 1")
    maker.level("materials", scent["id"], "restock", 500, "Studio")
    maker.level("materials", wick["id"], "restock", 30, "Studio")
    maker.level("materials", wick["id"], "restock", 100, main["name"])

    # Produce 20 candles at the studio, in two batches (12 then 8).
    task = maker.ok(
        "POST",
        "/api/tasks",
        {
            "name": "Weekend market",
            "UserId": sam["id"],
            "LocationId": studio["id"],
            "Items": [{"ProductId": candle["id"], "quantity": 20}],
        },
        201,
    )
    first = maker.ok("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 12}, 201)
    assert maker.ok("GET", f"/api/tasks/{task['id']}")["status"] == "in-progress"
    second = maker.ok("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 8, "UserId": sam["id"]}, 201)
    done = maker.ok("GET", f"/api/tasks/{task['id']}")
    assert (done["status"], done["Items"][0]["completed"], done["Items"][0]["Product"]["stockLevel"]) == (
        "done",
        True,
        D(20),
    )
    assert done["completedAt"] == second["createdAt"]
    assert maker.stock("products", candle["id"]) == (D(20), {"Studio": D(20)})
    assert maker.stock("materials", wax["id"]) == (D(1), {"Studio": D(1)})
    assert maker.stock("materials", scent["id"]) == (D(300), {"Studio": D(300)})
    assert maker.stock("materials", wick["id"]) == (D(110), {main["name"]: D(100), "Studio": D(10)})

    # A third batch would need 0.25 kg more wax than the studio holds: refused, nothing moves.
    refused = maker.fails("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 5})
    assert "Soy Wax" in refused["error"]
    assert maker.stock("materials", wax["id"])[0] == D(1)

    # The first batch was a mistake: deleting it gives back exactly what it took.
    assert maker.call("DELETE", f"/api/task-batches/{first['id']}").status_code == 204
    reopened = maker.ok("GET", f"/api/tasks/{task['id']}")
    assert (reopened["status"], reopened["completedAt"], [b["id"] for b in reopened["Items"][0]["Batches"]]) == (
        "in-progress",
        None,
        [second["id"]],
    )
    assert maker.stock("products", candle["id"]) == (D(8), {"Studio": D(8)})
    assert maker.stock("materials", wax["id"]) == (D(4), {"Studio": D(4)})
    assert maker.stock("materials", scent["id"]) == (D(420), {"Studio": D(420)})
    assert maker.stock("materials", wick["id"]) == (D(122), {main["name"]: D(100), "Studio": D(22)})

    # Evening: audit the studio's wax (a scale says 3.9 kg) and the main location's wicks.
    maker.level("materials", wax["id"], "audit", "3.9", "Studio", notes="Weekly count")
    maker.level("materials", wick["id"], "audit", 95, main["name"])
    assert maker.stock("materials", wax["id"]) == (D("3.9"), {"Studio": D("3.9")})
    assert maker.stock("materials", wick["id"]) == (D(117), {main["name"]: D(95), "Studio": D(22)})

    # The product page shows the materials' figures; the list agrees.
    product = maker.ok("GET", f"/api/products/{candle['id']}")
    assert [(m["name"], m["stockLevel"], m["quantityUsed"]) for m in product["materials"]] == [
        ("Soy Wax", D("3.9"), D("0.25")),
        ("Vanilla", D(420), D(10)),
        ("Wick", D(117), D(1)),
    ]
    assert maker.ok("GET", "/api/products")["data"] == [product]

    # FIFO: the wax restocked at 3.25 is what is left (the audit drew 0.1 kg of it).
    blocks = maker.ok("GET", f"/api/materials/{wax['id']}/stock-blocks")
    assert (blocks["stockLevel"], blocks["totalValue"]) == (D("3.9"), D("12.675"))

    # The company inventory surface reads the same stock records, and its history shows the moves.
    rows = {(r["productName"], r["stockLocationLabel"]): r for r in maker.company("GET", "/inventory")}
    assert {key: row["quantity"] for key, row in rows.items()} == {
        ("Soy Wax", "Studio"): D("3.9"),
        ("Vanilla", "Studio"): D(420),
        ("Wick", "Studio"): D(22),
        ("Wick", main["name"]): D(95),
        ("Handmade Candle", "Studio"): D(8),
    }
    wax_row = rows[("Soy Wax", "Studio")]["inventoryId"]

    def wax_history() -> list[Any] | None:
        events: list[dict[str, Any]] = maker.company("GET", f"/inventory/{wax_row}/history")
        moves = [(c["old"], c["new"]) for e in events for c in e["changes"] if c["field"] == "quantity"]
        return moves if len(moves) == 5 else None

    # restock 6, batch of 12 (-3), batch of 8 (-2), batch deleted (+3), audit (-0.1).
    assert eventually(wax_history, timeout=10) == [(None, 6), (6, 3), (3, 1), (1, 4), (4, D("3.9"))]

    # A 000 update of the studio's wick row is the maker's stock too.
    wick_row = rows[("Wick", "Studio")]["inventoryId"]
    maker.company("PUT", "/inventory", [{"inventoryId": wick_row, "quantity": "25"}])
    assert maker.stock("materials", wick["id"]) == (D(120), {main["name"]: D(95), "Studio": D(25)})
