"""The rules of replenishment (001). Records follow `core/workflows.REPLENISHMENT`
(open -> ordered -> received, or cancelled).

- At most one outstanding (open or ordered) record per product and location: the record's transaction
  claims a guard item for the pair, released in the transaction that closes the record. So the daily
  schedule is idempotent across runs and across concurrent runs: a second record for the pair cannot
  be written, whoever tries.
- Suggestions read the configuration (one Query), the stock (per product, or the company's stock
  partition when many products are configured) and the outstanding records; they change nothing.
- A record with a source location is fulfilled by a transfer: creating it creates the draft transfer
  (the record is `ordered`), receiving it ships and receives the transfer, cancelling it cancels the
  transfer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import AlreadyExists, NotFound, ValidationFailed
from chalicelib.core.ids import utcnow
from chalicelib.core.models import SYSTEM, ZERO, Actor, StockRecord
from chalicelib.core.ports import Transactions
from chalicelib.core.stock.warehouse import WarehouseStock
from chalicelib.core.workflows import REPLENISHMENT, bumped
from chalicelib.features.replenishment.model import Method, Replenishment, ReplenishmentConfig, ReplenishmentStore
from chalicelib.features.replenishment.rules import Suggestion, suggest
from chalicelib.features.transfers import LineIn, TransferService

# Above this many configured products, stock is read from the company's stock partition (a few paged
# Queries) rather than one index Query per product.
PER_PRODUCT_READS = 50


def _err(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


@dataclass(frozen=True)
class ConfigFilter:
    product_id: str | None = None
    location_id: str | None = None


class ReplenishmentService:
    def __init__(
        self,
        warehouse: WarehouseStock,
        catalog: CatalogService,
        transfers: TransferService,
        store: ReplenishmentStore,
        transactions: Transactions,
    ) -> None:
        self._wh = warehouse
        self._catalog = catalog
        self._transfers = transfers
        self._store = store
        self._transactions = transactions

    # -- configuration -------------------------------------------------------

    def set_config(self, tenant_id: str, config: ReplenishmentConfig, actor: Actor) -> ReplenishmentConfig:
        self._wh.product(tenant_id, config.product_id)
        self._wh.location(tenant_id, config.location_id)
        if config.source_location_id is not None:
            self._wh.location(tenant_id, config.source_location_id, "sourceLocationId")
            if config.source_location_id == config.location_id:
                raise ValidationFailed("the source is another location", _err("sourceLocationId", "same as locationId"))
        for name, value in (("minQuantity", config.min_quantity), ("maxQuantity", config.max_quantity)):
            if value < 0:
                raise ValidationFailed(f"{name} cannot be negative", _err(name, "must be >= 0"))
        if config.max_quantity < config.min_quantity:
            raise ValidationFailed("max below min", _err("maxQuantity", "must be >= minQuantity"))
        if config.pack_size is not None and config.pack_size <= 0:
            raise ValidationFailed("packSize must be positive", _err("packSize", "must be > 0"))
        if (
            config.method == Method.REORDER_POINT
            and config.reorder_quantity is not None
            and config.reorder_quantity <= 0
        ):
            raise ValidationFailed("reorderQuantity must be positive", _err("reorderQuantity", "must be > 0"))
        existing = {c.config_id: c for c in self._store.configs(tenant_id, config.product_id)}.get(config.config_id)
        saved = config.model_copy(
            update={
                "version": (existing.version + 1) if existing else 1,
                "created_at": existing.created_at if existing else config.created_at,
                "updated_at": utcnow(),
            }
        )
        self._store.put_config(saved, actor)
        return saved

    def configs(self, tenant_id: str, wanted: ConfigFilter) -> list[ReplenishmentConfig]:
        found = [
            c
            for c in self._store.configs(tenant_id, wanted.product_id)
            if wanted.location_id is None or c.location_id == wanted.location_id
        ]
        return sorted(found, key=lambda c: (c.product_id, c.location_id))

    # -- suggestions ---------------------------------------------------------

    def suggestions(self, tenant_id: str, location_id: str | None = None) -> list[Suggestion]:
        """For every configured pair (at `location_id`) whose available + incoming is below its reorder point."""
        if location_id is not None:
            self._wh.location(tenant_id, location_id)
        configs = self.configs(tenant_id, ConfigFilter(location_id=location_id))
        if not configs:
            return []
        records = self._stock(tenant_id, {c.product_id for c in configs})
        available: dict[tuple[str, str], Decimal] = {}
        incoming: dict[tuple[str, str], Decimal] = {}
        for r in records:
            pair = (r.product_id, r.location_id)
            if r.in_transit is not None:
                incoming[pair] = incoming.get(pair, ZERO) + r.on_hand
            else:
                available[pair] = available.get(pair, ZERO) + r.available
        for record in self._store.list_all(tenant_id):
            # A record fulfilled by a transfer counts once: as the transfer's in-transit stock once shipped.
            if record.outstanding and not (record.transfer_id and self._shipped(tenant_id, record)):
                pair = (record.product_id, record.location_id)
                incoming[pair] = incoming.get(pair, ZERO) + record.quantity
        found = []
        for c in configs:
            pair = (c.product_id, c.location_id)
            s = suggest(c, available.get(pair, ZERO), incoming.get(pair, ZERO))
            if s is not None:
                found.append(s)
        return found

    def _shipped(self, tenant_id: str, record: Replenishment) -> bool:
        assert record.transfer_id is not None
        found = self._transfers.get(tenant_id, record.transfer_id)
        return found.status != "draft"

    def _stock(self, tenant_id: str, product_ids: set[str]) -> list[StockRecord]:
        if len(product_ids) > PER_PRODUCT_READS:
            return [r for r in self._wh.inventory(tenant_id) if r.product_id in product_ids]
        by_product = self._wh.records_of(tenant_id, sorted(product_ids))
        return [r for records in by_product.values() for r in records]

    # -- records -------------------------------------------------------------

    def get(self, tenant_id: str, record_id: str, field: str = "recordId") -> Replenishment:
        found = self._store.get(tenant_id, record_id)
        if found is None:
            raise NotFound(f"replenishment {record_id} not found", _err(field, "not found"))
        return found

    def records(
        self,
        tenant_id: str,
        status: str | None = None,
        product_id: str | None = None,
        location_id: str | None = None,
    ) -> list[Replenishment]:
        found = [
            r
            for r in self._store.list_all(tenant_id)
            if (status is None or r.status == status)
            and (product_id is None or r.product_id == product_id)
            and (location_id is None or r.location_id == location_id)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.record_id), reverse=True)

    def create(
        self,
        tenant_id: str,
        product_id: str,
        location_id: str,
        quantity: Decimal,
        actor: Actor,
        *,
        source_location_id: str | None = None,
        origin: str = "manual",
        reason: str | None = None,
        record_id: str | None = None,
        check: bool = True,
    ) -> Replenishment:
        """A record (409 naming productMasterId while another is open for the pair); with a source location,
        its draft transfer too."""
        if quantity <= 0:
            raise ValidationFailed("quantity must be positive", _err("quantity", "must be > 0"))
        if check:
            self._wh.product(tenant_id, product_id)
            self._wh.location(tenant_id, location_id)
            if source_location_id is not None:
                self._wh.location(tenant_id, source_location_id, "sourceLocationId")
        if source_location_id is not None and source_location_id == location_id:
            raise ValidationFailed("the source is another location", _err("sourceLocationId", "same as locationId"))
        record_id = record_id or str(uuid.uuid4())
        transfer_id = (
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockroom:replenishment:{tenant_id}:{record_id}"))
            if source_location_id
            else None
        )
        record = Replenishment(
            tenant_id=tenant_id,
            record_id=record_id,
            product_id=product_id,
            location_id=location_id,
            quantity=quantity,
            source_location_id=source_location_id,
            transfer_id=transfer_id,
            origin=origin,
            reason=reason,
            created_by_id=actor.id,
            created_by_name=actor.name,
        )
        if transfer_id is not None:
            move = REPLENISHMENT.move(record.status, "order", actor, comment=f"transfer {transfer_id}")
            record = record.model_copy(update={"status": move.to_state, "history": [move]})
        uow = self._transactions.begin()
        self._store.add_new(record, actor, uow)
        self._store.add_open_guard(record, uow)
        uow.commit()
        if source_location_id is not None:
            self._transfers.create(
                tenant_id,
                source_location_id,
                location_id,
                [LineIn(product_id, quantity)],
                actor,
                notes=f"replenishment {record_id}",
                command_id=transfer_id,
            )
        return record

    def act(
        self, tenant_id: str, record_id: str, action: str, actor: Actor, comment: str | None = None
    ) -> Replenishment:
        """`order`, `receive` (a transfer-backed record ships and receives its transfer) or `cancel`."""
        record = self.get(tenant_id, record_id)
        if action not in {"order", "receive", "cancel"}:
            raise ValidationFailed("unknown action", _err("action", "one of order, receive, cancel"))
        move = REPLENISHMENT.move(record.status, action, actor, comment=comment)
        if record.transfer_id is not None and action in {"receive", "cancel"}:
            transfer = self._transfers.get(tenant_id, record.transfer_id)
            if action == "receive":
                if transfer.status == "draft":
                    transfer = self._transfers.act(tenant_id, transfer.transfer_id, "ship", actor)
                if transfer.status == "shipped":
                    self._transfers.act(tenant_id, transfer.transfer_id, "receive", actor)
            elif transfer.status in {"draft", "shipped"}:
                self._transfers.act(tenant_id, transfer.transfer_id, "cancel", actor, comment=comment)
        changed = bumped(record, status=move.to_state, history=[*record.history, move])
        uow = self._transactions.begin()
        self._store.add_save(changed, record.version, actor, uow)
        if not changed.outstanding:
            self._store.add_guard_release(record, uow)
        uow.commit()
        return changed

    # -- the schedule ----------------------------------------------------------

    def run_schedule(self, tenant_id: str) -> dict[str, Any]:
        """The `replenishment` job for one company: a record for every pair below its reorder point, at most
        one outstanding per pair (the guard), so running it twice, or twice at once, adds nothing more."""
        created = already = 0
        suggestions = self.suggestions(tenant_id)
        day = utcnow().date().isoformat()
        for s in suggestions:
            record_id = str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"stockroom:repl:{tenant_id}:{s.product_id}:{s.location_id}:{day}")
            )
            try:
                self.create(
                    tenant_id,
                    s.product_id,
                    s.location_id,
                    s.suggested_quantity,
                    SYSTEM,
                    source_location_id=s.source_location_id,
                    origin="schedule",
                    reason=s.reason,
                    record_id=record_id,
                    check=False,
                )
            except AlreadyExists:
                already += 1
                continue
            created += 1
        return {"pairsBelowReorderPoint": len(suggestions), "recordsCreated": created, "alreadyOpen": already}
