"""The order certificate pack as a PDF: the core's PackRenderer over certificate_pack.

CertificatePackService (core) gathers a PackSource and keeps the S3 cache;
PdfPack turns that source into certificate_pack's PackInput and leaves the
fingerprint, the limits and the drawing to that module. It is the only place
that knows both the core's data and the PDF's, so the HTTP route only
translates HTTP and never imports this layer.

wiring.certificate_pack_service() imports this module inside the factory, on
the first pack request: importing `app` loads neither it nor certificate_pack,
and certificate_pack itself loads fpdf2 and pypdf only inside its functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core.imports.csvcells import number
from chalicelib.documents import certificate_pack
from chalicelib.documents.certificate_pack import PackCertificate, PackInput, PackLine
from chalicelib.features.certificates.packs import CertificateSource, PackLineSource, PackSource, PackTooLarge

DIMENSIONS = ("diameter", "length", "width", "depth")
# A certificate whose documentUrl is not a key of ours is never fetched (no SSRF); its page says so.
NOT_FETCHED = "The document is not stored with Stockroom and was not fetched."


class PdfPack:
    """The PDF certificate pack (core PackRenderer). Limits are read from certificate_pack at each call."""

    @property
    def max_document_bytes(self) -> int:
        return certificate_pack.MAX_DOCUMENT_BYTES

    def check(self, source: PackSource) -> None:
        try:
            certificate_pack.check_limits(pack_input(source))
        except ValueError as exc:
            raise too_large(exc) from exc

    def fingerprint(self, source: PackSource) -> str:
        return certificate_pack.fingerprint(pack_input(source))

    def render(self, source: PackSource, documents: Mapping[str, bytes]) -> bytes:
        try:
            # render_pack's ValueError is its limits (lines, certificates, document bytes, pages).
            return certificate_pack.render_pack(pack_input(source, documents))
        except ValueError as exc:
            raise too_large(exc) from exc


def pack_input(source: PackSource, documents: Mapping[str, bytes] | None = None) -> PackInput:
    """certificate_pack's pack for a core source; `documents` by certification id."""
    order = source.view.order
    return PackInput(
        company_name=source.company_name,
        order_id=order.order_id,
        order_reference=order.order_reference,
        generated_at=source.generated_at,
        customer_name=source.view.customer_name,
        order_date=order.order_date,
        delivery_date=order.delivery_date,
        site=order.site,
        status=order.status,
        lines=[pack_line(line) for line in source.lines],
        certificates=[pack_certificate(c, (documents or {}).get(c.certification_id)) for c in source.certificates],
    )


def pack_line(source: PackLineSource) -> PackLine:
    line = source.line
    return PackLine(
        line_number=line.line_number,
        product_name=line.product_name,
        quantity=line.quantity,
        heat_codes=source.heat_codes,
        required_heat_code=line.required_heat_code,
        certification_required=line.certification_required,
        description=line_description(source),
    )


def line_description(source: PackLineSource) -> str | None:
    """Type, grade, dimensions (mm) and weight (kg): what identifies the product beyond its name."""
    line = source.line
    parts = [label for label in (source.type_label, source.material_label) if label]
    for name in DIMENSIONS:
        value = getattr(line, name)
        if value is not None:
            parts.append(f"{name} {number(value)} mm")
    if line.weight is not None:
        parts.append(f"{number(line.weight)} kg")
    return ", ".join(parts) or None


def pack_certificate(source: CertificateSource, document: bytes | None) -> PackCertificate:
    data = source.certification.data
    return PackCertificate(
        certification_id=source.certification_id,
        heat_code=source.certification.heat_code or "",
        certificate_number=_text(data.get("certificate_number")),
        supplier_name=source.supplier_name,
        issued_date=_text(data.get("issued_date")),
        document_url=source.document_url,
        document=document,
        document_etag=source.document_etag,
        note=NOT_FETCHED if source.document_url and source.document_key is None else None,
    )


def too_large(exc: ValueError) -> PackTooLarge:
    return PackTooLarge(str(exc), [{"field": "orderId", "message": str(exc)}])


def _text(value: object) -> str | None:
    return str(value) if value else None
