"""The catalog store contract (products, locations, bins), run against DynamoDB (moto) and the in-memory fake.

Uniqueness lives in guard items written in the same transaction as the
entity; these tests hold both stores to the same answers: which error, which
field it names, and that a refused write leaves nothing behind.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import AlreadyExists, StaleVersion
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Bin, Location, Product
from chalicelib.core.ports import CatalogStore, StockStore
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.fakes import InMemoryCatalogStore, InMemoryStockStore, MemoryTable

ACTOR = Actor(id="user:1", name="Tester")
D = Decimal


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> tuple[CatalogStore, StockStore]:
    if request.param == "fake":
        memory = MemoryTable()
        return InMemoryCatalogStore(memory), InMemoryStockStore(memory)
    table = request.getfixturevalue("table")
    return DynamoCatalogStore(table), DynamoStockStore(table)


@pytest.fixture
def store(stores: tuple[CatalogStore, StockStore]) -> CatalogStore:
    return stores[0]


@pytest.fixture
def tenant() -> str:
    return new_id()


def fields(exc: pytest.ExceptionInfo[AlreadyExists]) -> list[str]:
    return [d["field"] for d in exc.value.details]


def bumped(entity: Product | Location, **changes: object) -> Product | Location:
    return entity.model_copy(update={**changes, "version": entity.version + 1})


# -- products ----------------------------------------------------------------------


def test_a_product_is_read_back_by_id_sku_and_source_within_its_tenant(store: CatalogStore, tenant: str) -> None:
    product = Product(tenant_id=tenant, name="Bar", sku="B-1", source_ids={"erp": "77"}, unit_price=D("1.50"))
    store.create_product(product, ACTOR)

    stored = store.get_product(tenant, product.product_id)
    assert stored is not None
    assert (stored.name, stored.sku, stored.source_ids, stored.unit_price, stored.version) == (
        "Bar",
        "B-1",
        {"erp": "77"},
        D("1.50"),
        1,
    )
    assert store.product_id_by_sku(tenant, "B-1") == product.product_id
    assert store.product_id_by_sku(tenant, "b-1") is None  # SKUs are exact
    assert store.product_id_by_source(tenant, "erp", "77") == product.product_id
    other = new_id()
    assert store.get_product(other, product.product_id) is None
    assert store.product_id_by_sku(other, "B-1") is None
    assert store.get_products(tenant, [product.product_id, "missing"]).keys() == {product.product_id}
    assert store.get_products(tenant, []) == {}


def test_a_taken_id_sku_or_source_refuses_the_product_and_writes_none_of_it(store: CatalogStore, tenant: str) -> None:
    first = Product(tenant_id=tenant, name="Bar", sku="B-1", source_ids={"erp": "77"})
    store.create_product(first, ACTOR)

    with pytest.raises(AlreadyExists) as exc:
        store.create_product(first.model_copy(update={"sku": "B-2", "source_ids": {}}), ACTOR)
    assert exc.value.details == []
    with pytest.raises(AlreadyExists) as exc:
        store.create_product(Product(tenant_id=tenant, name="Other", sku="B-1", source_ids={"web": "1"}), ACTOR)
    assert fields(exc) == ["sku"]
    with pytest.raises(AlreadyExists) as exc:
        store.create_product(Product(tenant_id=tenant, name="Other", sku="B-3", source_ids={"erp": "77"}), ACTOR)
    assert fields(exc) == ["sourceIds.erp"]

    # Nothing of the refused products was written: their other guards are free.
    assert store.product_id_by_sku(tenant, "B-2") is None
    assert store.product_id_by_sku(tenant, "B-3") is None
    assert store.product_id_by_source(tenant, "web", "1") is None
    # Another tenant may use the same SKU.
    store.create_product(Product(tenant_id=new_id(), name="Bar", sku="B-1"), ACTOR)


def test_several_products_are_created_all_or_none(store: CatalogStore, tenant: str) -> None:
    taken = Product(tenant_id=tenant, name="Bar", sku="B-1")
    store.create_product(taken, ACTOR)
    fresh = Product(tenant_id=tenant, name="Tube", sku="T-1")
    clash = Product(tenant_id=tenant, name="Angle", sku="B-1")

    with pytest.raises(AlreadyExists):
        store.create_products([fresh, clash], ACTOR)

    assert store.get_product(tenant, fresh.product_id) is None
    assert store.product_id_by_sku(tenant, "T-1") is None
    store.create_products([fresh], ACTOR)
    store.create_products([], ACTOR)
    assert store.product_id_by_sku(tenant, "T-1") == fresh.product_id


def test_an_update_moves_the_guards_and_is_refused_on_a_stale_version_or_a_taken_sku(
    store: CatalogStore, tenant: str
) -> None:
    product = Product(tenant_id=tenant, name="Bar", sku="B-1", source_ids={"erp": "1"})
    neighbour = Product(tenant_id=tenant, name="Tube", sku="T-1")
    store.create_product(product, ACTOR)
    store.create_product(neighbour, ACTOR)

    renamed = bumped(product, sku="B-2", source_ids={"erp": "2"})
    store.update_product(renamed, product, ACTOR)  # type: ignore[arg-type]

    assert store.product_id_by_sku(tenant, "B-1") is None
    assert store.product_id_by_sku(tenant, "B-2") == product.product_id
    assert store.product_id_by_source(tenant, "erp", "1") is None
    assert store.product_id_by_source(tenant, "erp", "2") == product.product_id
    with pytest.raises(StaleVersion):
        store.update_product(bumped(product, name="Stale"), product, ACTOR)  # type: ignore[arg-type]
    with pytest.raises(AlreadyExists) as exc:
        store.update_product(bumped(renamed, sku="T-1"), renamed, ACTOR)  # type: ignore[arg-type]
    assert fields(exc) == ["sku"]
    stored = store.get_product(tenant, product.product_id)
    assert stored is not None
    assert (stored.name, stored.sku, stored.version) == ("Bar", "B-2", 2)
    assert store.product_id_by_sku(tenant, "B-2") == product.product_id


def test_product_pages_walk_every_product_once_in_id_order(store: CatalogStore, tenant: str) -> None:
    made = {Product(tenant_id=tenant, name=f"P{i}").product_id for i in range(7)}
    for product_id in made:
        store.create_product(Product(tenant_id=tenant, product_id=product_id, name="x"), ACTOR)
    store.create_product(Product(tenant_id=new_id(), name="elsewhere"), ACTOR)

    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_products(tenant, 3, cursor)
        assert len(page.items) <= 3
        seen += [p.product_id for p in page.items]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == sorted(made)


# -- locations and bins --------------------------------------------------------------


def test_location_names_are_unique_in_any_case_and_a_rename_frees_the_old_one(store: CatalogStore, tenant: str) -> None:
    yard = Location(tenant_id=tenant, name="Yard A")
    store.create_location(yard, ACTOR)

    assert store.location_id_by_name(tenant, "YARD a") == yard.location_id
    with pytest.raises(AlreadyExists) as exc:
        store.create_location(Location(tenant_id=tenant, name="yard a"), ACTOR)
    assert fields(exc) == ["name"]

    renamed = bumped(yard, name="Yard B")
    store.update_location(renamed, yard, ACTOR)  # type: ignore[arg-type]
    assert store.location_id_by_name(tenant, "yard a") is None
    assert store.location_id_by_name(tenant, "Yard B") == yard.location_id
    store.create_location(Location(tenant_id=tenant, name="Yard A"), ACTOR)
    with pytest.raises(StaleVersion):
        store.update_location(bumped(yard, name="Yard C"), yard, ACTOR)  # type: ignore[arg-type]
    assert store.location_id_by_name(tenant, "Yard C") is None
    stored = store.get_location(tenant, yard.location_id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Yard B", 2)
    assert store.get_location(new_id(), yard.location_id) is None


def test_location_pages_walk_every_location_once(store: CatalogStore, tenant: str) -> None:
    made = set()
    for i in range(5):
        location = Location(tenant_id=tenant, name=f"Bay {i}")
        store.create_location(location, ACTOR)
        made.add(location.location_id)

    first = store.list_locations(tenant, 3, None)
    assert first.cursor is not None
    rest = store.list_locations(tenant, 3, first.cursor)
    assert rest.cursor is None
    assert [x.location_id for x in first.items + rest.items] == sorted(made)


def test_bin_codes_are_unique_per_location_in_any_case(store: CatalogStore, tenant: str) -> None:
    a, b = Location(tenant_id=tenant, name="A"), Location(tenant_id=tenant, name="B")
    store.create_location(a, ACTOR)
    store.create_location(b, ACTOR)
    store.create_bin(Bin(tenant_id=tenant, location_id=a.location_id, code="R1"), ACTOR)

    with pytest.raises(AlreadyExists) as exc:
        store.create_bin(Bin(tenant_id=tenant, location_id=a.location_id, code="r1"), ACTOR)
    assert fields(exc) == ["code"]
    store.create_bin(Bin(tenant_id=tenant, location_id=b.location_id, code="R1"), ACTOR)
    store.create_bin(Bin(tenant_id=tenant, location_id=a.location_id, code="R2"), ACTOR)

    assert sorted(x.code for x in store.list_bins(tenant, a.location_id)) == ["R1", "R2"]
    assert [x.code for x in store.list_bins(tenant, b.location_id)] == ["R1"]
    assert store.list_bins(new_id(), a.location_id) == []


# -- the service over each store ----------------------------------------------------------


def test_switching_negative_stock_on_a_product_reaches_its_records(
    stores: tuple[CatalogStore, StockStore], tenant: str
) -> None:
    catalog_store, stock_store = stores
    catalog = CatalogService(catalog_store, stock_store)
    stock = StockService(stock_store)
    product = catalog.create_product(tenant, {"name": "Bar"}, ACTOR)
    record = stock.create_record(
        tenant, NewStockRecord(product_id=product.product_id, location_id=new_id(), quantity=D(1)), ACTOR
    )

    catalog.update_product(tenant, product.product_id, {"allow_negative": True}, ACTOR, expected_version=1)
    stock.adjust(tenant, record.stock_id, D(-3), ACTOR)

    assert stock.get(tenant, record.stock_id).on_hand == D(-2)
    with pytest.raises(StaleVersion):
        catalog.update_product(tenant, product.product_id, {"name": "x"}, ACTOR, expected_version=1)
