"""The v2 CSV import kind's rules that need no storage: its options and its header.

Given field mappings, when a job is started or its file's header read, then bad options are a
400 naming the mapping, and a header is refused when a mapped column is missing, a column is
neither mapped nor a field, or the lookup key's product column is absent.
"""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.imports.jobs import FileRejected, ImportJob, ImportSource, Row
from chalicelib.features.multisource.csv_import import KIND, BoundImporter, Options, import_options, is_staged_key

pytestmark = pytest.mark.disable_socket


def fields_of(error: ValidationFailed) -> list[str]:
    return [d["field"] for d in error.details]


def job(options: dict[str, object]) -> ImportJob:
    return ImportJob(tenant_id="t", job_id="j", kind=KIND, source=ImportSource.UPLOAD, object_key="k", options=options)


def importer(mappings: list[tuple[str, str]], lookup: str = "sku") -> BoundImporter:
    source = "shop" if lookup == "sourceId" else None
    return BoundImporter(None, Options.of(job(import_options(lookup, "local", mappings, source))))


def test_options_name_each_bad_mapping() -> None:
    with pytest.raises(ValidationFailed) as raised:
        import_options("sku", "local", [("A", "colour"), (" ", "sku"), ("a", "quantity"), ("B", "quantity")])

    assert fields_of(raised.value) == [
        "fieldMappings[0].field",
        "fieldMappings[1].column",
        "fieldMappings[2].column",
        "fieldMappings[3].field",
    ]


def test_options_check_lookup_key_type_and_source() -> None:
    with pytest.raises(ValidationFailed) as bad_key:
        import_options("ean", "local", [])
    with pytest.raises(ValidationFailed) as bad_type:
        import_options("sku", "borrowed", [])
    with pytest.raises(ValidationFailed) as no_source:
        import_options("sourceId", "local", [])

    assert (fields_of(bad_key.value), fields_of(bad_type.value), fields_of(no_source.value)) == (
        ["lookupKey"],
        ["inventoryType"],
        ["source"],
    )
    assert import_options("sku", "supplier", [("Article", "sku")])["fieldMappings"] == [
        {"column": "article", "field": "sku"}
    ]


def test_a_job_without_options_fails_as_a_file() -> None:
    with pytest.raises(FileRejected, match="importInventoryCsv"):
        Options.of(job({}))


def test_header_takes_mapped_columns_and_field_names_and_refuses_the_rest() -> None:
    mapped = importer([("article", "sku"), ("on hand", "quantity")])
    mapped.check_header(["article", "on hand", "notes"])
    row = Row(2, {"article": "A-1", "on hand": " 4 ", "notes": ""})
    assert mapped._values(row) == {"sku": "A-1", "quantity": "4"}

    with pytest.raises(FileRejected, match="'on hand' is not in the file"):
        importer([("on hand", "quantity")]).check_header(["sku"])
    with pytest.raises(FileRejected, match="'colour' is neither mapped"):
        importer([]).check_header(["sku", "colour"])
    with pytest.raises(FileRejected, match="needs a column for sku"):
        importer([]).check_header(["quantity"])
    with pytest.raises(FileRejected, match="two columns fill the field quantity"):
        importer([("stock", "quantity")]).check_header(["sku", "stock", "quantity"])


def test_rows_of_one_record_share_a_key_so_they_never_share_a_chunk() -> None:
    bound = importer([])
    bound.check_header(["sku", "quantity", "location"])

    first = bound.key_of(Row(2, {"sku": "A", "quantity": "1", "location": "L1"}))
    again = bound.key_of(Row(3, {"sku": "A", "quantity": "9", "location": "L1"}))
    elsewhere = bound.key_of(Row(4, {"sku": "A", "quantity": "1", "location": "L2"}))

    assert first == again != elsewhere


def test_a_staged_key_is_told_from_csv_text() -> None:
    assert is_staged_key("tmp/t/v2-inventory/abc.csv")
    assert not is_staged_key("sku,quantity\nA,1\n")
    assert not is_staged_key("tmp/x,y")
