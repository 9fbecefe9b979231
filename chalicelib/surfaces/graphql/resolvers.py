"""What each GraphQL field does: check the field's permission, call the service, translate the answer.

No rule lives here: the v2 service (features/multisource) decides lookups, validation, uniqueness
and quantities, and the import service runs CSV imports, exactly as for the REST routes. Reads of
many keys go through this request's DataLoaders (`Context.loader`), so a query for 100 products with
their inventory costs the same few batched reads as one product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.imports import registry
from chalicelib.core.imports.jobs import ImportJob as Job
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.wiring import import_service

if TYPE_CHECKING:
    from strawberry.types import Info

    from chalicelib.surfaces.graphql import schema as gql
    from chalicelib.surfaces.graphql.execution import Context

READ = Permission.INVENTORY_READ.value
WRITE = Permission.INVENTORY_WRITE.value


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


# -- v2 records (filled in once the v2 service exists) ------------------------------


async def inventory(info: Info, record_id: int) -> gql.Inventory:
    raise NotImplementedError


async def inventory_by_id(info: Info, record_id: Any) -> gql.Inventory | None:
    raise NotImplementedError


async def product_by_id(info: Info, product_id: Any) -> gql.Product | None:
    raise NotImplementedError


async def product_of_record(info: Info, product_id: int) -> gql.Product | None:
    raise NotImplementedError


async def product_inventory(
    info: Info, lookup_key: str, key: str, source: str | None, warehouse_id: int | None
) -> gql.ProductInventory:
    raise NotImplementedError


async def search_inventory(
    info: Info,
    filter_: gql.InventoryFilter | None,
    sort: list[gql.SortInput] | None,
    page: int | None,
    size: int | None,
) -> gql.InventoryPage:
    raise NotImplementedError


async def update_inventory(info: Info, record_id: int, changes: gql.InventoryUpdateInput) -> gql.Inventory:
    raise NotImplementedError


async def delete_inventory(info: Info, record_id: int, force: bool) -> gql.DeleteResult:
    raise NotImplementedError


async def bulk_upsert(
    info: Info, lookup_key: str, inventory_type: str, records: list[gql.InventoryRecordInput]
) -> gql.BulkUpsertResult:
    raise NotImplementedError


async def create_upload(info: Info) -> gql.InventoryUpload:
    raise NotImplementedError


async def import_csv(
    info: Info, lookup_key: str, inventory_type: str, mappings: list[gql.FieldMappingInput], upload: str
) -> gql.ImportJob:
    raise NotImplementedError
