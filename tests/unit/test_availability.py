"""Availability and ATP rules against fakes: the arithmetic, the modes, buffers, defaults, the check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core.errors import AlreadyExists, NotFound, StaleVersion, ValidationFailed
from chalicelib.core.models import Actor, Location, Product
from chalicelib.core.stock.service import NewStockRecord, StockService
from chalicelib.features.availability.model import Allocation, Channel, ChannelRule, Mode
from chalicelib.features.availability.ports import Found, Wanted
from chalicelib.features.availability.rules import atp, channel_figures, check_rules, share
from chalicelib.features.availability.service import AvailabilityService, CheckLine
from tests.fakes import InMemoryStockStore

pytestmark = pytest.mark.disable_socket

D = Decimal
T = "tenant-a"
ACTOR = Actor(id="user:1", name="Tester")


def rule(mode: str, value: str | None = None, buffer: str = "0", channel: str = "web") -> ChannelRule:
    return ChannelRule(channel_id=channel, mode=Mode(mode), value=D(value) if value else None, buffer=D(buffer))


# -- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "given", "expected_share", "expected_atp"),
    [
        ("100", rule("all"), "100", "100"),
        ("100", rule("all", buffer="7"), "100", "93"),
        ("100", rule("percent", "60"), "60", "60"),
        ("100", rule("percent", "60", "5"), "60", "55"),
        ("7", rule("percent", "33.3333"), "2.333331", "2.333331"),
        ("1", rule("percent", "33.33333333"), "0.333333", "0.333333"),  # rounded down: never promise more
        ("100", rule("percent", "0"), "0", "0"),
        ("100", rule("percent", "100", "1"), "100", "99"),
        ("100", rule("fixed", "30"), "30", "30"),
        ("20", rule("fixed", "30"), "20", "20"),  # a fixed share never exceeds what is available
        ("20", rule("fixed", "30", "25"), "20", "0"),  # the buffer never takes ATP below zero
        ("3", rule("all", buffer="5"), "3", "0"),
        ("-4", rule("all"), "0", "0"),  # negative stock (allowed per product) promises nothing
        ("-4", rule("fixed", "10"), "0", "0"),
    ],
)
def test_atp_is_the_share_less_the_buffer_never_below_zero(
    available: str, given: ChannelRule, expected_share: str, expected_atp: str
) -> None:
    assert share(D(available), given) == D(expected_share)
    assert atp(D(available), given) == D(expected_atp)


def test_without_a_record_every_channel_takes_all_and_with_one_unnamed_channels_get_nothing() -> None:
    default = channel_figures(D(40), None, ["web", "shop"])
    assert [(f.channel_id, f.atp, f.default) for f in default] == [("web", D(40), True), ("shop", D(40), True)]
    record = Allocation(tenant_id=T, product_id="p", location_id="l", channels=[rule("fixed", "10", "2")])
    figures = channel_figures(D(40), record, ["web", "shop"])
    assert [(f.channel_id, f.share, f.atp, f.rule is None) for f in figures] == [
        ("web", D(10), D(8), False),
        ("shop", D(0), D(0), True),
    ]


@pytest.mark.parametrize(
    ("rules", "fields"),
    [
        ([rule("percent", "101")], ["channels[0].value"]),
        ([rule("percent", "-1")], ["channels[0].value"]),
        ([rule("percent")], ["channels[0].value"]),
        ([rule("fixed")], ["channels[0].value"]),
        ([rule("fixed", "-2")], ["channels[0].value"]),
        ([rule("all", "5")], ["channels[0].value"]),
        ([rule("all", buffer="-1")], ["channels[0].buffer"]),
        ([rule("all"), rule("fixed", "3")], ["channels[1].channelId"]),
    ],
)
def test_bad_rules_are_400_naming_the_field(rules: list[ChannelRule], fields: list[str]) -> None:
    with pytest.raises(ValidationFailed) as raised:
        check_rules(rules)
    assert [d["field"] for d in raised.value.details] == fields


def test_percent_bounds_are_inclusive() -> None:
    check_rules([rule("percent", "0", channel="a"), rule("percent", "100", channel="b")])


# -- the service over fakes ---------------------------------------------------------------------


class FakeAvailabilityStore:
    def __init__(self) -> None:
        self.channels_: dict[str, Channel] = {}
        self.allocations_: dict[tuple[str, str], Allocation] = {}
        self.products: dict[str, Product] = {}
        self.locations: dict[str, Location] = {}
        self.reads = 0

    def create_channel(self, channel: Channel, actor: Actor) -> None:
        if any(c.code.casefold() == channel.code.casefold() for c in self.channels_.values()):
            raise AlreadyExists("code taken", [{"field": "code", "message": "taken"}])
        self.channels_[channel.channel_id] = channel

    def channels(self, tenant_id: str) -> list[Channel]:
        return list(self.channels_.values())

    def put_allocation(self, allocation: Allocation, actor: Actor, previous_version: int | None) -> None:
        key = (allocation.product_id, allocation.location_id)
        current = self.allocations_.get(key)
        if (current.version if current else None) != previous_version:
            raise StaleVersion("moved")
        self.allocations_[key] = allocation

    def allocations(self, tenant_id: str, location_id: str | None = None) -> list[Allocation]:
        return [a for a in self.allocations_.values() if location_id in (None, a.location_id)]

    def allocations_of_product(self, tenant_id: str, product_id: str) -> list[Allocation]:
        return [a for a in self.allocations_.values() if a.product_id == product_id]

    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        self.reads += 1
        return Found(
            products={p: self.products[p] for p in wanted.products if p in self.products},
            locations={loc: self.locations[loc] for loc in wanted.locations if loc in self.locations},
            allocations={k: self.allocations_[k] for k in wanted.allocations if k in self.allocations_},
            channels={c: self.channels_[c] for c in wanted.channels if c in self.channels_},
        )


class World:
    def __init__(self) -> None:
        self.store = FakeAvailabilityStore()
        self.stock_store = InMemoryStockStore()
        self.stock = StockService(self.stock_store)
        self.service = AvailabilityService(self.store, self.stock_store)
        self.main = self.location("Main")
        self.shop = self.location("Shop")
        self.web = self.service.create_channel(T, "WEB", "Web shop", ACTOR)
        self.market = self.service.create_channel(T, "MKT", "Marketplace", ACTOR)

    def location(self, name: str) -> str:
        location = Location(tenant_id=T, name=name)
        self.store.locations[location.location_id] = location
        return location.location_id

    def product(self, name: str, sku: str | None = None) -> str:
        product = Product(tenant_id=T, name=name, sku=sku)
        self.store.products[product.product_id] = product
        return product.product_id

    def stock_at(self, product_id: str, location_id: str, quantity: str, owner: str = "INTERN") -> str:
        new = NewStockRecord(product_id=product_id, location_id=location_id, quantity=D(quantity), owner=owner)
        return self.stock.create_record(T, new, ACTOR).stock_id


@pytest.fixture
def world() -> World:
    return World()


def test_available_is_own_stock_less_reservations_and_holds(world: World) -> None:
    oak = world.product("Oak shelf", "OAK")
    first = world.stock_at(oak, world.main, "100")
    world.stock_at(oak, world.main, "50", owner="SUPPLIER-X")  # supplier stock is never promised
    world.stock.reserve(T, first, D(10), ACTOR)
    world.stock.hold(T, first, D(5), "damaged", ACTOR)
    rules = [rule("percent", "60", "5", world.web.channel_id), rule("fixed", "30", channel=world.market.channel_id)]
    place = world.service.set_allocation(T, oak, world.main, rules, ACTOR)
    assert (place.figures.on_hand, place.figures.reserved, place.figures.held, place.figures.available) == (
        D(100),
        D(10),
        D(5),
        D(85),
    )
    assert [(f.channel_id, f.atp) for f in place.channels] == [
        (world.web.channel_id, D("46")),  # 60% of 85 = 51, less 5
        (world.market.channel_id, D(30)),
    ]


def test_a_second_write_replaces_the_record_and_moves_its_version(world: World) -> None:
    oak = world.product("Oak shelf")
    first = world.service.set_allocation(T, oak, world.main, [rule("all", channel=world.web.channel_id)], ACTOR)
    second = world.service.set_allocation(T, oak, world.main, [rule("fixed", "1", channel=world.web.channel_id)], ACTOR)
    assert first.allocation and second.allocation
    assert (first.allocation.version, second.allocation.version) == (1, 2)
    assert second.allocation.created_at == first.allocation.created_at


def test_unknown_product_location_or_channel_is_404_naming_it(world: World) -> None:
    oak = world.product("Oak shelf")
    with pytest.raises(NotFound):
        world.service.set_allocation(T, "nope", world.main, [], ACTOR)
    with pytest.raises(NotFound) as raised:
        world.service.set_allocation(T, oak, "nowhere", [], ACTOR)
    assert raised.value.details[0]["field"] == "locationId"
    with pytest.raises(NotFound) as raised:
        world.service.set_allocation(T, oak, world.main, [rule("all", channel="ghost")], ACTOR)
    assert raised.value.details[0]["field"] == "channels[0].channelId"


def test_channel_codes_are_unique_in_any_case(world: World) -> None:
    with pytest.raises(AlreadyExists):
        world.service.create_channel(T, "web", "Another", ACTOR)
    with pytest.raises(ValidationFailed) as raised:
        world.service.create_channel(T, "  ", "x", ACTOR)
    assert raised.value.details[0]["field"] == "code"


def test_product_availability_shows_every_place_with_defaults_where_there_is_no_record(world: World) -> None:
    oak = world.product("Oak shelf")
    world.stock_at(oak, world.main, "10")
    world.stock_at(oak, world.shop, "4")
    world.service.set_allocation(T, oak, world.shop, [rule("fixed", "3", channel=world.market.channel_id)], ACTOR)
    _, places = world.service.product_availability(T, oak)
    by_place = {p.location_id: {f.channel_id: f.atp for f in p.channels} for p in places}
    assert by_place[world.main] == {world.web.channel_id: D(10), world.market.channel_id: D(10)}
    assert by_place[world.shop] == {world.market.channel_id: D(3)}
    _, only = world.service.product_availability(T, oak, world.shop)
    assert [p.location_id for p in only] == [world.shop]


def test_check_reports_shortfalls_per_line_and_lines_share_one_pool(world: World) -> None:
    oak, elm = world.product("Oak"), world.product("Elm")
    world.stock_at(oak, world.main, "10")
    world.stock_at(oak, world.shop, "5")
    world.stock_at(elm, world.main, "2")
    world.service.set_allocation(T, oak, world.main, [rule("fixed", "4", channel=world.web.channel_id)], ACTOR)
    lines = [
        CheckLine(oak, D(12)),  # 15 everywhere
        CheckLine(oak, D(12), location_id=world.main),  # only 10 at main
        CheckLine(oak, D(6), channel_id=world.web.channel_id),  # web: 4 at main + 5 at shop (no record: all)
        CheckLine(oak, D(6), channel_id=world.web.channel_id),  # the same pool: 3 left
        CheckLine(elm, D(2)),
    ]
    checked = world.service.check(T, lines)
    assert [(c.available, c.shortfall) for c in checked] == [
        (D(15), D(0)),
        (D(10), D(2)),
        (D(9), D(0)),
        (D(3), D(3)),
        (D(2), D(0)),
    ]


def test_check_names_the_line_of_an_unknown_product(world: World) -> None:
    oak = world.product("Oak")
    with pytest.raises(NotFound) as raised:
        world.service.check(T, [CheckLine(oak, D(1)), CheckLine("ghost", D(1), channel_id="nope")])
    assert [d["field"] for d in raised.value.details] == ["lines[1].productMasterId", "lines[1].channelId"]


def test_matrix_pages_searches_and_reads_in_bounded_calls(world: World) -> None:
    names = [f"Shelf {i:03d}" for i in range(30)]
    ids = [world.product(n, sku=f"SKU-{i}") for i, n in enumerate(names)]
    for pid in ids:
        world.stock_at(pid, world.main, "10")
    world.service.set_allocation(T, ids[0], world.main, [rule("percent", "50", channel=world.web.channel_id)], ACTOR)
    world.store.reads = 0
    matrix = world.service.matrix(T, world.main, page=1, limit=20)
    assert (matrix.total, len(matrix.rows)) == (30, 20)
    assert world.store.reads == 2  # products + location, then the page's records: never one per product
    assert [r.product.name for r in matrix.rows] == names[:20]
    assert matrix.rows[0].channels == {world.web.channel_id: D(5), world.market.channel_id: D(0)}
    assert matrix.rows[1].channels == {world.web.channel_id: D(10), world.market.channel_id: D(10)}
    second = world.service.matrix(T, world.main, page=2, limit=20)
    assert [r.product.name for r in second.rows] == names[20:]
    found = world.service.matrix(T, world.main, page=1, limit=20, search="sku-29")
    assert [r.product.name for r in found.rows] == ["Shelf 029"]
    only_web = world.service.matrix(T, world.main, 1, 5, channel_ids=[world.web.channel_id])
    assert set(only_web.rows[0].channels) == {world.web.channel_id}
    with pytest.raises(NotFound):
        world.service.matrix(T, world.main, 1, 5, channel_ids=["ghost"])
    with pytest.raises(NotFound) as raised:
        world.service.matrix(T, "nowhere", 1, 5)
    assert raised.value.details[0]["field"] == "locationId"


def test_drilldown_shows_records_claims_and_the_rules(world: World) -> None:
    oak = world.product("Oak")
    stock_id = world.stock_at(oak, world.main, "10")
    world.stock.reserve(T, stock_id, D(2), ACTOR, reference={"channel": "web"})
    hold = world.stock.hold(T, stock_id, D(1), "damaged", ACTOR)
    world.stock.release_hold(T, hold.hold_id, ACTOR)
    world.stock.hold(T, stock_id, D(3), "inspection", ACTOR)
    found = world.service.drilldown(T, world.main, oak)
    assert [r.stock_id for r in found.records] == [stock_id]
    assert [r.quantity for r in found.reservations] == [D(2)]
    assert [h.reason for h in found.holds] == ["inspection"]  # released holds are not behind the figure
    assert found.place.figures.available == D(5)
    assert {f.channel_id: f.atp for f in found.place.channels} == {
        world.web.channel_id: D(5),
        world.market.channel_id: D(5),
    }


def test_summary_adds_up_each_channel_over_products_and_locations(world: World) -> None:
    oak, elm = world.product("Oak"), world.product("Elm")
    world.stock_at(oak, world.main, "10")
    world.stock_at(oak, world.shop, "5")
    world.stock_at(elm, world.main, "0")
    world.service.set_allocation(T, oak, world.shop, [rule("fixed", "2", channel=world.market.channel_id)], ACTOR)
    totals = {t.channel.code: (t.atp, len(t.products)) for t in world.service.summary(T)}
    assert totals == {"WEB": (D(10), 1), "MKT": (D(12), 1)}
    at_shop = {t.channel.code: (t.atp, len(t.products)) for t in world.service.summary(T, world.shop)}
    assert at_shop == {"WEB": (D(0), 0), "MKT": (D(2), 1)}


def test_filters_naming_nothing_of_the_company_are_404(world: World) -> None:
    oak = world.product("Oak")
    world.stock_at(oak, world.main, "1")
    with pytest.raises(NotFound) as raised:
        world.service.allocation_page(T, 1, 50, location_id="elsewhere")
    assert raised.value.details[0]["field"] == "locationId"
    with pytest.raises(NotFound) as raised:
        world.service.allocation_page(T, 1, 50, product_id="ghost")
    assert raised.value.details[0]["field"] == "productMasterId"
    with pytest.raises(NotFound):
        world.service.summary(T, "elsewhere")
    with pytest.raises(NotFound):
        world.service.product_availability(T, oak, "elsewhere")
    assert world.service.allocation_page(T, 1, 50, location_id=world.main) == ([], 0)
