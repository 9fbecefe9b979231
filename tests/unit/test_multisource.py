"""The 004 multi-source rules and MultiSourceService against the in-memory fakes: no AWS."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from chalicelib.core.models import Actor, MovementKind
from chalicelib.core.stock.ownership import INTERN, is_own_stock
from chalicelib.core.stock.service import StockService
from chalicelib.features.multisource import (
    InventoryType,
    LookupKey,
    MultiSourceService,
    ProductRef,
    RecordInput,
    SearchQuery,
    inventory_type,
    lookup_key,
)
from chalicelib.features.multisource.rules import cost_problem, field_problems, natural_key, owner_for
from tests.fakes import (
    InMemoryCatalogStore,
    InMemoryMultiSourceStore,
    InMemoryStockStore,
    InMemoryTransactions,
    MemoryTable,
)

pytestmark = pytest.mark.disable_socket

TENANT = "tenant-a"
ACTOR = Actor(id="key:1", name="Tester")
D = Decimal


class World:
    def __init__(self) -> None:
        table = MemoryTable()
        self.stock_store = InMemoryStockStore(table)
        self.catalog_store = InMemoryCatalogStore(table)
        self.store = InMemoryMultiSourceStore(table)
        self.catalog = CatalogService(self.catalog_store, self.stock_store)
        self.stock = StockService(self.stock_store, InMemoryTransactions())
        self.service = MultiSourceService(
            self.catalog, self.stock, self.stock_store, self.store, InMemoryTransactions()
        )

    def product(self, sku: str, **sources: str) -> int:
        view = self.service.create_product(TENANT, sku, f"Widget {sku}", sources, ACTOR)
        assert view.productId is not None
        return view.productId

    def bulk(self, records: list[dict[str, Any]], kind: str = "local", key: str = "sku") -> Any:
        return self.service.bulk_upsert(TENANT, LookupKey(key), InventoryType(kind), records, ACTOR)


@pytest.fixture
def world() -> World:
    return World()


# -- rules -----------------------------------------------------------------------------


def test_lookup_keys_and_types_outside_the_documented_ones_list_the_allowed_values() -> None:
    with pytest.raises(ValidationFailed) as bad_key:
        lookup_key("name")
    assert bad_key.value.details == [{"field": "lookupKey", "message": "must be one of: id, sku, sourceId"}]
    with pytest.raises(ValidationFailed) as bad_type:
        inventory_type("remote")
    assert bad_type.value.details == [{"field": "inventoryType", "message": "must be one of: local, supplier"}]


@pytest.mark.parametrize(
    ("field", "limit"), [("supplier", 35), ("supplierCode", 30), ("sku", 30), ("location", 35), ("notes", 255)]
)
def test_each_length_limit_names_its_field(field: str, limit: int) -> None:
    assert field_problems(RecordInput.model_validate({field: "x" * limit})) == []
    problems = field_problems(RecordInput.model_validate({field: "x" * (limit + 1)}))
    assert [(p.at.field, p.message) for p in problems] == [(field, f"at most {limit} characters")]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("12.99", True),
        ("99999.99999", True),
        ("0.00001", True),
        ("1.000000", True),
        ("0.000001", False),
        ("100000", False),
        ("-100000.5", False),
        ("-99999.5", True),
    ],
)
def test_cost_price_is_a_decimal_10_5(value: str, ok: bool) -> None:
    assert (cost_problem(D(value)) is None) is ok


def test_local_is_intern_whatever_was_sent_and_supplier_needs_a_real_supplier() -> None:
    assert owner_for(InventoryType.LOCAL, "Acme") == (INTERN, None)
    assert owner_for(InventoryType.SUPPLIER, "Acme") == ("Acme", None)
    assert owner_for(InventoryType.SUPPLIER, None)[0] is None
    assert owner_for(InventoryType.SUPPLIER, "intern")[0] is None


def test_the_uniqueness_key_treats_absent_and_empty_text_alike_and_tells_every_part_apart() -> None:
    base = natural_key("p", INTERN, None, None, "loc", 0)
    assert natural_key("p", INTERN, "", "", "loc", 0) == base
    variants = [
        natural_key("q", INTERN, None, None, "loc", 0),
        natural_key("p", "Acme", None, None, "loc", 0),
        natural_key("p", INTERN, "C", None, "loc", 0),
        natural_key("p", INTERN, None, "A-1", "loc", 0),
        natural_key("p", INTERN, None, None, "other", 0),
        natural_key("p", INTERN, None, None, "loc", 7),
    ]
    assert len({base, *variants}) == 7


# -- service --------------------------------------------------------------------------


def test_a_local_upsert_writes_on_hand_through_one_count_movement_per_record(world: World) -> None:
    world.product("W-1")
    result = world.bulk(
        [{"sku": "W-1", "quantity": 10, "supplier": "Acme"}, {"sku": "W-1", "quantity": 0, "location": "B"}]
    )
    assert (result.created, result.updated, result.failed) == (2, 0, 0)
    ids = [r.id for r in result.results]
    assert ids == [1, 2]
    record = world.service.get_record(TENANT, 1)
    assert (record.supplier, record.quantity) == (INTERN, D(10))
    stock_id = world.store.guard_targets(TENANT, "STOCKNO", ["1"])["1"]
    movements = list(world.stock_store.movements(TENANT, stock_id))
    assert [(m.kind, m.quantity) for m in movements] == [(MovementKind.COUNT, D(10))]
    # The same key again updates: the difference is one more count movement.
    again = world.bulk([{"sku": "W-1", "quantity": 4}])
    assert (again.created, again.updated, again.results[0].id) == (0, 1, 1)
    assert sorted(m.quantity for m in world.stock_store.movements(TENANT, stock_id)) == [D(-6), D(10)]
    assert world.stock.ledger_total(TENANT, stock_id) == D(4)


def test_supplier_records_are_never_own_stock_nor_reservable(world: World) -> None:
    world.product("W-2")
    world.bulk([{"sku": "W-2", "quantity": 3}])
    result = world.bulk([{"sku": "W-2", "quantity": 40, "supplier": "Acme"}], "supplier")
    stock_id = world.store.guard_targets(TENANT, "STOCKNO", [str(result.results[0].id)])
    record = world.stock.get(TENANT, next(iter(stock_id.values())))
    assert not is_own_stock(record)
    with pytest.raises(InvalidState):
        world.stock.reserve(TENANT, record.stock_id, D(1), ACTOR)
    with pytest.raises(InvalidState):
        world.stock.hold(TENANT, record.stock_id, D(1), "damaged", ACTOR)
    inventory = world.service.product_inventory(TENANT, ProductRef(LookupKey.SKU, "W-2"))
    assert (inventory.localQuantity, inventory.supplierQuantity, inventory.availableQuantity) == (D(3), D(40), D(3))


def test_reserved_and_held_stock_lower_available(world: World) -> None:
    number = world.product("W-3")
    world.bulk([{"sku": "W-3", "quantity": 10}])
    stock_id = world.store.guard_targets(TENANT, "STOCKNO", ["1"])["1"]
    world.stock.reserve(TENANT, stock_id, D(4), ACTOR)
    world.stock.hold(TENANT, stock_id, D(1), "damaged", ACTOR)
    inventory = world.service.product_inventory(TENANT, ProductRef(LookupKey.ID, str(number)))
    assert (inventory.reservedQuantity, inventory.availableQuantity, inventory.localQuantity) == (D(4), D(5), D(10))
    batched = world.service.products_inventory(TENANT, [number, 999])
    assert list(batched) == [number] and batched[number].availableQuantity == D(5)


def test_bad_records_are_entries_and_the_rest_is_written(world: World) -> None:
    world.product("W-4")
    result = world.bulk(
        [
            {"sku": "W-4", "quantity": 1, "costPrice": "0.123456"},
            {"sku": "missing", "quantity": 1},
            {"quantity": 1},
            {"sku": "W-4", "quantity": -1},
            {"sku": "W-4", "quantity": 2, "warehouseId": 9},
            {"sku": "W-4", "quantity": 2},
        ]
    )
    assert [r.status for r in result.results] == ["error"] * 5 + ["created"]
    assert [r.error.split(":")[0] for r in result.results[:5] if r.error] == [
        "costPrice",
        "sku",
        "sku",
        "quantity",
        "warehouseId",
    ]


def test_a_bulk_over_the_limit_is_refused_whole(world: World) -> None:
    with pytest.raises(ValidationFailed):
        world.bulk([{"sku": "x"}] * 1001)


def test_patch_refuses_a_duplicate_key_and_product_moves(world: World) -> None:
    world.product("W-5")
    world.bulk([{"sku": "W-5", "quantity": 1, "location": "A"}, {"sku": "W-5", "quantity": 1, "location": "B"}])
    with pytest.raises(Conflict):
        world.service.update(TENANT, 1, RecordInput.model_validate({"location": "B"}), ACTOR)
    with pytest.raises(ValidationFailed):
        world.service.update(TENANT, 1, RecordInput.model_validate({"productId": 2}), ACTOR)
    with pytest.raises(ValidationFailed):
        world.service.update(TENANT, 1, RecordInput.model_validate({"supplier": "Acme"}), ACTOR)
    moved = world.service.update(TENANT, 1, RecordInput.model_validate({"location": "C", "quantity": 5}), ACTOR)
    assert (moved.location, moved.quantity) == ("C", D(5))
    # The old key is free again: a new record may take it.
    assert world.bulk([{"sku": "W-5", "quantity": 1, "location": "A"}]).created == 1


def test_delete_needs_force_for_local_stock_and_writes_it_off(world: World) -> None:
    world.product("W-6")
    world.bulk([{"sku": "W-6", "quantity": 3}])
    with pytest.raises(Conflict):
        world.service.delete(TENANT, 1, ACTOR)
    world.service.delete(TENANT, 1, ACTOR, force=True)
    with pytest.raises(NotFound):
        world.service.get_record(TENANT, 1)
    stock_id = world.store.guard_targets(TENANT, "STOCKNO", ["1"])["1"]
    assert world.stock.ledger_total(TENANT, stock_id) == 0


def test_search_pages_and_refuses_nothing_matching_as_empty(world: World) -> None:
    world.product("S-1")
    world.bulk([{"sku": "S-1", "quantity": q, "location": f"L{q}"} for q in range(1, 6)])
    query = SearchQuery.model_validate({"sort": [{"field": "quantity", "direction": "desc"}], "pageSize": 2, "page": 2})
    found = world.service.search(TENANT, query)
    assert [r.quantity for r in found.data] == [D(3), D(2)]
    assert found.pagination == {"page": 2, "pageSize": 2, "totalCount": 5}
    none = world.service.search(TENANT, SearchQuery.model_validate({"filter": {"skus": ["nope"]}}))
    assert none.pagination["totalCount"] == 0
    conflicting = SearchQuery.model_validate({"filter": {"inventoryType": "local", "supplier": "Acme"}})
    assert world.service.search(TENANT, conflicting).data == []


def test_another_tenants_ids_are_unknown(world: World) -> None:
    number = world.product("T-1")
    world.bulk([{"sku": "T-1", "quantity": 1}])
    with pytest.raises(NotFound):
        world.service.get_record("tenant-b", 1)
    with pytest.raises(NotFound):
        world.service.product_inventory("tenant-b", ProductRef(LookupKey.ID, str(number)))
