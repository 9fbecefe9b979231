"""The issue-16 rules that need no storage: every workflow's state machine (allowed and refused
transitions, the 409 naming the state, the transition record) and the ABC classes of cycle counts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.errors import InvalidState
from chalicelib.core.models import Actor, Bin, BinType, Movement, MovementKind, StockRecord
from chalicelib.core.workflows import CYCLE_COUNT, PUT_AWAY, REPLENISHMENT, STOCK_REQUEST, TRANSFER, Machine
from chalicelib.features.cycle_counts import FREQUENCY_DAYS, classify, outbound_quantities
from chalicelib.features.putaway import suggest_bin
from chalicelib.features.replenishment import Method, ReplenishmentConfig, reorder_point, round_up, suggest

pytestmark = pytest.mark.disable_socket
D = Decimal
ME = Actor(id="key-1", name="Tester")
MACHINES = (CYCLE_COUNT, PUT_AWAY, TRANSFER, REPLENISHMENT, STOCK_REQUEST)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_state_refuses_what_it_does_not_allow_with_a_409_naming_it(machine: Machine) -> None:
    actions = {a for targets in machine.actions.values() for a in targets}
    for state in machine.states:
        for action in actions:
            if machine.allows(state, action):
                move = machine.move(state, action, ME, comment="why")
                assert (move.from_state, move.to_state) == (state, machine.actions[state][action])
                assert (move.by_id, move.by_name, move.comment) == ("key-1", "Tester", "why")
                continue
            with pytest.raises(InvalidState) as refused:
                machine.target(state, action)
            allowed = ", ".join(machine.allowed(state)) or "none (final state)"
            assert refused.value.details == [
                {"field": "action", "message": f"current state is {state}; allowed transitions: {allowed}"}
            ]


def test_the_documented_workflows() -> None:
    assert TRANSFER.allowed("draft") == ["ship", "complete", "cancel"]
    assert TRANSFER.allowed("shipped") == ["receive", "cancel"]
    assert TRANSFER.allowed("received") == [] and TRANSFER.allowed("cancelled") == []
    assert STOCK_REQUEST.target("submitted", "approve") == "approved"
    assert STOCK_REQUEST.target("rejected", "submit") == "submitted"
    assert STOCK_REQUEST.allowed("fulfilled") == []
    assert REPLENISHMENT.allowed("open") == ["order", "receive", "cancel"]
    assert set(STOCK_REQUEST.states) == {"draft", "submitted", "approved", "rejected", "fulfilled", "cancelled"}
    assert set(CYCLE_COUNT.states) == {"open", "counting", "review", "completed", "cancelled"}


def test_a_partial_step_may_stay_in_its_state() -> None:
    move = TRANSFER.move("shipped", "receive", ME, to_state="shipped")
    assert (move.from_state, move.to_state, move.action) == ("shipped", "shipped", "receive")


def test_abc_classes_split_at_80_and_95_percent_of_value() -> None:
    classes = classify({"a": D(50), "b": D(30), "c": D(10), "d": D(6), "e": D(4), "z": D(0)})
    # cumulative share before each: a 0, b .5, c .8, d .9, e .96
    assert classes == {"a": "A", "b": "A", "c": "B", "d": "B", "e": "C", "z": "C"}
    assert classify({"only": D(7)}) == {"only": "A"}
    assert classify({"x": D(0), "y": D(0)}) == {"x": "C", "y": "C"}
    assert FREQUENCY_DAYS == {"A": 30, "B": 90, "C": 365}


def test_outbound_quantities_count_only_stock_leaving() -> None:
    def m(kind: MovementKind, quantity: int, location: str = "L") -> Movement:
        return Movement(
            tenant_id="t", stock_id="s", product_id="p", location_id=location, kind=kind, quantity=D(quantity), actor=ME
        )

    moves = [
        m(MovementKind.SHIPMENT, -3),
        m(MovementKind.CONSUMPTION, -2),
        m(MovementKind.TRANSFER_OUT, -1),
        m(MovementKind.TRANSFER_OUT, -7, "other"),
        m(MovementKind.ADJUSTMENT, -5),
        m(MovementKind.RECEIPT, 9),
    ]
    assert outbound_quantities(moves, "L") == {"p": D(6)}
    assert outbound_quantities(moves) == {"p": D(13)}


def _config(**fields: object) -> ReplenishmentConfig:
    base: dict[str, object] = {
        "tenant_id": "t",
        "product_id": "p",
        "location_id": "l",
        "min_quantity": D(10),
        "max_quantity": D(40),
    }
    return ReplenishmentConfig.model_validate({**base, **fields})


def test_replenishment_suggestions_arithmetic() -> None:
    plain = _config()
    assert suggest(plain, D(10), D(0)) is None  # at the reorder point: nothing
    found = suggest(plain, D(3), D(2))
    assert found is not None and found.suggested_quantity == D(35) and found.reorder_point == D(10)
    assert "below the reorder point 10" in found.reason
    packed = suggest(_config(pack_size=D(12)), D(3), D(0))
    assert packed is not None and packed.suggested_quantity == D(48)  # 37 up to 4 packs
    point = _config(method=Method.REORDER_POINT, reorder_quantity=D(25), safety_stock=D(5))
    assert reorder_point(point) == D(15)
    assert suggest(point, D(14), D(0)) is not None and suggest(point, D(15), D(0)) is None
    reorder = suggest(point, D(14), D(0))
    assert reorder is not None and reorder.suggested_quantity == D(25)
    assert round_up(D("0.5"), D("0.2")) == D("0.6") and round_up(D(7), None) == D(7)
    assert suggest(_config(min_quantity=D(0), max_quantity=D(0)), D(0), D(0)) is None


def test_put_away_suggests_the_bin_holding_the_lot_else_the_emptiest_with_room() -> None:
    def b(code: str, capacity: int | None, kind: BinType = BinType.STORAGE) -> Bin:
        return Bin(tenant_id="t", location_id="l", bin_id=code, code=code, capacity=capacity, type=kind)

    def r(bin_id: str, product: str, on_hand: int, lot: str | None = None) -> StockRecord:
        return StockRecord(
            tenant_id="t",
            product_id=product,
            location_id="l",
            bin_id=bin_id,
            lot_id=lot,
            on_hand=D(on_hand),
            available=D(on_hand),
        )

    bins = [b("DOCK", None, BinType.RECEIVING), b("A", 10), b("B", 100), b("C", 100), b("X", None, BinType.DESTRUCTION)]
    stock = [r("A", "other", 9), r("B", "other", 60), r("C", "other", 10), r("DOCK", "p", 30)]
    found = suggest_bin(bins, stock, "p", None, D(20), exclude="DOCK")
    assert found is not None and found.code == "C"  # 10% full; A has no room, B is 60% full
    holding = suggest_bin(bins, [*stock, r("B", "p", 5, "L1")], "p", "L1", D(20), exclude="DOCK")
    assert holding is not None and holding.code == "B"  # already holds the product and lot
    assert suggest_bin(bins, [*stock, r("B", "p", 5, "L1")], "p", "L2", D(20), exclude="DOCK").code == "C"  # type: ignore[union-attr]
    assert suggest_bin([b("A", 10)], stock, "p", None, D(20)) is None  # nowhere with room
