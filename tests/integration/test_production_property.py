"""Property: any sequence of production batches, batch deletions, restocks and losses leaves every
resource's stock equal to what its ledger says, equal to a plain model of the same steps, and never
negative. ProductionService on DynamoDB (moto), a fresh company per example."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib import wiring
from chalicelib.core.catalog.resources import InitialStock
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor
from chalicelib.core.stock.levels import LevelChange, LevelUpdate
from chalicelib.core.stock.service import MovementKind
from chalicelib.features.production import ItemDraft, TaskDraft
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from infra.provision import table_kwargs

D = Decimal
ACTOR = Actor(id="key:property", name="Property")
WAX_PER_CANDLE = D("0.25")
START_WAX = D(5)
START_WICKS = D(12)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.integers(0, 1), st.integers(1, 8).map(D)),
        st.tuples(st.just("delete"), st.integers(0, 20), st.just(D(0))),
        st.tuples(st.just("restock"), st.integers(0, 1), st.integers(1, 4).map(D)),
        st.tuples(st.just("loss"), st.integers(0, 2), st.integers(1, 4).map(D)),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture(scope="module")
def dynamo() -> Iterator[None]:
    reset_settings()
    reset_clients()
    with mock_aws():
        yield
    reset_clients()
    wiring.reset()


def fresh_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small table per example: moto copies the whole table on every transaction, so small is fast.
    Same keys and indexes as infra/resources.json, no stream (nothing here reads it)."""
    monkeypatch.setenv("STOCKROOM_MAIN_TABLE", f"property-{new_id()}")
    reset_settings()
    wiring.reset()
    kwargs = table_kwargs("MainTable", get_settings().main_table)
    kwargs.pop("StreamSpecification", None)
    client("dynamodb").create_table(**kwargs)


@dataclass
class Model:
    """What the stock must be: the same steps as plain arithmetic."""

    wax: Decimal = START_WAX
    wicks: Decimal = START_WICKS
    candles: Decimal = ZERO
    batches: list[tuple[int, Decimal]] = field(default_factory=list)  # (batch id, candles) still standing

    def can_make(self, candles: Decimal) -> bool:
        return self.wax >= candles * WAX_PER_CANDLE and self.wicks >= candles


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_any_sequence_of_batches_and_deletions_keeps_stock_equal_to_the_ledger(
    dynamo: None, monkeypatch: pytest.MonkeyPatch, plan: list[tuple[str, int, Decimal]]
) -> None:
    fresh_table(monkeypatch)
    tenant = new_id()
    catalog, stock, production = wiring.catalog_service(), wiring.stock_service(), wiring.production_service()
    main = catalog.default_location(tenant, ACTOR).location_id
    wax = catalog.create_resource(
        tenant, "material", {"name": "Wax", "unit_type": "weight.kg"}, ACTOR, initial=InitialStock(main, START_WAX)
    ).product
    wick = catalog.create_resource(
        tenant, "material", {"name": "Wick"}, ACTOR, initial=InitialStock(main, START_WICKS)
    ).product
    bom = [
        {"product_id": wax.product_id, "quantity_used": WAX_PER_CANDLE},
        {"product_id": wick.product_id, "quantity_used": D(1)},
    ]
    candle = catalog.create_resource(tenant, "product", {"name": "Candle", "materials": bom}, ACTOR).product
    tasks = [
        production.create_task(tenant, TaskDraft(name=f"T{i}", items=[ItemDraft(candle.product_id, D(10))]), ACTOR).task
        for i in range(2)
    ]
    model = Model()

    for action, index, quantity in plan:
        if action == "batch":
            try:
                made = production.create_batch(tenant, tasks[index].task_id, 1, quantity, ACTOR)
            except ValidationFailed:
                assert not model.can_make(quantity)
            else:
                assert model.can_make(quantity)
                model.batches.append((made.batch_id, quantity))
                model.candles += quantity
                model.wax -= quantity * WAX_PER_CANDLE
                model.wicks -= quantity
        elif action == "delete" and model.batches:
            batch_id, candles = model.batches[index % len(model.batches)]
            try:
                production.delete_batch(tenant, batch_id, ACTOR)
            except ValidationFailed:
                assert model.candles < candles  # the candles it made were lost since
            else:
                model.batches.remove((batch_id, candles))
                model.candles -= candles
                model.wax += candles * WAX_PER_CANDLE
                model.wicks += candles
        elif action == "restock":
            material = (wax, wick)[index]
            stock.update_level(
                tenant, material, main, LevelUpdate(LevelChange.ADD, quantity, MovementKind.RECEIPT), ACTOR
            )
            if index == 0:
                model.wax += quantity
            else:
                model.wicks += quantity
        elif action == "loss":
            resource = (wax, wick, candle)[index]
            held = {0: model.wax, 1: model.wicks, 2: model.candles}[index]
            update = LevelUpdate(LevelChange.SUBTRACT, quantity, MovementKind.LOSS)
            try:
                stock.update_level(tenant, resource, main, update, ACTOR)
            except ValidationFailed:
                assert held < quantity
            else:
                assert held >= quantity
                if index == 0:
                    model.wax -= quantity
                elif index == 1:
                    model.wicks -= quantity
                else:
                    model.candles -= quantity

        levels = catalog.levels(tenant, [wax, wick, candle])
        assert (levels[wax.product_id].total, levels[wick.product_id].total, levels[candle.product_id].total) == (
            model.wax,
            model.wicks,
            model.candles,
        )
        for resource in (wax, wick, candle):
            for record in stock.records_of(tenant, [resource.product_id])[resource.product_id]:
                assert record.on_hand >= 0
                assert stock.ledger_total(tenant, record.stock_id) == record.on_hand
