"""Composition root: builds each service with its storage, once, on first use."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.history.service import HistoryService
from chalicelib.core.stock.service import StockService
from chalicelib.core.tenancy.tenants import TenantService
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.core.events.webhooks import WebhookService
    from chalicelib.core.exports import ExportService
    from chalicelib.core.imports.jobs import ImportService
    from chalicelib.core.imports.registry import ImportKind
    from chalicelib.core.ports import Transactions
    from chalicelib.core.reference.service import ReferenceService
    from chalicelib.core.stock.warehouse import WarehouseStock
    from chalicelib.core.tenancy.clients import ClientService
    from chalicelib.core.tenancy.users import UserService
    from chalicelib.features.analytics.service import AnalyticsService
    from chalicelib.features.availability.service import AvailabilityService
    from chalicelib.features.certificates.documents import CertificateDocumentService
    from chalicelib.features.certificates.packs import CertificatePackService
    from chalicelib.features.company_inventory.service import InventoryService
    from chalicelib.features.cycle_counts import CycleCountService
    from chalicelib.features.multisource import MultiSourceService
    from chalicelib.features.orders.planning import ImportPlanner
    from chalicelib.features.orders.service import OrderService
    from chalicelib.features.production.service import ProductionService
    from chalicelib.features.putaway import PutAwayService
    from chalicelib.features.replenishment import ReplenishmentService
    from chalicelib.features.stock_requests import StockRequestService
    from chalicelib.features.transfers import TransferService
    from chalicelib.storage.batch_reads import DynamoBatchReads
    from chalicelib.storage.event_repo import DynamoEventStore
    from chalicelib.storage.idempotency_repo import DynamoIdempotencyStore
    from chalicelib.storage.job_cursors import DynamoJobCursors
    from chalicelib.storage.stock_repo import DynamoStockStore
    from chalicelib.storage.warehouse_repo import DynamoWarehouseStore


@cache
def stock_service() -> StockService:
    return StockService(stock_store(), transactions(), warehouse_store())


@cache
def warehouse_store() -> DynamoWarehouseStore:
    from chalicelib.storage.warehouse_repo import DynamoWarehouseStore

    return DynamoWarehouseStore(get_settings().main_table)


def transactions() -> Transactions:
    """Units of work over the main table (storage/transaction.Transaction); stateless, so not cached."""
    from chalicelib.storage.transaction import DynamoTransactions

    return DynamoTransactions()


@cache
def catalog_service() -> CatalogService:
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.stock_repo import DynamoStockStore

    table = get_settings().main_table
    return CatalogService(DynamoCatalogStore(table), DynamoStockStore(table))


@cache
def tenant_service() -> TenantService:
    from chalicelib.storage.tenant_repo import DynamoTenantStore

    return TenantService(DynamoTenantStore(get_settings().main_table))


@cache
def client_service() -> ClientService:
    """OAuth2 clients; one per container, so its 60-second view of revoked clients is shared by requests."""
    from chalicelib.core.tenancy.clients import ClientService
    from chalicelib.storage.client_repo import DynamoClientStore

    settings = get_settings()
    store = DynamoClientStore(settings.main_table, settings.idempotency_table)
    return ClientService(store, rate_limit=settings.oauth_token_rate)


@cache
def idempotency_store() -> DynamoIdempotencyStore:
    from chalicelib.storage.files import S3Files
    from chalicelib.storage.idempotency_repo import DynamoIdempotencyStore

    settings = get_settings()
    return DynamoIdempotencyStore(settings.idempotency_table, S3Files(settings.bucket))


@cache
def history_service() -> HistoryService:
    from chalicelib.storage.history_repo import DynamoHistoryStore

    return HistoryService(DynamoHistoryStore(get_settings().history_table))


@cache
def reference_service() -> ReferenceService:
    from chalicelib.core.reference.service import ReferenceService
    from chalicelib.storage.reference_repo import DynamoReferenceStore

    return ReferenceService(DynamoReferenceStore(get_settings().main_table))


@cache
def inventory_service() -> InventoryService:
    from chalicelib.features.company_inventory.service import InventoryService
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.stock_repo import DynamoStockStore

    table = get_settings().main_table
    return InventoryService(
        stock_service(),
        DynamoStockStore(table),
        DynamoCatalogStore(table),
        reference_service(),
        history_service(),
        batch_reads(),
        transactions(),
    )


def import_kinds() -> tuple[ImportKind, ...]:
    """Every registered import kind: importing a feature's CSV module registers its kinds."""
    import chalicelib.features.company_inventory.csv_import
    import chalicelib.features.multisource.csv_import
    import chalicelib.features.orders.csv_import  # noqa: F401
    from chalicelib.core.imports import registry

    return registry.kinds()


@cache
def batch_reads() -> DynamoBatchReads:
    from chalicelib.storage.batch_reads import DynamoBatchReads

    return DynamoBatchReads(get_settings().main_table)


@cache
def stock_store() -> DynamoStockStore:
    from chalicelib.storage.stock_repo import DynamoStockStore

    return DynamoStockStore(get_settings().main_table)


@cache
def job_cursors() -> DynamoJobCursors:
    from chalicelib.storage.job_cursors import DynamoJobCursors

    return DynamoJobCursors(get_settings().main_table)


@cache
def import_service() -> ImportService:
    from chalicelib.core.imports.jobs import ImportService
    from chalicelib.storage.files import S3Files
    from chalicelib.storage.import_repo import DynamoImportStore, QueueWakeups

    settings = get_settings()
    this = sys.modules[__name__]
    appliers = {kind.name: kind.build(this) for kind in import_kinds()}
    wakeups = QueueWakeups(settings.import_queue, settings.bucket)
    return ImportService(DynamoImportStore(settings.main_table), S3Files(settings.bucket), appliers, wakeups)


@cache
def order_service() -> OrderService:
    from chalicelib.features.orders.service import OrderService
    from chalicelib.storage.order_repo import DynamoOrderStore
    from chalicelib.storage.stock_repo import DynamoStockStore

    table = get_settings().main_table
    return OrderService(
        stock_service(),
        DynamoStockStore(table),
        DynamoOrderStore(table),
        reference_service(),
        history_service(),
        transactions(),
    )


@cache
def order_import_planner() -> ImportPlanner:
    from chalicelib.features.orders.planning import ImportPlanner
    from chalicelib.storage.order_repo import DynamoOrderStore

    return ImportPlanner(order_service(), DynamoOrderStore(get_settings().main_table))


@cache
def user_service() -> UserService:
    from chalicelib.core.tenancy.users import UserService
    from chalicelib.storage.user_repo import DynamoUserStore

    return UserService(DynamoUserStore(get_settings().main_table))


@cache
def production_service() -> ProductionService:
    from chalicelib.features.production.service import ProductionService
    from chalicelib.storage.production_repo import DynamoProductionStore

    store = DynamoProductionStore(get_settings().main_table)
    return ProductionService(store, catalog_service(), stock_service(), user_service(), transactions())


@cache
def multisource_service() -> MultiSourceService:
    from chalicelib.features.multisource import MultiSourceService
    from chalicelib.storage.multisource_repo import DynamoMultiSourceStore

    table = get_settings().main_table
    return MultiSourceService(
        catalog_service(), stock_service(), stock_store(), DynamoMultiSourceStore(table), transactions()
    )


@cache
def event_store() -> DynamoEventStore:
    from chalicelib.storage.event_repo import DynamoEventStore

    return DynamoEventStore(get_settings().events_table)


@cache
def webhook_service() -> WebhookService:
    from chalicelib.core.events.webhooks import WebhookService
    from chalicelib.storage.event_repo import DynamoDeliveryStore, DynamoWebhookStore, SqsDeliveryQueue
    from chalicelib.storage.resolver import resolve

    settings = get_settings()
    return WebhookService(
        DynamoWebhookStore(settings.main_table),
        DynamoDeliveryStore(settings.events_table),
        SqsDeliveryQueue(settings.webhook_queue, settings.webhook_dead_letter_queue),
        resolve,
        allow_loopback=settings.webhook_allow_loopback,
        backoff=settings.webhook_backoff,
    )


def reset() -> None:
    """Forget built services (tests switch settings between cases)."""
    factories = (stock_service, catalog_service, tenant_service, idempotency_store, history_service)
    for factory in (
        *factories,
        reference_service,
        inventory_service,
        import_service,
        stock_store,
        batch_reads,
        job_cursors,
    ):
        factory.cache_clear()
    order_service.cache_clear()
    order_import_planner.cache_clear()
    certificate_pack_service.cache_clear()
    user_service.cache_clear()
    production_service.cache_clear()
    client_service.cache_clear()
    warehouse_stock.cache_clear()
    warehouse_store.cache_clear()
    multisource_service.cache_clear()
    availability_service.cache_clear()
    analytics_service.cache_clear()
    transfer_service.cache_clear()
    stock_request_service.cache_clear()
    cycle_count_service.cache_clear()
    replenishment_service.cache_clear()
    putaway_service.cache_clear()
    event_store.cache_clear()
    webhook_service.cache_clear()


@cache
def certificate_pack_service() -> CertificatePackService:
    # The PDF renderer is imported here, on the first pack request: importing the app loads no PDF code.
    from chalicelib.documents.order_pack import PdfPack
    from chalicelib.features.certificates.packs import CertificatePackService
    from chalicelib.storage.packs import S3PackStore
    from chalicelib.storage.reference_repo import DynamoReferenceStore
    from chalicelib.storage.stock_repo import DynamoStockStore
    from chalicelib.storage.tenant_repo import DynamoTenantStore

    settings = get_settings()
    table = settings.main_table
    return CertificatePackService(
        order_service(),
        DynamoStockStore(table),
        DynamoReferenceStore(table),
        DynamoTenantStore(table),
        S3PackStore(settings.bucket),
        PdfPack(),
        settings.bucket,
    )


def export_service() -> ExportService:
    # Not cached: two plain objects over the shared S3 client, so reset() has nothing to forget.
    from chalicelib.core.exports import ExportService
    from chalicelib.storage.files import S3Files

    return ExportService(S3Files(get_settings().bucket))


def certificate_document_service() -> CertificateDocumentService:
    # Not cached: plain objects over the cached reference service and the shared S3 client.
    from chalicelib.features.certificates.documents import CertificateDocumentService
    from chalicelib.storage.files import S3Files

    bucket = get_settings().bucket
    return CertificateDocumentService(reference_service(), S3Files(bucket), bucket)


@cache
def warehouse_stock() -> WarehouseStock:
    """The 001 warehouse operations (core/stock/warehouse.py) over the stock, lot and catalog stores."""
    from chalicelib.core.stock.warehouse import WarehouseStock

    return WarehouseStock(
        stock_service(),
        stock_store(),
        warehouse_store(),
        catalog_service(),
        transactions(),
    )


@cache
def availability_service() -> AvailabilityService:
    from chalicelib.features.availability.service import AvailabilityService
    from chalicelib.storage.availability_repo import DynamoAvailabilityStore

    table = get_settings().main_table
    return AvailabilityService(DynamoAvailabilityStore(table), stock_store())


@cache
def analytics_service() -> AnalyticsService:
    from chalicelib.features.analytics.service import AnalyticsService
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.ledger_reader import DynamoLedgerReader

    table = get_settings().main_table
    return AnalyticsService(DynamoLedgerReader(table), DynamoCatalogStore(table))


# -- 001 workflows (issue 16): each feature over the warehouse stock and its own work-item store


@cache
def transfer_service() -> TransferService:
    from chalicelib.features.transfers import TransferService
    from chalicelib.storage.transfers_repo import transfer_store

    return TransferService(
        warehouse_stock(), catalog_service(), transfer_store(get_settings().main_table), transactions()
    )


@cache
def stock_request_service() -> StockRequestService:
    from chalicelib.features.stock_requests import StockRequestService
    from chalicelib.storage.stock_requests_repo import DynamoStockRequestStore

    return StockRequestService(
        warehouse_stock(), catalog_service(), DynamoStockRequestStore(get_settings().main_table), transactions()
    )


@cache
def cycle_count_service() -> CycleCountService:
    from chalicelib.features.cycle_counts import CycleCountService
    from chalicelib.storage.cycle_counts_repo import DynamoCycleCountStore

    return CycleCountService(
        warehouse_stock(), catalog_service(), DynamoCycleCountStore(get_settings().main_table), transactions()
    )


@cache
def replenishment_service() -> ReplenishmentService:
    from chalicelib.features.replenishment import ReplenishmentService
    from chalicelib.storage.replenishment_repo import DynamoReplenishmentStore

    return ReplenishmentService(
        warehouse_stock(),
        catalog_service(),
        transfer_service(),
        DynamoReplenishmentStore(get_settings().main_table),
        transactions(),
    )


@cache
def putaway_service() -> PutAwayService:
    from chalicelib.features.putaway import PutAwayService
    from chalicelib.storage.putaway_repo import putaway_store

    return PutAwayService(
        warehouse_stock(), catalog_service(), putaway_store(get_settings().main_table), transactions()
    )
