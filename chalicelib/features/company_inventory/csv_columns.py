"""The 000 inventory CSV columns: one definition for the download, the template and the upload.

The download writes COLUMNS in this order; the template shows the columns a
user fills in (TEMPLATE_COLUMNS); an upload reads those, plus `version` (the
optimistic lock of a downloaded row) and accepts the server-owned columns of
a download without applying them, so a download can be edited and uploaded
again. companyId is not a column of the download (the path names it); an
upload that carries one has it ignored.
"""

from __future__ import annotations

from chalicelib.features.company_inventory.service import INPUT_FIELDS

COLUMNS = (
    "inventoryId",
    "productName",
    "quantity",
    "weight",
    "heatCode",
    "diameter",
    "length",
    "width",
    "depth",
    "type",
    "typeLabel",
    "material",
    "materialLabel",
    "supplierId",
    "supplierName",
    "stockLocationId",
    "stockLocationLabel",
    "unitPrice",
    "millCertificationId",
    "linkedOrders",
    "createdAt",
    "updatedAt",
)
# Columns the server owns: a download carries them, an upload ignores them.
SERVER_OWNED = frozenset(
    {
        "typeLabel",
        "materialLabel",
        "supplierName",
        "stockLocationLabel",
        "millCertificationId",
        "linkedOrders",
        "createdAt",
        "updatedAt",
    }
)
# What a user fills in: a row with an inventoryId updates that item, one without creates.
TEMPLATE_COLUMNS = tuple(c for c in COLUMNS if c not in SERVER_OWNED)
VERSION = "version"
# Upload column (casefolded) -> core field of ItemInput.
UPLOAD_FIELDS: dict[str, str] = {
    **{c.casefold(): "stock_id" if c == "inventoryId" else INPUT_FIELDS[c] for c in TEMPLATE_COLUMNS},
    VERSION: VERSION,
}
# Casefolded columns an upload accepts and never applies.
IGNORED = frozenset(c.casefold() for c in (*SERVER_OWNED, "companyId"))
