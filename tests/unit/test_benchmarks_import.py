"""The import benchmark's pure helpers: the CSV it feeds the importer, the bare write's renaming, the report maths.

No AWS and no timing: the CSV is read back through the importer's own
reader and row rules, so a file the importer would reject or half-apply
fails here instead of skewing the figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.import_rate import (
    BAD,
    BAD_EVERY,
    BARE,
    HEADER,
    MIB,
    TRACED,
    BareRow,
    Refs,
    Result,
    flatness,
    plan_runs,
    ratio,
    renamed,
    sizes_arg,
    write_csv,
)
from chalicelib.core.imports.jobs import Row, read_rows
from chalicelib.features.company_inventory.csv_columns import IGNORED, UPLOAD_FIELDS
from chalicelib.features.company_inventory.csv_import import _parse

REFS = Refs(
    locations=["loc-1", "loc-2"],
    types=["type-1", "type-2"],
    materials=["mat-1"],
    suppliers=["sup-1", "sup-2", "sup-3"],
)


def rows_of(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as text:
        columns, rows = read_rows(text)
        return columns, [row.cells for row in rows]


def test_every_header_column_is_one_the_importer_takes(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    write_csv(path, 3, False, REFS)

    columns, _ = rows_of(path)

    assert columns == [c.casefold() for c in HEADER]
    assert all(c in UPLOAD_FIELDS and c not in IGNORED for c in columns)


def test_a_clean_file_has_the_rows_asked_for_and_each_parses_as_a_create(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"

    bad = write_csv(path, 250, False, REFS)

    _, rows = rows_of(path)
    assert bad == 0
    assert len(rows) == 250
    for line, cells in enumerate(rows, start=2):
        item, errors = _parse(Row(line, cells))
        assert errors == []
        assert item is not None
        assert item.stock_id is None and item.name and item.quantity is not None and item.quantity > 0
        assert item.location_id in REFS.locations
        assert item.attributes["type"] in REFS.types
        assert item.attributes["material"] in REFS.materials
        assert item.attributes["supplier_id"] in REFS.suppliers


def test_a_file_with_bad_rows_has_one_in_five_bad_and_the_others_clean(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"

    bad = write_csv(path, 100, True, REFS)

    _, rows = rows_of(path)
    assert len(rows) == 100
    assert bad == 100 // BAD_EVERY
    parsed = [_parse(Row(line, cells)) for line, cells in enumerate(rows, start=2)]
    for index, (item, errors) in enumerate(parsed):
        unknown_location = rows[index]["stocklocationid"] not in REFS.locations
        if index % BAD_EVERY == BAD_EVERY - 1:
            # Every bad row fails: in parsing, or (an unknown location) at the chunk's reference lookup.
            assert errors or unknown_location, rows[index]
        else:
            assert errors == [] and item is not None and not unknown_location


def test_the_same_size_writes_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(first, 50, True, REFS)
    write_csv(second, 50, True, REFS)

    assert first.read_bytes() == second.read_bytes()


def test_renamed_changes_only_the_ids_in_every_string() -> None:
    row = BareRow(
        "stock-1",
        "move-1",
        [
            {"pk": {"S": "T#t#STOCK"}, "sk": {"S": "stock-1"}, "qty": {"N": "4"}},
            {"pk": {"S": "T#t#LEDGER#stock-1"}, "sk": {"S": "2026#move-1"}, "stock_id": {"S": "stock-1"}},
        ],
    )

    items = renamed(row, "stock-2", "move-2")

    assert items == [
        {"pk": {"S": "T#t#STOCK"}, "sk": {"S": "stock-2"}, "qty": {"N": "4"}},
        {"pk": {"S": "T#t#LEDGER#stock-2"}, "sk": {"S": "2026#move-2"}, "stock_id": {"S": "stock-2"}},
    ]
    assert row.items[0]["sk"] == {"S": "stock-1"}  # the template is reused: it must not change


def result(
    kind: str, rows: int, seconds: float, note: str = "", rss_rise: int | None = None, cpu: float | None = None
) -> Result:
    calls = Counter({"TransactWriteItems": rows // 32})
    return Result(kind, note, rows, seconds, calls, Counter(), cpu=cpu, rss_rise=rss_rise)


def test_ratio_is_import_rate_over_bare_rate_for_the_same_rows() -> None:
    bare = {1000: result("bare", 1000, 2.0), 5000: result("bare", 5000, 10.0)}

    assert ratio(result("import", 1000, 5.0), bare) == "0.40"
    assert ratio(result("import", 5000, 10.0), bare) == "1.00"
    assert ratio(result("import", 2000, 1.0), bare) == "-"  # no bare figure for that size
    assert ratio(result("import", 1000, 9.0, TRACED), bare) == "-"  # tracemalloc's runs are not timed runs


def test_ratio_by_cpu_uses_cpu_seconds_and_needs_both() -> None:
    bare = {1000: result("bare", 1000, 2.0, cpu=1.0), 5000: result("bare", 5000, 10.0)}

    assert ratio(result("import", 1000, 5.0, cpu=4.0), bare, by_cpu=True) == "0.25"
    assert ratio(result("import", 5000, 5.0, cpu=4.0), bare, by_cpu=True) == "-"
    assert ratio(result("import", 1000, 5.0), bare, by_cpu=True) == "-"


def test_flatness_compares_the_smallest_and_largest_clean_import() -> None:
    runs = [
        result("import", 10_000, 1.0, rss_rise=2 * MIB),
        result("import", 10_000, 1.0, BAD, rss_rise=50 * MIB),
        result("import", 100_000, 1.0, rss_rise=3 * MIB),
        result("bare", 100_000, 1.0),
    ]

    assert flatness(runs, "rss_rise") == "10,000 rows 2.0 MiB, 100,000 rows 3.0 MiB: +1.0 MiB for 10x the rows"
    assert flatness(runs, "traced_peak") is None


def test_plan_runs_puts_each_sizes_runs_together_smallest_first_bare_right_after_its_import() -> None:
    assert plan_runs([100_000, 10_000], [10_000], [2_000, 10_000]) == [
        (2_000, TRACED),
        (10_000, ""),
        (10_000, BARE),
        (10_000, BAD),
        (10_000, TRACED),
        (100_000, ""),
        (100_000, BARE),
    ]


def test_sizes_arg_reads_a_comma_separated_list() -> None:
    assert sizes_arg("10000,100_000") == [10_000, 100_000]
    assert sizes_arg("") == []
    with pytest.raises(Exception, match="positive"):
        sizes_arg("0")
