"""Products and materials as a maker sees them (002): stock per named location, bills of materials,
production types, and the rules that keep them consistent.

Everything here is computed from core data: a resource is a `Product`
(`kind` "product" or "material"), its stock is the sum of its active stock
records (whichever surface wrote them), and a location's figure is keyed by
the location's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from chalicelib.core.catalog import units
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, BomLine, Product, ProductionType, StockRecord
from chalicelib.core.stock.ownership import own_stock

KINDS = ("product", "material")
# One production batch is one unit of work (at most TRANSACTION_ITEMS writes): the product's
# record, ledger line and (for a new record) its product's stock keys (3), the batch, the task, a retry
# guard and up to 4 task counters when its status moves (7), and a record update and ledger line per
# material (2 each).
BATCH_OWN_WRITES = 7
FIXED_BATCH_WRITES = 3 + BATCH_OWN_WRITES
MAX_BOM_LINES = (TRANSACTION_ITEMS - FIXED_BATCH_WRITES) // 2


@dataclass(frozen=True)
class InitialStock:
    location_id: str
    quantity: Decimal


@dataclass(frozen=True)
class Levels:
    """A resource's stock: per location id, and in all (their sum)."""

    by_location: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.by_location.values(), ZERO)


@dataclass(frozen=True)
class MaterialLine:
    material: Product
    quantity_used: Decimal
    stock_level: Decimal


@dataclass(frozen=True)
class ResourceView:
    product: Product
    levels: Levels
    # Location name -> stock there (the documented locationStockLevels).
    location_levels: dict[str, Decimal]
    materials: list[MaterialLine]

    @property
    def stock_level(self) -> Decimal:
        return self.levels.total


def record_levels(records: Iterable[StockRecord]) -> Levels:
    """On hand per location: the company's own (INTERN) active records only (`core/stock/ownership`)."""
    by_location: dict[str, Decimal] = {}
    for record in own_stock(records):
        by_location[record.location_id] = by_location.get(record.location_id, ZERO) + record.on_hand
    return Levels(by_location)


def bundle_levels(bom: list[tuple[BomLine, Product]], levels: Mapping[str, Levels]) -> Levels:
    """A bundle's stock: at each location, the smallest whole number of bundles its materials allow.

    Infinite materials never limit it; a bundle of infinite materials only holds none.
    """
    limiting = [(line, material) for line, material in bom if material.production_type != ProductionType.INFINITE]
    if not limiting:
        return Levels({})
    places = set.intersection(*(set(levels[m.product_id].by_location) for _, m in limiting))
    by_location = {}
    for place in sorted(places):
        by_location[place] = min(
            _whole(levels[m.product_id].by_location[place] / line.quantity_used) for line, m in limiting
        )
    return Levels(by_location)


def _whole(value: Decimal) -> Decimal:
    return max(value.to_integral_value(rounding=ROUND_FLOOR), ZERO)


def check_unit(unit: str, field: str = "unitType") -> None:
    if unit == units.BUNDLES:
        raise ValidationFailed("unitType bundles cannot be set", [{"field": field, "message": "bundles is read-only"}])
    if not units.is_unit(unit):
        raise ValidationFailed(f"unknown unitType {unit}", [{"field": field, "message": f"unknown unit {unit}"}])


def check_bom(product: Product, materials: Mapping[str, Product]) -> None:
    """The bill of materials is valid: known active materials of this company, each once, not itself,
    a positive quantityUsed, no bundle inside a bundle, and few enough lines for one batch transaction."""
    errors: list[dict[str, str]] = []
    lines = product.materials
    if len(lines) > MAX_BOM_LINES:
        raise ValidationFailed(
            f"a bill of materials holds at most {MAX_BOM_LINES} materials (one production batch is one "
            f"transaction of at most {TRANSACTION_ITEMS} writes)",
            [{"field": "materials", "message": f"more than {MAX_BOM_LINES} materials"}],
        )
    seen: set[str] = set()
    for index, line in enumerate(lines):
        where = f"materials[{index}]"
        material = materials.get(line.product_id)
        if line.product_id == product.product_id:
            errors.append({"field": f"{where}.id", "message": "a resource cannot be its own material"})
        elif material is None or not material.active:
            errors.append({"field": f"{where}.id", "message": f"{line.product_id} not found"})
        elif product.production_type == ProductionType.BUNDLE and material.production_type == ProductionType.BUNDLE:
            errors.append({"field": f"{where}.id", "message": "a bundle cannot contain another bundle"})
        if line.product_id in seen:
            errors.append({"field": f"{where}.id", "message": "listed twice"})
        seen.add(line.product_id)
        if line.quantity_used <= 0:
            errors.append({"field": f"{where}.quantityUsed", "message": "must be > 0"})
    if product.production_type == ProductionType.BUNDLE and not lines:
        errors.append({"field": "materials", "message": "a bundle needs at least one material"})
    if errors:
        raise ValidationFailed(f"invalid bill of materials: {errors[0]['field']}", errors)


def check_production_type(previous: Product | None, product: Product) -> None:
    """A bundle is a bundle for life: nothing becomes one or stops being one (its unit is `bundles`)."""
    if previous is None:
        return
    was = previous.production_type == ProductionType.BUNDLE
    now = product.production_type == ProductionType.BUNDLE
    if was != now:
        raise ValidationFailed(
            "productionType cannot change to or from bundle (a bundle's unit is bundles, which cannot change)",
            [{"field": "productionType", "message": "cannot change to or from bundle"}],
        )
