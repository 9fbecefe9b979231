"""Random sequences of stock operations against StockService on DynamoDB (moto),
checked step by step against a reference model that is just a few numbers.

The model predicts the outcome of every command, refusals included, and the
service must agree. Redeliveries of earlier commands (same command, reservation
or hold id) are mixed in and must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from moto import mock_aws

from chalicelib.core.errors import (
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    ValidationFailed,
)
from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Actor, ClaimStatus, Movement
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.settings import reset_settings
from chalicelib.storage.aws import reset_clients
from chalicelib.storage.codec import from_attrs
from chalicelib.storage.dynamo import ddb
from chalicelib.storage.stock_repo import DynamoStockStore
from infra.provision import table_kwargs

ACTOR = Actor(id="user:model", name="Model")
PRODUCTS = ("P1", "P2")
MAX_RECORDS = 4
D = Decimal
T = TypeVar("T")

# Halves as well as whole units, so Decimal exactness is exercised too.
amounts = st.integers(1, 12).map(lambda n: D(n) / 2)
deltas = st.integers(-12, 12).filter(bool).map(lambda n: D(n) / 2)


@dataclass
class ModelRecord:
    product: str
    allow_negative: bool
    on_hand: Decimal
    reserved: Decimal = ZERO
    held: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved - self.held

    def can_lower_available(self, amount: Decimal, *, may_go_negative: bool) -> bool:
        return self.available >= amount or (may_go_negative and self.allow_negative)


@dataclass
class ModelClaim:
    stock_id: str
    quantity: Decimal
    status: ClaimStatus = ClaimStatus.ACTIVE


def without_stream(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != "StreamSpecification"}


def outcome(expected: type[Exception] | None, action: Callable[[], T]) -> T | None:
    """Run `action`; it must raise `expected`, or succeed when that is None."""
    if expected is None:
        return action()
    with pytest.raises(expected):
        action()
    return None


class StockLedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # A table per example, with the keys and indexes of infra/resources.json.
        # moto deep-copies the whole table, stream records included, on every
        # transaction, so a shared table makes each write slower than the last
        # (this test took minutes); the stream, which the ledger never reads, is
        # left off for the same reason.
        self.table = f"stateful-{new_id()}"
        ddb().create_table(**without_stream(table_kwargs("MainTable", self.table)))
        self.tenant = new_id()
        self.counter = 0
        self.service = StockService(DynamoStockStore(self.table))
        self.records: dict[str, ModelRecord] = {}
        self.reservations: dict[str, ModelClaim] = {}
        self.holds: dict[str, ModelClaim] = {}
        self.adjusts: list[tuple[str, str, Decimal, Movement]] = []
        self.counts: list[tuple[str, str, Decimal, Movement]] = []
        self.transfers: list[tuple[str, str, str, Decimal, tuple[Movement, Movement]]] = []

    def next_id(self, prefix: str) -> str:
        # Ids follow the order of creation, so a replayed example picks the same
        # things again; random ids would make Hypothesis's choices mean other records.
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def pick(self, data: st.DataObject, options: dict[str, Any] | list[Any]) -> Any:
        return data.draw(st.sampled_from(list(options)))

    # -- records and on-hand -----------------------------------------------------

    @precondition(lambda self: len(self.records) < MAX_RECORDS)
    @rule(product=st.sampled_from(PRODUCTS), quantity=st.integers(-4, 20).map(D), allow_negative=st.booleans())
    def create_record(self, product: str, quantity: Decimal, allow_negative: bool) -> None:
        stock_id = self.next_id("stock")
        new = NewStockRecord(
            stock_id=stock_id,
            product_id=product,
            location_id=f"L-{stock_id}",
            quantity=quantity,
            allow_negative=allow_negative,
        )
        refused = ValidationFailed if quantity < 0 and not allow_negative else None
        record = outcome(refused, lambda: self.service.create_record(self.tenant, new, ACTOR))
        if record is not None:
            self.records[record.stock_id] = ModelRecord(product, allow_negative, quantity)

    @precondition(lambda self: self.records)
    @rule(data=st.data(), delta=deltas, expectation=st.sampled_from(["none", "current", "stale"]))
    def adjust(self, data: st.DataObject, delta: Decimal, expectation: str) -> None:
        stock_id = self.pick(data, self.records)
        model = self.records[stock_id]
        expected = {"none": None, "current": model.on_hand, "stale": model.on_hand + 1}[expectation]
        refused: type[Exception] | None = None
        if expectation == "stale":
            refused = ExpectationFailed
        elif delta < 0 and not model.can_lower_available(-delta, may_go_negative=True):
            refused = InsufficientStock
        command_id = self.next_id("command")
        movement = outcome(
            refused,
            lambda: self.service.adjust(
                self.tenant, stock_id, delta, ACTOR, expected_on_hand=expected, command_id=command_id
            ),
        )
        if movement is not None:
            assert (movement.movement_id, movement.quantity) == (command_id, delta)
            model.on_hand += delta
            self.adjusts.append((command_id, stock_id, delta, movement))

    @precondition(lambda self: self.records)
    @rule(data=st.data(), level=st.integers(-3, 25).map(D))
    def set_on_hand(self, data: st.DataObject, level: Decimal) -> None:
        stock_id = self.pick(data, self.records)
        model = self.records[stock_id]
        delta = level - model.on_hand
        refused = None
        if delta < 0 and not model.can_lower_available(-delta, may_go_negative=True):
            refused = InsufficientStock
        command_id = self.next_id("command")
        movement = outcome(
            refused, lambda: self.service.set_on_hand(self.tenant, stock_id, level, ACTOR, command_id=command_id)
        )
        if delta == 0:
            assert movement is None
        elif movement is not None:
            assert movement.quantity == delta
            model.on_hand = level
            self.counts.append((command_id, stock_id, level, movement))

    @precondition(lambda self: len(self.records) >= 2)
    @rule(data=st.data(), quantity=amounts)
    def transfer(self, data: st.DataObject, quantity: Decimal) -> None:
        source_id = self.pick(data, self.records)
        target_id = self.pick(data, [s for s in self.records if s != source_id])
        source, target = self.records[source_id], self.records[target_id]
        refused: type[Exception] | None = None
        if source.product != target.product:
            refused = ValidationFailed
        elif not source.can_lower_available(quantity, may_go_negative=False):
            refused = InsufficientStock
        command_id = self.next_id("command")
        moved = outcome(
            refused,
            lambda: self.service.transfer(self.tenant, source_id, target_id, quantity, ACTOR, command_id=command_id),
        )
        if moved is not None:
            source.on_hand -= quantity
            target.on_hand += quantity
            self.transfers.append((command_id, source_id, target_id, quantity, moved))

    # -- reservations and holds ------------------------------------------------

    @precondition(lambda self: self.records)
    @rule(data=st.data(), quantity=amounts)
    def reserve(self, data: st.DataObject, quantity: Decimal) -> None:
        stock_id = self.pick(data, self.records)
        model = self.records[stock_id]
        # Reservations never use negative stock, whatever the record allows.
        refused = None if model.can_lower_available(quantity, may_go_negative=False) else InsufficientStock
        reservation_id = self.next_id("reservation")
        reservation = outcome(
            refused,
            lambda: self.service.reserve(self.tenant, stock_id, quantity, ACTOR, reservation_id=reservation_id),
        )
        if reservation is not None:
            model.reserved += quantity
            self.reservations[reservation.reservation_id] = ModelClaim(stock_id, quantity)

    @precondition(lambda self: self.reservations)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        reservation_id = self.pick(data, self.reservations)
        claim = self.reservations[reservation_id]
        released = self.service.release(self.tenant, reservation_id, ACTOR)
        if claim.status == ClaimStatus.ACTIVE:
            self.records[claim.stock_id].reserved -= claim.quantity
            claim.status = ClaimStatus.RELEASED
        # Releasing anything but an active reservation is a no-op that reports the state.
        assert released.status == claim.status

    @precondition(lambda self: self.reservations)
    @rule(data=st.data())
    def fulfil(self, data: st.DataObject) -> None:
        reservation_id = self.pick(data, self.reservations)
        claim = self.reservations[reservation_id]
        refused = None if claim.status == ClaimStatus.ACTIVE else InvalidState
        movement = outcome(refused, lambda: self.service.fulfil(self.tenant, reservation_id, ACTOR))
        if movement is not None:
            assert movement.quantity == -claim.quantity
            model = self.records[claim.stock_id]
            model.on_hand -= claim.quantity
            model.reserved -= claim.quantity
            claim.status = ClaimStatus.FULFILLED

    @precondition(lambda self: self.records)
    @rule(data=st.data(), quantity=amounts)
    def hold(self, data: st.DataObject, quantity: Decimal) -> None:
        stock_id = self.pick(data, self.records)
        model = self.records[stock_id]
        refused = None if model.can_lower_available(quantity, may_go_negative=False) else InsufficientStock
        hold_id = self.next_id("hold")
        hold = outcome(
            refused, lambda: self.service.hold(self.tenant, stock_id, quantity, "damaged", ACTOR, hold_id=hold_id)
        )
        if hold is not None:
            model.held += quantity
            self.holds[hold.hold_id] = ModelClaim(stock_id, quantity)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        hold_id = self.pick(data, self.holds)
        claim = self.holds[hold_id]
        released = self.service.release_hold(self.tenant, hold_id, ACTOR)
        if claim.status == ClaimStatus.ACTIVE:
            self.records[claim.stock_id].held -= claim.quantity
            claim.status = ClaimStatus.RELEASED
        assert released.status == claim.status

    # -- redeliveries: applied once, answered with the first result --------------

    @precondition(lambda self: self.adjusts)
    @rule(data=st.data())
    def redeliver_adjust(self, data: st.DataObject) -> None:
        command_id, stock_id, delta, first = self.pick(data, self.adjusts)
        again = self.service.adjust(self.tenant, stock_id, delta, ACTOR, command_id=command_id)
        assert again == first

    @precondition(lambda self: self.counts)
    @rule(data=st.data())
    def redeliver_count(self, data: st.DataObject) -> None:
        command_id, stock_id, target, first = self.pick(data, self.counts)
        again = self.service.set_on_hand(self.tenant, stock_id, target, ACTOR, command_id=command_id)
        # Nothing to do when on hand already reads the target; otherwise the first answer.
        assert again is None if self.records[stock_id].on_hand == target else again == first

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def redeliver_transfer(self, data: st.DataObject) -> None:
        command_id, source_id, target_id, quantity, first = self.pick(data, self.transfers)
        again = self.service.transfer(self.tenant, source_id, target_id, quantity, ACTOR, command_id=command_id)
        assert again == first

    @precondition(lambda self: self.reservations)
    @rule(data=st.data())
    def redeliver_reserve(self, data: st.DataObject) -> None:
        reservation_id = self.pick(data, self.reservations)
        claim = self.reservations[reservation_id]
        again = self.service.reserve(self.tenant, claim.stock_id, claim.quantity, ACTOR, reservation_id=reservation_id)
        assert (again.reservation_id, again.status) == (reservation_id, claim.status)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def redeliver_hold(self, data: st.DataObject) -> None:
        hold_id = self.pick(data, self.holds)
        claim = self.holds[hold_id]
        again = self.service.hold(self.tenant, claim.stock_id, claim.quantity, "damaged", ACTOR, hold_id=hold_id)
        assert (again.hold_id, again.status) == (hold_id, claim.status)

    @precondition(lambda self: self.adjusts or self.reservations)
    @rule(data=st.data())
    def reuse_id_with_other_payload(self, data: st.DataObject) -> None:
        if self.adjusts and (not self.reservations or data.draw(st.booleans())):
            command_id, stock_id, delta, _ = self.pick(data, self.adjusts)
            with pytest.raises(DuplicateCommand):
                self.service.adjust(self.tenant, stock_id, delta * 2, ACTOR, command_id=command_id)
            return
        reservation_id = self.pick(data, self.reservations)
        claim = self.reservations[reservation_id]
        with pytest.raises(DuplicateCommand):
            self.service.reserve(self.tenant, claim.stock_id, claim.quantity + 1, ACTOR, reservation_id=reservation_id)

    # -- what must hold after every step -----------------------------------------

    @invariant()
    def storage_agrees_with_the_model(self) -> None:
        stored = self._everything()
        ledger: dict[str, Decimal] = {}
        for item in stored["movement"]:
            ledger[item["stock_id"]] = ledger.get(item["stock_id"], ZERO) + item["quantity"]
        balances = {item["entity_id"]: item for item in stored["stock"]}
        assert set(balances) == set(self.records)
        assert set(ledger) <= set(self.records)
        for stock_id, model in self.records.items():
            got = balances[stock_id]
            assert (got["on_hand"], got["reserved"], got["held"], got["allow_negative"]) == (
                model.on_hand,
                model.reserved,
                model.held,
                model.allow_negative,
            )
            assert got["available"] == got["on_hand"] - got["reserved"] - got["held"]
            assert got["available"] >= 0 or got["allow_negative"]
            assert ledger.get(stock_id, ZERO) == got["on_hand"]
        assert _claims(stored["reservation"]) == _model_claims(self.reservations)
        assert _claims(stored["hold"]) == _model_claims(self.holds)

    def teardown(self) -> None:
        # Once per example, the service's own ledger read must agree too.
        try:
            for stock_id in self.records:
                assert self.service.reconcile(self.tenant, stock_id) == 0
        finally:
            ddb().delete_table(TableName=self.table)

    def _everything(self) -> dict[str, list[dict[str, Any]]]:
        """The example's whole table in one call, only the compared attributes.

        Each moto call costs milliseconds, mostly spent serialising items, and
        the table holds this example alone, so one lean Scan beats a query per
        record. (Tests only: no request path of the service scans.)
        """
        found: dict[str, list[dict[str, Any]]] = {"stock": [], "movement": [], "reservation": [], "hold": []}
        request: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": (
                "entity_type, entity_id, stock_id, quantity, on_hand, reserved, held, available, allow_negative, #s"
            ),
            "ExpressionAttributeNames": {"#s": "status"},
            "ConsistentRead": True,
        }
        while True:
            response = ddb().scan(**request)
            for item in response.get("Items", []):
                plain = from_attrs(item)
                if plain["entity_type"] != "productStock":  # a product's stock keys (keys.product_stock)
                    found[plain["entity_type"]].append(plain)
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _claims(items: list[dict[str, Any]]) -> set[tuple[str, str, Decimal, str]]:
    return {(i["entity_id"], i["stock_id"], i["quantity"], i["status"]) for i in items}


def _model_claims(claims: dict[str, ModelClaim]) -> set[tuple[str, str, Decimal, str]]:
    return {(claim_id, c.stock_id, c.quantity, c.status.value) for claim_id, c in claims.items()}


@pytest.fixture
def dynamodb() -> Iterator[None]:
    reset_settings()
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


@pytest.mark.slow
def test_stock_ledger_matches_the_reference_model(dynamodb: None) -> None:
    run_state_machine_as_test(
        StockLedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
