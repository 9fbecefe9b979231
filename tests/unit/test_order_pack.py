"""documents/order_pack: the core's PackSource as certificate_pack's PackInput, and its limits as PackTooLarge."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.core.reference.service import ReferenceItem, RefKind
from chalicelib.documents import certificate_pack
from chalicelib.documents.order_pack import NOT_FETCHED, PdfPack, pack_certificate, pack_input
from chalicelib.features.certificates.packs import CertificateSource, PackLineSource, PackSource, PackTooLarge
from chalicelib.features.orders.model import LineItem, Order, OrderView

pytestmark = pytest.mark.disable_socket

T = "tenant-1"
OWN_KEY = f"certificates/{T}/H-1.pdf"


def certification(ref_id: str, heat: str, url: str | None) -> ReferenceItem:
    data: dict[str, object] = {"certificate_number": f"MC-{ref_id}", "issued_date": "2026-03-14"}
    if url:
        data["document_url"] = url
    return ReferenceItem(
        tenant_id=T, kind=RefKind.MILL_CERTIFICATION, ref_id=ref_id, label=heat, heat_code=heat, data=data
    )


def source(*certificates: CertificateSource, lines: int = 1) -> PackSource:
    order = Order(tenant_id=T, order_id="o-1", order_reference="SO-1", order_date=date(2026, 11, 2), site="Leeds")
    items = [
        LineItem(
            tenant_id=T,
            line_item_id=f"l-{n}",
            order_id="o-1",
            line_number=n,
            product_name=f"Bar {n}",
            quantity=Decimal(4),
            length=Decimal("6000"),
            weight=Decimal("12.5"),
        )
        for n in range(1, lines + 1)
    ]
    return PackSource(
        company_name="Demo Steel Ltd",
        view=OrderView(order, "Harbour Fabrication", items),
        lines=tuple(PackLineSource(item, ("H-1",), material_label="S355J2") for item in items),
        certificates=certificates,
        generated_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("url", "key", "note"),
    [
        ("https://mill.example/certs/H-1.pdf", None, NOT_FETCHED),  # a URL that is not ours
        (OWN_KEY, OWN_KEY, None),  # ours, whether or not the object exists
        (None, None, None),  # no document named at all
    ],
)
def test_only_a_url_that_is_not_our_key_is_noted_as_not_fetched(
    url: str | None, key: str | None, note: str | None
) -> None:
    certificate = pack_certificate(CertificateSource(certification("c-1", "H-1", url), document_key=key), None)

    assert certificate.note == note
    assert certificate.document_url == url


def test_the_pack_input_carries_the_order_lines_and_documents_by_certification_id() -> None:
    stored = CertificateSource(certification("c-1", "H-1", OWN_KEY), "Northern Mills", OWN_KEY, '"etag-1"', 3)

    pack = pack_input(source(stored), {"c-1": b"%PDF"})

    assert (pack.order_reference, pack.customer_name, pack.site) == ("SO-1", "Harbour Fabrication", "Leeds")
    (line,) = pack.lines
    assert line.heat_codes == ("H-1",)
    assert line.description == "S355J2, length 6000 mm, 12.5 kg"
    (certificate,) = pack.certificates
    assert (certificate.certificate_number, certificate.supplier_name) == ("MC-c-1", "Northern Mills")
    assert (certificate.document, certificate.document_etag, certificate.note) == (b"%PDF", '"etag-1"', None)


def test_a_pack_over_a_limit_is_pack_too_large_with_the_order_as_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificate_pack, "MAX_LINES", 2)

    with pytest.raises(PackTooLarge) as raised:
        PdfPack().check(source(lines=3))

    assert raised.value.details == [
        {"field": "orderId", "message": "a certificate pack holds at most 2 order lines; this order has 3"}
    ]
    PdfPack().check(source(lines=2))


def test_the_fingerprint_is_certificate_packs_and_the_document_limit_is_read_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renderer = PdfPack()
    assert renderer.fingerprint(source()) == certificate_pack.fingerprint(pack_input(source()))

    monkeypatch.setattr(certificate_pack, "MAX_DOCUMENT_BYTES", 123)

    assert renderer.max_document_bytes == 123
