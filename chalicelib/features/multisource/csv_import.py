"""The v2 CSV import (kind `v2-inventory`): rows of a file are bulk-upsert records.

A job's `options` hold what the GraphQL `importInventoryCsv` was started with: the lookup key, the
inventory type, the source (lookup key sourceId) and the field mappings, `[(column, field)]`. A
column that no mapping names is taken as the field of its own name (any case), so a file whose
header already uses the documented names needs no mapping; any other column rejects the file (a
misspelt column would otherwise drop its data silently). Cells become the same record a bulk
upsert takes (documented names, blank cells left out) and each chunk goes through the bulk
upsert's planning (`MultiSourceService.plan_upsert`: validation, products, warehouses, the
uniqueness key, numbers), the one home of its rules; a bad row is that row's error, and the
chunk's records, count movements and guards commit in one transaction with the job's
checkpoint, as every import's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ValidationFailed, problem
from chalicelib.core.imports import registry
from chalicelib.core.imports.csvcells import unneutralised
from chalicelib.core.imports.jobs import (
    CHUNK_WRITES,
    STAGING,
    Applier,
    ChunkPlan,
    FileRejected,
    ImportJob,
    Row,
    RowError,
)
from chalicelib.core.models import Actor
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.multisource.model import InventoryType, LookupKey, RecordInput
from chalicelib.features.multisource.rules import PRODUCT_FIELD, inventory_type, lookup_key, require_source

KIND = "v2-inventory"
# The record fields a column may fill (the bulk upsert's record, documented names).
FIELDS = tuple(RecordInput.model_fields)
MAX_MAPPINGS = len(FIELDS)
# What names the record a row upserts, for keeping two rows of one record out of one chunk.
UNIQUE_FIELDS = ("supplier", "supplierCode", "location", "warehouseId", "companyId")


def is_staged_key(upload: str) -> bool:
    """Whether `importInventoryCsv`'s upload names a staged file rather than holding CSV text."""
    return upload.startswith(f"{STAGING}/") and not any(c in upload for c in ",\n\r")


def import_options(
    lookup: str, kind: str, mappings: list[tuple[str, str]], source: str | None = None
) -> dict[str, Any]:
    """The job options for these arguments, or a 400 naming the bad one (`fieldMappings[2].field`)."""
    key = lookup_key(lookup)
    inventory_type(kind)
    source = require_source(key, source)
    problems = []
    columns: set[str] = set()
    fields: set[str] = set()
    if len(mappings) > MAX_MAPPINGS:
        problems.append(problem("fieldMappings", f"at most {MAX_MAPPINGS} mappings"))
    for index, (column, field) in enumerate(mappings):
        name = column.strip().casefold()
        if not name:
            problems.append(problem(f"fieldMappings[{index}].column", "must not be blank"))
        elif name in columns:
            problems.append(problem(f"fieldMappings[{index}].column", "is mapped twice"))
        if field not in FIELDS:
            problems.append(problem(f"fieldMappings[{index}].field", f"must be one of: {', '.join(FIELDS)}"))
        elif field in fields:
            problems.append(problem(f"fieldMappings[{index}].field", "is filled by two columns"))
        columns.add(name)
        fields.add(field)
    if problems:
        raise ValidationFailed("invalid import options", problems)
    return {
        "lookupKey": key.value,
        "inventoryType": kind,
        "source": source,
        "fieldMappings": [{"column": c.strip().casefold(), "field": f} for c, f in mappings],
    }


@dataclass(frozen=True)
class Options:
    lookup: LookupKey
    kind: InventoryType
    source: str | None
    fields: dict[str, str]  # column (case-folded) -> field

    @classmethod
    def of(cls, job: ImportJob) -> Options:
        try:
            options = job.options
            mapped = {m["column"]: m["field"] for m in options.get("fieldMappings", [])}
            return cls(
                LookupKey(options["lookupKey"]), InventoryType(options["inventoryType"]), options.get("source"), mapped
            )
        except (KeyError, ValueError, TypeError):
            raise FileRejected(
                f"a {KIND} job needs its lookup key, inventory type and field mappings: start it with "
                "the GraphQL mutation importInventoryCsv"
            ) from None


class V2Importer:
    """The kind's registered applier: every job gets its own (`for_job`), bound to the job's options."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def for_job(self, job: ImportJob) -> Applier:
        return BoundImporter(self._service, Options.of(job))

    # A job always runs through `for_job`; these only satisfy the Applier protocol.
    def check_header(self, columns: list[str]) -> None:
        raise FileRejected(f"a {KIND} job runs with its options")

    def key_of(self, row: Row) -> str | None:
        return None

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        raise FileRejected(f"a {KIND} job runs with its options")


class BoundImporter:
    # A new record takes 5 writes (record, count movement, uniqueness-key and number guards, its product's
    # stock keys): 19 rows fit one transaction with the job's checkpoint and error item, so a chunk is
    # never planned twice.
    chunk_rows = CHUNK_WRITES // 5

    def __init__(self, service: Any, options: Options) -> None:
        self._service = service
        self._options = options
        self._columns: dict[str, str] = {}

    def check_header(self, columns: list[str]) -> None:
        named = [c for c in columns if c]
        repeated = next((c for c in named if named.count(c) > 1), None)
        if repeated:
            raise FileRejected(f"line 1: column {repeated!r} appears twice")
        missing = [c for c in self._options.fields if c not in named]
        if missing:
            raise FileRejected(f"line 1: the mapped column {missing[0]!r} is not in the file")
        by_name = {f.casefold(): f for f in FIELDS}
        fields: dict[str, str] = {}
        for column in named:
            field = self._options.fields.get(column) or by_name.get(column)
            if field is None:
                raise FileRejected(
                    f"line 1: column {column!r} is neither mapped to a field nor a field's name ({', '.join(FIELDS)})"
                )
            if field in fields.values():
                raise FileRejected(f"line 1: two columns fill the field {field}")
            fields[column] = field
        product = PRODUCT_FIELD[self._options.lookup]
        if product not in fields.values():
            raise FileRejected(f"line 1: lookup key {self._options.lookup.value} needs a column for {product}")
        self._columns = fields

    def _values(self, row: Row) -> dict[str, str]:
        values = {}
        for column, text in row.cells.items():
            field = self._columns.get(column)
            cell = unneutralised(text.strip())
            if field is not None and cell:
                values[field] = cell
        return values

    def key_of(self, row: Row) -> str | None:
        values = self._values(row)
        product = values.get(PRODUCT_FIELD[self._options.lookup])
        if product is None:
            return None
        return "\0".join([product, *(values.get(name, "") for name in UNIQUE_FIELDS)])

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        plan = ChunkPlan()
        good: list[Row] = []
        for row in rows:
            if row.problem:
                plan.errors.append(RowError(line=row.line, field="row", message=row.problem))
            else:
                good.append(row)
        if good:
            options = self._options
            planned = self._service.plan_upsert(
                tenant_id,
                options.lookup,
                options.kind,
                [self._values(row) for row in good],
                actor,
                source=options.source,
            )
            for index, field, message in planned.errors:
                plan.errors.append(RowError(line=good[index].line, field=field, message=message))
            plan.creates += planned.creates
            plan.changes += planned.changes
            plan.created += planned.created
            plan.updated += planned.updated
        plan.errors.sort(key=lambda e: e.line)
        return plan


def _build(services: Any) -> V2Importer:
    return V2Importer(services.multisource_service())


registry.register(
    registry.ImportKind(
        KIND, Permission.INVENTORY_READ, Permission.INVENTORY_WRITE, _build, "v2 inventory records (GraphQL)"
    )
)
