"""The stock store contract, run against DynamoDB (moto) and the in-memory fake alike.

Whatever the unit tier proves with the fake holds for the real store only if
both behave the same; every contract test here runs against both. The tests
at the end pin what only the DynamoDB store has: its round trips.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import (
    AlreadyExists,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    StaleVersion,
)
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import Actor, ClaimStatus, Hold, Movement, MovementKind, Reservation, StockRecord
from chalicelib.core.ports import ClaimTransition, StockChange, StockStore
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.fakes import InMemoryStockStore

ACTOR = Actor(id="user:1", name="Tester")
D = Decimal


@pytest.fixture(params=["fake", "dynamo"])
def store(request: pytest.FixtureRequest) -> StockStore:
    if request.param == "fake":
        return InMemoryStockStore()
    return DynamoStockStore(request.getfixturevalue("table"))


@pytest.fixture
def tenant() -> str:
    return new_id()


@pytest.fixture
def service(store: StockStore) -> StockService:
    return StockService(store)


def new_record(
    tenant: str, quantity: str = "10", *, product: str = "P1", location: str = "L1", allow_negative: bool = False
) -> StockRecord:
    q = D(quantity)
    return StockRecord(
        tenant_id=tenant,
        product_id=product,
        location_id=location,
        on_hand=q,
        available=q,
        allow_negative=allow_negative,
    )


def put_record(store: StockStore, tenant: str, quantity: str = "10", **kwargs: object) -> StockRecord:
    record = new_record(tenant, quantity, **kwargs)  # type: ignore[arg-type]
    store.create_record(record, initial(record), ACTOR)
    return record


def initial(record: StockRecord) -> Movement | None:
    if record.on_hand == 0:
        return None
    return movement(record, record.on_hand, kind=MovementKind.INITIAL)


def movement(
    record: StockRecord,
    quantity: Decimal,
    *,
    movement_id: str | None = None,
    kind: MovementKind = MovementKind.ADJUSTMENT,
) -> Movement:
    return Movement(
        tenant_id=record.tenant_id,
        movement_id=movement_id or new_id(),
        stock_id=record.stock_id,
        product_id=record.product_id,
        location_id=record.location_id,
        kind=kind,
        quantity=quantity,
        actor=ACTOR,
    )


def reservation(record: StockRecord, quantity: str, **kwargs: object) -> Reservation:
    return Reservation(
        tenant_id=record.tenant_id,
        stock_id=record.stock_id,
        product_id=record.product_id,
        location_id=record.location_id,
        quantity=D(quantity),
        **kwargs,
    )


def hold(record: StockRecord, quantity: str) -> Hold:
    return Hold(
        tenant_id=record.tenant_id,
        stock_id=record.stock_id,
        product_id=record.product_id,
        location_id=record.location_id,
        quantity=D(quantity),
        reason="qc",
    )


def numbers(store: StockStore, tenant: str, stock_id: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    record = store.get_record(tenant, stock_id)
    assert record is not None
    assert sum((m.quantity for m in store.movements(tenant, stock_id)), D(0)) == record.on_hand
    return record.on_hand, record.reserved, record.held, record.available


# -- creating records ---------------------------------------------------------------


def test_given_new_record_when_created_then_record_and_initial_movement_are_stored(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "12.5")

    stored = store.get_record(tenant, record.stock_id)
    assert stored is not None
    assert (stored.on_hand, stored.available, stored.version) == (D("12.5"), D("12.5"), 1)
    assert [(m.kind, m.quantity) for m in store.movements(tenant, record.stock_id)] == [
        (MovementKind.INITIAL, D("12.5"))
    ]
    assert store.get_record(new_id(), record.stock_id) is None


def test_given_existing_stock_id_or_natural_key_when_creating_then_already_exists_and_nothing_written(
    store: StockStore, tenant: str
) -> None:
    first = new_record(tenant).model_copy(update={"natural_key": "P1|L1|lot-7"})
    store.create_record(first, initial(first), ACTOR)

    with pytest.raises(AlreadyExists):
        store.create_record(first.model_copy(update={"natural_key": None}), None, ACTOR)
    clash = new_record(tenant, "3").model_copy(update={"natural_key": "P1|L1|lot-7"})
    with pytest.raises(AlreadyExists):
        store.create_record(clash, initial(clash), ACTOR)

    assert store.get_record(tenant, clash.stock_id) is None
    assert list(store.movements(tenant, clash.stock_id)) == []
    found = store.find_by_natural_key(tenant, "P1|L1|lot-7")
    assert found is not None
    assert found.stock_id == first.stock_id
    assert store.find_by_natural_key(tenant, "other") is None
    assert store.find_by_natural_key(new_id(), "P1|L1|lot-7") is None


def test_given_several_records_when_one_clashes_then_none_is_created(store: StockStore, tenant: str) -> None:
    taken = new_record(tenant).model_copy(update={"natural_key": "lot-1"})
    store.create_record(taken, initial(taken), ACTOR)
    fresh = new_record(tenant, "4")
    clash = new_record(tenant, "5").model_copy(update={"natural_key": "lot-1"})

    with pytest.raises(AlreadyExists):
        store.create_records([(fresh, initial(fresh)), (clash, initial(clash))], ACTOR)

    assert store.get_record(tenant, fresh.stock_id) is None
    assert list(store.movements(tenant, fresh.stock_id)) == []
    store.create_records([(fresh, initial(fresh))], ACTOR)
    assert numbers(store, tenant, fresh.stock_id) == (D(4), D(0), D(0), D(4))


# -- applying changes: success ------------------------------------------------------


def test_given_field_changes_when_applied_then_they_land_with_the_numbers(store: StockStore, tenant: str) -> None:
    record = put_record(store, tenant, "10")
    res = reservation(record, "2")
    store.apply(
        tenant,
        [
            StockChange(
                stock_id=record.stock_id,
                actor=ACTOR,
                reserved=D(2),
                new_reservation=res,
                set_fields={"attributes.order_link:r1": {"orderId": "o-1"}, "name": "Row A"},
            )
        ],
    )
    stored = store.get_record(tenant, record.stock_id)
    assert stored is not None
    assert (stored.name, stored.attributes, stored.reserved) == ("Row A", {"order_link:r1": {"orderId": "o-1"}}, D(2))

    store.apply(
        tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, remove_fields=("attributes.order_link:r1",))]
    )

    stored = store.get_record(tenant, record.stock_id)
    assert stored is not None
    assert (stored.attributes, stored.version) == ({}, 3)


def test_given_change_when_applied_then_numbers_version_ledger_and_claims_move_together(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "10")
    res = reservation(record, "3")

    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(3), new_reservation=res)])
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, held=D(2), new_hold=hold(record, "2"))])
    store.apply(
        tenant,
        [StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(-1), movement=movement(record, D(-1)))],
    )

    assert numbers(store, tenant, record.stock_id) == (D(9), D(3), D(2), D(4))
    stored = store.get_record(tenant, record.stock_id)
    assert stored is not None
    assert stored.version == 4
    assert [r.reservation_id for r in store.reservations_for_record(tenant, record.stock_id)] == [res.reservation_id]
    assert [h.quantity for h in store.holds_for_record(tenant, record.stock_id)] == [D(2)]


def test_given_active_reservation_when_transitioned_then_status_and_version_change(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "10")
    res = reservation(record, "4")
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(4), new_reservation=res)])

    release = ClaimTransition(res.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED)
    store.apply(
        tenant,
        [
            StockChange(
                stock_id=record.stock_id,
                actor=ACTOR,
                reserved=D(-4),
                floor_available=False,
                reservation_transition=release,
            )
        ],
    )

    stored = store.get_reservation(tenant, res.reservation_id)
    assert stored is not None
    assert (stored.status, stored.version) == (ClaimStatus.RELEASED, 2)
    assert numbers(store, tenant, record.stock_id) == (D(10), D(0), D(0), D(10))


def test_given_record_allowing_negative_when_negative_allowed_change_then_it_goes_below_zero(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "2", allow_negative=True)

    store.apply(
        tenant,
        [
            StockChange(
                stock_id=record.stock_id,
                actor=ACTOR,
                on_hand=D(-5),
                negative_allowed=True,
                movement=movement(record, D(-5)),
            )
        ],
    )

    assert numbers(store, tenant, record.stock_id) == (D(-3), D(0), D(0), D(-3))


@pytest.mark.parametrize("allow_negative, negative_allowed", [(False, True), (True, False)])
def test_given_negative_not_allowed_on_both_sides_when_going_below_zero_then_insufficient_stock(
    store: StockStore, tenant: str, allow_negative: bool, negative_allowed: bool
) -> None:
    record = put_record(store, tenant, "2", allow_negative=allow_negative)
    change = StockChange(
        stock_id=record.stock_id,
        actor=ACTOR,
        on_hand=D(-5),
        negative_allowed=negative_allowed,
        movement=movement(record, D(-5)),
    )
    with pytest.raises(InsufficientStock):
        store.apply(tenant, [change])
    assert numbers(store, tenant, record.stock_id) == (D(2), D(0), D(0), D(2))


def test_given_record_when_negative_stock_is_switched_on_then_on_hand_changes_may_use_it(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "2")
    below_zero = StockChange(
        stock_id=record.stock_id, actor=ACTOR, on_hand=D(-5), negative_allowed=True, movement=movement(record, D(-5))
    )
    with pytest.raises(InsufficientStock):
        store.apply(tenant, [below_zero])

    store.set_allow_negative(tenant, record.stock_id, True, ACTOR)
    store.apply(tenant, [below_zero])

    stored = store.get_record(tenant, record.stock_id)
    assert stored is not None
    assert (stored.allow_negative, stored.version, stored.on_hand) == (True, 3, D(-3))


# -- applying changes: every failed condition has its own error ---------------------

Build = Callable[[StockRecord], StockChange]


def _adjust(quantity: str, **kwargs: object) -> Build:
    def build(record: StockRecord) -> StockChange:
        q = D(quantity)
        return StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=q, movement=movement(record, q), **kwargs)  # type: ignore[arg-type]

    return build


@pytest.mark.parametrize(
    "build, error",
    [
        pytest.param(_adjust("-11"), InsufficientStock, id="short"),
        pytest.param(_adjust("1", expected_on_hand=D(9)), ExpectationFailed, id="stale-expectation"),
        pytest.param(_adjust("1", expected_version=7), StaleVersion, id="stale-version"),
        pytest.param(_adjust("-11", expected_on_hand=D(9)), ExpectationFailed, id="expectation-before-short"),
        pytest.param(_adjust("1", expected_on_hand=D(9), expected_version=7), StaleVersion, id="version-first"),
    ],
)
@pytest.mark.parametrize("with_ledger", [True, False], ids=["transaction", "single-update"])
def test_given_failed_condition_when_applying_then_the_matching_error_and_no_change(
    store: StockStore, tenant: str, build: Build, error: type[Exception], with_ledger: bool
) -> None:
    record = put_record(store, tenant, "10")
    change = build(record)
    if not with_ledger:
        change = StockChange(**{**change.__dict__, "movement": None})

    with pytest.raises(error):
        store.apply(tenant, [change])

    assert numbers(store, tenant, record.stock_id) == (D(10), D(0), D(0), D(10))
    if change.movement is not None:
        assert store.get_movement(tenant, record.stock_id, change.movement.movement_id) is None


@pytest.mark.parametrize("with_ledger", [True, False], ids=["transaction", "single-update"])
def test_given_missing_record_when_applying_then_not_found(store: StockStore, tenant: str, with_ledger: bool) -> None:
    ghost = new_record(tenant)
    change = StockChange(
        stock_id=ghost.stock_id, actor=ACTOR, on_hand=D(1), movement=movement(ghost, D(1)) if with_ledger else None
    )
    with pytest.raises(NotFound):
        store.apply(tenant, [change])
    assert store.get_record(tenant, ghost.stock_id) is None
    assert list(store.movements(tenant, ghost.stock_id)) == []


def test_given_record_of_another_tenant_when_applying_then_not_found(store: StockStore, tenant: str) -> None:
    record = put_record(store, tenant, "10")
    with pytest.raises(NotFound):
        store.apply(new_id(), [_adjust("1")(record)])
    assert numbers(store, tenant, record.stock_id) == (D(10), D(0), D(0), D(10))


def test_given_used_movement_reservation_or_hold_id_when_applying_then_duplicate_command(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "10")
    used = movement(record, D(1))
    res, held = reservation(record, "1"), hold(record, "1")
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(1), movement=used)])
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(1), new_reservation=res)])
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, held=D(1), new_hold=held)])
    before = numbers(store, tenant, record.stock_id)

    again = [
        StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(1), movement=used),
        StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(1), new_reservation=res),
        StockChange(stock_id=record.stock_id, actor=ACTOR, held=D(1), new_hold=held),
    ]
    for change in again:
        with pytest.raises(DuplicateCommand):
            store.apply(tenant, [change])

    assert numbers(store, tenant, record.stock_id) == before == (D(11), D(1), D(1), D(9))


def test_given_duplicate_that_is_also_short_when_applying_then_duplicate_wins(store: StockStore, tenant: str) -> None:
    record = put_record(store, tenant, "10")
    used = movement(record, D(-8))
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(-8), movement=used)])

    # A redelivery must be recognised as one even though it would now be refused.
    with pytest.raises(DuplicateCommand):
        store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(-8), movement=used)])


@pytest.mark.parametrize("status", [ClaimStatus.RELEASED, ClaimStatus.FULFILLED])
def test_given_claim_no_longer_active_when_transitioning_then_invalid_state(
    store: StockStore, tenant: str, status: ClaimStatus
) -> None:
    record = put_record(store, tenant, "10")
    res = reservation(record, "4")
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(4), new_reservation=res)])
    to_done = ClaimTransition(res.reservation_id, ClaimStatus.ACTIVE, status)
    undo = StockChange(
        stock_id=record.stock_id, actor=ACTOR, reserved=D(-4), floor_available=False, reservation_transition=to_done
    )
    store.apply(tenant, [undo])

    with pytest.raises(InvalidState):
        store.apply(tenant, [undo])

    assert numbers(store, tenant, record.stock_id) == (D(10), D(0), D(0), D(10))


def test_given_missing_hold_when_transitioning_then_invalid_state(store: StockStore, tenant: str) -> None:
    record = put_record(store, tenant, "10")
    change = StockChange(
        stock_id=record.stock_id,
        actor=ACTOR,
        held=D(-1),
        floor_available=False,
        hold_transition=ClaimTransition("missing", ClaimStatus.ACTIVE, ClaimStatus.RELEASED),
    )
    with pytest.raises(InvalidState):
        store.apply(tenant, [change])
    assert numbers(store, tenant, record.stock_id) == (D(10), D(0), D(0), D(10))
    assert store.get_hold(tenant, "missing") is None


def test_given_two_changes_when_the_second_fails_then_neither_is_applied(store: StockStore, tenant: str) -> None:
    source, target = put_record(store, tenant, "10"), put_record(store, tenant, "0")
    out, into = movement(source, D(-3)), movement(target, D(3))

    with pytest.raises(ExpectationFailed):
        store.apply(
            tenant,
            [
                StockChange(stock_id=source.stock_id, actor=ACTOR, on_hand=D(-3), movement=out),
                StockChange(stock_id=target.stock_id, actor=ACTOR, on_hand=D(3), movement=into, expected_on_hand=D(1)),
            ],
        )

    assert numbers(store, tenant, source.stock_id) == (D(10), D(0), D(0), D(10))
    assert numbers(store, tenant, target.stock_id) == (D(0), D(0), D(0), D(0))
    assert store.get_movement(tenant, source.stock_id, out.movement_id) is None


# -- reads --------------------------------------------------------------------------


def test_given_a_deleted_record_when_committing_to_it_then_invalid_state_but_a_release_applies(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "10")
    res = reservation(record, "2")
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(2), new_reservation=res)])
    store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, set_fields={"active": False})])

    commitments = [
        StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(1), new_reservation=reservation(record, "1")),
        StockChange(stock_id=record.stock_id, actor=ACTOR, on_hand=D(1), movement=movement(record, D(1))),
        StockChange(stock_id=record.stock_id, actor=ACTOR, set_fields={"name": "renamed"}),
    ]
    for change in commitments:
        with pytest.raises(InvalidState):
            store.apply(tenant, [change])
    release = StockChange(
        stock_id=record.stock_id,
        actor=ACTOR,
        reserved=D(-2),
        floor_available=False,
        reservation_transition=ClaimTransition(res.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED),
    )
    store.apply(tenant, [release])

    after = store.get_record(tenant, record.stock_id)
    assert after is not None and (after.on_hand, after.reserved, after.active) == (D(10), D(0), False)


def test_given_several_reservations_when_released_in_one_change_then_all_or_none(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "10")
    first, second = reservation(record, "2"), reservation(record, "3")
    for res in (first, second):
        store.apply(
            tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=res.quantity, new_reservation=res)]
        )
    store.apply(
        tenant,
        [
            StockChange(
                stock_id=record.stock_id,
                actor=ACTOR,
                reserved=D(-3),
                floor_available=False,
                reservation_transition=ClaimTransition(second.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED),
            )
        ],
    )
    both = StockChange(
        stock_id=record.stock_id,
        actor=ACTOR,
        reserved=D(-5),
        floor_available=False,
        reservation_transitions=tuple(
            ClaimTransition(r.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED) for r in (first, second)
        ),
    )

    with pytest.raises(InvalidState):
        store.apply(tenant, [both])

    assert store.get_reservation(tenant, first.reservation_id).status == ClaimStatus.ACTIVE  # type: ignore[union-attr]
    assert store.get_record(tenant, record.stock_id).reserved == D(2)  # type: ignore[union-attr]


def test_given_reserved_records_when_deactivating_then_one_write_deletes_them_and_releases_everything(
    service: StockService, store: StockStore, tenant: str
) -> None:
    linked = make(service, tenant, "10")
    bare = make(service, tenant, "5")
    reference = {"orderId": "o1", "orderReference": "SO-1", "lineItemId": "l1"}
    made = [service.reserve(tenant, linked.stock_id, D(q), ACTOR, reference=reference) for q in ("1", "2", "3")]
    made.append(service.reserve(tenant, bare.stock_id, D(4), ACTOR))
    records = store.get_records(tenant, [linked.stock_id, bare.stock_id])

    service.deactivate(tenant, [records[linked.stock_id], records[bare.stock_id]], ACTOR)

    after = store.get_records(tenant, [linked.stock_id, bare.stock_id])
    figures = [(r.active, r.reserved, r.available) for r in (after[linked.stock_id], after[bare.stock_id])]
    assert figures == [(False, D(0), D(10)), (False, D(0), D(5))]
    assert not any(k.startswith("order_link:") for k in after[linked.stock_id].attributes)
    assert {store.get_reservation(tenant, r.reservation_id).status for r in made} == {  # type: ignore[union-attr]
        ClaimStatus.RELEASED
    }


def test_given_a_change_since_the_read_when_deactivating_then_stale_and_nothing_changes(
    service: StockService, store: StockStore, tenant: str
) -> None:
    record = make(service, tenant, "10")
    read = store.get_record(tenant, record.stock_id)
    assert read is not None
    landed = service.reserve(tenant, record.stock_id, D(2), ACTOR, reference={"orderId": "o", "orderReference": "R"})

    with pytest.raises(StaleVersion):
        service.deactivate(tenant, [read], ACTOR)

    after = store.get_record(tenant, record.stock_id)
    assert after is not None and (after.active, after.reserved) == (True, D(2))
    assert store.get_reservation(tenant, landed.reservation_id).status == ClaimStatus.ACTIVE  # type: ignore[union-attr]


def test_given_reservations_with_and_without_expiry_when_listing_expiring_then_only_active_past_ones(
    store: StockStore, tenant: str
) -> None:
    record = put_record(store, tenant, "100")
    now = utcnow()
    due = [reservation(record, "1", expires_at=now - timedelta(minutes=m)) for m in (30, 10)]
    later = reservation(record, "1", expires_at=now + timedelta(minutes=1))
    at_the_cut = reservation(record, "1", expires_at=now)
    never = reservation(record, "1")
    released = reservation(record, "1", expires_at=now - timedelta(minutes=20))
    other_tenant = put_record(store, new_id(), "10")
    foreign = reservation(other_tenant, "1", expires_at=now - timedelta(minutes=5))
    for claim in [*due, later, at_the_cut, never, released]:
        store.apply(tenant, [StockChange(stock_id=record.stock_id, actor=ACTOR, reserved=D(1), new_reservation=claim)])
    store.apply(
        other_tenant.tenant_id,
        [StockChange(stock_id=other_tenant.stock_id, actor=ACTOR, reserved=D(1), new_reservation=foreign)],
    )
    transition = ClaimTransition(released.reservation_id, ClaimStatus.ACTIVE, ClaimStatus.RELEASED)
    store.apply(
        tenant,
        [
            StockChange(
                stock_id=record.stock_id,
                actor=ACTOR,
                reserved=D(-1),
                floor_available=False,
                reservation_transition=transition,
            )
        ],
    )

    found = list(store.expiring_reservations(tenant, now))

    # Oldest first, and a released one has left the sparse index.
    assert [r.reservation_id for r in found] == [r.reservation_id for r in due]
    assert all(r.status == ClaimStatus.ACTIVE for r in found)
    assert len(list(store.expiring_reservations(tenant, now + timedelta(hours=1)))) == 4


def test_given_records_of_several_products_when_listing_by_product_then_only_that_products(
    store: StockStore, tenant: str
) -> None:
    wanted = {put_record(store, tenant, "1", product="P1", location=loc).stock_id for loc in ("L1", "L2", "L3")}
    put_record(store, tenant, "1", product="P2")
    put_record(store, new_id(), "1", product="P1")

    found = store.records_for_product(tenant, "P1")

    assert {r.stock_id for r in found} == wanted
    assert [r.location_id for r in found] == ["L1", "L2", "L3"]
    assert store.records_for_product(tenant, "P9") == []


def test_given_more_records_than_a_page_when_listing_then_cursors_walk_every_record_once(
    store: StockStore, tenant: str
) -> None:
    created = {put_record(store, tenant, "1", location=f"L{i}").stock_id for i in range(7)}
    put_record(store, new_id(), "1")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_records(tenant, 3, cursor)
        assert len(page.items) <= 3
        seen.extend(r.stock_id for r in page.items)
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert pages >= 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created
    assert seen == sorted(seen)


def test_given_known_and_unknown_ids_when_batch_reading_then_only_known_records(store: StockStore, tenant: str) -> None:
    a, b = put_record(store, tenant, "1"), put_record(store, tenant, "2")
    found = store.get_records(tenant, [a.stock_id, b.stock_id, "missing", a.stock_id])
    assert {k: v.on_hand for k, v in found.items()} == {a.stock_id: D(1), b.stock_id: D(2)}


# -- the service over each store ----------------------------------------------------


def make(service: StockService, tenant: str, quantity: str = "10", **kwargs: object) -> StockRecord:
    new = NewStockRecord(product_id="P1", location_id=new_id(), quantity=D(quantity), **kwargs)
    return service.create_record(tenant, new, ACTOR)


def test_given_service_when_running_a_day_of_operations_then_the_ledger_holds(
    service: StockService, store: StockStore, tenant: str
) -> None:
    a, b = make(service, tenant, "10"), make(service, tenant, "0")

    service.adjust(tenant, a.stock_id, D(5), ACTOR, command_id="adj-1")
    service.adjust(tenant, a.stock_id, D(5), ACTOR, command_id="adj-1")
    with pytest.raises(InsufficientStock):
        service.adjust(tenant, a.stock_id, D(-16), ACTOR)
    with pytest.raises(ExpectationFailed):
        service.adjust(tenant, a.stock_id, D(1), ACTOR, expected_on_hand=D(10))
    res = service.reserve(tenant, a.stock_id, D(4), ACTOR, reservation_id="r-1")
    assert service.reserve(tenant, a.stock_id, D(4), ACTOR, reservation_id="r-1").reservation_id == "r-1"
    with pytest.raises(DuplicateCommand):
        service.reserve(tenant, a.stock_id, D(3), ACTOR, reservation_id="r-1")
    service.hold(tenant, a.stock_id, D(1), "qc", ACTOR, hold_id="h-1")
    with pytest.raises(InsufficientStock):
        service.reserve(tenant, a.stock_id, D(11), ACTOR)
    service.fulfil(tenant, res.reservation_id, ACTOR)
    service.transfer(tenant, a.stock_id, b.stock_id, D(3), ACTOR, command_id="t-1")
    service.transfer(tenant, a.stock_id, b.stock_id, D(3), ACTOR, command_id="t-1")
    service.set_on_hand(tenant, b.stock_id, D(2), ACTOR, command_id="c-1")
    service.release_hold(tenant, "h-1", ACTOR)
    short = service.reserve(tenant, b.stock_id, D(1), ACTOR, expires_at=utcnow() - timedelta(seconds=1))
    assert service.expire_reservations(tenant) == 1
    assert service.release(tenant, short.reservation_id, ACTOR).status == ClaimStatus.EXPIRED

    # a: 10 + 5 - 4 shipped - 3 moved; b: 3 moved in, counted down to 2.
    assert numbers(store, tenant, a.stock_id) == (D(8), D(0), D(0), D(8))
    assert numbers(store, tenant, b.stock_id) == (D(2), D(0), D(0), D(2))
    assert service.reconcile(tenant, a.stock_id) == service.reconcile(tenant, b.stock_id) == 0
    kinds = sorted(m.kind.value for m in store.movements(tenant, a.stock_id))
    assert kinds == ["adjustment", "initial", "shipment", "transfer_out"]


def test_given_split_when_reserving_part_of_a_row_then_one_transaction_moves_it_into_a_reserved_row(
    service: StockService, store: StockStore, tenant: str
) -> None:
    source = make(service, tenant, "10", name="Bar", attributes={"heat_code": "H1"})
    reference = {"orderId": "o-1", "orderReference": "SO-1", "lineItemId": "l-1"}
    ids = {"new_stock_id": new_id(), "reservation_id": new_id(), "command_id": "cmd-1"}

    made = service.split_and_reserve(
        tenant, source.stock_id, D(4), ACTOR, reference=reference, name="Bar (SO-1)", **ids
    )
    again = service.split_and_reserve(tenant, source.stock_id, D(4), ACTOR, reference=reference, **ids)

    assert again.reservation_id == made.reservation_id == ids["reservation_id"]
    assert made.stock_id == ids["new_stock_id"]
    assert numbers(store, tenant, source.stock_id) == (D(6), D(0), D(0), D(6))
    assert numbers(store, tenant, made.stock_id) == (D(4), D(4), D(0), D(0))
    split = store.get_record(tenant, made.stock_id)
    assert split is not None
    assert (split.name, split.attributes["heat_code"]) == ("Bar (SO-1)", "H1")
    assert [r.reservation_id for r in store.reservations_for_order(tenant, "o-1")] == [made.reservation_id]
    assert store.reservations_for_order(tenant, "o-2") == []
    with pytest.raises(DuplicateCommand):
        service.split_and_reserve(tenant, source.stock_id, D(3), ACTOR, reference=reference, **ids)


def test_given_split_beyond_available_when_reserving_then_nothing_is_written(
    service: StockService, store: StockStore, tenant: str
) -> None:
    source = make(service, tenant, "5")
    service.reserve(tenant, source.stock_id, D(3), ACTOR)
    new_stock_id = new_id()

    with pytest.raises(InsufficientStock):
        service.split_and_reserve(
            tenant, source.stock_id, D(4), ACTOR, reference={"orderId": "o-1"}, new_stock_id=new_stock_id
        )

    assert numbers(store, tenant, source.stock_id) == (D(5), D(3), D(0), D(2))
    assert store.get_record(tenant, new_stock_id) is None
    assert store.reservations_for_order(tenant, "o-1") == []


# -- DynamoDB round trips -----------------------------------------------------------


@pytest.fixture
def dynamo_service(table: str) -> StockService:
    return StockService(DynamoStockStore(table))


def test_round_trips_of_create_adjust_and_set_on_hand(dynamo_service: StockService, calls: list[str]) -> None:
    tenant = new_id()
    record = make(dynamo_service, tenant, "10")
    assert calls == ["TransactWriteItems"]

    calls.clear()
    dynamo_service.adjust(tenant, record.stock_id, D(1), ACTOR)
    # The ledger line needs the record's product and location, hence the read.
    assert calls == ["GetItem", "TransactWriteItems"]

    calls.clear()
    dynamo_service.adjust(tenant, record.stock_id, D(1), ACTOR, record=record)
    assert calls == ["TransactWriteItems"]

    calls.clear()
    dynamo_service.set_on_hand(tenant, record.stock_id, D(4), ACTOR)
    assert calls == ["GetItem", "TransactWriteItems"]


def test_round_trips_of_reservations_holds_and_transfers(dynamo_service: StockService, calls: list[str]) -> None:
    tenant = new_id()
    a, b = make(dynamo_service, tenant, "10"), make(dynamo_service, tenant, "0")

    calls.clear()
    res = dynamo_service.reserve(tenant, a.stock_id, D(2), ACTOR)
    assert calls == ["GetItem", "TransactWriteItems"]

    calls.clear()
    dynamo_service.release(tenant, res.reservation_id, ACTOR)
    assert calls == ["GetItem", "TransactWriteItems"]

    calls.clear()
    dynamo_service.release(tenant, res.reservation_id, ACTOR)
    assert calls == ["GetItem"]

    res = dynamo_service.reserve(tenant, a.stock_id, D(2), ACTOR)
    calls.clear()
    dynamo_service.fulfil(tenant, res.reservation_id, ACTOR)
    # The reservation names the record's product and location; the record is not read.
    assert calls == ["GetItem", "TransactWriteItems"]

    calls.clear()
    held = dynamo_service.hold(tenant, a.stock_id, D(1), "qc", ACTOR)
    dynamo_service.release_hold(tenant, held.hold_id, ACTOR)
    assert calls == ["GetItem", "TransactWriteItems", "GetItem", "TransactWriteItems"]

    calls.clear()
    dynamo_service.transfer(tenant, a.stock_id, b.stock_id, D(1), ACTOR)
    assert calls == ["BatchGetItem", "TransactWriteItems"]


def test_round_trips_of_deleting_a_row_with_four_order_reservations(
    dynamo_service: StockService, calls: list[str]
) -> None:
    tenant = new_id()
    record = make(dynamo_service, tenant, "10")
    for line in range(4):
        reference = {"orderId": "o1", "orderReference": "SO-1", "lineItemId": f"l{line}"}
        dynamo_service.reserve(tenant, record.stock_id, D(1), ACTOR, reference=reference)
    read = dynamo_service.get(tenant, record.stock_id)
    calls.clear()

    dynamo_service.deactivate(tenant, [read], ACTOR)

    # The order links on the row name every reservation and its quantity: nothing else to read.
    assert calls == ["TransactWriteItems"]
    assert dynamo_service.get(tenant, record.stock_id).reserved == 0


def test_round_trips_of_a_refused_change_are_the_same_as_of_an_accepted_one(
    dynamo_service: StockService, calls: list[str]
) -> None:
    tenant = new_id()
    record = make(dynamo_service, tenant, "1")
    calls.clear()

    with pytest.raises(InsufficientStock):
        dynamo_service.reserve(tenant, record.stock_id, D(2), ACTOR)

    # The refusal comes from the condition of the one write, not from a read-check-write.
    assert calls == ["GetItem", "TransactWriteItems"]


# -- a page of products' records by known keys (keys.product_stock) ------------------------------------


def test_records_of_many_products_are_two_batched_reads_and_follow_a_record_moved_to_another_product(
    table: str, calls: list[str]
) -> None:
    store = DynamoStockStore(table)
    tenant = new_id()
    # Two records of P1 and one of P2 created in ONE transaction: each product's keys item is one Update.
    pairs = [
        (new_record(tenant, product=p, location=loc), None) for p, loc in (("P1", "L1"), ("P1", "L2"), ("P2", "L1"))
    ]
    store.create_records([(r, initial(r)) for r, _ in pairs], ACTOR)
    products = [f"Q{i}" for i in range(120)]
    for index in range(0, 120, 30):
        store.create_records([(new_record(tenant, "1", product=p), None) for p in products[index : index + 30]], ACTOR)

    calls.clear()
    found = store.records_for_products(tenant, ["P1", "P2", "P3", *products])
    # 123 products' keys (2 BatchGetItems of 100), 123 records (2 BatchGetItems of 100): no Query at all.
    assert calls == ["BatchGetItem"] * 4
    assert sorted(r.stock_id for r in found["P1"]) == sorted(r.stock_id for r, _ in pairs[:2])
    assert [r.stock_id for r in found["P2"]] == [pairs[2][0].stock_id]
    assert found["P3"] == []
    assert all(len(found[p]) == 1 for p in products)

    moved = pairs[0][0]
    change = StockChange(
        stock_id=moved.stock_id,
        actor=ACTOR,
        set_fields={"product_id": "P2", "location_id": moved.location_id},
        moved_from_product="P1",
    )
    store.apply(tenant, [change])
    after = store.records_for_products(tenant, ["P1", "P2"])
    assert [r.stock_id for r in after["P1"]] == [pairs[1][0].stock_id]
    assert sorted(r.stock_id for r in after["P2"]) == sorted([moved.stock_id, pairs[2][0].stock_id])
    # The moved record left P1's keys in its own transaction: the set stays bounded by P1's records.
    assert stock_keys(table, tenant, "P1") == {pairs[1][0].stock_id}
    assert stock_keys(table, tenant, "P2") == {moved.stock_id, pairs[2][0].stock_id}
    # The index Query agrees with the keys (the keys are a second home of what gsi1 says).
    for product in ("P1", "P2", *products[:5]):
        assert {r.stock_id for r in store.records_for_product(tenant, product)} == {
            r.stock_id for r in after.get(product, store.records_for_products(tenant, [product])[product])
        }


def stock_keys(table: str, tenant: str, product: str) -> set[str]:
    from chalicelib.storage import keys
    from chalicelib.storage.codec import to_attrs
    from chalicelib.storage.dynamo import ddb

    item = ddb().get_item(TableName=table, Key=to_attrs(keys.product_stock(tenant, product)), ConsistentRead=True)
    return set(item.get("Item", {}).get("stock_ids", {}).get("SS", []))


def test_a_record_moved_away_in_the_transaction_that_creates_another_of_that_product_still_leaves_its_keys(
    table: str, calls: list[str]
) -> None:
    """ADD and DELETE of one set cannot share an update expression: the ADD commits with the transaction,
    the removal follows it, guarded on the record being another product's."""
    from chalicelib.storage.transaction import Transaction

    store = DynamoStockStore(table)
    tenant = new_id()
    leaving = new_record(tenant, product="P1", location="L1")
    store.create_records([(leaving, None)], ACTOR)
    arriving = new_record(tenant, product="P1", location="L2")
    calls.clear()

    tx = Transaction()
    store.add_create(tx, arriving, None, ACTOR)
    store.add_change(
        tx,
        tenant,
        StockChange(
            stock_id=leaving.stock_id,
            actor=ACTOR,
            set_fields={"product_id": "P2", "location_id": leaving.location_id},
            moved_from_product="P1",
        ),
    )
    tx.commit()

    assert calls == ["TransactWriteItems", "TransactWriteItems"]
    assert stock_keys(table, tenant, "P1") == {arriving.stock_id}
    assert stock_keys(table, tenant, "P2") == {leaving.stock_id}
    found = store.records_for_products(tenant, ["P1", "P2"])
    assert [r.stock_id for r in found["P1"]] == [arriving.stock_id]
    assert [r.stock_id for r in found["P2"]] == [leaving.stock_id]


def test_a_deferred_removal_whose_record_came_back_leaves_the_member(table: str) -> None:
    from chalicelib.storage.transaction import Transaction

    store = DynamoStockStore(table)
    tenant = new_id()
    record = new_record(tenant, product="P1", location="L1")
    store.create_records([(record, None)], ACTOR)
    tx = Transaction()
    # The guard of the removal no longer holds (the record is P1's): the member stays, nothing fails.
    store.add_product_key(tx, tenant, "P1", "s-other")
    store.remove_product_key(tx, tenant, "P1", record.stock_id)
    tx.commit()

    assert stock_keys(table, tenant, "P1") == {record.stock_id, "s-other"}
