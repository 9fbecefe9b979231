"""The 002 tasks, batches, users and custom statuses routes through the real app on moto."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.stock.levels import location_stock_id
from tests.integration.maker import Maker, fields_of, loads, make_maker

D = Decimal
TASK_FIELDS = {
    "id",
    "name",
    "status",
    "order",
    "LocationId",
    "UserId",
    "due",
    "completedAt",
    "notes",
    "createdAt",
    "updatedAt",
    "Items",
}
ITEM_FIELDS = {"id", "ResourceId", "quantity", "unitType", "completed", "Product", "Batches"}


@pytest.fixture
def maker(http: Client) -> Maker:
    return make_maker(http)


@pytest.fixture
def rival(http: Client) -> Maker:
    return make_maker(http, "Rival Crafts")


class Workshop:
    """Wax (kg) and wicks at the default location, and a candle made of 0.25 kg wax and one wick."""

    def __init__(self, maker: Maker, wax: str = "10", wicks: str = "100") -> None:
        self.maker = maker
        self.main = maker.default_location()
        where = {"locationName": self.main["name"]}
        self.wax = maker.material("Soy Wax", "weight.kg", unitPrice="3", initialStock={**where, "quantity": wax})
        self.wick = maker.material("Wick", initialStock={**where, "quantity": wicks})
        self.candle = maker.product("Candle", [(self.wax["id"], "0.25"), (self.wick["id"], 1)], unitPrice="5")

    def task(self, quantity: Any = 20, **fields: Any) -> dict[str, Any]:
        body = {"name": "Candles", "Items": [{"ProductId": self.candle["id"], "quantity": str(quantity)}], **fields}
        found: dict[str, Any] = self.maker.ok("POST", "/api/tasks", body, 201)
        return found

    def batch(self, task: dict[str, Any], quantity: Any, item: int = 1, status: int = 201, **extra: Any) -> Any:
        path = f"/api/tasks/{task['id']}/items/{item}/batches"
        if status == 201:
            return self.maker.ok("POST", path, {"quantity": str(quantity), **extra}, 201)
        return self.maker.error("POST", path, {"quantity": str(quantity), **extra}, status)

    def stock(self, resource: dict[str, Any]) -> Decimal:
        kind = "products" if resource is self.candle else "materials"
        return D(self.maker.get(kind, resource["id"])["stockLevel"])

    def figures(self) -> tuple[Decimal, Decimal, Decimal]:
        return self.stock(self.candle), self.stock(self.wax), self.stock(self.wick)


@pytest.fixture
def shop(maker: Maker) -> Workshop:
    return Workshop(maker)


# -- users and custom statuses -----------------------------------------------------------


def test_users_are_created_by_admins_listed_with_a_count_and_unique_by_email(http: Client, maker: Maker) -> None:
    sam = maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)
    assert set(sam) == {"id", "email", "name"}
    assert maker.error("POST", "/api/users", {"email": "SAM@example.com", "name": "Other Sam"}, 409)
    assert fields_of(maker.error("POST", "/api/users", {"email": "not-an-email", "name": "X"})) == ["email"]
    assert fields_of(maker.error("POST", "/api/users", {"email": "a@b.co"})) == ["name"]
    listed = maker.ok("GET", "/api/users")
    assert (listed["data"], listed["pagination"]["totalCount"]) == ([sam], 1)
    reader = make_maker(http, "Readers", ("tasks.read",))
    assert reader.error("POST", "/api/users", {"email": "x@y.co", "name": "X"}, 403)
    assert reader.ok("GET", "/api/users")["data"] == []


def test_custom_statuses_are_numbered_and_unique_by_name(http: Client, maker: Maker) -> None:
    first = maker.ok("POST", "/api/custom-statuses", {"name": "Gifted", "effect": "subtract"}, 201)
    second = maker.ok("POST", "/api/custom-statuses", {"name": "Found", "effect": "add"}, 201)
    assert (first, second["id"]) == ({"id": 1, "name": "Gifted", "effect": "subtract"}, 2)
    assert maker.error("POST", "/api/custom-statuses", {"name": "gifted", "effect": "set"}, 409)
    assert fields_of(maker.error("POST", "/api/custom-statuses", {"name": "X", "effect": "double"})) == ["effect"]
    assert maker.ok("GET", "/api/custom-statuses?offset=1")["data"] == [second]
    assert maker.ok("GET", "/api/custom-statuses")["pagination"]["totalCount"] == 2
    reader = make_maker(http, "Readers", ("inventory.read",))
    assert reader.error("POST", "/api/custom-statuses", {"name": "X", "effect": "set"}, 403)


# -- tasks -------------------------------------------------------------------------------


def test_a_task_is_created_in_the_documented_shape_and_numbered_per_company(shop: Workshop, rival: Maker) -> None:
    maker = shop.maker
    sam = maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)
    studio = maker.location("Studio")
    task = shop.task(
        50, Assignee="Sam@Example.com", LocationId=studio["id"], due="2024-03-15T10:00:00Z", notes="Rush order"
    )
    assert set(task) >= TASK_FIELDS
    assert (task["status"], task["order"], task["UserId"], task["LocationId"]) == (
        "pending",
        1,
        sam["id"],
        studio["id"],
    )
    assert (task["due"], task["completedAt"], task["notes"]) == ("2024-03-15T10:00:00Z", None, "Rush order")
    (item,) = task["Items"]
    assert set(item) == ITEM_FIELDS
    assert (item["id"], item["ResourceId"], item["quantity"], item["unitType"], item["completed"]) == (
        1,
        shop.candle["id"],
        D(50),
        "pieces",
        False,
    )
    assert item["Product"] == {
        "id": shop.candle["id"],
        "name": "Candle",
        "sku": None,
        "unitType": "pieces",
        "stockLevel": D(0),
        "type": "product",
    }
    assert item["Batches"] == []
    assert shop.task(1)["order"] == 2
    assert maker.ok("GET", f"/api/tasks/{task['id']}") == task
    # Another company numbers its own tasks from 1.
    theirs = rival.product("Theirs")
    assert (
        rival.ok("POST", "/api/tasks", {"name": "T", "Items": [{"ProductId": theirs["id"], "quantity": 1}]}, 201)[
            "order"
        ]
        == 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"Items": []}, "Items"),
        ({"Items": [{"ProductId": "nope", "quantity": 1}]}, "Items[0].ProductId"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 0}]}, "Items[0].quantity"),
        ({"Items": [{"ProductId": "{candle}", "quantity": -2}]}, "Items[0].quantity"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1, "unitType": "weight.kg"}]}, "Items[0].unitType"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1, "unitType": "bundles"}]}, "Items[0].unitType"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "Assignee": "ghost@example.com"}, "Assignee"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "UserId": "ghost"}, "UserId"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "LocationId": "nowhere"}, "LocationId"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "status": "paused"}, "status"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "due": "next week"}, "due"),
        ({"Items": [{"ProductId": "{candle}", "quantity": 1}], "name": ""}, "name"),
    ],
)
def test_a_bad_task_is_a_400_naming_the_field(shop: Workshop, body: dict[str, Any], field: str) -> None:
    body = {"name": "Candles", **body}
    for item in body["Items"]:
        item["ProductId"] = item["ProductId"].replace("{candle}", shop.candle["id"])
    assert field in fields_of(shop.maker.error("POST", "/api/tasks", body))
    assert shop.maker.ok("GET", "/api/tasks")["pagination"]["totalCount"] == 0


def test_a_task_item_may_not_name_another_companys_resource(shop: Workshop, rival: Maker) -> None:
    theirs = rival.product("Theirs")
    error = shop.maker.error("POST", "/api/tasks", {"name": "T", "Items": [{"ProductId": theirs["id"], "quantity": 1}]})
    assert fields_of(error) == ["Items[0].ProductId"]


def test_tasks_are_listed_by_order_filtered_by_status_and_user_with_true_counts(shop: Workshop) -> None:
    maker = shop.maker
    sam = maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)
    tasks = [shop.task(1, UserId=sam["id"] if i % 2 else None) for i in range(5)]
    maker.ok("PATCH", f"/api/tasks/{tasks[1]['id']}", {"status": "in-progress"})
    maker.ok("PATCH", f"/api/tasks/{tasks[2]['id']}", {"status": "done"})

    def listed(query: str) -> tuple[list[int], int]:
        found = maker.ok("GET", f"/api/tasks?{query}")
        return [t["order"] for t in found["data"]], found["pagination"]["totalCount"]

    assert listed("") == ([1, 2, 3, 4, 5], 5)
    assert listed("limit=2&offset=1") == ([2, 3], 5)
    assert listed("status=pending") == ([1, 4, 5], 3)
    assert listed("status=done") == ([3], 1)
    assert listed(f"UserId={sam['id']}") == ([2, 4], 2)
    assert listed("UserId=SAM@example.com") == ([2, 4], 2)
    assert listed("UserId=sam@example.com&status=pending") == ([4], 1)
    assert listed("UserId=sam@example.com&status=in-progress&offset=1") == ([], 1)
    assert listed("UserId=nobody@example.com") == ([], 0)
    assert fields_of(maker.error("GET", "/api/tasks?status=paused")) == ["status"]
    maker.ok("PATCH", f"/api/tasks/{tasks[3]['id']}", {"UserId": None})
    assert listed("UserId=sam@example.com") == ([2], 1)
    assert maker.call("DELETE", f"/api/tasks/{tasks[0]['id']}").status_code == 204
    assert listed("") == ([2, 3, 4, 5], 4)
    assert listed("status=pending") == ([4, 5], 2)


def test_a_patch_updates_the_task_and_done_sets_completed_at(shop: Workshop) -> None:
    maker = shop.maker
    newer = maker.ok("POST", "/api/users", {"email": "new@example.com", "name": "New"}, 201)
    store = maker.location("Retail Store")
    task = shop.task(5, notes="old")
    patched = maker.ok(
        "PATCH",
        f"/api/tasks/{task['id']}",
        {
            "name": "Produce 75 Candles",
            "Assignee": "new@example.com",
            "status": "in-progress",
            "LocationId": store["id"],
            "due": "2024-03-16T10:00:00Z",
            "notes": None,
        },
    )
    assert (patched["name"], patched["UserId"], patched["status"], patched["LocationId"], patched["notes"]) == (
        "Produce 75 Candles",
        newer["id"],
        "in-progress",
        store["id"],
        None,
    )
    assert patched["updatedAt"] != task["updatedAt"]
    done = maker.ok("PATCH", f"/api/tasks/{task['id']}", {"status": "done"})
    assert done["completedAt"] is not None
    reopened = maker.ok("PATCH", f"/api/tasks/{task['id']}", {"status": "pending", "LocationId": None})
    assert (reopened["completedAt"], reopened["LocationId"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": ""}, "name", 400),
        ({"name": None}, "name", 400),
        ({"Assignee": "ghost@example.com"}, "Assignee", 400),
        ({"LocationId": "nowhere"}, "LocationId", 400),
        ({"status": "paused"}, "status", 400),
        ({"notes": "x", "version": 99}, None, 409),
    ],
)
def test_a_bad_task_patch_is_refused_and_changes_nothing(
    shop: Workshop, body: dict[str, Any], field: str | None, status: int
) -> None:
    task = shop.task(5)
    error = shop.maker.error("PATCH", f"/api/tasks/{task['id']}", body, status)
    if field:
        assert field in fields_of(error)
    assert shop.maker.ok("GET", f"/api/tasks/{task['id']}") == task


def test_a_deleted_task_is_gone_but_its_production_stays(shop: Workshop) -> None:
    task = shop.task(10)
    shop.batch(task, 4)
    assert shop.maker.call("DELETE", f"/api/tasks/{task['id']}").status_code == 204
    shop.maker.error("GET", f"/api/tasks/{task['id']}", status=404)
    shop.maker.error("PATCH", f"/api/tasks/{task['id']}", {"name": "x"}, 404)
    shop.maker.error("DELETE", f"/api/tasks/{task['id']}", status=404)
    shop.batch(task, 1, status=404)
    assert shop.figures() == (D(4), D(9), D(96))
    # Nothing open uses the candle any more.
    shop.maker.level("products", shop.candle["id"], "audit", 0, shop.main["name"])
    assert shop.maker.call("DELETE", f"/api/products/{shop.candle['id']}").status_code == 204


# -- batches -------------------------------------------------------------------------------


def test_a_batch_adds_the_product_and_consumes_its_materials_at_the_default_location(shop: Workshop) -> None:
    task = shop.task(20)
    batch = shop.batch(task, 12)
    assert set(batch) == {"id", "TaskResourceId", "UserId", "quantity", "createdAt", "updatedAt"}
    assert (batch["TaskResourceId"], batch["UserId"], batch["quantity"]) == (1, None, D(12))
    assert shop.figures() == (D(12), D(7), D(88))
    candle = shop.maker.get("products", shop.candle["id"])
    assert candle["locationStockLevels"] == {shop.main["name"]: D(12)}
    read = shop.maker.ok("GET", f"/api/tasks/{task['id']}")
    (item,) = read["Items"]
    assert (read["status"], item["completed"], item["Product"]["stockLevel"]) == ("in-progress", False, D(12))
    assert [(b["id"], b["quantity"]) for b in item["Batches"]] == [(batch["id"], D(12))]


def test_a_batch_at_the_tasks_location_draws_only_there(shop: Workshop) -> None:
    maker = shop.maker
    studio = maker.location("Studio")
    maker.level("materials", shop.wax["id"], "restock", 1, "Studio")
    maker.level("materials", shop.wick["id"], "restock", 4, "Studio")
    task = shop.task(10, LocationId=studio["id"])
    shop.batch(task, 4)
    assert maker.get("materials", shop.wax["id"])["locationStockLevels"] == {shop.main["name"]: D(10), "Studio": D(0)}
    assert maker.get("products", shop.candle["id"])["locationStockLevels"] == {"Studio": D(4)}
    error = shop.batch(task, 1, status=400)  # the studio has no wax left; the main location's does not count
    assert "Soy Wax" in error["error"]


def test_a_batch_short_of_a_material_is_a_400_naming_it_and_changes_nothing(shop: Workshop) -> None:
    task = shop.task(100)
    error = shop.batch(task, 41, status=400)  # 41 x 0.25 kg = 10.25 kg of wax; 10 kg there
    assert shop.wax["id"] in error["details"][0]["message"]
    assert "Soy Wax" in error["error"]
    assert shop.figures() == (D(0), D(10), D(100))
    assert shop.maker.ok("GET", f"/api/tasks/{task['id']}")["Items"][0]["Batches"] == []


def test_an_item_in_grams_produces_a_product_kept_in_kilograms_exactly(shop: Workshop) -> None:
    maker = shop.maker
    blend = maker.product("Wax blend", [(shop.wax["id"], "0.8")], unitType="weight.kg")
    task = maker.ok(
        "POST",
        "/api/tasks",
        {"name": "Blend", "Items": [{"ProductId": blend["id"], "quantity": 3000, "unitType": "weight.grams"}]},
        201,
    )
    shop.batch(task, 2500)  # grams: 2.5 kg of blend takes 2 kg of wax
    assert maker.get("products", blend["id"])["stockLevel"] == D("2.5")
    assert shop.stock(shop.wax) == D(8)
    read = maker.ok("GET", f"/api/tasks/{task['id']}")["Items"][0]
    assert (read["unitType"], read["completed"]) == ("weight.grams", False)
    shop.batch(task, 500)
    assert maker.ok("GET", f"/api/tasks/{task['id']}")["status"] == "done"


def test_infinite_materials_are_never_consumed(shop: Workshop) -> None:
    maker = shop.maker
    water = maker.material("Tap water", "volume.liters", productionType="infinite")
    tea = maker.product("Tea", [(water["id"], "0.3")])
    task = maker.ok("POST", "/api/tasks", {"name": "Tea", "Items": [{"ProductId": tea["id"], "quantity": 5}]}, 201)
    shop.batch(task, 5)
    assert (maker.get("products", tea["id"])["stockLevel"], maker.get("materials", water["id"])["stockLevel"]) == (
        D(5),
        D(0),
    )


def test_a_bundle_cannot_be_produced(shop: Workshop) -> None:
    kit = shop.maker.ok(
        "POST",
        "/api/products",
        {"name": "Kit", "productionType": "bundle", "materials": [{"id": shop.wick["id"], "quantityUsed": 2}]},
        201,
    )
    error = shop.maker.error("POST", "/api/tasks", {"name": "K", "Items": [{"ProductId": kit["id"], "quantity": 1}]})
    assert fields_of(error) == ["Items[0].ProductId"]


def test_batches_complete_the_item_and_the_task(shop: Workshop) -> None:
    task = shop.task(20)
    shop.batch(task, 12)
    last = shop.batch(task, 8)
    done = shop.maker.ok("GET", f"/api/tasks/{task['id']}")
    assert (done["status"], done["Items"][0]["completed"]) == ("done", True)
    assert done["completedAt"] == last["createdAt"]
    assert [t["id"] for t in shop.maker.ok("GET", "/api/tasks?status=done")["data"]] == [task["id"]]


def test_deleting_a_batch_reverses_exactly_what_it_did(shop: Workshop) -> None:
    task = shop.task(20)
    first = shop.batch(task, 12)
    shop.batch(task, 8)
    assert shop.figures() == (D(20), D(5), D(80))
    assert shop.maker.call("DELETE", f"/api/task-batches/{first['id']}").status_code == 204
    assert shop.figures() == (D(8), D(8), D(92))
    read = shop.maker.ok("GET", f"/api/tasks/{task['id']}")
    assert (read["status"], read["completedAt"], read["Items"][0]["completed"]) == ("in-progress", None, False)
    assert [b["quantity"] for b in read["Items"][0]["Batches"]] == [D(8)]
    assert [t["id"] for t in shop.maker.ok("GET", "/api/tasks?status=in-progress")["data"]] == [task["id"]]
    shop.maker.error("DELETE", f"/api/task-batches/{first['id']}", status=404)
    # The ledger of every record adds up to its stock.
    stock = wiring.stock_service()
    for resource in (shop.candle, shop.wax, shop.wick):
        stock_id = location_stock_id(shop.maker.id, resource["id"], shop.main["id"])
        assert stock.reconcile(shop.maker.id, stock_id) == 0


def test_a_batch_whose_product_is_gone_cannot_be_deleted(shop: Workshop) -> None:
    task = shop.task(20)
    batch = shop.batch(task, 4)
    shop.maker.level("products", shop.candle["id"], "loss", 3, shop.main["name"])
    error = shop.maker.error("DELETE", f"/api/task-batches/{batch['id']}")
    assert "no longer there" in error["error"]
    assert shop.figures() == (D(1), D(9), D(96))


@pytest.mark.parametrize(("quantity", "field"), [("0", "quantity"), ("-1", "quantity"), ("x", "quantity")])
def test_a_bad_batch_quantity_is_a_400(shop: Workshop, quantity: str, field: str) -> None:
    task = shop.task(5)
    assert fields_of(shop.batch(task, quantity, status=400)) == [field]


def test_unknown_items_tasks_and_batches_are_404(shop: Workshop, rival: Maker) -> None:
    task = shop.task(5)
    for path in (
        f"/api/tasks/{task['id']}/items/2/batches",
        f"/api/tasks/{task['id']}/items/one/batches",
        "/api/tasks/nope/items/1/batches",
    ):
        shop.maker.error("POST", path, {"quantity": 1}, 404)
    shop.maker.error("DELETE", "/api/task-batches/999", status=404)
    shop.maker.error("DELETE", "/api/task-batches/abc", status=404)
    # Another company's task, its batches and its batch ids.
    mine = shop.batch(task, 1)
    for method, path, body in [
        ("GET", f"/api/tasks/{task['id']}", None),
        ("PATCH", f"/api/tasks/{task['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/tasks/{task['id']}", None),
        ("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1}),
        ("DELETE", f"/api/task-batches/{mine['id']}", None),
    ]:
        rival.error(method, path, body, 404)
    assert shop.figures() == (D(1), D("9.75"), D(99))


def test_a_batch_names_who_made_it(shop: Workshop) -> None:
    sam = shop.maker.ok("POST", "/api/users", {"email": "sam@example.com", "name": "Sam"}, 201)
    task = shop.task(5)
    assert shop.batch(task, 1, UserId="sam@example.com")["UserId"] == sam["id"]
    assert fields_of(shop.batch(task, 1, status=400, UserId="ghost@example.com")) == ["UserId"]


def test_an_idempotent_batch_is_made_once(shop: Workshop) -> None:
    task = shop.task(20)
    headers = {"Idempotency-Key": "batch-1"}
    path = f"/api/tasks/{task['id']}/items/1/batches"
    first = shop.maker.ok("POST", path, {"quantity": "4"}, 201, headers=headers)
    again = shop.maker.call("POST", path, {"quantity": "4"}, headers=headers)
    assert (again.status_code, loads(again.body)["id"]) == (201, first["id"])
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert shop.figures() == (D(4), D(9), D(96))
    # Even past the HTTP layer's record (a retry after a crash), the command guard answers with the first batch.
    command = "idem-retry-after-crash"
    service = wiring.production_service()
    one = service.create_batch(shop.maker.id, task["id"], 1, D(2), _actor(), command_id=command)
    two = service.create_batch(shop.maker.id, task["id"], 1, D(2), _actor(), command_id=command)
    assert one.batch_id == two.batch_id
    assert shop.figures() == (D(6), D("8.5"), D(94))


def test_a_batch_and_its_undo_are_one_unit_of_work_applied_once_when_the_answer_is_lost(shop: Workshop) -> None:
    from tests.integration.lost_responses import losing

    task = shop.task(20)
    service = wiring.production_service()
    with losing(lambda number, _: number == 0) as losses:
        made = service.create_batch(shop.maker.id, task["id"], 1, D(4), _actor(), command_id="lost-batch")
    # ONE TransactWriteItems holds the stock writes and the batch; its retry (same token) wrote nothing more.
    first, retry = losses.calls
    assert first["ClientRequestToken"] == retry["ClientRequestToken"]
    written = _keys_written(first)
    assert any(pk.endswith("#BATCH") for pk in written) and any("#STOCK" in pk for pk in written)
    assert shop.figures() == (D(4), D(9), D(96))
    assert [b["id"] for b in shop.maker.ok("GET", f"/api/tasks/{task['id']}")["Items"][0]["Batches"]] == [made.batch_id]
    with losing(lambda number, _: number == 0) as losses:
        service.delete_batch(shop.maker.id, made.batch_id, _actor())
    assert len(losses.calls) == 2 and losses.calls[0]["ClientRequestToken"] == losses.calls[1]["ClientRequestToken"]
    assert shop.figures() == (D(0), D(10), D(100))
    shop.maker.error("DELETE", f"/api/task-batches/{made.batch_id}", status=404)


def _keys_written(request: dict[str, Any]) -> set[str]:
    return {op.get("Key", op.get("Item"))["pk"]["S"] for item in request["TransactItems"] for op in item.values()}


def _actor() -> Any:
    from chalicelib.core.models import Actor

    return Actor(id="key:test", name="Test")


@pytest.mark.parametrize(
    ("permissions", "method", "path", "body"),
    [
        (("tasks.read",), "POST", "/api/tasks", {"name": "X", "Items": []}),
        (("tasks.read",), "PATCH", "/api/tasks/x", {"name": "X"}),
        (("tasks.read",), "DELETE", "/api/tasks/x", None),
        (("tasks.read",), "POST", "/api/tasks/x/items/1/batches", {"quantity": 1}),
        (("tasks.read",), "DELETE", "/api/task-batches/1", None),
        (("tasks.write",), "GET", "/api/tasks", None),
        (("tasks.write",), "GET", "/api/tasks/x", None),
        (("tasks.write",), "GET", "/api/users", None),
        (("products.read",), "GET", "/api/custom-statuses", None),
    ],
)
def test_a_key_without_the_routes_permission_is_a_403(
    http: Client, permissions: tuple[str, ...], method: str, path: str, body: Any
) -> None:
    limited = make_maker(http, "Limited", permissions)
    assert "lacks the permission" in limited.error(method, path, body, 403)["error"]


def test_the_key_in_the_query_parameter_works_for_tasks_too(shop: Workshop) -> None:
    task = shop.maker.ok(
        "POST",
        "/api/tasks",
        {"name": "Q", "Items": [{"ProductId": shop.candle["id"], "quantity": 1}]},
        201,
        key_in_query=True,
    )
    assert shop.maker.ok("GET", f"/api/tasks/{task['id']}", key_in_query=True)["name"] == "Q"
    assert shop.maker.ok("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 1}, 201, key_in_query=True)
