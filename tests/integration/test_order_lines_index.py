"""The line items index (gsi1 `T#t#ORDERLINES`) behind the orders ZIP's line items file, on moto.

The ZIP reads the lines page by page from the index, so its cost does not
grow with the number of orders; the index must follow every write that
changes whether a line is listed: line removal, order delete and restore,
renumbering, and the CSV import.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.ports import Page
from chalicelib.features.orders.model import LineInput, LineItem, OrderInput, OrderView
from chalicelib.features.orders.service import OrderService
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client, on_call
from chalicelib.storage.codec import to_attrs
from chalicelib.storage.order_repo import DynamoOrderStore
from chalicelib.storage.stock_repo import DynamoStockStore
from tests.integration.test_orders_export_http import CLERK, Shop, get, make_shop, parse_csv, read_zip
from tests.integration.test_orders_import import run, upload


@pytest.fixture
def shop(http: Client) -> Shop:
    return make_shop(http, "Acme")


def zip_rows(shop: Shop) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The rows of orders.csv and of order-line-items.csv in the company's ZIP."""
    files = read_zip(get(shop.company, "/orders/zip"))
    return parse_csv(files["orders.csv"])[1], parse_csv(files["order-line-items.csv"])[1]


def line_ids(shop: Shop) -> list[str]:
    return [row["LineItemId"] for row in zip_rows(shop)[1]]


def counted_zip(shop: Shop) -> tuple[Counter[str], list[dict[str, str]]]:
    """The DynamoDB calls of one ZIP download, by operation, and its line rows."""
    calls: Counter[str] = Counter()

    def log(service: str, operation: str) -> None:
        if service == "dynamodb":
            calls[operation] += 1

    unsubscribe = on_call(log)
    try:
        _, lines = zip_rows(shop)
    finally:
        unsubscribe()
    return calls, lines


def index_key(shop: Shop, line: LineItem) -> str:
    """The gsi1 sort key stored on a line item."""
    item = client("dynamodb").get_item(
        TableName=get_settings().main_table,
        Key=to_attrs(keys.order_line(shop.tenant, line.order_id, line.line_item_id)),
        ConsistentRead=True,
    )["Item"]
    assert item["gsi1pk"]["S"] == f"T#{shop.tenant}#ORDERLINES"
    sort_key: str = item["gsi1sk"]["S"]
    return sort_key


def numbered(shop: Shop, product: str, number: int) -> LineInput:
    line = shop.line(product, "1")
    return replace(line, given=line.given | {"line_number"}, line_number=number)


def keep_lines(shop: Shop, view: OrderView, *lines: LineInput) -> OrderView:
    entry = OrderInput(order_id=view.order.order_id, version=view.order.version, line_items=lines)
    return shop.orders.update(shop.tenant, [entry], CLERK)[0]


def test_zip_makes_as_many_dynamodb_calls_for_12_orders_as_for_3(shop: Shop) -> None:
    def add(first: int, last: int) -> None:
        for n in range(first, last + 1):
            shop.create(f"SO-{n}", shop.line(f"Bar {n}", "2"), shop.line(f"Tube {n}", "1"))

    add(1, 3)
    zip_rows(shop)  # warm the API key and tenant reads, so both counts see the same caches
    few, few_lines = counted_zip(shop)
    add(4, 12)
    many, many_lines = counted_zip(shop)

    assert len(few_lines) == 6 and len(many_lines) == 24
    assert many == few, (few, many)
    # One page of orders and one of lines: a Query per order would show here.
    assert many["Query"] == 2, many


def test_lines_of_deleted_orders_and_removed_lines_are_left_out_and_a_restore_brings_them_back(shop: Shop) -> None:
    first = shop.create("SO-1", shop.line("Bar", "1"), shop.line("Plate", "2"), shop.line("Tube", "3"))
    bar, plate, tube = first.line_items
    second = shop.create("SO-2", shop.line("Angle", "4"), shop.line("Hex", "5"))
    angle, hex_bar = second.line_items
    first = keep_lines(shop, first, LineInput(line_item_id=bar.line_item_id), LineInput(line_item_id=tube.line_item_id))
    shop.orders.delete(shop.tenant, [second.order.order_id], CLERK)

    assert line_ids(shop) == [bar.line_item_id, tube.line_item_id]
    assert index_key(shop, angle).startswith("D#")
    assert index_key(shop, plate).startswith("D#")

    shop.orders.restore(shop.tenant, [second.order.order_id], CLERK)
    shop.orders.delete(shop.tenant, [first.order.order_id], CLERK)
    assert line_ids(shop) == [angle.line_item_id, hex_bar.line_item_id]
    assert index_key(shop, bar).startswith("D#")

    shop.orders.restore(shop.tenant, [first.order.order_id], CLERK)
    # The line removed before the delete stays removed; the restored orders keep their places.
    assert line_ids(shop) == [angle.line_item_id, hex_bar.line_item_id, bar.line_item_id, tube.line_item_id]
    orders, lines = zip_rows(shop)
    assert [r["OrderId"] for r in orders] == [second.order.order_id, first.order.order_id]
    assert [r["OrderReference"] for r in lines] == ["SO-2", "SO-2", "SO-1", "SO-1"]


def test_lines_come_newest_order_first_then_by_line_number(shop: Shop) -> None:
    older = shop.create("SO-1", numbered(shop, "Ten", 10), numbered(shop, "Two", 2), numbered(shop, "Nine", 9))
    newer = shop.create("SO-2", shop.line("One", "1"), shop.line("Another", "1"))
    rival = make_shop(shop.company.http, "Rival")
    rival.create("SO-1", rival.line("Rival bar", "1"))

    orders, lines = zip_rows(shop)

    assert [r["OrderId"] for r in orders] == [newer.order.order_id, older.order.order_id]
    assert [(r["OrderReference"], r["LineNumber"], r["ProductName"]) for r in lines] == [
        ("SO-2", "1", "One"),
        ("SO-2", "2", "Another"),
        ("SO-1", "2", "Two"),
        ("SO-1", "9", "Nine"),
        ("SO-1", "10", "Ten"),
    ]
    two = next(line for line in older.line_items if line.line_number == 2)
    created = keys.stamp(older.order.created_at)
    assert index_key(shop, two) == f"A#{created}#{older.order.order_id}#999997"

    # Renumbering moves the line in the file; the order keeps its place.
    by_number = {line.line_number: line for line in older.line_items}
    keep_lines(
        shop,
        older,
        LineInput(line_item_id=by_number[2].line_item_id, line_number=11, given=frozenset({"line_number"})),
        LineInput(line_item_id=by_number[9].line_item_id),
        LineInput(line_item_id=by_number[10].line_item_id),
    )
    assert [r["ProductName"] for r in zip_rows(shop)[1]] == ["One", "Another", "Nine", "Ten", "Two"]


def test_line_numbers_stop_where_the_index_rank_does(shop: Shop) -> None:
    view = shop.create("SO-1", numbered(shop, "Far", 999_999), numbered(shop, "Near", 1))
    assert [r["ProductName"] for r in zip_rows(shop)[1]] == ["Near", "Far"]
    assert index_key(shop, view.line_items[1]).endswith("#000000")

    with pytest.raises(ValidationFailed) as refused:
        shop.create("SO-2", numbered(shop, "Too far", 1_000_000))
    assert refused.value.details[0]["field"].endswith("lineNumber")


def test_imported_lines_are_in_the_lines_file(shop: Shop) -> None:
    existing = shop.create("SO-1", shop.line("Bar", "1"))
    orders_csv = "OrderReference,Site\r\nSO-2,Leeds\r\n"
    lines_csv = "OrderReference,ProductName,Quantity\r\nSO-2,Plate,3\r\nSO-2,Tube,4\r\nSO-1,Angle,2\r\n"

    jobs = run(shop.company, upload(shop.company, ("o", "o.csv", orders_csv), ("l", "l.csv", lines_csv)))

    assert [(j["status"], j["failed"]) for j in jobs] == [("completed", 0), ("completed", 0)], jobs
    orders, lines = zip_rows(shop)
    imported = next(r["OrderId"] for r in orders if r["OrderReference"] == "SO-2")
    assert [(r["OrderId"], r["OrderReference"], r["ProductName"]) for r in lines] == [
        (imported, "SO-2", "Plate"),
        (imported, "SO-2", "Tube"),
        (existing.order.order_id, "SO-1", "Bar"),
        (existing.order.order_id, "SO-1", "Angle"),
    ]


class StaleIndex(DynamoOrderStore):
    """A store whose lines index still answers a page read earlier (the index is eventually consistent)."""

    def __init__(self, table: str, page: Page[LineItem]) -> None:
        super().__init__(table)
        self._page = page

    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]:
        return self._page


def test_lines_of_an_order_deleted_after_the_index_was_read_are_left_out(shop: Shop) -> None:
    kept = shop.create("SO-1", shop.line("Bar", "1"))
    gone = shop.create("SO-2", shop.line("Plate", "2"))
    table = get_settings().main_table
    before = DynamoOrderStore(table).active_lines_page(shop.tenant, 100, None)
    assert len(before.items) == 2
    shop.orders.delete(shop.tenant, [gone.order.order_id], CLERK)
    service = OrderService(
        wiring.stock_service(),
        DynamoStockStore(table),
        StaleIndex(table, before),
        wiring.reference_service(),
        wiring.history_service(),
    )

    page = service.lines_page(shop.tenant, 100, None)

    assert [(line.line_item_id, reference) for line, reference in page.items] == [
        (kept.line_items[0].line_item_id, "SO-1")
    ]
