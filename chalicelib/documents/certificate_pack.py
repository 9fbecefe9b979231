"""The order certificate pack: one PDF of a cover page and the mill certificates.

The cover lists the order, its lines with the heat codes reserved against
them, the certificates on file and the heat codes that have none. After it
come the certificates' own PDFs, page for page, in the cover's order. A
certificate whose document is missing or unreadable gets one placeholder page
instead, so one bad upload never costs the whole pack; the page says why (the
certificate's `note` when the caller gives one, e.g. a document it would not
fetch). When no line has a reserved heat code the cover says so in place of
the certificate and missing lists' usual empty texts.

Order of everything in the pack, and so in the fingerprint, is canonical:
lines by line number, heat codes sorted, certificates by (heat code,
certificate number, id). PackInput sorts them when it is built, so the order
the caller lists them in never matters.

`fingerprint(pack)` is the cache key of a rendered pack. It is the sha256 of
`fingerprint_input(pack)`, which holds every field the cover shows (order
fields, every line field, every certificate field with its note, the missing
heat codes), each certificate's document identity (its `document_etag` when
given, otherwise the sha256 of its bytes, otherwise "none") and
LAYOUT_VERSION. It leaves out `generated_at`, the only field that changes
between two renders of the same content: the cover prints it, and the pack
carries no other time (fpdf2's creation date is set to it, and pypdf's joined
document keeps no creation date), so equal input renders equal bytes. With
`document_etag` set the fingerprint can be worked out before any document is
downloaded, and it stays the same once the bytes are filled in.

Limits (`check_limits`) keep a pack inside Lambda memory: MAX_LINES lines,
MAX_CERTIFICATES certificates, MAX_DOCUMENT_BYTES of certificate documents in
all, MAX_PAGES pages in the finished pack. Past the first three `render_pack`
raises ValueError before it reads a document; past the page limit, as soon
as the documents are read (and again once the cover's own pages are known).

fpdf2 draws the cover and placeholders, pypdf reads and joins the PDFs. Both
are imported inside functions: importing this module loads neither.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.core.imports.csvcells import number, timestamp

if TYPE_CHECKING:
    from fpdf import FPDF
    from pypdf import PageObject, PdfReader

# Bump when what a pack shows changes for the same input, so cached packs are rendered again.
# 2: a certificate's note on its placeholder page; the cover's text for an order with no reserved heat code.
LAYOUT_VERSION = 2
MAX_LINES = 1000
MAX_CERTIFICATES = 200
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_PAGES = 2000

NO_DOCUMENT = "No document is on file for this certificate."
UNREADABLE = "The document on file is not a readable PDF."
NO_CERTIFICATES = "No certificates are on file for the heat codes of this order."
ALL_CERTIFIED = "None: every heat code has a certificate on file."
NOTHING_RESERVED = "No heat codes are reserved against this order."

DateLike = date | str | None  # a datetime is a date too


@dataclass(frozen=True)
class PackLine:
    line_number: int
    product_name: str
    quantity: Decimal | int
    heat_codes: Sequence[str] = ()  # heat codes reserved against the line
    required_heat_code: str | None = None
    certification_required: bool = False
    unit: str | None = None
    description: str | None = None  # material, dimensions: whatever identifies the product further

    def __post_init__(self) -> None:
        object.__setattr__(self, "heat_codes", tuple(sorted(set(self.heat_codes))))


@dataclass(frozen=True)
class PackCertificate:
    certification_id: str
    heat_code: str
    certificate_number: str | None = None
    supplier_name: str | None = None
    issued_date: DateLike = None
    document_url: str | None = None
    document: bytes | None = field(default=None, repr=False)  # the certificate's own PDF, when we have it
    document_etag: str | None = None  # the stored document's ETag: lets the fingerprint skip the bytes
    note: str | None = None  # why there is no document, on its placeholder page (NO_DOCUMENT when not given)


@dataclass(frozen=True)
class PackInput:
    company_name: str
    order_id: str
    order_reference: str
    generated_at: datetime
    customer_name: str | None = None
    order_date: DateLike = None
    delivery_date: DateLike = None
    site: str | None = None
    status: str | None = None
    lines: Sequence[PackLine] = ()
    certificates: Sequence[PackCertificate] = ()
    # Heat codes the caller knows have no certificate (a required heat code, say). Reserved heat codes
    # without a certificate in `certificates` are added to the cover's list whether or not they are here.
    missing_heat_codes: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(sorted(self.lines, key=_line_order)))
        object.__setattr__(self, "certificates", tuple(sorted(self.certificates, key=_certificate_order)))
        object.__setattr__(self, "missing_heat_codes", tuple(sorted(set(self.missing_heat_codes))))


def _line_order(line: PackLine) -> tuple[int, str, str, str, tuple[str, ...]]:
    # Every shown field after the number, so even two lines with one number sort the same whatever came first.
    return (line.line_number, line.product_name, line.description or "", number(line.quantity), tuple(line.heat_codes))


def _certificate_order(certificate: PackCertificate) -> tuple[str, str, str]:
    return (certificate.heat_code, certificate.certificate_number or "", certificate.certification_id)


# -- what the cover says ---------------------------------------------------------


def has_reserved_heat_codes(pack: PackInput) -> bool:
    return any(line.heat_codes for line in pack.lines)


def missing_heat_codes(pack: PackInput) -> list[str]:
    """Heat codes with no certificate on file: the caller's list plus reserved ones without a certificate."""
    certified = {c.heat_code for c in pack.certificates}
    reserved = {code for line in pack.lines for code in line.heat_codes}
    return sorted((reserved - certified) | set(pack.missing_heat_codes))


def _date_text(value: DateLike) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timestamp(value)
    return value.isoformat() if isinstance(value, date) else value


def _quantity_text(line: PackLine) -> str:
    return f"{number(line.quantity)} {line.unit}" if line.unit else number(line.quantity)


def _certificate_status(line: PackLine, certified: set[str]) -> str:
    if not line.certification_required:
        return "not required"
    wanted = set(line.heat_codes) | ({line.required_heat_code} if line.required_heat_code else set())
    return "on file" if wanted and wanted <= certified else "MISSING"


# -- fingerprint -------------------------------------------------------------------


def _document_identity(certificate: PackCertificate) -> str:
    if certificate.document_etag:
        return f"etag:{certificate.document_etag}"
    if certificate.document is not None:
        return f"sha256:{hashlib.sha256(certificate.document).hexdigest()}"
    return "none"


def fingerprint_input(pack: PackInput) -> dict[str, Any]:
    """Everything that changes the pack's content, in canonical order and as plain JSON values."""
    return {
        "layout": LAYOUT_VERSION,
        "order": {
            "company_name": pack.company_name,
            "order_id": pack.order_id,
            "order_reference": pack.order_reference,
            "customer_name": pack.customer_name,
            "order_date": _date_text(pack.order_date),
            "delivery_date": _date_text(pack.delivery_date),
            "site": pack.site,
            "status": pack.status,
        },
        "lines": [
            {
                "line_number": line.line_number,
                "product_name": line.product_name,
                "description": line.description,
                "quantity": number(line.quantity),
                "unit": line.unit,
                "heat_codes": list(line.heat_codes),
                "required_heat_code": line.required_heat_code,
                "certification_required": line.certification_required,
            }
            for line in pack.lines
        ],
        "certificates": [
            {
                "certification_id": c.certification_id,
                "heat_code": c.heat_code,
                "certificate_number": c.certificate_number,
                "supplier_name": c.supplier_name,
                "issued_date": _date_text(c.issued_date),
                "document_url": c.document_url,
                "document": _document_identity(c),
                "note": c.note,
            }
            for c in pack.certificates
        ],
        "missing_heat_codes": missing_heat_codes(pack),
    }


def fingerprint(pack: PackInput) -> str:
    """sha256 hex of fingerprint_input: equal for packs with equal content, whenever they were generated."""
    canonical = json.dumps(fingerprint_input(pack), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- limits --------------------------------------------------------------------------


def check_limits(pack: PackInput) -> None:
    """Refuse a pack that could exhaust Lambda memory. Pages are counted later, once documents are read."""
    if len(pack.lines) > MAX_LINES:
        raise ValueError(f"a certificate pack holds at most {MAX_LINES} order lines; this order has {len(pack.lines)}")
    if len(pack.certificates) > MAX_CERTIFICATES:
        raise ValueError(
            f"a certificate pack holds at most {MAX_CERTIFICATES} certificates; this order has {len(pack.certificates)}"
        )
    total = sum(len(c.document) for c in pack.certificates if c.document is not None)
    if total > MAX_DOCUMENT_BYTES:
        raise ValueError(
            f"certificate documents total {total} bytes; a certificate pack holds at most {MAX_DOCUMENT_BYTES}"
        )


# -- text a core font can draw -------------------------------------------------------

# Common symbols outside Latin-1 in steel descriptions and supplier names, spelled in Latin-1.
SPELLED = {
    "\u2265": ">=",  # greater-than or equal to
    "\u2264": "<=",
    "\u2260": "!=",
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2018": "'",  # curly quotes
    "\u2019": "'",
    "\u201a": ",",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2026": "...",
    "\u2022": "*",  # bullet
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u2192": "->",
    "\u2300": "\u00d8",  # diameter sign: the Latin-1 O with stroke that drawings use for it
    "\u2205": "\u00d8",  # empty set, often typed for a diameter
    # Letters that Unicode does not decompose into a base letter and an accent.
    "\u0141": "L",  # Polish L with stroke
    "\u0142": "l",
    "\u0110": "D",  # D with stroke
    "\u0111": "d",
    "\u0126": "H",
    "\u0127": "h",
    "\u0131": "i",  # dotless i
    "\u0152": "OE",
    "\u0153": "oe",
    "\u1e9e": "SS",  # capital sharp s
}


def _latin1_char(char: str) -> str:
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return " "  # control characters: a newline in a name must not break the table
    if code <= 0xFF:
        return char
    if char in SPELLED:
        return SPELLED[char]
    # Letters with accents outside Latin-1 (č, ś, ő) keep their base letter.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(0x20 <= ord(c) <= 0xFF for c in base):
        return base
    return "?"


def pdf_text(text: str | None) -> str:
    """Text the PDF core fonts (Latin-1) can draw: symbols spelled out, anything else replaced, never an error."""
    return "".join(_latin1_char(c) for c in text) if text else ""


# -- reading certificate documents ---------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A certificate as it goes into the pack: its pages, or the reason for a placeholder."""

    certificate: PackCertificate
    reader: PdfReader | None
    problem: str

    @property
    def page_count(self) -> int:
        return len(self.reader.pages) if self.reader is not None else 1


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    from pypdf.errors import PyPdfError

    # What pypdf raises on damaged or hostile input besides its own errors: the PDF is untrusted data,
    # so every parse failure means "placeholder", never a failed pack. MemoryError is left to surface.
    return (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OSError)


def read_document(document: bytes) -> PdfReader | None:
    """The document's pages, rewritten through pypdf so any damage shows now, or None if it is not a usable PDF."""
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(document), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        copy = PdfWriter()
        for page in reader.pages:
            copy.add_page(page)
        if not copy.pages:
            return None
        # pypdf reads lazily: writing the copy resolves every object, so a broken one fails here,
        # for this certificate alone, and not while the whole pack is written.
        buffer = io.BytesIO()
        copy.write(buffer)
        return PdfReader(buffer)
    except _unreadable_errors():
        return None


def attach(certificate: PackCertificate) -> Attachment:
    if certificate.document is None:
        return Attachment(certificate, None, certificate.note or NO_DOCUMENT)
    reader = read_document(certificate.document)
    return Attachment(certificate, reader, "" if reader is not None else UNREADABLE)


# -- drawing -----------------------------------------------------------------------------

MARGIN = 15
BODY = 9
FOOTER_TEXT = "Certificate pack {reference} - page {page} of {total}"


def _new_document(pack: PackInput, first_page: int, total_pages: int) -> FPDF:
    """An A4 document whose every page carries the pack's page number in its footer."""
    from fpdf import FPDF

    reference = pdf_text(pack.order_reference)

    class PackDocument(FPDF):
        def footer(self) -> None:
            self.set_y(-MARGIN + 3)
            self.set_font("helvetica", size=8)
            page = first_page + self.page_no() - 1
            self.cell(0, 5, FOOTER_TEXT.format(reference=reference, page=page, total=total_pages), align="C")

    pdf = PackDocument(orientation="portrait", unit="mm", format="A4")
    pdf.alias_nb_pages("")  # order data may contain "{nb}"; page totals are worked out here
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN + 5)
    pdf.set_creation_date(pack.generated_at)
    pdf.set_title(pdf_text(f"Certificate pack {pack.order_reference}"))
    pdf.set_author(pdf_text(pack.company_name))
    return pdf


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    pdf.set_font("helvetica", style="B", size=12)
    pdf.cell(0, 8, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=BODY)


def _table(pdf: FPDF, widths: tuple[int, ...], header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A bordered table whose rows flow onto further pages, header repeated on each."""
    _draw_table(pdf, widths, [header, *rows], headings=True)


def _fields(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    """Label and value pairs, a table without a header row."""
    _draw_table(pdf, (1, 3), rows, headings=False)


def _draw_table(pdf: FPDF, widths: tuple[int, ...], rows: Iterable[Sequence[str]], headings: bool) -> None:
    from fpdf.enums import WrapMode

    pdf.set_font("helvetica", size=BODY)
    # WrapMode.CHAR: a heat code or URL longer than its column breaks instead of overflowing the border.
    with pdf.table(
        col_widths=widths, text_align="LEFT", line_height=5, wrapmode=WrapMode.CHAR, first_row_as_headings=headings
    ) as table:
        for values in rows:
            table.row([pdf_text(v) for v in values])


def _draw_order(pdf: FPDF, pack: PackInput) -> None:
    pdf.set_font("helvetica", style="B", size=16)
    pdf.cell(0, 10, "Certificate pack", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    pdf.cell(0, 6, pdf_text(pack.company_name), new_x="LMARGIN", new_y="NEXT")
    fields = [
        ("Order reference", pack.order_reference),
        ("Order ID", pack.order_id),
        ("Customer", pack.customer_name or ""),
        ("Order date", _date_text(pack.order_date)),
        ("Delivery date", _date_text(pack.delivery_date)),
        ("Site", pack.site or ""),
        ("Status", pack.status or ""),
        ("Generated", timestamp(pack.generated_at)),
    ]
    _heading(pdf, "Order")
    _fields(pdf, fields)


def _draw_lines(pdf: FPDF, pack: PackInput) -> None:
    _heading(pdf, "Order lines")
    if not pack.lines:
        pdf.cell(0, 6, "This order has no lines.", new_x="LMARGIN", new_y="NEXT")
        return
    certified = {c.heat_code for c in pack.certificates}
    rows = (
        (
            str(line.line_number),
            f"{line.product_name} ({line.description})" if line.description else line.product_name,
            _quantity_text(line),
            ", ".join(line.heat_codes),
            line.required_heat_code or "",
            _certificate_status(line, certified),
        )
        for line in pack.lines
    )
    header = ("Line", "Product", "Quantity", "Reserved heat codes", "Required heat", "Certificate")
    _table(pdf, (5, 30, 12, 25, 14, 14), header, rows)


def _page_range(first: int, count: int) -> str:
    return str(first) if count == 1 else f"{first}-{first + count - 1}"


def _draw_certificates(pdf: FPDF, pack: PackInput, attachments: Sequence[Attachment], first_page: int) -> None:
    _heading(pdf, "Mill certificates")
    if not attachments:
        text = NO_CERTIFICATES if has_reserved_heat_codes(pack) else NOTHING_RESERVED
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        return
    rows = []
    page = first_page
    for item in attachments:
        c = item.certificate
        pages = _page_range(page, item.page_count) + (" (not included)" if item.reader is None else "")
        rows.append((c.heat_code, c.certificate_number or "", c.supplier_name or "", _date_text(c.issued_date), pages))
        page += item.page_count
    _table(pdf, (20, 25, 30, 15, 15), ("Heat code", "Certificate no.", "Supplier", "Issued", "Pages"), rows)


def _draw_missing(pdf: FPDF, pack: PackInput) -> None:
    from fpdf.enums import WrapMode

    _heading(pdf, "Heat codes without a certificate on file")
    missing = missing_heat_codes(pack)
    if not missing:
        text = ALL_CERTIFIED if has_reserved_heat_codes(pack) else NOTHING_RESERVED
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        return
    # One paragraph, not a table: an order with hundreds of uncertified heats keeps a short cover.
    pdf.multi_cell(0, 5, pdf_text(", ".join(missing)), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)


def _render_cover(pack: PackInput, attachments: Sequence[Attachment], cover_pages: int, attached: int) -> FPDF:
    pdf = _new_document(pack, first_page=1, total_pages=cover_pages + attached)
    pdf.add_page()
    _draw_order(pdf, pack)
    _draw_lines(pdf, pack)
    _draw_certificates(pdf, pack, attachments, first_page=cover_pages + 1)
    _draw_missing(pdf, pack)
    return pdf


def _guess_cover_pages(pack: PackInput, attachments: Sequence[Attachment]) -> int:
    # Only a first guess (about 50 table rows a page) that spares a second drawing of a long cover;
    # `cover` checks it against the drawn count and draws again when it was wrong.
    rows = len(pack.lines) + len(attachments) + len(missing_heat_codes(pack)) + 20
    return 1 + rows // 50


def cover(pack: PackInput, attachments: Sequence[Attachment]) -> bytes:
    """The cover pages. Drawn again if the first guess of their own count was wrong, so page numbers are true."""
    attached = sum(a.page_count for a in attachments)
    cover_pages = _guess_cover_pages(pack, attachments)
    for _ in range(4):
        pdf = _render_cover(pack, attachments, cover_pages, attached)
        if pdf.pages_count == cover_pages:
            break
        # Page numbers are short fixed-width cells, so the second drawing has the count the first found.
        cover_pages = pdf.pages_count
    _check_pages(cover_pages + attached)
    return bytes(pdf.output())


def _draw_placeholder(pdf: FPDF, item: Attachment) -> None:
    c = item.certificate
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=16)
    pdf.cell(0, 10, "Certificate not included", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, pdf_text(item.problem), new_x="LMARGIN", new_y="NEXT")
    fields = [
        ("Heat code", c.heat_code),
        ("Certificate no.", c.certificate_number or ""),
        ("Supplier", c.supplier_name or ""),
        ("Issued", _date_text(c.issued_date)),
        ("Document URL", c.document_url or "(none)"),
        ("Certification ID", c.certification_id),
    ]
    _heading(pdf, "Certificate")
    _fields(pdf, fields)


def _check_pages(total: int) -> None:
    if total > MAX_PAGES:
        raise ValueError(f"the certificate pack would have {total} pages; it holds at most {MAX_PAGES}")


# -- the pack --------------------------------------------------------------------------


def render_pack(pack: PackInput) -> bytes:
    """The whole pack as PDF bytes: cover pages, then each certificate's pages or its placeholder."""
    from pypdf import PdfReader, PdfWriter

    check_limits(pack)
    attachments = [attach(c) for c in pack.certificates]
    attached = sum(a.page_count for a in attachments)
    _check_pages(1 + attached)  # before drawing anything: the cover has at least one page
    cover_pdf = PdfReader(io.BytesIO(cover(pack, attachments)))
    first = len(cover_pdf.pages) + 1
    filler = iter(_placeholder_pages(pack, attachments, first, total=first - 1 + attached))

    writer = PdfWriter()
    for page in cover_pdf.pages:
        writer.add_page(page)
    writer.add_outline_item(title="Cover", page_number=0)
    for item in attachments:
        start = len(writer.pages)
        for page in item.reader.pages if item.reader is not None else [next(filler)]:
            writer.add_page(page)
        writer.add_outline_item(title=_outline_title(item.certificate), page_number=start)
    writer.add_metadata({"/Title": f"Certificate pack {pack.order_reference}", "/Author": pack.company_name})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _placeholder_pages(pack: PackInput, attachments: Sequence[Attachment], first: int, total: int) -> list[PageObject]:
    """One placeholder page per certificate without a usable document, numbered where it sits in the pack."""
    from pypdf import PdfReader

    pages: list[PageObject] = []
    page_number = first
    for item in attachments:
        if item.reader is None:
            # One small document each, because each footer starts its count at its own place in the pack.
            pdf = _new_document(pack, first_page=page_number, total_pages=total)
            _draw_placeholder(pdf, item)
            pages.extend(PdfReader(io.BytesIO(bytes(pdf.output()))).pages)
        page_number += item.page_count
    return pages


def _outline_title(certificate: PackCertificate) -> str:
    number_text = f" / {certificate.certificate_number}" if certificate.certificate_number else ""
    return f"Heat {certificate.heat_code}{number_text}"


def with_documents(pack: PackInput, documents: dict[str, bytes]) -> PackInput:
    """The pack with each certificate's document filled in by certification id (the route's fetch result)."""
    certificates = [replace(c, document=documents.get(c.certification_id, c.document)) for c in pack.certificates]
    return replace(pack, certificates=certificates)


__all__ = [
    "LAYOUT_VERSION",
    "MAX_CERTIFICATES",
    "MAX_DOCUMENT_BYTES",
    "MAX_LINES",
    "MAX_PAGES",
    "PackCertificate",
    "PackInput",
    "PackLine",
    "check_limits",
    "fingerprint",
    "fingerprint_input",
    "pdf_text",
    "render_pack",
    "with_documents",
]
