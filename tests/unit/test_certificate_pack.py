"""The certificate pack PDF: cover, attached certificates, placeholders, fingerprint and limits.

Certificate PDFs are drawn here with fpdf2, each page carrying a marker text,
so a test can tell from the finished pack which page came from where. They
carry a fixed creation date: fpdf2 otherwise stamps the current second, and
two builds of one certificate across a second boundary would hash apart.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from chalicelib.documents import certificate_pack
from chalicelib.documents.certificate_pack import (
    ALL_CERTIFIED,
    NO_CERTIFICATES,
    NO_DOCUMENT,
    NOTHING_RESERVED,
    UNREADABLE,
    PackCertificate,
    PackInput,
    PackLine,
    fingerprint,
    fingerprint_input,
    pdf_text,
    render_pack,
    with_documents,
)

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[2]
GENERATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CERTIFIED = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
NOTE = "The document is held by the mill and was not fetched."


def certificate_pdf(marker: str, pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(CERTIFIED)
    pdf.set_font("helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"{marker} sheet {number}")
    return bytes(pdf.output())


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def cover_text(texts: list[str], attached: int) -> str:
    return "\n".join(texts[: len(texts) - attached])


def sections(cover: str) -> tuple[str, str]:
    """The cover's certificates section and its missing heat codes section."""
    after_certificates = cover.split("Mill certificates", 1)[1]
    certificates, missing = after_certificates.split("Heat codes without a certificate on file", 1)
    return certificates, missing


def line(number: int, product: str, heat_codes: list[str], quantity: str = "4", **extra: object) -> PackLine:
    return PackLine(number, product, Decimal(quantity), heat_codes, **extra)  # type: ignore[arg-type]


def certificate(cert_id: str, heat: str, number: str, document: bytes | None, **extra: object) -> PackCertificate:
    fields: dict[str, object] = {
        "supplier_name": "Northern Mills",
        "issued_date": date(2026, 3, 14),
        "document_url": f"s3://certs/{cert_id}.pdf",
        **extra,
    }
    return PackCertificate(cert_id, heat, number, document=document, **fields)  # type: ignore[arg-type]


def order(**changes: object) -> PackInput:
    pack = PackInput(
        company_name="Demo Steel Ltd",
        order_id="ord-77",
        order_reference="PO-2026-0415",
        generated_at=GENERATED,
        customer_name="Harbour Fabrication",
        order_date=date(2026, 11, 2),
        delivery_date=date(2026, 11, 30),
        site="Leeds yard",
        status="open",
        lines=[
            line(1, "Round bar S355J2 50mm", ["H23-001", "H23-002"], certification_required=True),
            line(2, "Flat bar S275 100x10", ["H23-003"], quantity="12.5", unit="m"),
            line(3, "Plate S355 20mm", ["H23-004"], required_heat_code="H23-004", certification_required=True),
        ],
        certificates=[
            certificate("c-1", "H23-001", "MC-1001", certificate_pdf("CERT-ONE", pages=2)),
            certificate("c-2", "H23-002", "MC-1002", certificate_pdf("CERT-TWO")),
            certificate("c-3", "H23-003", "MC-1003", certificate_pdf("CERT-THREE", pages=3)),
        ],
        missing_heat_codes=["H23-009"],
    )
    return dataclasses.replace(pack, **changes)  # type: ignore[arg-type]


# -- the pack as a PDF --------------------------------------------------------------------


def test_pack_is_the_cover_then_every_certificate_page_in_cover_order() -> None:
    texts = pages_of(render_pack(order()))

    attached = 2 + 1 + 3
    cover_pages = len(texts) - attached
    assert cover_pages == 1
    assert [t.strip() for t in texts[cover_pages:]] == [
        "CERT-ONE sheet 1",
        "CERT-ONE sheet 2",
        "CERT-TWO sheet 1",
        "CERT-THREE sheet 1",
        "CERT-THREE sheet 2",
        "CERT-THREE sheet 3",
    ]


def test_cover_lists_order_lines_heat_codes_certificates_and_missing_heat_codes() -> None:
    pack = order()
    texts = pages_of(render_pack(pack))
    cover = cover_text(texts, attached=6)

    for expected in ("PO-2026-0415", "ord-77", "Harbour Fabrication", "Leeds yard", "2026-11-02", "2026-11-30"):
        assert expected in cover
    for pack_line in pack.lines:
        assert pack_line.product_name in cover
    for heat in ("H23-001", "H23-002", "H23-003", "H23-004"):
        assert heat in cover
    for number in ("MC-1001", "MC-1002", "MC-1003"):
        assert number in cover
    assert "12.5 m" in cover
    missing_section = cover.split("Heat codes without a certificate on file")[1]
    # H23-004 is reserved but has no certificate; H23-009 was named missing by the caller.
    assert "H23-004" in missing_section
    assert "H23-009" in missing_section
    assert "H23-001" not in missing_section


def test_cover_tells_where_each_certificate_sits_and_which_required_ones_are_missing() -> None:
    cover = cover_text(pages_of(render_pack(order())), attached=6)

    # Cover is page 1: certificate one is pages 2-3, two is page 4, three is pages 5-7.
    assert "MC-1001 Northern Mills 2026-03-14 2-3" in cover
    assert "MC-1002 Northern Mills 2026-03-14 4" in cover
    assert "MC-1003 Northern Mills 2026-03-14 5-7" in cover
    lines = cover.splitlines()
    # Line 3 requires a certificate for H23-004 and there is none; line 1's heat codes are both certified.
    assert next(t for t in lines if t.startswith("3 Plate")).endswith("MISSING")
    assert next(t for t in lines if t.startswith("1 Round")).endswith("on file")
    assert next(t for t in lines if t.startswith("2 Flat")).endswith("not required")


def test_cover_pages_are_numbered_against_the_whole_pack() -> None:
    texts = pages_of(render_pack(order()))

    assert "Certificate pack PO-2026-0415 - page 1 of 7" in texts[0]


def test_certificates_follow_the_cover_order_whatever_order_they_arrive_in() -> None:
    pack = order()
    shuffled = dataclasses.replace(pack, certificates=list(reversed(pack.certificates)))

    assert pages_of(render_pack(shuffled))[1:] == pages_of(render_pack(pack))[1:]


def test_an_order_without_lines_or_certificates_is_one_cover_page_saying_so() -> None:
    texts = pages_of(
        render_pack(order(lines=[], certificates=[], missing_heat_codes=[], generated_at=datetime(2026, 1, 1)))
    )

    assert len(texts) == 1
    assert "This order has no lines." in texts[0]
    certificates, missing = sections(texts[0])
    assert NOTHING_RESERVED in certificates
    assert NOTHING_RESERVED in missing
    assert NO_CERTIFICATES not in texts[0]
    assert ALL_CERTIFIED not in texts[0]
    assert "page 1 of 1" in texts[0]


def test_lines_without_a_reserved_heat_code_make_the_cover_say_none_is_reserved() -> None:
    unreserved = [line(1, "Round bar S355J2 50mm", []), line(2, "Plate S355 20mm", [], certification_required=True)]

    cover = pages_of(render_pack(order(lines=unreserved, certificates=[], missing_heat_codes=[])))[0]

    assert "Round bar S355J2 50mm" in cover
    certificates, missing = sections(cover)
    assert NOTHING_RESERVED in certificates
    assert NOTHING_RESERVED in missing
    assert NO_CERTIFICATES not in cover
    assert ALL_CERTIFIED not in cover


def test_reserved_heat_codes_keep_the_usual_texts_of_empty_lists() -> None:
    reserved = [line(1, "Round bar S355J2 50mm", ["H23-001"])]
    uncertified = pages_of(render_pack(order(lines=reserved, certificates=[], missing_heat_codes=[])))[0]
    certified = order(lines=reserved, certificates=order().certificates[:1], missing_heat_codes=[])
    all_on_file = cover_text(pages_of(render_pack(certified)), attached=2)  # H23-001's certificate has 2 pages

    certificates, missing = sections(uncertified)
    assert NO_CERTIFICATES in certificates
    assert "H23-001" in missing
    _, missing = sections(all_on_file)
    assert ALL_CERTIFIED in missing
    assert NOTHING_RESERVED not in uncertified + all_on_file


# -- documents that cannot be attached ------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [b"this is not a pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer <<>>\n%%EOF", b""],
    ids=["text", "broken-pdf", "empty"],
)
def test_a_corrupt_certificate_gets_a_placeholder_page_and_the_rest_is_attached(document: bytes) -> None:
    pack = order()
    broken = dataclasses.replace(pack.certificates[1], document=document)
    pack = dataclasses.replace(pack, certificates=[pack.certificates[0], broken, pack.certificates[2]])

    texts = pages_of(render_pack(pack))

    assert len(texts) == 1 + 2 + 1 + 3
    placeholder = texts[3]
    assert "Certificate not included" in placeholder
    assert UNREADABLE in placeholder
    assert "MC-1002" in placeholder
    assert "s3://certs/c-2.pdf" in placeholder
    assert "page 4 of 7" in placeholder
    assert texts[2].strip() == "CERT-ONE sheet 2"
    assert texts[4].strip() == "CERT-THREE sheet 1"
    assert "4 (not included)" in texts[0]


def test_a_certificate_without_a_document_gets_a_placeholder_with_its_url() -> None:
    pack = order()
    url = "https://mill.example/certificates/" + "a1b2c3" * 40  # longer than a line: must wrap, not vanish
    missing = dataclasses.replace(pack.certificates[0], document=None, document_url=url)
    pack = dataclasses.replace(pack, certificates=[missing, *pack.certificates[1:]])

    texts = pages_of(render_pack(pack))

    assert len(texts) == 1 + 1 + 1 + 3
    assert NO_DOCUMENT in texts[1]
    assert url in texts[1].replace("\n", "")


def test_a_certificate_without_a_document_shows_its_note_instead_of_the_default_reason() -> None:
    pack = order()
    noted = dataclasses.replace(pack.certificates[1], document=None, note=NOTE)
    plain = dataclasses.replace(pack.certificates[2], document=None)

    texts = pages_of(render_pack(dataclasses.replace(pack, certificates=[pack.certificates[0], noted, plain])))

    assert len(texts) == 1 + 2 + 1 + 1
    assert "Certificate not included" in texts[3]
    assert NOTE in texts[3].replace("\n", " ")
    assert NO_DOCUMENT not in texts[3]
    assert "MC-1002" in texts[3]
    assert NO_DOCUMENT in texts[4]
    assert NOTE not in texts[4].replace("\n", " ")


def test_a_note_never_replaces_a_document_or_hides_that_it_is_unreadable() -> None:
    pack = order()
    attached = dataclasses.replace(pack.certificates[1], note=NOTE)
    broken = dataclasses.replace(pack.certificates[2], document=b"not a pdf", note=NOTE)

    texts = pages_of(render_pack(dataclasses.replace(pack, certificates=[attached, broken])))

    assert [t.strip() for t in texts[1:2]] == ["CERT-TWO sheet 1"]
    assert UNREADABLE in texts[2]
    assert NOTE not in texts[2].replace("\n", " ")


def test_a_password_protected_certificate_gets_a_placeholder() -> None:
    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="secret")
    locked.add_page()
    locked.set_font("helvetica", size=12)
    locked.cell(0, 10, "LOCKED")
    pack = order()
    pack = dataclasses.replace(
        pack, certificates=[dataclasses.replace(pack.certificates[1], document=bytes(locked.output()))]
    )

    texts = pages_of(render_pack(pack))

    assert len(texts) == 2
    assert UNREADABLE in texts[1]


# -- text and size -------------------------------------------------------------------------


def test_text_outside_latin1_renders_with_readable_substitutes() -> None:
    pack = order(
        customer_name="Łódź Stal — Zakład №2",
        lines=[line(1, "Stahl ≥ 3 Ø Rundstab", ["H-ü"]), line(2, "圆钢 Q235", ["H-2"])],
        certificates=[certificate("c-1", "H-ü", "Zeugnis “3.1”", certificate_pdf("CERT"), supplier_name="東京製鉄")],
    )

    cover = pages_of(render_pack(pack))[0]

    assert "Stahl >= 3 Ø Rundstab" in cover
    assert "H-ü" in cover
    assert 'Zeugnis "3.1"' in cover
    assert "Lódz Stal - Zaklad No2" in cover
    assert "?? Q235" in cover


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stahl ≥ 3 Ø", "Stahl >= 3 Ø"),
        ("⌀50 \u2013 60", "Ø50 - 60"),
        ("Škoda Łańcut", "Skoda Lancut"),
        ("line\nbreak\ttab", "line break tab"),
        ("東京", "??"),
        ("plain ascii & Latin-1: µ ° ±", "plain ascii & Latin-1: µ ° ±"),
    ],
)
def test_pdf_text_is_always_latin1(text: str, expected: str) -> None:
    assert pdf_text(text) == expected
    pdf_text(text).encode("latin-1")


def test_many_lines_flow_onto_further_cover_pages_with_the_header_repeated() -> None:
    lines = [line(n, f"Bar item {n:03d}", [f"H{n:03d}"]) for n in range(1, 301)]
    pack = order(lines=lines, certificates=[certificate("c-1", "H001", "MC-1", certificate_pdf("ONLY"))])

    texts = pages_of(render_pack(pack))

    cover_pages = len(texts) - 1
    assert cover_pages >= 4
    assert texts[-1].strip() == "ONLY sheet 1"
    cover = cover_text(texts, attached=1)
    for n in range(1, 301):
        assert f"Bar item {n:03d}" in cover
    for number, text in enumerate(texts[:cover_pages], start=1):
        assert f"page {number} of {len(texts)}" in text
    line_pages = [text for text in texts[:cover_pages] if "Bar item" in text]
    assert len(line_pages) >= 4
    for text in line_pages:
        assert "Reserved heat codes" in text  # the lines table header repeats on every page it spans
    # The page range of the certificate counts every cover page.
    assert f"MC-1 Northern Mills 2026-03-14 {cover_pages + 1}" in cover


def test_more_certificates_than_the_limit_are_refused() -> None:
    certificates = [
        certificate(f"c-{n}", f"H{n}", f"MC-{n}", None) for n in range(certificate_pack.MAX_CERTIFICATES + 1)
    ]

    with pytest.raises(ValueError, match=f"at most {certificate_pack.MAX_CERTIFICATES} certificates"):
        render_pack(order(certificates=certificates))


def test_documents_beyond_the_byte_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pack = order()
    total = sum(len(c.document or b"") for c in pack.certificates)
    monkeypatch.setattr(certificate_pack, "MAX_DOCUMENT_BYTES", total - 1)

    with pytest.raises(ValueError, match=f"total {total} bytes"):
        render_pack(pack)


def test_a_pack_with_more_pages_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificate_pack, "MAX_PAGES", 6)  # the pack has 1 cover + 6 certificate pages

    with pytest.raises(ValueError, match="7 pages; it holds at most 6"):
        render_pack(order())


def test_more_lines_than_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificate_pack, "MAX_LINES", 2)

    with pytest.raises(ValueError, match="at most 2 order lines; this order has 3"):
        render_pack(order())


# -- fingerprint ------------------------------------------------------------------------------


def test_fingerprint_is_a_sha256_hex_and_equal_for_equal_content() -> None:
    first = fingerprint(order())

    assert len(first) == 64
    assert int(first, 16) >= 0
    assert fingerprint(order()) == first


def test_fingerprint_ignores_when_the_pack_was_generated() -> None:
    assert fingerprint(order(generated_at=datetime(2030, 1, 1, tzinfo=UTC))) == fingerprint(order())


def test_the_pack_prints_when_it_was_generated_and_embeds_no_other_time() -> None:
    pack = order()
    later = dataclasses.replace(pack, generated_at=datetime(2030, 1, 1, tzinfo=UTC))

    first, again, other = render_pack(pack), render_pack(pack), render_pack(later)

    # Equal input gives equal bytes, however far apart the renders are: no clock is read.
    assert again == first
    assert other != first
    assert "2026-11-20T09:30:00" in pages_of(first)[0]
    assert "2030-01-01T00:00:00" in pages_of(other)[0]
    metadata = PdfReader(io.BytesIO(first)).metadata or {}
    assert "/CreationDate" not in metadata
    assert "/ModDate" not in metadata
    assert fingerprint(later) == fingerprint(pack)


def test_the_layout_version_is_part_of_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint(order())
    assert fingerprint_input(order())["layout"] == certificate_pack.LAYOUT_VERSION

    monkeypatch.setattr(certificate_pack, "LAYOUT_VERSION", certificate_pack.LAYOUT_VERSION + 1)

    assert fingerprint(order()) != before


def test_fingerprint_ignores_the_order_lists_arrive_in() -> None:
    pack = order()
    shuffled = order(
        lines=[dataclasses.replace(x, heat_codes=list(reversed(x.heat_codes))) for x in reversed(pack.lines)],
        certificates=list(reversed(pack.certificates)),
        missing_heat_codes=["H23-009", "H23-009"],
    )

    assert fingerprint(shuffled) == fingerprint(pack)


def test_fingerprint_changes_with_each_input_that_changes_the_pack() -> None:
    pack = order()
    base = fingerprint(pack)
    first_line, *other_lines = pack.lines
    first_cert, *other_certs = pack.certificates
    changed = [
        order(lines=[dataclasses.replace(first_line, heat_codes=["H23-001", "H23-777"]), *other_lines]),
        order(lines=[dataclasses.replace(first_line, quantity=Decimal("5")), *other_lines]),
        order(certificates=[dataclasses.replace(first_cert, document=certificate_pdf("OTHER")), *other_certs]),
        order(certificates=[dataclasses.replace(first_cert, document=None), *other_certs]),
        order(certificates=[dataclasses.replace(first_cert, certificate_number="MC-9999"), *other_certs]),
        order(certificates=[dataclasses.replace(first_cert, document=None, note=NOTE), *other_certs]),
        order(certificates=other_certs),
        order(missing_heat_codes=["H23-010"]),
        order(delivery_date=date(2026, 12, 1)),
        order(customer_name="Someone Else"),
        order(status="shipped"),
    ]

    prints = [fingerprint(p) for p in changed]
    assert base not in prints
    assert len(set(prints)) == len(prints)


def test_fingerprint_with_document_etags_needs_no_bytes_and_survives_filling_them_in() -> None:
    documents = {c.certification_id: c.document or b"" for c in order().certificates}
    tagged = order(
        certificates=[
            dataclasses.replace(c, document=None, document_etag=f'"etag-{c.certification_id}"')
            for c in order().certificates
        ]
    )

    fetched = with_documents(tagged, documents)

    assert all(c.document for c in fetched.certificates)
    assert fingerprint(fetched) == fingerprint(tagged)
    retagged = order(certificates=[dataclasses.replace(tagged.certificates[0], document_etag='"etag-new"')])
    assert fingerprint(retagged) != fingerprint(order(certificates=tagged.certificates[:1]))


def test_fingerprint_input_names_what_counts_and_leaves_out_generated_at_and_bytes() -> None:
    data = fingerprint_input(order())

    assert set(data) == {"layout", "order", "lines", "certificates", "missing_heat_codes"}
    assert "generated_at" not in data["order"]
    assert [x["line_number"] for x in data["lines"]] == [1, 2, 3]
    assert all(c["document"].startswith("sha256:") for c in data["certificates"])
    assert all(c["note"] is None for c in data["certificates"])
    assert data["missing_heat_codes"] == ["H23-004", "H23-009"]


# -- cold start ---------------------------------------------------------------------------------


def test_importing_the_module_loads_no_pdf_library() -> None:
    probe = (
        "import sys\nimport chalicelib.documents.certificate_pack\n"
        "print(sorted(m for m in ('fpdf', 'pypdf', 'PIL', 'fontTools') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "[]"


def test_importing_the_app_loads_no_document_module_or_pdf_library() -> None:
    # The route gets its renderer from the wiring, which imports chalicelib.documents on the first pack request.
    probe = (
        "import sys\nimport app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fpdf', 'pypdf', 'PIL', 'fontTools')"
        " or m.startswith('chalicelib.documents')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"
