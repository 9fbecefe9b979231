"""StockService against the in-memory store: the ledger rules, no AWS."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal

import pytest
import pytest_socket

from chalicelib.core.errors import (
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import Actor, ClaimStatus, MovementKind, Reservation, StockRecord
from chalicelib.core.ports import StockChange, UnitOfWork
from chalicelib.core.stock.levels import MAX_SET_RETRIES
from chalicelib.core.stock.service import NewStockRecord, StockService
from tests.fakes import InMemoryStockStore

ACTOR = Actor(id="user:1", name="Tester")
TENANT = "tenant-a"
D = Decimal


@pytest.fixture
def store() -> InMemoryStockStore:
    return InMemoryStockStore()


@pytest.fixture
def service(store: InMemoryStockStore) -> StockService:
    return StockService(store)


def make_record(
    service: StockService, quantity: str = "10", *, product: str = "P1", allow_negative: bool = False
) -> StockRecord:
    new = NewStockRecord(product_id=product, location_id=new_id(), quantity=D(quantity), allow_negative=allow_negative)
    return service.create_record(TENANT, new, ACTOR)


def assert_numbers(
    service: StockService, stock_id: str, on_hand: str, reserved: str = "0", held: str = "0"
) -> StockRecord:
    record = service.get(TENANT, stock_id)
    assert (record.on_hand, record.reserved, record.held) == (D(on_hand), D(reserved), D(held))
    assert record.available == record.on_hand - record.reserved - record.held
    assert service.ledger_total(TENANT, stock_id) == record.on_hand
    return record


# -- the unit tier is offline -----------------------------------------------------


def test_given_unit_tier_when_opening_a_socket_then_it_is_blocked() -> None:
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)


# -- records ------------------------------------------------------------------------


def test_given_initial_quantity_when_creating_record_then_an_initial_movement_is_written(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "12.5")

    movements = list(store.movements(TENANT, record.stock_id))
    assert [(m.kind, m.quantity) for m in movements] == [(MovementKind.INITIAL, D("12.5"))]
    assert movements[0].actor == ACTOR
    assert_numbers(service, record.stock_id, "12.5")


def test_given_zero_quantity_when_creating_record_then_no_movement_is_written(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "0")

    assert list(store.movements(TENANT, record.stock_id)) == []
    assert_numbers(service, record.stock_id, "0")


def test_given_negative_initial_quantity_when_record_disallows_negative_then_refused(service: StockService) -> None:
    with pytest.raises(ValidationFailed):
        make_record(service, "-1")
    assert_numbers(service, make_record(service, "-1", allow_negative=True).stock_id, "-1")


def test_given_missing_record_when_reading_or_adjusting_then_not_found(service: StockService) -> None:
    with pytest.raises(NotFound):
        service.get(TENANT, "nope")
    with pytest.raises(NotFound):
        service.adjust(TENANT, "nope", D(1), ACTOR)


def test_given_record_of_another_tenant_when_reading_then_not_found(service: StockService) -> None:
    record = make_record(service)
    with pytest.raises(NotFound):
        service.get("tenant-b", record.stock_id)


def test_given_many_records_when_listing_all_then_every_page_is_walked(service: StockService) -> None:
    created = {make_record(service, "1").stock_id for _ in range(7)}
    assert {r.stock_id for r in service.all_records(TENANT)} == created


# -- adjust -------------------------------------------------------------------------


def test_given_record_when_adjusting_up_and_down_then_on_hand_follows_the_ledger(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")

    up = service.adjust(TENANT, record.stock_id, D("2.5"), ACTOR, reason="found")
    down = service.adjust(TENANT, record.stock_id, D(-4), ACTOR, reason="damaged")

    assert (up.kind, up.quantity, up.reason) == (MovementKind.ADJUSTMENT, D("2.5"), "found")
    assert down.quantity == D(-4)
    after = assert_numbers(service, record.stock_id, "8.5")
    assert after.version == record.version + 2
    assert len(list(store.movements(TENANT, record.stock_id))) == 3


def test_given_each_adjust_when_applied_then_it_is_one_store_apply(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")
    service.adjust(TENANT, record.stock_id, D(1), ACTOR)
    assert store.apply_calls == 1


def test_given_zero_quantity_when_adjusting_then_refused(service: StockService) -> None:
    record = make_record(service)
    with pytest.raises(ValidationFailed):
        service.adjust(TENANT, record.stock_id, D(0), ACTOR)


def test_given_reserved_stock_when_adjusting_below_available_then_refused_and_nothing_changes(
    service: StockService,
) -> None:
    record = make_record(service, "10")
    service.reserve(TENANT, record.stock_id, D(6), ACTOR)

    with pytest.raises(InsufficientStock):
        service.adjust(TENANT, record.stock_id, D(-5), ACTOR)

    assert_numbers(service, record.stock_id, "10", reserved="6")
    service.adjust(TENANT, record.stock_id, D(-4), ACTOR)
    assert service.get(TENANT, record.stock_id).available == 0


def test_given_record_allowing_negative_when_adjusting_below_zero_then_on_hand_goes_negative(
    service: StockService,
) -> None:
    record = make_record(service, "3", allow_negative=True)

    service.adjust(TENANT, record.stock_id, D(-5), ACTOR)

    assert assert_numbers(service, record.stock_id, "-2").available == D(-2)


def test_given_record_without_negative_stock_when_adjusting_below_zero_then_refused(service: StockService) -> None:
    record = make_record(service, "3")
    with pytest.raises(InsufficientStock):
        service.adjust(TENANT, record.stock_id, D(-5), ACTOR)
    assert_numbers(service, record.stock_id, "3")


def test_given_record_allowing_negative_when_reserving_or_holding_beyond_available_then_refused(
    service: StockService,
) -> None:
    record = make_record(service, "3", allow_negative=True)

    with pytest.raises(InsufficientStock):
        service.reserve(TENANT, record.stock_id, D(4), ACTOR)
    with pytest.raises(InsufficientStock):
        service.hold(TENANT, record.stock_id, D(4), "qc", ACTOR)

    assert_numbers(service, record.stock_id, "3")


def test_given_negative_record_when_adjusting_up_then_it_recovers(service: StockService) -> None:
    record = make_record(service, "0", allow_negative=True)
    service.adjust(TENANT, record.stock_id, D(-5), ACTOR)
    service.adjust(TENANT, record.stock_id, D(2), ACTOR)
    assert_numbers(service, record.stock_id, "-3")


def test_given_matching_expectation_when_adjusting_then_applied(service: StockService) -> None:
    record = make_record(service, "10")
    service.adjust(TENANT, record.stock_id, D(1), ACTOR, expected_on_hand=D(10))
    assert_numbers(service, record.stock_id, "11")


def test_given_stale_expectation_when_adjusting_then_expectation_failed_is_a_conflict(service: StockService) -> None:
    record = make_record(service, "10")
    service.adjust(TENANT, record.stock_id, D(1), ACTOR)

    with pytest.raises(ExpectationFailed) as raised:
        service.adjust(TENANT, record.stock_id, D(1), ACTOR, expected_on_hand=D(10))

    assert raised.value.code == "EXPECTATION_FAILED"
    assert_numbers(service, record.stock_id, "11")


# -- duplicate commands -------------------------------------------------------------


def test_given_same_command_id_when_adjust_is_delivered_twice_then_it_is_applied_once(service: StockService) -> None:
    record = make_record(service, "10")

    first = service.adjust(TENANT, record.stock_id, D(-3), ACTOR, reason="r", command_id="cmd-1")
    again = service.adjust(TENANT, record.stock_id, D(-3), ACTOR, reason="r", command_id="cmd-1")

    assert again.movement_id == first.movement_id == "cmd-1"
    assert again.occurred_at == first.occurred_at
    assert_numbers(service, record.stock_id, "7")


def test_given_used_command_id_when_payload_differs_then_duplicate_command(service: StockService) -> None:
    record = make_record(service, "10")
    service.adjust(TENANT, record.stock_id, D(-3), ACTOR, command_id="cmd-1")

    with pytest.raises(DuplicateCommand):
        service.adjust(TENANT, record.stock_id, D(-2), ACTOR, command_id="cmd-1")

    assert_numbers(service, record.stock_id, "7")


def test_given_redelivered_adjust_when_stock_is_now_short_then_the_first_result_is_returned(
    service: StockService,
) -> None:
    record = make_record(service, "10")
    first = service.adjust(TENANT, record.stock_id, D(-8), ACTOR, command_id="cmd-1")
    service.reserve(TENANT, record.stock_id, D(2), ACTOR)

    # Applying -8 again would be refused; a redelivery is recognised first.
    assert service.adjust(TENANT, record.stock_id, D(-8), ACTOR, command_id="cmd-1") == first
    assert_numbers(service, record.stock_id, "2", reserved="2")


def test_given_same_reservation_id_when_reserving_twice_then_reserved_once(service: StockService) -> None:
    record = make_record(service, "10")

    first = service.reserve(TENANT, record.stock_id, D(4), ACTOR, reservation_id="res-1")
    again = service.reserve(TENANT, record.stock_id, D(4), ACTOR, reservation_id="res-1")

    assert again.reservation_id == first.reservation_id
    assert_numbers(service, record.stock_id, "10", reserved="4")
    with pytest.raises(DuplicateCommand):
        service.reserve(TENANT, record.stock_id, D(5), ACTOR, reservation_id="res-1")
    assert_numbers(service, record.stock_id, "10", reserved="4")


def test_given_same_hold_id_when_holding_twice_then_held_once(service: StockService) -> None:
    record = make_record(service, "10")

    service.hold(TENANT, record.stock_id, D(2), "damaged", ACTOR, hold_id="h-1")
    service.hold(TENANT, record.stock_id, D(2), "damaged", ACTOR, hold_id="h-1")

    assert_numbers(service, record.stock_id, "10", held="2")
    with pytest.raises(DuplicateCommand):
        service.hold(TENANT, record.stock_id, D(3), "damaged", ACTOR, hold_id="h-1")


def test_given_same_command_id_when_transfer_is_delivered_twice_then_moved_once(service: StockService) -> None:
    source, target = make_record(service, "10"), make_record(service, "0")

    first = service.transfer(TENANT, source.stock_id, target.stock_id, D(4), ACTOR, command_id="t-1")
    again = service.transfer(TENANT, source.stock_id, target.stock_id, D(4), ACTOR, command_id="t-1")

    assert again == first
    assert_numbers(service, source.stock_id, "6")
    assert_numbers(service, target.stock_id, "4")
    with pytest.raises(DuplicateCommand):
        service.transfer(TENANT, source.stock_id, target.stock_id, D(1), ACTOR, command_id="t-1")


# -- set_on_hand (counts) -----------------------------------------------------------


def test_given_count_when_setting_on_hand_then_the_delta_is_written_as_a_count(service: StockService) -> None:
    record = make_record(service, "10")

    movement = service.set_on_hand(TENANT, record.stock_id, D(7), ACTOR, reason="cycle count")

    assert movement is not None
    assert (movement.kind, movement.quantity) == (MovementKind.COUNT, D(-3))
    assert_numbers(service, record.stock_id, "7")


def test_given_count_equal_to_on_hand_when_setting_on_hand_then_nothing_is_written(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")
    assert service.set_on_hand(TENANT, record.stock_id, D(10), ACTOR) is None
    assert store.apply_calls == 0


def test_given_count_below_reserved_when_setting_on_hand_then_refused(service: StockService) -> None:
    record = make_record(service, "10")
    service.reserve(TENANT, record.stock_id, D(6), ACTOR)
    with pytest.raises(InsufficientStock):
        service.set_on_hand(TENANT, record.stock_id, D(5), ACTOR)
    assert_numbers(service, record.stock_id, "10", reserved="6")


class RacingStore(InMemoryStockStore):
    """Lets another writer slip in an adjustment just before each of the first `races` counts lands."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def apply(self, tenant_id: str, changes: list[StockChange]) -> None:
        if self.races and changes[0].expected_on_hand is not None:
            self.races -= 1
            other = changes[0]
            movement = other.movement.model_copy(update={"movement_id": new_id(), "quantity": D(1)})  # type: ignore[union-attr]
            super().apply(
                tenant_id, [StockChange(stock_id=other.stock_id, actor=ACTOR, on_hand=D(1), movement=movement)]
            )
        super().apply(tenant_id, changes)


def test_given_concurrent_change_when_counting_then_it_retries_and_lands_on_the_target() -> None:
    store = RacingStore(races=2)
    service = StockService(store)
    record = make_record(service, "10")

    movement = service.set_on_hand(TENANT, record.stock_id, D(4), ACTOR)

    # Two racing +1s landed first, so the count's delta was computed from 12.
    assert movement is not None
    assert movement.quantity == D(-8)
    assert_numbers(service, record.stock_id, "4")


def test_given_endless_concurrent_changes_when_counting_then_it_gives_up(service: StockService) -> None:
    store = RacingStore(races=MAX_SET_RETRIES)
    service = StockService(store)
    record = make_record(service, "10")

    with pytest.raises(InvalidState):
        service.set_on_hand(TENANT, record.stock_id, D(4), ACTOR)

    # Only the other writer's changes landed; the count never overwrote them.
    assert_numbers(service, record.stock_id, str(10 + MAX_SET_RETRIES))


def test_given_redelivered_count_after_another_change_when_setting_on_hand_then_applied_once(
    service: StockService,
) -> None:
    record = make_record(service, "10")
    first = service.set_on_hand(TENANT, record.stock_id, D(7), ACTOR, command_id="count-1")
    service.adjust(TENANT, record.stock_id, D(2), ACTOR)

    again = service.set_on_hand(TENANT, record.stock_id, D(7), ACTOR, command_id="count-1")

    assert again == first
    assert_numbers(service, record.stock_id, "9")


# -- transfer -----------------------------------------------------------------------


def test_given_two_records_of_one_product_when_transferring_then_both_change_in_one_apply(
    service: StockService, store: InMemoryStockStore
) -> None:
    source, target = make_record(service, "10"), make_record(service, "1")

    out, into = service.transfer(TENANT, source.stock_id, target.stock_id, D("2.5"), ACTOR, reason="move")

    assert (out.kind, out.quantity, into.kind, into.quantity) == (
        MovementKind.TRANSFER_OUT,
        D("-2.5"),
        MovementKind.TRANSFER_IN,
        D("2.5"),
    )
    assert store.apply_calls == 1
    assert_numbers(service, source.stock_id, "7.5")
    assert_numbers(service, target.stock_id, "3.5")


def test_given_short_source_when_transferring_then_neither_record_changes(service: StockService) -> None:
    source, target = make_record(service, "3"), make_record(service, "1")

    with pytest.raises(InsufficientStock):
        service.transfer(TENANT, source.stock_id, target.stock_id, D(4), ACTOR)

    assert_numbers(service, source.stock_id, "3")
    assert_numbers(service, target.stock_id, "1")


def test_given_records_of_different_products_when_transferring_then_refused(service: StockService) -> None:
    source, target = make_record(service, "10", product="P1"), make_record(service, "0", product="P2")

    with pytest.raises(ValidationFailed):
        service.transfer(TENANT, source.stock_id, target.stock_id, D(1), ACTOR)

    assert_numbers(service, source.stock_id, "10")
    assert_numbers(service, target.stock_id, "0")


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_given_non_positive_quantity_when_transferring_then_refused(service: StockService, quantity: str) -> None:
    source, target = make_record(service), make_record(service)
    with pytest.raises(ValidationFailed):
        service.transfer(TENANT, source.stock_id, target.stock_id, D(quantity), ACTOR)


def test_given_same_record_or_missing_target_when_transferring_then_refused(service: StockService) -> None:
    source = make_record(service)
    with pytest.raises(ValidationFailed):
        service.transfer(TENANT, source.stock_id, source.stock_id, D(1), ACTOR)
    with pytest.raises(NotFound):
        service.transfer(TENANT, source.stock_id, "missing", D(1), ACTOR)


# -- reservations -------------------------------------------------------------------


def test_given_stock_when_reserving_and_releasing_then_available_goes_down_and_back(
    service: StockService,
) -> None:
    record = make_record(service, "10")

    reservation = service.reserve(TENANT, record.stock_id, D(4), ACTOR, reference={"orderId": "o-1"})
    assert (reservation.status, reservation.product_id, reservation.location_id) == (
        ClaimStatus.ACTIVE,
        record.product_id,
        record.location_id,
    )
    assert assert_numbers(service, record.stock_id, "10", reserved="4").available == D(6)

    released = service.release(TENANT, reservation.reservation_id, ACTOR)

    assert released.status == ClaimStatus.RELEASED
    assert assert_numbers(service, record.stock_id, "10").available == D(10)


def test_given_released_reservation_when_releasing_again_then_nothing_changes(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")
    reservation = service.reserve(TENANT, record.stock_id, D(4), ACTOR)
    service.release(TENANT, reservation.reservation_id, ACTOR)
    applied = store.apply_calls

    again = service.release(TENANT, reservation.reservation_id, ACTOR)

    assert again.status == ClaimStatus.RELEASED
    assert store.apply_calls == applied
    assert_numbers(service, record.stock_id, "10")


def test_given_more_than_available_when_reserving_then_insufficient_stock(service: StockService) -> None:
    record = make_record(service, "5")
    service.hold(TENANT, record.stock_id, D(2), "qc", ACTOR)

    with pytest.raises(InsufficientStock):
        service.reserve(TENANT, record.stock_id, D(4), ACTOR)

    service.reserve(TENANT, record.stock_id, D(3), ACTOR)
    assert assert_numbers(service, record.stock_id, "5", reserved="3", held="2").available == 0


@pytest.mark.parametrize("quantity", ["0", "-2"])
def test_given_non_positive_quantity_when_reserving_then_refused(service: StockService, quantity: str) -> None:
    record = make_record(service)
    with pytest.raises(ValidationFailed):
        service.reserve(TENANT, record.stock_id, D(quantity), ACTOR)


def test_given_unknown_reservation_when_releasing_or_fulfilling_then_not_found(service: StockService) -> None:
    with pytest.raises(NotFound):
        service.release(TENANT, "missing", ACTOR)
    with pytest.raises(NotFound):
        service.fulfil(TENANT, "missing", ACTOR)


def test_given_reservation_when_fulfilling_then_on_hand_and_reserved_fall_together(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")
    reservation = service.reserve(TENANT, record.stock_id, D(4), ACTOR)

    movement = service.fulfil(TENANT, reservation.reservation_id, ACTOR, reference="shipment-1")

    assert (movement.kind, movement.quantity, movement.reference) == (MovementKind.SHIPMENT, D(-4), "shipment-1")
    after = assert_numbers(service, record.stock_id, "6")
    assert after.available == D(6)
    stored = store.get_reservation(TENANT, reservation.reservation_id)
    assert stored is not None
    assert stored.status == ClaimStatus.FULFILLED


def test_given_fulfilled_or_released_reservation_when_fulfilling_then_invalid_state(service: StockService) -> None:
    record = make_record(service, "10")
    fulfilled = service.reserve(TENANT, record.stock_id, D(1), ACTOR)
    service.fulfil(TENANT, fulfilled.reservation_id, ACTOR)
    released = service.reserve(TENANT, record.stock_id, D(1), ACTOR)
    service.release(TENANT, released.reservation_id, ACTOR)

    for reservation in (fulfilled, released):
        with pytest.raises(InvalidState):
            service.fulfil(TENANT, reservation.reservation_id, ACTOR)
    assert_numbers(service, record.stock_id, "9")


def test_given_fulfilled_reservation_when_releasing_then_nothing_changes(service: StockService) -> None:
    record = make_record(service, "10")
    reservation = service.reserve(TENANT, record.stock_id, D(3), ACTOR)
    service.fulfil(TENANT, reservation.reservation_id, ACTOR)

    assert service.release(TENANT, reservation.reservation_id, ACTOR).status == ClaimStatus.FULFILLED
    assert_numbers(service, record.stock_id, "7")


def test_given_expired_and_live_reservations_when_expiring_then_only_expired_active_ones_are_released(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "20")
    now = utcnow()
    expired = service.reserve(TENANT, record.stock_id, D(1), ACTOR, expires_at=now - timedelta(minutes=5))
    live = service.reserve(TENANT, record.stock_id, D(2), ACTOR, expires_at=now + timedelta(minutes=5))
    forever = service.reserve(TENANT, record.stock_id, D(3), ACTOR)
    expired_but_released = service.reserve(TENANT, record.stock_id, D(4), ACTOR, expires_at=now - timedelta(hours=1))
    service.release(TENANT, expired_but_released.reservation_id, ACTOR)

    assert service.expire_reservations(TENANT, now) == 1

    statuses = {r.reservation_id: r.status for r in store.reservations_for_record(TENANT, record.stock_id)}
    assert statuses == {
        expired.reservation_id: ClaimStatus.EXPIRED,
        live.reservation_id: ClaimStatus.ACTIVE,
        forever.reservation_id: ClaimStatus.ACTIVE,
        expired_but_released.reservation_id: ClaimStatus.RELEASED,
    }
    assert_numbers(service, record.stock_id, "20", reserved="5")
    assert service.expire_reservations(TENANT, now) == 0


# -- holds --------------------------------------------------------------------------


def test_given_stock_when_holding_and_releasing_hold_then_available_goes_down_and_back(
    service: StockService,
) -> None:
    record = make_record(service, "10")

    hold = service.hold(TENANT, record.stock_id, D(3), "damaged", ACTOR)
    assert (hold.status, hold.reason) == (ClaimStatus.ACTIVE, "damaged")
    assert assert_numbers(service, record.stock_id, "10", held="3").available == D(7)

    assert service.release_hold(TENANT, hold.hold_id, ACTOR).status == ClaimStatus.RELEASED
    assert service.release_hold(TENANT, hold.hold_id, ACTOR).status == ClaimStatus.RELEASED
    assert_numbers(service, record.stock_id, "10")


def test_given_blank_reason_or_unknown_hold_when_holding_then_refused(service: StockService) -> None:
    record = make_record(service, "10")
    with pytest.raises(ValidationFailed):
        service.hold(TENANT, record.stock_id, D(1), "  ", ACTOR)
    with pytest.raises(NotFound):
        service.release_hold(TENANT, "missing", ACTOR)
    assert_numbers(service, record.stock_id, "10")


# -- reconcile ----------------------------------------------------------------------


def test_given_any_sequence_of_changes_when_reconciling_then_the_difference_is_zero(service: StockService) -> None:
    source, target = make_record(service, "10"), make_record(service, "0")
    service.adjust(TENANT, source.stock_id, D(5), ACTOR)
    reservation = service.reserve(TENANT, source.stock_id, D(3), ACTOR)
    service.fulfil(TENANT, reservation.reservation_id, ACTOR)
    service.transfer(TENANT, source.stock_id, target.stock_id, D(2), ACTOR)
    service.set_on_hand(TENANT, target.stock_id, D(9), ACTOR)

    assert service.reconcile(TENANT, source.stock_id) == 0
    assert service.reconcile(TENANT, target.stock_id) == 0
    assert (service.get(TENANT, source.stock_id).on_hand, service.get(TENANT, target.stock_id).on_hand) == (
        D(10),
        D(9),
    )


def test_given_ledger_out_of_step_when_reconciling_then_the_difference_is_reported(
    service: StockService, store: InMemoryStockStore
) -> None:
    record = make_record(service, "10")
    # A balance change with no ledger line: exactly what reconcile exists to catch.
    store.apply(TENANT, [StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(2))])
    assert service.reconcile(TENANT, record.stock_id) == D(2)


# -- units of work --------------------------------------------------------------


def test_given_a_callers_write_that_fails_when_splitting_and_reserving_then_nothing_is_written(
    store: InMemoryStockStore,
) -> None:
    from tests.fakes import InMemoryOrderStore, InMemoryTransactions

    service = StockService(store, InMemoryTransactions())
    record = make_record(service, "10")
    joined: list[str] = []
    # The caller's own write: the order line must still be active, and there is no such line.
    orders = InMemoryOrderStore(store.table)

    def line_was_deleted(uow: UnitOfWork, reservation: Reservation) -> None:
        joined.append("line check")
        orders.note_reservation(TENANT, "o1", "l1", reservation.reservation_id, uow)

    for quantity in ("3", "10"):  # a split, and the whole row reserved in place
        with pytest.raises(InvalidState):
            service.split_and_reserve(
                TENANT,
                record.stock_id,
                D(quantity),
                ACTOR,
                reference={"orderId": "o1", "orderReference": "SO-1", "lineItemId": "l1"},
                also=line_was_deleted,
            )

    assert joined == ["line check", "line check"]
    assert_numbers(service, record.stock_id, "10")
    assert store.reservations_for_record(TENANT, record.stock_id) == []
    assert [r.stock_id for r in store.list_records(TENANT, 10, None).items] == [record.stock_id]


def test_given_reservations_when_releasing_them_all_then_one_write_per_row_and_links_go(
    service: StockService, store: InMemoryStockStore
) -> None:
    a, b = make_record(service, "10"), make_record(service, "10")
    reference = {"orderId": "o1", "orderReference": "SO-1"}
    made = [
        service.reserve(TENANT, a.stock_id, D(2), ACTOR, reference=reference),
        service.reserve(TENANT, a.stock_id, D(3), ACTOR, reference=reference),
        service.reserve(TENANT, b.stock_id, D(4), ACTOR),
    ]
    store.apply_calls = 0

    released = service.release_all(TENANT, made, ACTOR, set_fields={a.stock_id: {"name": "renamed"}})

    assert store.apply_calls == 1
    assert {r.status for r in released} == {ClaimStatus.RELEASED}
    assert_numbers(service, a.stock_id, "10")
    assert_numbers(service, b.stock_id, "10")
    row = service.get(TENANT, a.stock_id)
    assert row.name == "renamed" and not any(k.startswith("order_link:") for k in row.attributes)


def test_given_an_order_reservation_then_its_row_link_carries_its_quantity(service: StockService) -> None:
    from chalicelib.core.stock.service import linked_claims

    record = make_record(service, "10")
    made = service.reserve(TENANT, record.stock_id, D(4), ACTOR, reference={"orderId": "o", "orderReference": "R"})
    service.reserve(TENANT, record.stock_id, D(1), ACTOR)  # no order: no link

    reserved = service.get(TENANT, record.stock_id)
    assert reserved.attributes[f"order_link:{made.reservation_id}"]["quantity"] == D(4)
    # The links do not account for the bare reservation: a delete must read the claims instead.
    assert linked_claims(reserved) is None


def test_a_change_that_moves_a_record_to_another_product_names_the_product_it_leaves(service: StockService) -> None:
    record = make_record(service, "3", product="P1")

    def change(fields: dict[str, str]) -> StockChange:
        return service.counted_change(
            TENANT, record, None, ACTOR, kind=MovementKind.ADJUSTMENT, reason=None,
            expected_version=record.version, set_fields=fields,
        )  # fmt: skip

    # Storage takes the record out of P1's stock keys only when it really leaves P1.
    assert change({"product_id": "P2", "location_id": record.location_id}).moved_from_product == "P1"
    assert change({"product_id": "P1", "location_id": "L9"}).moved_from_product is None
    assert change({"name": "same product"}).moved_from_product is None
