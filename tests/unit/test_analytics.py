"""Analytics aggregation from ledger lines: received, issued, adjustments, turnover, stockouts, FIFO value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import NotFound
from chalicelib.core.models import Actor, Location, Movement, MovementKind, Product
from chalicelib.features.analytics import Scope, analyse, category_of
from chalicelib.features.analytics.service import AnalyticsService

pytestmark = pytest.mark.disable_socket

D = Decimal
T = "tenant-a"
ACTOR = Actor(id="user:1", name="Tester")
DAY = datetime(2026, 11, 1, tzinfo=UTC)
MAIN, SHOP = "loc-main", "loc-shop"


def move(
    product: str,
    kind: MovementKind,
    quantity: str,
    day: int,
    *,
    location: str = MAIN,
    reason: str | None = None,
    price: str | None = None,
) -> Movement:
    return Movement(
        tenant_id=T,
        stock_id=f"{product}@{location}",
        product_id=product,
        location_id=location,
        kind=kind,
        quantity=D(quantity),
        reason=reason,
        actor=ACTOR,
        occurred_at=DAY + timedelta(days=day),
        unit_price=D(price) if price else None,
    )


PRODUCTS = {
    "oak": Product(
        tenant_id=T, product_id="oak", name="Oak", sku="OAK", unit_price=D(10), attributes={"category_id": "wood"}
    ),
    "elm": Product(tenant_id=T, product_id="elm", name="Elm", unit_price=D(4), attributes={"category_id": "wood"}),
    "nut": Product(tenant_id=T, product_id="nut", name="Nut", unit_price=D(1)),
}

LEDGER = [
    move("oak", MovementKind.INITIAL, "10", 0),  # before the period: opening stock
    move("oak", MovementKind.RECEIPT, "20", 5, price="12"),
    move("oak", MovementKind.SHIPMENT, "-25", 6),
    move("oak", MovementKind.ADJUSTMENT, "-5", 7, reason="DAMAGED"),  # on hand 0: a stockout
    move("oak", MovementKind.RECEIPT, "8", 8, price="11"),
    move("oak", MovementKind.TRANSFER_OUT, "-3", 9),
    move("oak", MovementKind.TRANSFER_IN, "3", 9, location=SHOP),
    move("elm", MovementKind.RECEIPT, "4", 6),
    move("elm", MovementKind.ADJUSTMENT, "1", 7, reason="FOUND"),
    move("elm", MovementKind.COUNT, "-2", 7),
    move("nut", MovementKind.RECEIPT, "100", 6),
    move("nut", MovementKind.CONSUMPTION, "-40", 8),
    move("nut", MovementKind.RECEIPT, "999", 40),  # after the period: ignored
]
PERIOD = Scope(DAY + timedelta(days=1), DAY + timedelta(days=30))


def test_period_figures_from_the_ledger() -> None:
    result = analyse(LEDGER, PRODUCTS, PERIOD)
    assert result.on_hand == D(8) + D(3) + D(60)  # oak 8 (5 + 3 moved), elm 3, nut 60
    assert result.sku_count == 3
    assert result.received == D(20 + 8 + 4 + 100)
    assert result.issued == D(25 + 40)
    assert {k: (v.count, v.increase, v.decrease, v.net) for k, v in result.adjustments.items()} == {
        "COUNT": (1, D(0), D(2), D(-2)),
        "DAMAGED": (1, D(0), D(5), D(-5)),
        "FOUND": (1, D(1), D(0), D(1)),
    }
    assert result.opening_on_hand == D(10)
    assert result.turnover == (D(65) / ((D(10) + D(71)) / 2)).quantize(D("0.0001"))
    assert result.stockouts == 1
    assert [(m.product_id, m.received, m.issued) for m in result.top_movers] == [
        ("nut", D(100), D(40)),
        ("oak", D(28), D(25)),
        ("elm", D(4), D(0)),
    ]


def test_value_is_fifo_over_the_blocks() -> None:
    # oak: initial 10 @10, +20 @12, -25 (takes 10 @10 and 15 @12), -5 (5 @12), +8 @11 -> 8 @11 = 88
    # elm: +4 @4, +1 @4, -2 -> 3 @4 = 12; nut: +100 @1, -40 -> 60 @1 = 60
    assert analyse(LEDGER, PRODUCTS, PERIOD).value == D(88 + 12 + 60)


def test_a_location_counts_its_own_moves_and_its_share_of_the_value() -> None:
    shop = analyse(LEDGER, PRODUCTS, Scope(PERIOD.start, PERIOD.end, location_id=SHOP))
    assert (shop.on_hand, shop.sku_count, shop.received, shop.issued) == (D(3), 1, D(0), D(0))
    assert shop.value == D(33)  # 3 of oak's 8 units, valued at oak's FIFO 88 / 8 = 11 each
    main = analyse(LEDGER, PRODUCTS, Scope(PERIOD.start, PERIOD.end, location_id=MAIN))
    assert main.on_hand == D(5 + 3 + 60)


def test_a_category_keeps_only_its_products() -> None:
    wood = analyse(LEDGER, PRODUCTS, Scope(PERIOD.start, PERIOD.end, category_id="wood"))
    assert (wood.on_hand, wood.sku_count, wood.issued) == (D(11), 2, D(25))
    assert analyse(LEDGER, PRODUCTS, Scope(PERIOD.start, PERIOD.end, category_id="metal")).movements == 0


def test_category_is_read_from_one_place() -> None:
    assert category_of(PRODUCTS["oak"]) == "wood"
    assert category_of(PRODUCTS["nut"]) is None


def test_an_empty_period_has_no_turnover() -> None:
    result = analyse([], PRODUCTS, PERIOD)
    assert (result.on_hand, result.turnover, result.top_movers, result.stockouts) == (D(0), None, [], 0)


class FakeLedger:
    def __init__(self, movements: list[Movement]) -> None:
        self.movements = movements
        self.asked: list[datetime] = []

    def movements_until(self, tenant_id: str, end: datetime) -> Iterator[Movement]:
        self.asked.append(end)
        return iter(sorted((m for m in self.movements if m.occurred_at <= end), key=lambda m: m.occurred_at))


class FakeProducts:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def get_location(self, tenant_id: str, location_id: str) -> Location | None:
        return Location(tenant_id=T, location_id=location_id, name="Main") if location_id == MAIN else None

    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]:
        wanted = list(product_ids)
        self.calls.append(wanted)
        return {p: PRODUCTS[p] for p in wanted if p in PRODUCTS}


def test_the_service_reads_the_ledger_once_and_the_products_once() -> None:
    ledger, products = FakeLedger(LEDGER), FakeProducts()
    result, named = AnalyticsService(ledger, products).analytics(T, PERIOD)
    assert ledger.asked == [PERIOD.end]
    assert products.calls == [["elm", "nut", "oak"]]
    assert set(named) == {"elm", "nut", "oak"}
    assert result.received == D(132)


def test_expired_stock_written_off_is_an_adjustment_not_an_issue() -> None:
    ledger = [
        move("nut", MovementKind.RECEIPT, "10", 2),
        move("nut", MovementKind.CONSUMPTION, "-4", 3, reason="EXPIRED"),
        move("nut", MovementKind.CONSUMPTION, "-1", 3, reason="batch 7"),
    ]
    result = analyse(ledger, PRODUCTS, PERIOD)
    assert result.issued == D(1)
    assert {k: (v.count, v.decrease) for k, v in result.adjustments.items()} == {"EXPIRED": (1, D(4))}


def test_a_location_filter_of_no_location_of_the_company_is_404() -> None:
    service = AnalyticsService(FakeLedger(LEDGER), FakeProducts())
    assert service.analytics(T, Scope(PERIOD.start, PERIOD.end, location_id=MAIN))[0].on_hand == D(68)
    with pytest.raises(NotFound) as raised:
        service.analytics(T, Scope(PERIOD.start, PERIOD.end, location_id="elsewhere"))
    assert raised.value.details == [{"field": "locationId", "message": "not found"}]
