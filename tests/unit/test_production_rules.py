"""The maker's rules without AWS: production arithmetic, task status transitions, bills of materials,
bundle stock, and stock-level updates over a location's records (StockService on the in-memory store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.catalog.resources import (
    MAX_BOM_LINES,
    Levels,
    bundle_levels,
    check_bom,
    check_production_type,
)
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.models import Actor, BomLine, MovementKind, Product, ProductionType, StockRecord
from chalicelib.core.ports import NewRecordWrite, StockChange
from chalicelib.core.stock.levels import LevelChange, LevelUpdate, ShortStock, check_single, location_stock_id
from chalicelib.core.stock.service import StockService
from chalicelib.features.production.model import (
    Batch,
    StockDraw,
    Task,
    TaskItem,
    TaskStatus,
    settle,
    with_batch,
    with_status,
    without_batch,
)
from chalicelib.features.production.planning import component_ids, consumption, resource_quantity
from tests.fakes import InMemoryStockStore

pytestmark = pytest.mark.disable_socket
D = Decimal
T = "tenant-a"
ACTOR = Actor(id="key:1", name="Tester")
NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def product(name: str, unit: str = "pieces", kind: str = "product", **extra: object) -> Product:
    return Product(tenant_id=T, product_id=name.lower(), name=name, unit_type=unit, kind=kind, **extra)  # type: ignore[arg-type]


WAX = product("Wax", "weight.kg", "material", production_type=ProductionType.SUPPLIED)
WICK = product("Wick", kind="material", production_type=ProductionType.SUPPLIED)
WATER = product("Water", "volume.liters", "material", production_type=ProductionType.INFINITE)
KIT = product(
    "Kit",
    "bundles",
    "material",
    production_type=ProductionType.BUNDLE,
    materials=[BomLine(product_id="wick", quantity_used=D(2)), BomLine(product_id="wax", quantity_used=D("0.1"))],
)
CANDLE = product(
    "Candle",
    production_type=ProductionType.PRODUCED,
    materials=[
        BomLine(product_id="wax", quantity_used=D("0.25")),
        BomLine(product_id="wick", quantity_used=D(1)),
        BomLine(product_id="water", quantity_used=D(3)),
    ],
)
KNOWN = {p.product_id: p for p in (WAX, WICK, WATER, KIT, CANDLE)}


# -- production arithmetic ----------------------------------------------------------


def test_a_batch_consumes_quantity_used_times_quantity_in_each_materials_unit() -> None:
    needs = {n.material.product_id: n.quantity for n in consumption(CANDLE, D(12), KNOWN)}
    # Water is infinite: never drawn. 0.25 x 12 comes out as 3, not 3.00.
    assert needs == {"wax": D(3), "wick": D(12)}
    assert str(needs["wax"]) == "3"


def test_a_batch_quantity_in_another_unit_of_the_dimension_is_converted_exactly() -> None:
    blend = product("Blend", "weight.kg", materials=[BomLine(product_id="wax", quantity_used=D("0.8"))])
    produced = resource_quantity(D(2500), "weight.grams", blend)
    assert produced == D("2.5")
    assert consumption(blend, produced, KNOWN)[0].quantity == D(2)


def test_a_batch_quantity_of_another_dimension_is_a_400_on_quantity() -> None:
    with pytest.raises(ValidationFailed) as caught:
        resource_quantity(D(1), "volume.liters", WAX)
    assert caught.value.details[0]["field"] == "quantity"


def test_a_bundle_material_stands_for_its_components_and_shared_materials_are_summed() -> None:
    gift = product(
        "Gift",
        materials=[BomLine(product_id="kit", quantity_used=D(2)), BomLine(product_id="wick", quantity_used=D(1))],
    )
    assert component_ids(gift, {"kit": KIT}) == {"wick", "wax"}
    needs = {n.material.product_id: n.quantity for n in consumption(gift, D(5), KNOWN)}
    # 5 gifts: 10 kits -> 20 wicks + 1 kg wax; plus 5 wicks directly.
    assert needs == {"wick": D(25), "wax": D(1)}


def test_a_material_that_no_longer_exists_is_a_400_naming_the_bom_line() -> None:
    gone = WAX.model_copy(update={"active": False})
    with pytest.raises(ValidationFailed) as caught:
        consumption(CANDLE, D(1), {**KNOWN, "wax": gone})
    assert caught.value.details[0]["field"] == "materials[0]"


# -- bills of materials and production types -----------------------------------------


def test_a_bill_of_materials_names_known_active_materials_once_with_positive_quantities() -> None:
    lines = [
        BomLine(product_id="wax", quantity_used=D(1)),
        BomLine(product_id="wax", quantity_used=D(1)),
        BomLine(product_id="ghost", quantity_used=D(1)),
        BomLine(product_id="wick", quantity_used=D(0)),
        BomLine(product_id="candle", quantity_used=D(1)),
    ]
    with pytest.raises(ValidationFailed) as caught:
        check_bom(CANDLE.model_copy(update={"materials": lines}), KNOWN)
    fields = [d["field"] for d in caught.value.details]
    assert fields == ["materials[1].id", "materials[2].id", "materials[3].quantityUsed", "materials[4].id"]


def test_a_bill_of_materials_that_would_not_fit_one_batch_transaction_is_refused_before_aws() -> None:
    many = {f"m{i}": product(f"M{i}", kind="material") for i in range(MAX_BOM_LINES + 1)}
    lines = [BomLine(product_id=pid, quantity_used=D(1)) for pid in many]
    check_bom(CANDLE.model_copy(update={"materials": lines[:MAX_BOM_LINES]}), many)
    with pytest.raises(ValidationFailed) as caught:
        check_bom(CANDLE.model_copy(update={"materials": lines}), many)
    assert caught.value.details == [{"field": "materials", "message": f"more than {MAX_BOM_LINES} materials"}]


def test_a_bundle_needs_materials_and_cannot_hold_a_bundle() -> None:
    with pytest.raises(ValidationFailed):
        check_bom(KIT.model_copy(update={"materials": []}), KNOWN)
    with pytest.raises(ValidationFailed) as caught:
        check_bom(KIT.model_copy(update={"materials": [BomLine(product_id="kit2", quantity_used=D(1))]}), {"kit2": KIT})
    assert "bundle" in caught.value.details[0]["message"]


def test_nothing_becomes_a_bundle_or_stops_being_one() -> None:
    with pytest.raises(ValidationFailed):
        check_production_type(WAX, WAX.model_copy(update={"production_type": ProductionType.BUNDLE}))
    with pytest.raises(ValidationFailed):
        check_production_type(KIT, KIT.model_copy(update={"production_type": ProductionType.PRODUCED}))
    check_production_type(WAX, WAX.model_copy(update={"production_type": ProductionType.PRODUCED}))


def test_a_bundle_holds_the_smallest_whole_number_its_materials_allow_at_each_location() -> None:
    bom = [(line, KNOWN[line.product_id]) for line in KIT.materials]
    levels = {
        "wick": Levels({"main": D(9), "shop": D(4), "van": D(100)}),
        "wax": Levels({"main": D("0.35"), "shop": D(5)}),
    }
    derived = bundle_levels(bom, levels)
    # main: wicks allow 4, wax allows 3 -> 3; shop: 2 and 50 -> 2; van has no wax -> not listed.
    assert derived.by_location == {"main": D(3), "shop": D(2)}
    assert derived.total == D(5)


def test_a_single_resource_never_holds_more_than_one() -> None:
    lamp = product("Lamp", production_type=ProductionType.SINGLE)
    record = StockRecord(tenant_id=T, product_id="lamp", location_id="l", on_hand=D(1), available=D(1))
    check_single(lamp, [], D(1))
    with pytest.raises(ValidationFailed):
        check_single(lamp, [record], D(1))


# -- task status transitions -----------------------------------------------------------


def task(*quantities: str, status: TaskStatus = TaskStatus.PENDING) -> Task:
    items = [
        TaskItem(item_id=i + 1, resource_id="candle", quantity=D(q), unit_type="pieces")
        for i, q in enumerate(quantities)
    ]
    return Task(tenant_id=T, name="Candles", order=1, items=items, status=status)


def batch(batch_id: int, item_id: int, quantity: str) -> Batch:
    draw = StockDraw(stock_id="s", product_id="candle", location_id="l", quantity=D(quantity), movement_id="m")
    return Batch(
        tenant_id=T,
        batch_id=batch_id,
        task_id="t",
        item_id=item_id,
        quantity=D(quantity),
        resource_id="candle",
        resource_quantity=D(quantity),
        location_id="l",
        draws=[draw],
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_first_batch_starts_a_pending_task_and_moves_its_version() -> None:
    started = with_batch(task("10", "5"), batch(1, 1, "4"), NOW)
    assert started.status == TaskStatus.IN_PROGRESS
    assert started.version == 2
    assert started.completed_at is None
    assert not started.items[0].completed


def test_the_task_is_done_when_every_item_reaches_its_quantity() -> None:
    later = NOW + timedelta(hours=1)
    one = with_batch(task("10", "5"), batch(1, 1, "10"), NOW)
    assert one.items[0].completed
    assert one.status == TaskStatus.IN_PROGRESS
    done = with_batch(one, batch(2, 2, "6"), later)  # over-production completes too
    assert done.status == TaskStatus.DONE
    assert done.completed_at == later


def test_deleting_a_batch_of_a_done_task_reopens_it() -> None:
    done = with_batch(task("5"), batch(1, 1, "5"), NOW)
    assert done.status == TaskStatus.DONE
    reopened = without_batch(done, batch(1, 1, "5"), NOW)
    assert reopened.status == TaskStatus.IN_PROGRESS
    assert reopened.completed_at is None
    assert reopened.items[0].batches == []
    assert reopened.version == done.version + 1


def test_a_person_sets_the_status_and_completed_at_follows() -> None:
    pending = task("5")
    done = with_status(pending, TaskStatus.DONE, NOW)
    assert done.completed_at == NOW
    assert with_status(done, TaskStatus.DONE, NOW + timedelta(days=1)).completed_at == NOW
    back = with_status(done, TaskStatus.PENDING, NOW)
    assert (back.status, back.completed_at) == (TaskStatus.PENDING, None)
    # settle leaves a task without batches alone.
    assert settle(pending, NOW) == pending


# -- stock-level updates over a location's records ---------------------------------------


@pytest.fixture
def store() -> InMemoryStockStore:
    return InMemoryStockStore()


@pytest.fixture
def stock(store: InMemoryStockStore) -> StockService:
    return StockService(store)


def level(stock: StockService, change: LevelChange, quantity: str, product_: Product = WICK) -> list[object]:
    kind = {LevelChange.SET: MovementKind.COUNT, LevelChange.ADD: MovementKind.RECEIPT}.get(change, MovementKind.LOSS)
    update = LevelUpdate(change, D(quantity), kind, "notes", change.value)
    return list(stock.update_level(T, product_, "main", update, ACTOR))


def here(stock: StockService, product_: Product = WICK) -> Decimal:
    return sum((r.on_hand for r in stock.records_at(T, product_.product_id, "main")), D(0))


def test_restock_creates_the_location_record_with_the_first_movement_then_adds(stock: StockService) -> None:
    first = level(stock, LevelChange.ADD, "10")
    level(stock, LevelChange.ADD, "5")
    records = stock.records_at(T, "wick", "main")
    assert [r.stock_id for r in records] == [location_stock_id(T, "wick", "main")]
    assert here(stock) == D(15)
    assert stock.ledger_total(T, records[0].stock_id) == D(15)
    assert first[0].kind == MovementKind.RECEIPT  # type: ignore[attr-defined]


def test_audit_sets_and_loss_subtracts_and_an_audit_at_the_figure_writes_nothing(stock: StockService) -> None:
    level(stock, LevelChange.ADD, "10")
    assert level(stock, LevelChange.SET, "4")[0].quantity == D(-6)  # type: ignore[attr-defined]
    level(stock, LevelChange.SUBTRACT, "1")
    assert here(stock) == D(3)
    assert level(stock, LevelChange.SET, "3") == []


def test_a_loss_larger_than_the_stock_there_is_a_400_and_changes_nothing(stock: StockService) -> None:
    level(stock, LevelChange.ADD, "2")
    with pytest.raises(ShortStock) as caught:
        level(stock, LevelChange.SUBTRACT, "3")
    assert isinstance(caught.value, ValidationFailed)
    assert here(stock) == D(2)


def test_decreases_draw_the_location_record_first_then_the_others(
    stock: StockService, store: InMemoryStockStore
) -> None:
    level(stock, LevelChange.ADD, "2")
    # A 000 row of the same product at the same location, written by another surface.
    other = StockRecord(tenant_id=T, product_id="wick", location_id="main", on_hand=D(5), available=D(5))
    store.create_record(other, None, ACTOR)

    movements = level(stock, LevelChange.SUBTRACT, "4")

    assert [(m.stock_id, m.quantity) for m in movements] == [  # type: ignore[attr-defined]
        (location_stock_id(T, "wick", "main"), D(-2)),
        (other.stock_id, D(-2)),
    ]
    assert here(stock) == D(3)


def test_a_bundles_stock_cannot_be_updated_and_a_single_one_stays_at_one(stock: StockService) -> None:
    with pytest.raises(ValidationFailed):
        level(stock, LevelChange.ADD, "1", KIT)
    lamp = product("Lamp", production_type=ProductionType.SINGLE)
    level(stock, LevelChange.ADD, "1", lamp)
    with pytest.raises(ValidationFailed):
        level(stock, LevelChange.ADD, "1", lamp)


def test_plans_are_new_records_or_guarded_changes(stock: StockService) -> None:
    write = stock.plan_increase(T, WAX, "main", [], D(2), ACTOR, kind=MovementKind.PRODUCTION, movement_id="b1")
    assert isinstance(write, NewRecordWrite)
    assert write.movement is not None and write.movement.movement_id == "b1"
    record = write.record
    changes = stock.plan_decrease(T, "wax", "main", [record], D("1.5"), ACTOR, kind=MovementKind.CONSUMPTION)
    assert isinstance(changes[0], StockChange)
    assert changes[0].on_hand == D("-1.5")
    with pytest.raises(ShortStock):
        stock.plan_decrease(T, "wax", "main", [record], D(3), ACTOR, kind=MovementKind.CONSUMPTION)
