"""Random sequences of transfers and stock requests (with receipts and write-offs in between) against
the real services on moto, checking after every step:

- nothing is negative (on hand, reserved, held, available of every record);
- in transit + on hand + written off = received (stock moves between places, never appears or vanishes);
- reserved = what approved stock requests hold (every reservation belongs to a request line, and back).

Every command may be refused (short stock, a state that does not allow it): the invariants hold anyway.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from chalicelib import wiring
from chalicelib.core.errors import DomainError
from chalicelib.core.models import ZERO, Actor
from chalicelib.core.stock.lots import Receipt
from chalicelib.core.stock.slots import Place
from chalicelib.features.stock_requests import LineIn as RequestLine
from chalicelib.features.stock_requests import RequestFilter
from chalicelib.features.transfers import LineIn as TransferLine

D = Decimal
pytestmark = pytest.mark.shared_aws
CLERK = Actor(id="clerk", name="Clerk")
BOSS = Actor(id="boss", name="Boss")
amounts = st.integers(1, 8).map(D)


class WorkflowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        tenant, _ = wiring.tenant_service().create_tenant("Stateful")
        self.t = tenant.tenant_id
        catalog = wiring.catalog_service()
        self.products = [catalog.create_product(self.t, {"name": f"P{i}"}, CLERK).product_id for i in range(2)]
        self.locations = [catalog.create_location(self.t, {"name": f"L{i}"}, CLERK).location_id for i in range(3)]
        self.received = ZERO
        self.written_off = ZERO
        self.transfers: list[str] = []
        self.requests: list[str] = []

    def attempt(self, action: Any) -> None:
        # A refusal is a 4xx; the invariants must hold all the same.
        with contextlib.suppress(DomainError):
            action()

    # -- stock coming and going ----------------------------------------------------

    @rule(p=st.integers(0, 1), loc=st.integers(0, 2), q=amounts)
    def receive(self, p: int, loc: int, q: Decimal) -> None:
        place = Place(self.products[p], self.locations[loc])
        wiring.warehouse_stock().record_stock(self.t, place, q, Receipt(None, None), CLERK)
        self.received += q

    @rule(p=st.integers(0, 1), loc=st.integers(0, 2), q=amounts)
    def write_off(self, p: int, loc: int, q: Decimal) -> None:
        place = Place(self.products[p], self.locations[loc])
        try:
            wiring.warehouse_stock().adjust(self.t, place, -q, "DAMAGED", CLERK)
        except DomainError:
            return
        self.written_off += q

    # -- transfers -------------------------------------------------------------------

    @rule(p=st.integers(0, 1), a=st.integers(0, 2), b=st.integers(0, 2), q=amounts)
    def create_transfer(self, p: int, a: int, b: int, q: Decimal) -> None:
        if a == b:
            return
        created = wiring.transfer_service().create(
            self.t, self.locations[a], self.locations[b], [TransferLine(self.products[p], q)], CLERK
        )
        self.transfers.append(created.transfer_id)

    @precondition(lambda self: self.transfers)
    @rule(data=st.data(), action=st.sampled_from(["ship", "receive", "cancel", "partial"]))
    def move_transfer(self, data: st.DataObject, action: str) -> None:
        tid = data.draw(st.sampled_from(self.transfers))
        service = wiring.transfer_service()
        if action == "partial":
            transfer = service.get(self.t, tid)
            line = transfer.lines[0]
            if line.in_transit > 1:
                self.attempt(lambda: service.act(self.t, tid, "receive", CLERK, lines={line.line_id: D(1)}))
            return
        self.attempt(lambda: service.act(self.t, tid, action, CLERK))

    # -- stock requests --------------------------------------------------------------

    @rule(p=st.integers(0, 1), a=st.integers(0, 2), b=st.integers(0, 2), q=amounts)
    def request(self, p: int, a: int, b: int, q: Decimal) -> None:
        if a == b:
            return
        fields = {"title": "need", "location_id": self.locations[a], "source_location_id": self.locations[b]}
        service = wiring.stock_request_service()
        created = service.create(self.t, fields, [RequestLine(self.products[p], q)], CLERK)
        service.submit(self.t, created.request_id, CLERK)
        self.requests.append(created.request_id)

    @precondition(lambda self: self.requests)
    @rule(
        data=st.data(),
        action=st.sampled_from(["approve", "approve_partial", "fulfil", "fulfil_one", "cancel", "rollback", "reject"]),
    )
    def move_request(self, data: st.DataObject, action: str) -> None:
        rid = data.draw(st.sampled_from(self.requests))
        service = wiring.stock_request_service()
        if action == "approve":
            self.attempt(lambda: service.approve(self.t, rid, BOSS))
        elif action == "approve_partial":
            self.attempt(lambda: service.approve(self.t, rid, BOSS, partial=True))
        elif action == "fulfil":
            self.attempt(lambda: service.set_status(self.t, rid, "fulfilled", CLERK))
        elif action == "fulfil_one":
            line = service.get(self.t, rid).lines[0]
            if line.reserved > 1:
                self.attempt(lambda: service.set_status(self.t, rid, "fulfilled", CLERK, lines={line.line_id: D(1)}))
        elif action == "cancel":
            self.attempt(lambda: service.set_status(self.t, rid, "cancelled", CLERK))
        elif action == "reject":
            self.attempt(lambda: service.reject(self.t, rid, "no", BOSS))
        else:
            self.attempt(lambda: service.rollback(self.t, rid, CLERK))

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def conserved_and_never_negative(self) -> None:
        stock = wiring.stock_service()
        records = list(stock.all_records(self.t))
        for r in records:
            assert min(r.on_hand, r.reserved, r.held, r.available) >= 0, r
        in_transit = sum((r.on_hand for r in records if r.in_transit is not None), ZERO)
        on_hand = sum((r.on_hand for r in records if r.in_transit is None), ZERO)
        assert in_transit + on_hand + self.written_off == self.received
        # in-transit stock is all held, and nothing else holds stock here
        assert sum((r.held for r in records), ZERO) == in_transit

    @invariant()
    def reserved_is_what_approved_requests_hold(self) -> None:
        records = list(wiring.stock_service().all_records(self.t))
        requests = wiring.stock_request_service().find(self.t, _all())
        held = sum((line.reserved for r in requests for line in r.lines), ZERO)
        assert sum((r.reserved for r in records), ZERO) == held
        for r in requests:
            if r.status != "approved":
                assert all(line.reserved == 0 for line in r.lines), r.status


def _all() -> RequestFilter:
    return RequestFilter()


def test_transfers_and_stock_requests_keep_the_stock_invariants(http: Any) -> None:
    run_state_machine_as_test(
        WorkflowMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=18,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
