"""Production arithmetic: what one batch consumes, in each material's own unit. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.core.catalog import units
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.models import Product, ProductionType


@dataclass(frozen=True)
class Need:
    material: Product
    quantity: Decimal  # in the material's unit


def resource_quantity(quantity: Decimal, item_unit: str, resource: Product) -> Decimal:
    """A batch's quantity (in its item's unit) in the resource's own unit."""
    return units.convert(quantity, item_unit, resource.unit_type, field="quantity")


def consumption(resource: Product, produced: Decimal, known: Mapping[str, Product]) -> list[Need]:
    """What producing `produced` (resource unit) of `resource` takes: quantityUsed x produced of each material.

    `quantityUsed` is in the material's unit per one unit of the resource, so no conversion is needed. A bundle
    material stands for its components (quantityUsed of each per bundle). Infinite materials never run out and
    are not drawn. A material listed twice (directly and through a bundle) is drawn once, summed.
    """
    needs: dict[str, Need] = {}

    def add(material: Product, quantity: Decimal) -> None:
        if material.production_type == ProductionType.INFINITE:
            return
        before = needs.get(material.product_id)
        needs[material.product_id] = Need(material, _plain(quantity + (before.quantity if before else 0)))

    for index, line in enumerate(resource.materials):
        material = _material(known, line.product_id, f"materials[{index}]", resource)
        need = line.quantity_used * produced
        if material.production_type == ProductionType.BUNDLE:
            for part in material.materials:
                component = _material(known, part.product_id, f"materials[{index}]", material)
                add(component, part.quantity_used * need)
        else:
            add(material, need)
    return list(needs.values())


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros (0.25 x 12 is 3, not 3.00); never in exponent form for whole numbers."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def component_ids(resource: Product, known: Mapping[str, Product]) -> set[str]:
    """Materials of the bundles in `resource`'s bill of materials that are not in `known` yet."""
    found: set[str] = set()
    for line in resource.materials:
        material = known.get(line.product_id)
        if material is not None and material.production_type == ProductionType.BUNDLE:
            found |= {part.product_id for part in material.materials}
    return found - known.keys()


def _material(known: Mapping[str, Product], product_id: str, field: str, of: Product) -> Product:
    material = known.get(product_id)
    if material is None or not material.active:
        raise ValidationFailed(
            f"material {product_id} of {of.name}'s bill of materials no longer exists; update the bill of materials",
            [{"field": field, "message": f"{product_id} not found"}],
        )
    return material
