"""What each GraphQL field does: check the field's permission, call the service, translate the answer.

No rule lives here: the v2 service (features/multisource) decides lookups, validation, uniqueness
and quantities, and the import service runs CSV imports, exactly as for the REST routes. Reads of
many keys go through this request's DataLoaders (`Context.loader`), so a query for 100 products with
their inventory costs the same few batched reads as one product.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from strawberry import UNSET

from chalicelib.core.errors import DomainError, NotFound, ValidationFailed, problem
from chalicelib.core.imports import registry
from chalicelib.core.imports.jobs import ImportJob as Job
from chalicelib.core.reference.service import deterministic_id
from chalicelib.core.stock.asof import as_moment
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.multisource import (
    MAX_BULK,
    InventoryRecord,
    ProductInventory,
    ProductRef,
    RecordInput,
    SearchQuery,
    inventory_type,
    lookup_key,
)
from chalicelib.features.multisource.csv_import import KIND as IMPORT_KIND
from chalicelib.features.multisource.csv_import import import_options, is_staged_key
from chalicelib.wiring import import_service

if TYPE_CHECKING:
    from strawberry.types import Info

    from chalicelib.surfaces.graphql import schema as gql
    from chalicelib.surfaces.graphql.execution import Context

READ = Permission.INVENTORY_READ.value
WRITE = Permission.INVENTORY_WRITE.value
# Entities one `_entities` field resolves at most (a gateway asks for a page of them at a time).
MAX_REPRESENTATIONS = 500


def _context(info: Info, permission: str) -> Context:
    context: Context = info.context
    context.require(permission)
    return context


# -- import jobs ----------------------------------------------------------------


async def import_job(info: Info, job_id: str) -> gql.ImportJob:
    context = _context(info, READ)
    job = import_service().get(context.tenant_id, job_id)
    # A job of a kind the key may not read (orders) is refused as the REST job routes refuse it.
    context.require(registry.permission(job.kind))
    return _job(job)


async def import_errors(info: Info, job_id: str) -> list[gql.ImportRowError]:
    from chalicelib.surfaces.graphql.schema import ImportRowError

    context = _context(info, READ)
    errors = import_service().errors(context.tenant_id, job_id)
    return [ImportRowError(line=e.line, field=e.field, message=e.message) for e in errors]


def _job(job: Job) -> gql.ImportJob:
    from chalicelib.surfaces.graphql.schema import ImportJob

    return ImportJob(
        jobId=job.job_id,
        kind=job.kind,
        status=job.status.value,
        total=job.total,
        processed=job.processed,
        created=job.created,
        updated=job.updated,
        failed=job.failed,
        message=job.message,
        createdAt=job.created_at,
        startedAt=job.started_at,
        finishedAt=job.finished_at,
    )


# -- v2 records -------------------------------------------------------------------


def _v2() -> Any:
    from chalicelib.wiring import multisource_service

    return multisource_service()


def record_type(record: InventoryRecord) -> gql.Inventory:
    from chalicelib.surfaces.graphql.schema import Inventory

    return Inventory(**record.model_dump())


def product_type(aggregate: ProductInventory) -> gql.Product | None:
    from chalicelib.surfaces.graphql.schema import Product

    if aggregate.productId is None:
        return None
    values = aggregate.model_dump(exclude={"productId", "records"})
    return Product(id=aggregate.productId, records=[record_type(r) for r in aggregate.records], **values)


def _records_loader(context: Context, as_of: datetime | None = None) -> Any:
    tenant = context.tenant_id
    # One batched read for every record id asked for in the same tick (per moment); None for an id not found.
    name = "records" if as_of is None else f"records@{as_of.isoformat()}"
    return context.loader(name, lambda ids: _in_order(ids, _v2().get_records(tenant, ids, as_of)))


def _products_loader(context: Context) -> Any:
    tenant = context.tenant_id
    return context.loader("products", lambda ids: _in_order(ids, _v2().products_inventory(tenant, ids)))


def _inventories_loader(context: Context) -> Any:
    """Aggregates by (ProductRef, warehouseId, asOf): every productInventory root field of a document
    (aliases too) and every `Product.inventory` field share one batched read per (warehouse, moment)."""
    tenant = context.tenant_id

    def load(keys: list[tuple[Any, int | None, datetime | None]]) -> list[Any]:
        groups: dict[tuple[int | None, datetime | None], list[Any]] = {}
        for ref, warehouse, moment in keys:
            groups.setdefault((warehouse, moment), []).append(ref)
        found: dict[tuple[Any, int | None, datetime | None], Any] = {}
        for (warehouse, moment), refs in groups.items():
            try:
                answers = _v2().inventories(tenant, refs, warehouse, moment)
            except DomainError as error:  # the warehouse or the moment: every field of the group fails
                answers = dict.fromkeys(refs, error)
            for ref, answer in answers.items():
                found[(ref, warehouse, moment)] = answer
        return [found[key] for key in keys]

    return context.loader("inventories", load)


ENTITY_TYPES = ("Product", "Inventory")


def check_representations(representations: list[Any]) -> None:
    """Each `_entities` representation names a known entity and its key, at most MAX_REPRESENTATIONS of them."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise ValidationFailed(
            f"at most {MAX_REPRESENTATIONS} representations", [problem("representations", "too many")]
        )
    problems = []
    for index, representation in enumerate(representations):
        where = f"representations[{index}]"
        if not isinstance(representation, dict) or representation.get("__typename") not in ENTITY_TYPES:
            problems.append(problem(f"{where}.__typename", f"must be one of: {', '.join(ENTITY_TYPES)}"))
        elif set(representation) != {"__typename", "id"}:
            problems.append(problem(f"{where}.id", 'the key is "id", and nothing else'))
    if problems:
        raise ValidationFailed("invalid representations", problems)


def _in_order(keys: list[Any], found: dict[Any, Any]) -> list[Any]:
    return [found.get(key) for key in keys]


def _number(value: Any, name: str) -> int:
    """A federation representation's id (an Int, or its digits as a string)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValidationFailed(f"{name} must be a number", [problem(name, "must be a number")])
    return int(value)


async def inventory(info: Info, record_id: int, as_of: datetime | None = None) -> gql.Inventory:
    context = _context(info, READ)
    found = await _records_loader(context, _moment(as_of)).load(record_id)
    if found is None:
        what = "" if as_of is None else " at asOf"
        raise NotFound(f"inventory record {record_id} not found{what}", [problem("id", "not found")])
    return record_type(found)


async def inventory_by_id(info: Info, record_id: Any) -> gql.Inventory | None:
    context = _context(info, READ)
    found = await _records_loader(context).load(_number(record_id, "id"))
    return record_type(found) if found is not None else None


async def product_by_id(info: Info, product_id: Any) -> gql.Product | None:
    context = _context(info, READ)
    found = await _products_loader(context).load(_number(product_id, "id"))
    return product_type(found) if found is not None else None


async def product_of_record(info: Info, product_id: int | None) -> gql.Product | None:
    if product_id is None:
        return None
    return await product_by_id(info, product_id)


async def product_inventory(
    info: Info,
    lookup: str,
    key: str,
    source: str | None,
    warehouse_id: int | None,
    as_of: datetime | None = None,
) -> gql.ProductInventory:
    context = _context(info, READ)
    ref = ProductRef(lookup_key(lookup), key, source)
    moment = _moment(as_of)
    found = await _inventories_loader(context).load((ref, warehouse_id, moment))
    return _aggregate_type(found, warehouse_id)


async def inventory_of_product(
    info: Info, product_id: int, warehouse_id: int | None, as_of: datetime | None
) -> gql.ProductInventory:
    """`Product.inventory(warehouseId, asOf)`: the product's aggregate in one warehouse or at a moment."""
    context = _context(info, READ)
    ref = ProductRef(lookup_key("id"), str(product_id))
    found = await _inventories_loader(context).load((ref, warehouse_id, _moment(as_of)))
    return _aggregate_type(found, warehouse_id)


def _moment(as_of: datetime | None) -> datetime | None:
    """The asOf argument as aware UTC; one in the future is BAD_USER_INPUT naming `asOf` (core/stock/asof.py)."""
    return as_moment(as_of) if as_of is not None else None


def _aggregate_type(found: ProductInventory, warehouse_id: int | None) -> gql.ProductInventory:
    from chalicelib.surfaces.graphql.schema import ProductInventory as Aggregate

    values = found.model_dump(exclude={"records"})
    return Aggregate(warehouseId=warehouse_id, records=[record_type(r) for r in found.records], **values)


async def search_inventory(
    info: Info,
    filter_: gql.InventoryFilter | None,
    sort: list[gql.SortInput] | None,
    page: int | None,
    size: int | None,
    as_of: datetime | None = None,
) -> gql.InventoryPage:
    """`searchInventory`: the REST search's body from the arguments; asOf as REST's (a future one is
    BAD_USER_INPUT naming asOf, before any read)."""
    from chalicelib.surfaces.graphql.schema import InventoryPage, Pagination

    context = _context(info, READ)
    moment = _moment(as_of)
    body: dict[str, Any] = {}
    if filter_ is not None:
        body["filter"] = {k: v for k, v in vars(filter_).items() if v is not None}
    if sort is not None:
        body["sort"] = [{"field": s.field, "direction": s.direction} for s in sort]
    if page is not None:
        body["page"] = page
    if size is not None:
        body["pageSize"] = size
    query = SearchQuery.model_validate(body)
    result = _v2().search(context.tenant_id, query, moment)
    pagination = Pagination(**result.pagination)
    return InventoryPage(data=[record_type(r) for r in result.data], pagination=pagination)


def _given(values: Any) -> dict[str, Any]:
    """The fields of a GraphQL input that were sent (null included: it clears a field)."""
    return {k: v for k, v in vars(values).items() if v is not UNSET}


async def update_inventory(info: Info, record_id: int, changes: gql.InventoryUpdateInput) -> gql.Inventory:
    context = _context(info, WRITE)
    update = RecordInput.model_validate(_given(changes))
    command = context.command_id(info)
    return record_type(_v2().update(context.tenant_id, record_id, update, context.call.actor, command))


async def delete_inventory(info: Info, record_id: int, force: bool) -> gql.DeleteResult:
    from chalicelib.surfaces.graphql.schema import DeleteResult

    context = _context(info, WRITE)
    _v2().delete(context.tenant_id, record_id, context.call.actor, force=force, command_id=context.command_id(info))
    return DeleteResult(id=record_id, deleted=True)


async def bulk_upsert(
    info: Info, lookup: str, kind: str, records: list[gql.InventoryRecordInput], source: str | None
) -> gql.BulkUpsertResult:
    from chalicelib.surfaces.graphql.schema import BulkResult, BulkUpsertResult

    context = _context(info, WRITE)
    if len(records) > MAX_BULK:
        raise ValidationFailed(f"at most {MAX_BULK} records", [problem("records", f"at most {MAX_BULK} records")])
    # The service validates every record itself: a bad one is an `error` entry, the others are written.
    result = _v2().bulk_upsert(
        context.tenant_id,
        lookup_key(lookup),
        inventory_type(kind),
        [_given(r) for r in records],
        context.call.actor,
        source=source,
        command_id=context.command_id(info),
    )
    return BulkUpsertResult(
        created=result.created,
        updated=result.updated,
        failed=result.failed,
        results=[BulkResult(**entry.model_dump()) for entry in result.results],
    )


# -- CSV import with field mappings -------------------------------------------------


async def create_upload(info: Info) -> gql.InventoryUpload:
    from chalicelib.surfaces.graphql.schema import InventoryUpload, UploadField

    context = _context(info, WRITE)
    staged = import_service().stage(context.tenant_id, IMPORT_KIND)
    return InventoryUpload(
        key=staged.key,
        url=staged.url,
        fields=[UploadField(name=k, value=v) for k, v in staged.fields.items()],
        maxBytes=staged.max_bytes,
        expiresAt=staged.expires_at,
    )


async def import_csv(
    info: Info,
    lookup: str,
    kind: str,
    mappings: list[gql.FieldMappingInput],
    upload: str,
    source: str | None,
) -> gql.ImportJob:
    context = _context(info, WRITE)
    # The kind's own rules decide what a job may be started with (lookup key, type, mappings).
    options = import_options(lookup, kind, [(m.column, m.field) for m in mappings], source)
    service = import_service()
    tenant, actor = context.tenant_id, context.call.actor
    # A retry under the same Idempotency-Key finds the same job instead of starting another.
    command = context.command_id(info)
    job_id = deterministic_id(command, 0) if command else None
    if is_staged_key(upload):
        job = service.start_staged(tenant, IMPORT_KIND, upload, actor, options=options, job_id=job_id)
    else:
        job = service.upload(
            tenant, IMPORT_KIND, upload.encode(), actor, options=options, job_id=job_id, field="upload"
        )
    return _job(job)
