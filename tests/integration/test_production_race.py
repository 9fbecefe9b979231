"""Two production batches race for the last of a material, through moto's server.

Both read the stock, both see enough, both commit their one unit of work at the same moment (a
barrier in the unit of work's commit holds each until the other has planned too). The material's
guard (available >= what the batch takes) lets exactly one commit; the other plans again, finds the material short and
answers 400 naming it. Nothing goes negative, and every ledger adds up.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from chalicelib import wiring
from chalicelib.core.catalog.resources import InitialStock
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor
from chalicelib.core.stock.levels import location_stock_id
from chalicelib.features.production import ItemDraft, ProductionService, TaskDraft
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from chalicelib.storage.production_repo import DynamoProductionStore
from chalicelib.storage.transaction import DynamoTransactions, Transaction
from infra.moto_server import start as start_moto
from infra.provision import table_kwargs

D = Decimal
ACTOR = Actor(id="key:race", name="Race")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _forget() -> None:
    reset_settings()
    reset_clients()
    wiring.reset()


@pytest.fixture
def services() -> Iterator[None]:
    server = start_moto(_free_port(), compact=False)  # this tier keeps moto's own items
    host, port = server.get_host_and_port()
    saved = {name: os.environ.get(name) for name in ("STOCKROOM_AWS_ENDPOINT", "STOCKROOM_MAIN_TABLE")}
    os.environ["STOCKROOM_AWS_ENDPOINT"] = f"http://{host}:{port}"
    os.environ["STOCKROOM_MAIN_TABLE"] = f"race-{new_id()}"
    _forget()
    kwargs = table_kwargs("MainTable", get_settings().main_table)
    kwargs.pop("StreamSpecification", None)
    client("dynamodb").create_table(**kwargs)
    try:
        yield
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget()


class BarrierTransactions(DynamoTransactions):
    """Units of work whose commit waits until `parties` batches have planned theirs."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.commits = 0
        self._lock = threading.Lock()

    def begin(self, command_id: str | None = None) -> Transaction:
        return BarrierTransaction(self, command_id)

    def arrive(self) -> None:
        with self._lock:
            self.commits += 1
            racing = self.commits <= self.barrier.parties  # only the first, racing, attempts wait
        if racing:
            self.barrier.wait()


class BarrierTransaction(Transaction):
    def __init__(self, owner: BarrierTransactions, command_id: str | None) -> None:
        super().__init__(command_id)
        self._owner = owner

    def commit(self) -> None:
        self._owner.arrive()
        super().commit()


def test_two_batches_racing_for_the_last_material_never_both_succeed(services: None) -> None:
    tenant = new_id()
    catalog, stock = wiring.catalog_service(), wiring.stock_service()
    transactions = BarrierTransactions(2)
    store = DynamoProductionStore(get_settings().main_table)
    production = ProductionService(store, catalog, stock, wiring.user_service(), transactions)
    main = catalog.default_location(tenant, ACTOR)
    wax = catalog.create_resource(
        tenant,
        "material",
        {"name": "Wax", "unit_type": "weight.kg"},
        ACTOR,
        initial=InitialStock(main.location_id, D(1)),
    ).product
    candle = catalog.create_resource(
        tenant,
        "product",
        {"name": "Candle", "materials": [{"product_id": wax.product_id, "quantity_used": D("0.5")}]},
        ACTOR,
    ).product
    # Two tasks, so that the task version does not serialise them: only the wax is contended.
    tasks = [
        production.create_task(tenant, TaskDraft(name=f"T{i}", items=[ItemDraft(candle.product_id, D(2))]), ACTOR).task
        for i in range(2)
    ]

    def produce(i: int) -> str:
        try:
            production.create_batch(tenant, tasks[i].task_id, 1, D(2), ACTOR)  # takes all the wax
        except ValidationFailed as refused:
            return refused.message
        return "made"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(produce, range(2)))

    assert outcomes.count("made") == 1
    (refusal,) = [o for o in outcomes if o != "made"]
    assert refusal.startswith(f"not enough Wax ({wax.product_id})")
    # Both sent their transaction; the loser's second plan found the wax short and sent nothing.
    assert transactions.commits == 2
    levels = catalog.levels(tenant, [wax, candle])
    assert (levels[wax.product_id].total, levels[candle.product_id].total) == (D(0), D(2))
    for product in (wax, candle):
        stock_id = location_stock_id(tenant, product.product_id, main.location_id)
        assert stock.reconcile(tenant, stock_id) == 0
    made = [production.task(tenant, t.task_id).task for t in tasks]
    assert sorted(len(t.items[0].batches) for t in made) == [0, 1]
