"""The 003 order CSV files: columns, formula guard, and cells that read back as the values written."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.features.orders import csv_columns as order_csv
from chalicelib.features.orders.model import LineItem, Order

D = Decimal
MOMENT = datetime(2025, 3, 3, 9, 30, 15, 123456, tzinfo=UTC)


def an_order(**fields: Any) -> Order:
    values: dict[str, Any] = {
        "tenant_id": "t-1",
        "order_reference": "SO-1001",
        "quantity": D("6.50"),
        "order_date": date(2025, 3, 3),
        "delivery_date": date(2025, 3, 17),
        "site": "Sheffield",
        "status": "confirmed",
        "related_organisation_id": "org-1",
        "version": 3,
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return Order(**{**values, **fields})


def a_line(**fields: Any) -> LineItem:
    values: dict[str, Any] = {
        "tenant_id": "t-1",
        "order_id": "o-1",
        "line_number": 2,
        "product_name": "Round bar EN24T",
        "type": "type-1",
        "material": "mat-1",
        "diameter": D(50),
        "length": D("3000.0"),
        "quantity": D(4),
        "weight": D("184.920"),
        "required_heat_code": "H24-10577",
        "certification_required": True,
        "notes": "Cut to length",
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return LineItem(**{**values, **fields})


def test_headers_are_pascal_case_unique_and_link_lines_to_orders() -> None:
    for header in (order_csv.ORDER_HEADER, order_csv.LINE_HEADER):
        assert len(set(header)) == len(header)
        assert all(h[0].isupper() and h.isalnum() for h in header)
    assert order_csv.ORDER_HEADER[:2] == ("OrderId", "OrderReference")
    assert {"OrderId", "OrderReference", "LineItemId", "ProductName"} <= set(order_csv.LINE_HEADER)


def test_every_column_maps_to_a_field_of_its_record_or_a_named_extra() -> None:
    order_fields = set(Order.model_fields) | {order_csv.CUSTOMER_NAME}
    line_fields = set(LineItem.model_fields) | {order_csv.ORDER_REFERENCE}
    assert {f for _, f in order_csv.ORDER_COLUMNS} <= order_fields
    assert {f for _, f in order_csv.LINE_COLUMNS} <= line_fields
    # Every field a client can set on a line is a column, so an upload can carry all of it.
    settable = {"line_number", "product_name", "type", "material", "diameter", "length", "width", "depth"}
    settable |= {"quantity", "weight", "required_heat_code", "certification_required", "notes"}
    assert settable <= {f for _, f in order_csv.LINE_COLUMNS}


def test_templates_leave_out_what_the_server_owns() -> None:
    for template, full in (
        (order_csv.ORDER_TEMPLATE_HEADER, order_csv.ORDER_HEADER),
        (order_csv.LINE_TEMPLATE_HEADER, order_csv.LINE_HEADER),
    ):
        assert set(template) <= set(full)
        assert not set(template) & {"CustomerName", "CreatedAt", "UpdatedAt", "Version"}
        assert [h for h in full if h in template] == list(template)


def test_header_lookup_is_case_insensitive() -> None:
    assert order_csv.ORDER_FIELDS_BY_HEADER["orderreference"] == "order_reference"
    assert order_csv.LINE_FIELDS_BY_HEADER["requiredheatcode"] == "required_heat_code"
    assert order_csv.LINE_FIELDS_BY_HEADER["orderreference"] == order_csv.ORDER_REFERENCE


def test_order_row_writes_every_column_in_order() -> None:
    order = an_order()

    row = order_csv.order_row(order, "Forge Ltd")

    assert dict(zip(order_csv.ORDER_HEADER, row, strict=True)) == {
        "OrderId": order.order_id,
        "OrderReference": "SO-1001",
        "Quantity": "6.50",
        "OrderDate": "2025-03-03",
        "DeliveryDate": "2025-03-17",
        "Site": "Sheffield",
        "Status": "confirmed",
        "RelatedOrganisationId": "org-1",
        "CustomerName": "Forge Ltd",
        "Version": "3",
        "CreatedAt": "2025-03-03T09:30:15.123456Z",
        "UpdatedAt": "2025-03-03T09:30:15.123456Z",
    }


def test_nulls_are_empty_cells() -> None:
    order = an_order(order_date=None, delivery_date=None, site=None, related_organisation_id=None)
    line = a_line(
        type=None, material=None, diameter=None, length=None, weight=None, required_heat_code=None, notes=None
    )

    order_cells = dict(zip(order_csv.ORDER_HEADER, order_csv.order_row(order, None), strict=True))
    line_cells = dict(zip(order_csv.LINE_HEADER, order_csv.line_row(line, "SO-1"), strict=True))

    assert [order_cells[c] for c in ("OrderDate", "DeliveryDate", "Site", "RelatedOrganisationId", "CustomerName")] == [
        ""
    ] * 5
    assert [line_cells[c] for c in ("Type", "Material", "Diameter", "Length", "Width", "Weight", "Notes")] == [""] * 7


def test_line_row_carries_its_orders_id_and_reference() -> None:
    line = a_line()

    cells = dict(zip(order_csv.LINE_HEADER, order_csv.line_row(line, "SO-1001"), strict=True))

    assert (cells["LineItemId"], cells["OrderId"], cells["OrderReference"]) == (line.line_item_id, "o-1", "SO-1001")
    assert (cells["Diameter"], cells["Length"], cells["Weight"]) == ("50", "3000.0", "184.920")
    assert (cells["CertificationRequired"], cells["LineNumber"]) == ("true", "2")
    assert (
        order_csv.line_row(a_line(certification_required=False), "SO-1")[
            order_csv.LINE_HEADER.index("CertificationRequired")
        ]
        == "false"
    )


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_text_a_spreadsheet_would_run_is_neutralised_and_reads_back(trigger: str) -> None:
    evil = f'{trigger}HYPERLINK("http://evil.example","x")'
    order = an_order(order_reference=evil, site=evil)
    line = a_line(product_name=evil, notes=evil)

    order_cells = dict(zip(order_csv.ORDER_HEADER, order_csv.order_row(order, evil), strict=True))
    line_cells = dict(zip(order_csv.LINE_HEADER, order_csv.line_row(line, evil), strict=True))

    for cells, columns in (
        (order_cells, ("OrderReference", "Site", "CustomerName")),
        (line_cells, ("ProductName", "Notes", "OrderReference")),
    ):
        for column in columns:
            assert cells[column] == "'" + evil
            assert order_csv.parse("notes", cells[column]) == evil


def test_rendered_cells_are_not_formatted_twice() -> None:
    # A cell text that starts with `-` as a number must stay a number, and a quote is added once.
    text = order_csv.render(["A", "B"], [["-3", "'=1+1"]])

    assert list(csv.reader(io.StringIO(text, newline=""))) == [["A", "B"], ["-3", "'=1+1"]]
    assert text.endswith("\r\n")


def test_example_rows_fill_blanks_and_neutralise() -> None:
    rows = order_csv.example_rows(["OrderReference", "Site", "Notes"], [{"OrderReference": "SO-1", "Notes": "=x"}])

    assert rows == [["SO-1", "", "'=x"]]


def test_every_cell_of_a_written_row_parses_back_to_the_stored_value() -> None:
    order = an_order()
    line = a_line()

    order_cells = order_csv.order_row(order, "Forge Ltd")
    line_cells = order_csv.line_row(line, "SO-1001")

    for (header, core_field), text in zip(order_csv.ORDER_COLUMNS, order_cells, strict=True):
        expected = "Forge Ltd" if core_field == order_csv.CUSTOMER_NAME else getattr(order, core_field)
        assert order_csv.parse(core_field, text) == expected, header
    for (header, core_field), text in zip(order_csv.LINE_COLUMNS, line_cells, strict=True):
        expected = "SO-1001" if core_field == order_csv.ORDER_REFERENCE else getattr(line, core_field)
        assert order_csv.parse(core_field, text) == expected, header


@pytest.mark.parametrize("value", [D("0"), D("6.50"), D("3000.0"), D("0.001"), D("1E+3"), D("123456789.123456789")])
def test_decimals_round_trip_exactly(value: Decimal) -> None:
    text = order_csv.cell_text("weight", value)

    assert "E" not in text
    parsed = order_csv.parse("weight", text)
    assert parsed == value
    assert str(parsed) == format(value, "f")


@pytest.mark.parametrize("value", [True, False])
def test_booleans_round_trip(value: bool) -> None:
    assert order_csv.parse("certification_required", order_csv.cell_text("certification_required", value)) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Y", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_boolean_cells_accept_what_spreadsheets_write(text: str, value: bool) -> None:
    assert order_csv.parse("certification_required", text) is value


def test_dates_and_timestamps_round_trip() -> None:
    day = date(2024, 2, 29)

    assert order_csv.cell_text("order_date", day) == "2024-02-29"
    assert order_csv.parse("order_date", "2024-02-29") == day
    # A spreadsheet that turned the date into a timestamp still gives the day.
    assert order_csv.parse("delivery_date", "2024-02-29T00:00:00") == day
    assert order_csv.parse("created_at", order_csv.cell_text("created_at", MOMENT)) == MOMENT


def test_empty_and_blank_cells_are_none() -> None:
    for field in ("quantity", "order_date", "certification_required", "line_number", "site"):
        assert order_csv.parse(field, "") is None
        assert order_csv.parse(field, "   ") is None


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("quantity", "ten", "not a number"),
        ("weight", "NaN", "not a number"),
        ("diameter", "Infinity", "not a number"),
        ("line_number", "1.5", "not a whole number"),
        ("version", "-1", "not a whole number"),
        ("order_date", "03/03/2025", "not a date"),
        ("certification_required", "maybe", "not true or false"),
        ("created_at", "yesterday", "not an ISO-8601 timestamp"),
    ],
)
def test_bad_cells_raise_a_message_for_the_user(field: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        order_csv.parse(field, text)


def test_text_is_trimmed_and_a_lone_quote_stays() -> None:
    assert order_csv.parse("product_name", "  Round bar  ") == "Round bar"
    assert order_csv.parse("notes", "'quoted") == "'quoted"
    assert order_csv.unneutralised("'") == "'"


def test_template_examples_link_lines_to_orders_and_parse() -> None:
    references = {example["OrderReference"] for example in order_csv.TEMPLATE_ORDERS}
    assert {example["OrderReference"] for example in order_csv.TEMPLATE_LINES} <= references
    assert len(order_csv.TEMPLATE_ORDERS) >= 2 and len(order_csv.TEMPLATE_LINES) >= 2
    for examples, header, fields in (
        (order_csv.TEMPLATE_ORDERS, order_csv.ORDER_TEMPLATE_HEADER, order_csv.ORDER_FIELDS_BY_HEADER),
        (order_csv.TEMPLATE_LINES, order_csv.LINE_TEMPLATE_HEADER, order_csv.LINE_FIELDS_BY_HEADER),
    ):
        for example in examples:
            assert set(example) <= set(header)
            for column, text in example.items():
                order_csv.parse(fields[column.casefold()], text)
