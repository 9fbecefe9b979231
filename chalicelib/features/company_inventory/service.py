"""The 000 inventory item: a core StockRecord seen through the company inventory document.

Mapping (docs/architecture.md 2.1): inventoryId = stock_id, companyId =
tenant_id, productName = name, quantity = on_hand, stockLocationId =
location_id; type, material, supplierId, heatCode, diameter, length, width,
depth, weight and unitPrice live in `attributes` under snake_case names.
Manual tags are `attributes.tags`, rule-based ones `attributes.rule_tags`.

Every record needs a product: the product of a row is the one named like the
row (id = uuid5 of tenant + casefolded name), created on first use. Every
record has a location: an item created without stockLocationId goes to the
company's default location (core/catalog). Quantity
changes go through the ledger; the attribute changes of an item and its
quantity change commit in one write, guarded on the version that was read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.catalog.service import default_location_id, ensure_default_location
from chalicelib.core.errors import (
    AlreadyExists,
    At,
    DuplicateCommand,
    InvalidState,
    NotFound,
    Problem,
    TooManyWrites,
    UnknownReference,
    ValidationFailed,
)
from chalicelib.core.history.service import HistoryService, documented_change_type
from chalicelib.core.ids import new_id
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import (
    ZERO,
    Actor,
    FieldChange,
    HistoryEvent,
    MovementKind,
    Product,
    StockRecord,
)
from chalicelib.core.ports import (
    BatchReads,
    CatalogStore,
    Found,
    Page,
    StockChange,
    StockStore,
    Transactions,
    UnitOfWork,
    Wanted,
)
from chalicelib.core.reference.service import (
    HEAT,
    LOCATION,
    ReferenceService,
    RefKey,
    RefKind,
    Resolved,
    deterministic_id,
)
from chalicelib.core.reference.tag_rules import evaluate
from chalicelib.core.stock.asof import as_of_record, records_as_of
from chalicelib.core.stock.ownership import is_own_stock, own_stock
from chalicelib.core.stock.service import ORDER_LINK_PREFIX, NewStockRecord, StockService
from chalicelib.core.values import number_problem, text_problem

# A request is one transaction; a created or re-counted item needs two writes, and a created (or renamed)
# one a third: its product's stock keys (storage keys.product_stock), so 33 items fit.
MAX_ITEMS = TRANSACTION_ITEMS // 3
# An unreserve that meets a reservation released meanwhile reads again, this many times in all.
MAX_RELEASE_ATTEMPTS = 3
# Lengths of what a client may send (JSON and CSV alike: check_item).
MAX_NAME_CHARS = 300
MAX_TEXT_CHARS = 200
MAX_TAGS = 50
TEXT_ATTRIBUTES = ("type", "material", "supplier_id", "heat_code")
NUMBER_ATTRIBUTES = ("diameter", "length", "width", "depth", "weight", "unit_price")
ATTRIBUTES = TEXT_ATTRIBUTES + NUMBER_ATTRIBUTES
MANUAL_TAGS = "tags"
RULE_TAGS = "rule_tags"
# Which reference kind each foreign key attribute points at.
FOREIGN_KEYS: dict[str, str] = {
    "type": RefKind.TYPE.value,
    "material": RefKind.MATERIAL.value,
    "supplier_id": RefKind.ORGANISATION.value,
}
PRODUCT_NAMESPACE = uuid.UUID("6e5ee868-2230-4c36-8000-000000000000")

# Core field -> documented 000 field, for responses, errors and history.
DOCUMENTED: dict[str, str] = {
    "stock_id": "inventoryId",
    "tenant_id": "companyId",
    "name": "productName",
    "on_hand": "quantity",
    "location_id": "stockLocationId",
    "type": "type",
    "material": "material",
    "supplier_id": "supplierId",
    "heat_code": "heatCode",
    "diameter": "diameter",
    "length": "length",
    "width": "width",
    "depth": "depth",
    "weight": "weight",
    "unit_price": "unitPrice",
    "tags": "tags",
    "rule_tags": "ruleTags",
    "active": "active",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "version": "version",
    "quantity": "quantity",
}


# Documented input field -> core field of ItemInput (JSON bodies and CSV columns alike).
INPUT_FIELDS: dict[str, str] = {
    "productName": "name",
    "quantity": "quantity",
    "stockLocationId": "location_id",
    "tags": MANUAL_TAGS,
    **{DOCUMENTED[name]: name for name in ATTRIBUTES},
}


def documented(core_field: str) -> str:
    return DOCUMENTED.get(core_field, core_field)


def product_id_for(tenant_id: str, name: str) -> str:
    """The product that rows named `name` belong to: the same id for the same name, any case."""
    return str(uuid.uuid5(PRODUCT_NAMESPACE, f"{tenant_id}\0{name.strip().casefold()}"))


@dataclass(frozen=True)
class ItemInput:
    """What a client may set on an item, in core names. `given` lists the fields the client sent."""

    given: frozenset[str]
    name: str | None = None
    quantity: Decimal | None = None
    location_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] | None = None
    stock_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class InventoryItem:
    record: StockRecord
    type_label: str | None
    material_label: str | None
    supplier_name: str | None
    location_label: str | None
    mill_certification_id: str | None

    @property
    def linked_orders(self) -> list[dict[str, str]]:
        links = [v for k, v in self.record.attributes.items() if k.startswith(ORDER_LINK_PREFIX) and v]
        links.sort(key=lambda link: str(link.get("at", "")))
        return [
            {"orderId": str(link.get("orderId", "")), "orderReference": str(link.get("orderReference", ""))}
            for link in links
        ]

    def fields(self) -> dict[str, Any]:
        """The item in documented 000 field names (what tag rules test and responses show)."""
        record, attrs = self.record, self.record.attributes
        return {
            "inventoryId": record.stock_id,
            "companyId": record.tenant_id,
            "productName": record.name,
            "quantity": record.on_hand,
            "stockLocationId": record.location_id,
            **{documented(name): attrs.get(name) for name in ATTRIBUTES},
            "typeLabel": self.type_label,
            "materialLabel": self.material_label,
            "supplierName": self.supplier_name,
            "stockLocationLabel": self.location_label,
            "millCertificationId": self.mill_certification_id,
            "tags": list(attrs.get(MANUAL_TAGS) or []),
            "ruleTags": list(attrs.get(RULE_TAGS) or []),
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "version": record.version,
        }


@dataclass(frozen=True)
class UnreservedLink:
    link_id: str
    order_line_item_id: str | None


class InventoryService:
    def __init__(
        self,
        stock: StockService,
        stock_store: StockStore,
        catalog_store: CatalogStore,
        reference: ReferenceService,
        history: HistoryService,
        reads: BatchReads,
        transactions: Transactions | None = None,
    ) -> None:
        self._stock = stock
        self._records = stock_store
        self._catalog = catalog_store
        self._reference = reference
        self._history = history
        self._reads = reads
        # New products and the records that need them commit in ONE transaction.
        self._transactions = transactions

    # -- reads -------------------------------------------------------------

    def page(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, as_of: datetime | None = None
    ) -> Page[InventoryItem]:
        """One page of active items; labels of the whole page cost one batched read.

        With `as_of`: the page's items that existed then (created by then, deleted since included), each
        with its figures then (core/stock/asof.py; the page's ledger reads run together).
        """
        page = self._records.list_records(tenant_id, limit, cursor)
        if as_of is None:
            # Supplier stock (004) is no inventory item of the company's: only its own stock is listed.
            records = own_stock(page.items)
        else:
            mine = [r for r in page.items if is_own_stock(r)]
            records = records_as_of(mine, self._stock.figures_as_of(mine, as_of, with_claims=True))
        return Page(self._enrich(tenant_id, records), page.cursor)

    def get(self, tenant_id: str, stock_id: str, as_of: datetime | None = None) -> InventoryItem:
        """The item; with `as_of`, its figures as they were then (404 if it did not exist then)."""
        if as_of is None:
            return self._enrich(tenant_id, [self._active(tenant_id, stock_id)])[0]
        record = self._records.get_record(tenant_id, stock_id)
        if record is None:
            raise NotFound(f"inventory item {stock_id} not found")
        figures = self._stock.figures_as_of([record], as_of, with_claims=True)
        if stock_id not in figures:
            raise NotFound(f"inventory item {stock_id} did not exist at {as_of.isoformat()}")
        return self._enrich(tenant_id, [as_of_record(record, figures[stock_id])])[0]

    def history(self, tenant_id: str, stock_id: str) -> list[HistoryEvent]:
        """The item's field-level history in documented names (deleted items keep theirs)."""
        if self._records.get_record(tenant_id, stock_id) is None:
            raise NotFound(f"inventory item {stock_id} not found")
        return [translate_event(e) for e in self._history.events_for(tenant_id, "stock", stock_id)]

    # -- writes ------------------------------------------------------------

    def create(
        self, tenant_id: str, inputs: list[ItemInput], actor: Actor, command_id: str | None = None
    ) -> list[InventoryItem]:
        _check_size(inputs)
        for index, item in enumerate(inputs):
            check_item(index, item, creating=True)
        ids = [deterministic_id(command_id, i) if command_id else new_id() for i in range(len(inputs))]
        names = [item.name or "" for item in inputs]
        unlocated = any(not item.location_id for item in inputs)
        # One batched read before any write: the references the items set (and their heat codes, for the
        # response), the default location when an item has none, and the products their names need.
        asked = {key for item in inputs for key in _references(item.location_id, item.attributes, heat=True)}
        asked |= _tag_keys(inputs)
        if unlocated:
            asked.add(default_location_key(tenant_id))
        found = self._reads.read(
            tenant_id, Wanted(products={product_id_for(tenant_id, n) for n in names}, references=asked)
        )
        resolved = _check_references(inputs, found.references)
        default = self.default_location_id(tenant_id, resolved, actor) if unlocated else ""
        news = [
            NewStockRecord(
                stock_id=stock_id,
                product_id=product_id_for(tenant_id, item.name or ""),
                location_id=item.location_id or default,
                name=item.name,
                attributes=_attributes({}, item),
                quantity=item.quantity or ZERO,
            )
            for stock_id, item in zip(ids, inputs, strict=True)
        ]
        records: list[StockRecord] = []

        def write(uow: UnitOfWork | None) -> None:
            nonlocal records
            records = self._stock.create_records(tenant_id, news, actor, uow)

        try:
            self._with_products(tenant_id, names, actor, write, command_id, found.products)
        except (AlreadyExists, DuplicateCommand):
            # With a command id the ids are the command's own (one transaction: all or none), so they
            # exist only if this create already ran (its token, reused with new timestamps, is a
            # DuplicateCommand): answer with what it made. Found on the write, a retry costs no read up front.
            done = self._records.get_records(tenant_id, ids) if command_id else {}
            if len(done) != len(ids):
                raise
            return self._enrich(tenant_id, [done[i] for i in ids], resolved, asked)
        return self._enrich(tenant_id, records, resolved, asked)

    def update(self, tenant_id: str, inputs: list[ItemInput], actor: Actor) -> list[InventoryItem]:
        _check_size(inputs)
        for index, item in enumerate(inputs):
            check_item(index, item, creating=False)
        ids = [item.stock_id or "" for item in inputs]
        _no_repeats(ids)
        renamed = [item.name for item in inputs if "name" in item.given and item.name]
        # One batched read before the write: the items, the references they set (with heat codes, for
        # the response) and the products new names need.
        asked = {key for item in inputs for key in _references(item.location_id, item.attributes, heat=True)}
        asked |= _tag_keys(inputs)
        found = self._reads.read(
            tenant_id,
            Wanted(records=ids, products={product_id_for(tenant_id, n) for n in renamed}, references=asked),
        )
        records = _active_records(ids, found)
        resolved = _check_references(inputs, found.references)
        changes = [self.change_for(tenant_id, records[item.stock_id or ""], item, actor) for item in inputs]
        self._with_products(
            tenant_id,
            renamed,
            actor,
            lambda uow: self._stock.apply_changes(tenant_id, changes, uow),
            command_id=None,
            existing=found.products,
        )
        # After the write, one more: the items as stored, with the labels of the references they kept
        # (known from the first read).
        kept = {key for r in records.values() for key in _references(r.location_id, r.attributes, heat=True)} - asked
        after = self._reads.read(tenant_id, Wanted(records=ids, references=kept))
        resolved.update(after.references)
        return self._enrich(tenant_id, [after.records[i] for i in ids], resolved, asked | kept)

    def delete(self, tenant_id: str, ids: list[str], actor: Actor) -> list[str]:
        """Soft-delete all items or none, releasing their active reservations in the same transaction.

        Guarded on the versions read: a reserve or change landing in between
        is a 409, and nothing stays reserved on a deleted item. Calls: the
        items' BatchGetItem and one TransactWriteItems (plus a claims Query
        for an item whose reservations are not all order links).
        """
        _check_size(ids)
        records = self._existing(tenant_id, ids, field_name="ids")
        self._stock.deactivate(tenant_id, [records[i] for i in ids], actor)
        return ids

    def evaluate_tags(self, tenant_id: str, stock_id: str, actor: Actor) -> int:
        """Replace the item's rule-based tags with those of the active rules it matches; manual tags stay."""
        item = self.get(tenant_id, stock_id)
        rules = self._reference.list_active(tenant_id, RefKind.TAG_RULE)
        tag_ids = {str(rule.data.get("tag_id")) for rule in rules}
        live = self._reference.resolve(tenant_id, {(RefKind.TAG.value, t) for t in tag_ids})
        fields = item.fields()
        matched = sorted(
            {
                str(rule.data["tag_id"])
                for rule in rules
                if _active(live.get((RefKind.TAG.value, str(rule.data.get("tag_id")))))
                and evaluate(rule.data["condition"], fields)
            }
        )
        change = StockChange(
            stock_id=stock_id,
            actor=actor,
            set_fields={f"attributes.{RULE_TAGS}": matched},
            expected_version=item.record.version,
        )
        self._stock.apply_changes(tenant_id, [change])
        return len(matched)

    def unreserve(self, tenant_id: str, stock_id: str, actor: Actor) -> list[UnreservedLink]:
        """Release every active reservation of the item and rename the row after the most recent order.

        With several links, the name carries the orderReference of the most
        recently created one. The row keeps its quantity: split rows are not
        merged back.
        """
        for attempt in range(MAX_RELEASE_ATTEMPTS):
            record = self._active(tenant_id, stock_id)
            active = self._records.reservations_for_record(tenant_id, stock_id, active_only=True)
            if not active:
                return []
            active.sort(key=lambda r: r.created_at, reverse=True)
            reference = next((r.reference["orderReference"] for r in active if r.reference.get("orderReference")), None)
            renamed = {stock_id: {"name": f"{record.name or ''} - Prev Reserved ({reference})"}} if reference else None
            try:
                # The releases and the rename: one write of the row, in one transaction.
                self._stock.release_all(tenant_id, active, actor, set_fields=renamed)
            except InvalidState:
                if attempt + 1 == MAX_RELEASE_ATTEMPTS:
                    raise
                continue
            return [UnreservedLink(r.reservation_id, r.reference.get("lineItemId")) for r in active]
        raise AssertionError("unreachable")

    # -- helpers -----------------------------------------------------------

    def _active(self, tenant_id: str, stock_id: str) -> StockRecord:
        record = self._records.get_record(tenant_id, stock_id)
        if record is None or not own_stock([record]):
            raise NotFound(f"inventory item {stock_id} not found")
        return record

    def _existing(self, tenant_id: str, ids: list[str], field_name: str = "inventoryId") -> dict[str, StockRecord]:
        _no_repeats(ids, field_name)
        return _active_records(ids, Found(records=self._records.get_records(tenant_id, ids)), field_name)

    def default_location_id(self, tenant_id: str, resolved: dict[RefKey, Resolved], actor: Actor) -> str:
        """The default location's id, for items without a location.

        `resolved` is a label read that included `default_location_key`: a
        company that predates default locations has none yet, and gets it now;
        its label is added to `resolved`, so the answer needs no read for it.
        """
        key = default_location_key(tenant_id)
        if key not in resolved:
            made = ensure_default_location(self._catalog, tenant_id, actor)
            resolved[key] = Resolved(id=made.location_id, label=made.name, active=made.active)
        return default_location_id(tenant_id)

    def missing_products(self, tenant_id: str, names: Iterable[str]) -> list[Product]:
        """The products that rows named `names` need and that do not exist yet (one batched read)."""
        names = list(names)
        wanted = [product_id_for(tenant_id, n) for n in names]
        if not wanted:
            return []
        return new_products(tenant_id, names, self._catalog.get_products(tenant_id, wanted))

    def _with_products(
        self,
        tenant_id: str,
        names: list[str],
        actor: Actor,
        write: Callable[[UnitOfWork | None], None],
        command_id: str | None,
        existing: Collection[str] | None = None,
    ) -> None:
        """Run `write` in ONE transaction with the products its rows' new names need.

        `existing` holds the product ids a read just before found (so the first
        attempt reads nothing more); without it the products are read here.

        A product another request created meanwhile is the same product: read
        again and write without it (a second clash is a real conflict). When
        the products and the rows together exceed one transaction, the
        products go first in their own (a product without rows is harmless).
        """
        if self._transactions is None:
            raise RuntimeError("InventoryService needs a Transactions port")
        for attempt in range(2):
            if not names:
                missing = []
            elif attempt == 0 and existing is not None:
                missing = new_products(tenant_id, names, existing)
            else:
                missing = self.missing_products(tenant_id, names)
            uow = self._transactions.begin(command_id)
            if missing:
                self._catalog.create_products(missing, actor, uow)
            write(uow)
            try:
                uow.commit()
            except AlreadyExists:
                if attempt or not missing:
                    raise
                continue
            except TooManyWrites:
                if not missing:
                    raise
                self._create_products(tenant_id, names, missing, actor)
                uow = self._transactions.begin(command_id)
                write(uow)
                uow.commit()
            return

    def _create_products(self, tenant_id: str, names: list[str], missing: list[Product], actor: Actor) -> None:
        try:
            # A product is up to 3 writes (item, SKU guard, numeric-id guard): as many as one transaction holds.
            size = (TRANSACTION_ITEMS - 1) // 3
            for start in range(0, len(missing), size):
                self._catalog.create_products(missing[start : start + size], actor)
        except AlreadyExists:
            # Another request created one of them first: the same product. Create the rest one by one.
            for product in self.missing_products(tenant_id, names):
                with suppress(AlreadyExists):
                    self._catalog.create_product(product, actor)

    def change_for(
        self,
        tenant_id: str,
        record: StockRecord,
        item: ItemInput,
        actor: Actor,
        *,
        kind: MovementKind = MovementKind.ADJUSTMENT,
        reason: str = "inventory item updated",
    ) -> StockChange:
        """The one guarded write that applies `item` to `record` (fields and quantity together)."""
        fields: dict[str, Any] = {}
        removed: list[str] = []
        if "name" in item.given and item.name:
            fields["name"] = item.name
            fields["product_id"] = product_id_for(tenant_id, item.name)
        if "location_id" in item.given and item.location_id:
            fields["location_id"] = item.location_id
        if "product_id" in fields or "location_id" in fields:
            # Storage re-keys the record's indexes from both.
            fields.setdefault("product_id", record.product_id)
            fields.setdefault("location_id", record.location_id)
        for name in [*ATTRIBUTES, MANUAL_TAGS]:
            if name not in item.given:
                continue
            value = list(item.tags or ()) if name == MANUAL_TAGS else item.attributes.get(name)
            if value is None:
                removed.append(f"attributes.{name}")
            else:
                fields[f"attributes.{name}"] = value
        target = item.quantity if "quantity" in item.given and item.quantity is not None else None
        return self._stock.counted_change(
            tenant_id,
            record,
            target,
            actor,
            kind=kind,
            reason=reason,
            expected_version=item.version if item.version is not None else record.version,
            set_fields=fields,
            remove_fields=tuple(removed),
        )

    def _enrich(
        self,
        tenant_id: str,
        records: list[StockRecord],
        known: dict[RefKey, Resolved] | None = None,
        asked: Collection[RefKey] = (),
    ) -> list[InventoryItem]:
        """The records with their labels; `known` holds labels already read, `asked` every key already
        looked up (found or not), so only the others cost a read."""
        wanted = {key for r in records for key in _references(r.location_id, r.attributes, heat=True)}
        missing = wanted - set(known or {}) - set(asked)
        resolved = {**(known or {}), **self._reference.resolve(tenant_id, missing)}
        return [_item(record, resolved) for record in records]


def default_location_key(tenant_id: str) -> RefKey:
    """The label-read key of the company's default location."""
    return (LOCATION, default_location_id(tenant_id))


def new_products(tenant_id: str, names: Iterable[str], existing: Collection[str]) -> list[Product]:
    """The products that rows named `names` need, less those whose ids are in `existing`."""
    wanted = {product_id_for(tenant_id, n): n.strip() for n in names}
    return [
        Product(tenant_id=tenant_id, product_id=product_id, name=name)
        for product_id, name in wanted.items()
        if product_id not in existing
    ]


def _no_repeats(ids: list[str], field_name: str = "inventoryId") -> None:
    for index, stock_id in enumerate(ids):
        if ids.index(stock_id) != index:
            raise ValidationFailed(f"{stock_id} appears twice", [Problem(At(field_name, index), "duplicate id")])


def _active_records(ids: list[str], found: Found, field_name: str = "inventoryId") -> dict[str, StockRecord]:
    """The active records of `ids` among those read; a missing or deleted one is a 404 naming its index."""
    active = {k: v for k, v in found.records.items() if v.active}
    missing = [(index, i) for index, i in enumerate(ids) if i not in active]
    if missing:
        raise NotFound(
            f"inventory item {missing[0][1]} not found",
            [Problem(At(field_name, index), f"{i} not found") for index, i in missing],
        )
    return active


def _check_references(inputs: list[ItemInput], resolved: Mapping[RefKey, Resolved]) -> dict[RefKey, Resolved]:
    """Every foreign key the items set must exist, active, in this company (`resolved`: what was read)."""
    errors: list[Problem] = []
    for index, item in enumerate(inputs):
        for attr, kind in [*FOREIGN_KEYS.items(), ("location_id", LOCATION)]:
            value = item.location_id if attr == "location_id" else item.attributes.get(attr)
            if value and not _active(resolved.get((kind, str(value)))):
                errors.append(Problem(At(documented(attr), index), f"{value} not found"))
        # Manual tags name tags of this company (an unknown id, or another company's, is never stored).
        for position, tag_id in enumerate(item.tags or ()):
            if not _active(resolved.get((RefKind.TAG.value, tag_id))):
                errors.append(Problem(At("", index, ("tags", position)), f"tag {tag_id} not found"))
    if errors:
        raise UnknownReference(f"unknown reference: {errors[0].at.path}", errors)
    return dict(resolved)


def _tag_keys(inputs: list[ItemInput]) -> set[RefKey]:
    return {(RefKind.TAG.value, tag_id) for item in inputs for tag_id in item.tags or ()}


def _references(location_id: str | None, attributes: Mapping[str, Any], heat: bool = False) -> list[RefKey]:
    keys: list[RefKey] = [(kind, str(attributes[a])) for a, kind in FOREIGN_KEYS.items() if attributes.get(a)]
    if location_id:
        keys.append((LOCATION, location_id))
    if heat and attributes.get("heat_code"):
        keys.append((HEAT, str(attributes["heat_code"])))
    return keys


def _item(record: StockRecord, resolved: Mapping[RefKey, Resolved]) -> InventoryItem:
    attrs = record.attributes

    def label(kind: str, value: Any) -> str | None:
        found = resolved.get((kind, str(value))) if value else None
        return found.label if found else None

    heat = resolved.get((HEAT, str(attrs["heat_code"]))) if attrs.get("heat_code") else None
    return InventoryItem(
        record=record,
        type_label=label(RefKind.TYPE.value, attrs.get("type")),
        material_label=label(RefKind.MATERIAL.value, attrs.get("material")),
        supplier_name=label(RefKind.ORGANISATION.value, attrs.get("supplier_id")),
        location_label=label(LOCATION, record.location_id),
        mill_certification_id=heat.id if heat else None,
    )


def _attributes(current: Mapping[str, Any], item: ItemInput) -> dict[str, Any]:
    merged = dict(current)
    for name in ATTRIBUTES:
        if name in item.given and item.attributes.get(name) is not None:
            merged[name] = item.attributes[name]
    if item.tags is not None:
        merged[MANUAL_TAGS] = list(item.tags)
    return merged


def check_item(index: int, item: ItemInput, *, creating: bool) -> None:
    """The rules of one item's fields, for the JSON routes and the CSV import alike.

    Raises ValidationFailed whose problems are at `At(<documented field>, index)`;
    the import reads the field of each and reports it on the row's line.
    """
    errors: list[Problem] = []

    def bad(core_field: str, message: str | None) -> None:
        if message is not None:
            errors.append(Problem(At(documented(core_field), index), message))

    if creating and not (item.name and item.name.strip()):
        bad("name", "is required")
    if not creating and not item.stock_id:
        bad("stock_id", "is required")
    texts: dict[str, Any] = {"name": item.name, "location_id": item.location_id, **item.attributes}
    for name, limit in [("name", MAX_NAME_CHARS), ("location_id", MAX_TEXT_CHARS), *_TEXT_LIMITS]:
        if texts.get(name) is not None:
            bad(name, text_problem(str(texts[name]), limit))
    numbers: dict[str, Any] = {"quantity": item.quantity, **item.attributes}
    for name in ("quantity", *NUMBER_ATTRIBUTES):
        if numbers.get(name) is not None:
            bad(name, _amount_problem(Decimal(numbers[name])))
    if item.tags is not None:
        too_many = f"at most {MAX_TAGS} tags" if len(item.tags) > MAX_TAGS else None
        bad(MANUAL_TAGS, too_many or next((p for t in item.tags if (p := text_problem(t, MAX_TEXT_CHARS))), None))
    if errors:
        raise ValidationFailed(f"invalid item: {errors[0].at.path}", errors)


_TEXT_LIMITS = [(name, MAX_TEXT_CHARS) for name in TEXT_ATTRIBUTES]


def _amount_problem(value: Decimal) -> str | None:
    """Quantities and piece data: numbers within the core's bounds, never negative."""
    return number_problem(value) or ("must be >= 0" if value < 0 else None)


def _check_size(entries: list[Any]) -> None:
    if not entries:
        raise ValidationFailed("at least one item is required", [{"field": "body", "message": "empty"}])
    if len(entries) > MAX_ITEMS:
        raise ValidationFailed(
            f"at most {MAX_ITEMS} items per request", [{"field": "body", "message": f"more than {MAX_ITEMS}"}]
        )


def _active(resolved: Resolved | None) -> bool:
    return resolved is not None and resolved.active


# -- history -----------------------------------------------------------------

# Stock record fields that say nothing to a 000 user (derived or internal).
HIDDEN_FIELDS = frozenset(
    {"reserved", "held", "available", "product_id", "allow_negative", "owner", "natural_key", "number"}
)


def translate_event(event: HistoryEvent) -> HistoryEvent:
    """A stock record's history event in documented names, with a 000 change type."""
    changes: list[FieldChange] = []
    for change in event.changes:
        if change.field == "attributes":
            changes += _attribute_changes(change.old or {}, change.new or {})
        elif change.field not in HIDDEN_FIELDS:
            changes.append(FieldChange(field=documented(change.field), old=change.old, new=change.new))
    return event.model_copy(update={"changes": changes, "change_type": documented_change_type(event)})


def _attribute_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    result: list[FieldChange] = []
    links_old = {k: v for k, v in old.items() if k.startswith(ORDER_LINK_PREFIX)}
    links_new = {k: v for k, v in new.items() if k.startswith(ORDER_LINK_PREFIX)}
    if links_old != links_new:
        result.append(FieldChange(field="linkedOrders", old=_links(links_old), new=_links(links_new)))
    for name in sorted((old.keys() | new.keys()) - links_old.keys() - links_new.keys()):
        if old.get(name) != new.get(name):
            result.append(FieldChange(field=documented(name), old=old.get(name), new=new.get(name)))
    return result


def _links(links: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"orderId": v.get("orderId"), "orderReference": v.get("orderReference")}
        for v in sorted(links.values(), key=lambda link: str(link.get("at", "")))
    ]
