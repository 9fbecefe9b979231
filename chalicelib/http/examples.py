"""Realistic examples for the OpenAPI document, made from each operation's schemas.

An operation that declares its own `example` / `response_example` shows
those. Every other one gets an example built here from its JSON schema,
with values a metals stockholder would write (a field's name picks the
value: `productName` is a round bar, `heatCode` a heat code, `*Id` an id),
within the schema's bounds, so every generated request example is one the
route accepts (a test validates each against its model).
"""

from __future__ import annotations

from typing import Any

IDS = {
    "companyId": "0b7d5f7e-3c1a-4f59-9d2e-6a1c8e4b2f10",
    "inventoryId": "5e0c1d9a-7b2f-4c8e-a1d3-9f6b2e4c7a18",
    "orderId": "c3a9e1f0-2b7d-4e5a-8c6f-1d0b9a7e3f42",
    "lineItemId": "8f2e6b1c-4a9d-4f07-b3e5-7c1a0d9e2b64",
    "stockLocationId": "2d4f6a8c-1e3b-4c5d-9f7a-0b2c4e6a8d31",
    "supplierId": "7a1c3e5f-9b2d-4a6c-8e0f-2d4b6a8c0e57",
    "relatedOrganisationId": "4b6d8f0a-2c4e-4a6b-8d0f-1a3c5e7a9b26",
    "tagId": "9c1e3a5b-7d9f-4b1c-a3e5-6f8a0c2e4d73",
    "jobId": "e6f8a0b2-4c6e-4f8a-9b1d-3e5a7c9e1f05",
    "keyId": "k7Qm2xT9",
}
SAMPLES: dict[str, Any] = {
    "productName": "Round bar 50mm S355",
    "name": "Northern Steel Supplies",
    "label": "Round bar",
    "description": "Hot-rolled round bar",
    "quantity": "12",
    "reserveQuantity": "2",
    "weight": "184.5",
    "heatCode": "H-24518",
    "requiredHeatCode": "H-24518",
    "diameter": "50",
    "length": "6000",
    "width": "120",
    "depth": "10",
    "unitPrice": "18.40",
    "type": "1f3b5d7e-9a2c-4e6f-8b0d-3c5e7a9b1d24",
    "material": "6a8c0e2f-4b6d-4f8a-9c1e-5d7f9b1c3e46",
    "tags": ["9c1e3a5b-7d9f-4b1c-a3e5-6f8a0c2e4d73"],
    "ruleTags": [],
    "orderReference": "PO-2026-0142",
    "site": "Birmingham yard",
    "status": "open",
    "orderDate": "2026-12-01",
    "deliveryDate": "2026-12-15",
    "notes": "Cut to 3 m lengths",
    "customerName": "Bridge Builders Ltd",
    "organisationType": "supplier",
    "email": "orders@northernsteel.example",
    "phone": "+44 121 555 0100",
    "certificateNumber": "MC-2026-0091",
    "issuedDate": "2026-11-02",
    "documentUrl": "certificates/mc-2026-0091.pdf",
    "color": "#1f77b4",
    "condition": {"field": "material", "op": "equals", "value": "6a8c0e2f-4b6d-4f8a-9c1e-5d7f9b1c3e46"},
    "typeLabel": "Round bar",
    "materialLabel": "S355",
    "supplierName": "Northern Steel Supplies",
    "stockLocationLabel": "Yard A",
    "linkedOrders": "[]",
    "permissions": ["inventory.read", "inventory.write"],
    "kind": "inventory",
    "filename": "inventory.csv",
    "split": "1",
    "lineNumber": 1,
    "certificationRequired": True,
    "ids": ["5e0c1d9a-7b2f-4c8e-a1d3-9f6b2e4c7a18"],
    "deletedIds": ["5e0c1d9a-7b2f-4c8e-a1d3-9f6b2e4c7a18"],
    "deletedCount": 1,
    "version": 1,
    "active": True,
    "isDefault": False,
    "createdAt": "2026-12-01T09:15:00Z",
    "updatedAt": "2026-12-01T09:15:00Z",
    "changedAt": "2026-12-01T09:15:00Z",
    "stockLevel": "42",
    "totalValue": "772.80",
    "remaining": "8",
    "value": "147.20",
}


def example(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value `schema` accepts, realistic where the field `name` says what it is."""
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[-1]], components, name, depth)
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return SAMPLES[name] if SAMPLES.get(name) in schema["enum"] else schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example(options[0], components, name, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, components, name, depth)
    if kind == "array":
        item = example(schema.get("items", {}), components, name, depth + 1)
        if name in SAMPLES and isinstance(SAMPLES[name], list):
            return SAMPLES[name]
        return [item] if schema.get("minItems", 0) > 0 or depth < 3 else []
    return _scalar(schema, kind, name)


def _object(schema: dict[str, Any], components: dict[str, Any], name: str, depth: int) -> Any:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return SAMPLES.get(name, {})
    return {key: example(sub, components, key, depth + 1) for key, sub in properties.items()}


def _scalar(schema: dict[str, Any], kind: Any, name: str) -> Any:
    if name in IDS:
        return IDS[name]
    if name == "id" or name.endswith("Id"):
        return "3f6c1e2a-8b4d-4c1e-9a57-2d0c6b1f8e21"
    sample = SAMPLES.get(name)
    if kind == "boolean":
        return bool(sample) if sample is not None else False
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
        return sample if isinstance(sample, int) and sample >= low else max(1, low)
    if kind == "number" or schema.get("format") == "decimal" or _numeric(schema):
        # Written as JSON numbers, as the service writes them (exact decimals, never floats' noise).
        text = sample if isinstance(sample, str) and _is_number(sample) else "1"
        return int(text) if text.lstrip("-").isdigit() else float(text)
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-12-01T09:15:00Z"
    if fmt == "date":
        return "2026-12-01"
    if fmt == "email":
        return SAMPLES["email"]
    if isinstance(sample, str):
        return sample
    return name or "text"


def _numeric(schema: dict[str, Any]) -> bool:
    return "pattern" in schema and "\\d" in schema["pattern"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
