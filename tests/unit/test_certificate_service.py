"""CertificatePackService with fakes: what a pack gathers, its cache, and which documents it may read.

The renderer is the real PDF one (documents/order_pack.PdfPack), wrapped to
count renders, so a fingerprint here is the fingerprint the route serves as ETag.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from chalicelib.core.errors import NotFound
from chalicelib.core.models import Reservation, StockRecord, Tenant
from chalicelib.core.reference.service import HEAT, ReferenceItem, RefKey, RefKind, Resolved
from chalicelib.documents.certificate_pack import NO_CERTIFICATES, NO_DOCUMENT, NOTHING_RESERVED
from chalicelib.documents.order_pack import NOT_FETCHED, PdfPack
from chalicelib.features.certificates.packs import (
    CertificatePackService,
    PackSource,
    PackTooLarge,
    StoredDocument,
    StoredObject,
    own_document_key,
    pack_key,
)
from chalicelib.features.orders.model import LineItem, Order, OrderView

pytestmark = pytest.mark.disable_socket

T = "tenant-1"
BUCKET = "stockroom-files"
OWN_KEY = f"certificates/{T}/H-100.pdf"
CERTIFIED = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def certificate_pdf(marker: str) -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(CERTIFIED)  # fpdf2 otherwise stamps the current second into the bytes
    pdf.set_font("helvetica", size=14)
    pdf.add_page()
    pdf.cell(0, 10, marker)
    return bytes(pdf.output())


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


# -- fakes ------------------------------------------------------------------------------------


@dataclass
class FakeOrders:
    views: dict[str, OrderView] = field(default_factory=dict)
    reservations: dict[str, list[Reservation]] = field(default_factory=dict)

    def get(self, tenant_id: str, order_id: str) -> OrderView:
        view = self.views.get(order_id)
        if view is None or view.order.tenant_id != tenant_id or not view.order.active:
            raise NotFound(f"order {order_id} not found")
        return view

    def reservations_of(self, tenant_id: str, order_id: str) -> list[Reservation]:
        return [r for r in self.reservations.get(order_id, []) if r.tenant_id == tenant_id]


@dataclass
class FakeRecords:
    records: dict[str, StockRecord] = field(default_factory=dict)
    calls: list[set[str]] = field(default_factory=list)

    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]:
        wanted = set(stock_ids)
        self.calls.append(wanted)
        return {s: r for s, r in self.records.items() if s in wanted and r.tenant_id == tenant_id}


@dataclass
class FakeReference:
    items: dict[str, ReferenceItem] = field(default_factory=dict)
    labels: dict[RefKey, str] = field(default_factory=dict)
    lookups: list[set[RefKey]] = field(default_factory=list)
    item_reads: list[set[str]] = field(default_factory=list)

    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]:
        wanted = list(ids)
        assert len(wanted) == len(set(wanted)), "a batched read must not repeat a key"
        self.item_reads.append(set(wanted))
        return {i: self.items[i] for i in wanted if i in self.items and self.items[i].kind == kind}

    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]:
        keys = set(wanted)
        self.lookups.append(keys)
        found: dict[RefKey, Resolved] = {}
        for kind, ref in keys:
            if kind == HEAT:
                match = [
                    i
                    for i in self.items.values()
                    if i.active and i.heat_code and i.heat_code.casefold() == ref.casefold()
                ]
                if match:
                    found[(kind, ref)] = Resolved(match[0].ref_id, None, True)
            elif (kind, ref) in self.labels:
                found[(kind, ref)] = Resolved(ref, self.labels[(kind, ref)], True)
        return found


@dataclass
class FakeTenants:
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return Tenant(tenant_id=tenant_id, name="Demo Steel Ltd")


@dataclass
class FakeCache:
    """Packs by key, and the bucket's other objects by key. Every read is recorded."""

    objects: dict[str, bytes] = field(default_factory=dict)
    packs: dict[str, bytes] = field(default_factory=dict)
    pack_reads: list[str] = field(default_factory=list)
    stats: list[set[str]] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def get(self, tenant_id: str, order_id: str, fingerprint: str) -> bytes | None:
        key = pack_key(tenant_id, order_id, fingerprint)
        self.pack_reads.append(key)
        return self.packs.get(key)

    def put(self, tenant_id: str, order_id: str, fingerprint: str, pdf: bytes) -> None:
        self.packs[pack_key(tenant_id, order_id, fingerprint)] = pdf

    def stat(self, keys: Iterable[str]) -> dict[str, StoredObject]:
        wanted = set(keys)
        self.stats.append(wanted)
        return {k: StoredObject(_etag(self.objects[k]), len(self.objects[k])) for k in wanted if k in self.objects}

    def document(self, key: str, max_bytes: int) -> StoredDocument | None:
        self.fetched.append(key)
        body = self.objects.get(key)
        return StoredDocument(body, _etag(body)) if body is not None and len(body) <= max_bytes else None

    def download_url(self, tenant_id: str, order_id: str, fingerprint: str, filename: str) -> str:
        return f"https://example.invalid/{pack_key(tenant_id, order_id, fingerprint)}"


def _etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


class CountingPdf(PdfPack):
    def __init__(self, limit: int | None = None) -> None:
        self.renders = 0
        self.sources: list[PackSource] = []
        self.documents: list[Mapping[str, bytes]] = []
        self._limit = limit

    @property
    def max_document_bytes(self) -> int:
        return self._limit if self._limit is not None else super().max_document_bytes

    def render(self, source: PackSource, documents: Mapping[str, bytes]) -> bytes:
        self.renders += 1
        self.sources.append(source)
        self.documents.append(documents)
        return super().render(source, documents)


# -- a world of one order ------------------------------------------------------------------


@dataclass
class World:
    orders: FakeOrders
    records: FakeRecords
    reference: FakeReference
    cache: FakeCache
    service: CertificatePackService
    renderer: CountingPdf

    def row(self, stock_id: str, heat_code: str | None, tenant: str = T) -> None:
        attributes = {"heat_code": heat_code} if heat_code else {}
        self.records.records[stock_id] = StockRecord(
            tenant_id=tenant, stock_id=stock_id, product_id="p", location_id="l", attributes=attributes
        )

    def reserve(self, line_id: str, stock_id: str, order_id: str = "o-1") -> Reservation:
        reservation = Reservation(
            tenant_id=T,
            stock_id=stock_id,
            product_id="p",
            location_id="l",
            quantity=Decimal(1),
            reference={"orderId": order_id, "orderReference": "SO-1", "lineItemId": line_id},
        )
        self.orders.reservations.setdefault(order_id, []).append(reservation)
        return reservation

    def certificate(self, ref_id: str, heat_code: str, url: str | None = None, supplier: str | None = None) -> None:
        data: dict[str, object] = {"certificate_number": f"MC-{ref_id}", "issued_date": "2026-03-14"}
        if url:
            data["document_url"] = url
        if supplier:
            data["supplier_id"] = supplier
        self.reference.items[ref_id] = ReferenceItem(
            tenant_id=T, kind=RefKind.MILL_CERTIFICATION, ref_id=ref_id, label=heat_code, heat_code=heat_code, data=data
        )

    def pack(self, if_none_match: Iterable[str] = ()) -> tuple[str, bytes | None, bool]:
        result = self.service.pack(T, "o-1", if_none_match)
        return result.fingerprint, result.pdf, result.from_cache


def line(line_id: str, number: int, **extra: object) -> LineItem:
    return LineItem(
        tenant_id=T,
        line_item_id=line_id,
        order_id="o-1",
        line_number=number,
        product_name=f"Round bar {number}",
        quantity=Decimal(4),
        **extra,
    )


@pytest.fixture
def world() -> World:
    order = Order(tenant_id=T, order_id="o-1", order_reference="SO-1", order_date=date(2026, 11, 2))
    view = OrderView(
        order,
        "Harbour Fabrication",
        [
            line("l-1", 1, type="type-1", material="mat-1", diameter=Decimal(50), certification_required=True),
            line("l-2", 2),
        ],
    )
    orders = FakeOrders(views={"o-1": view})
    records = FakeRecords()
    reference = FakeReference(
        labels={
            ("type", "type-1"): "Round bar",
            ("material", "mat-1"): "S355J2",
            ("organisation", "org-1"): "Northern Mills",
        }
    )
    cache = FakeCache()
    renderer = CountingPdf()
    service = CertificatePackService(orders, records, reference, FakeTenants(), cache, renderer, BUCKET)
    return World(orders, records, reference, cache, service, renderer)


# -- gathering --------------------------------------------------------------------------------


def test_gathers_the_heat_codes_reserved_against_each_line_and_their_certificates(world: World) -> None:
    world.row("s-1", "H-100")
    world.row("s-2", "H-200")
    world.row("s-3", "h-100")  # the same heat, spelled in another case
    world.row("s-4", None)  # reserved stock without a heat code
    world.row("s-9", "H-900")
    world.reserve("l-1", "s-1")
    world.reserve("l-1", "s-3")
    world.reserve("l-2", "s-2")
    world.reserve("l-2", "s-4")
    world.reserve("l-removed", "s-9")  # a line that is no longer active
    world.certificate("c-100", "H-100", supplier="org-1")
    world.certificate("c-200", "H-200")
    world.certificate("c-300", "H-300")  # on file, but not reserved for this order

    source = world.service.gather(T, "o-1")

    assert [(p.line.line_item_id, p.heat_codes) for p in source.lines] == [("l-1", ("H-100",)), ("l-2", ("H-200",))]
    assert sorted(c.certification_id for c in source.certificates) == ["c-100", "c-200"]
    by_id = {c.certification_id: c for c in source.certificates}
    assert by_id["c-100"].supplier_name == "Northern Mills"
    assert by_id["c-200"].supplier_name is None
    assert (source.lines[0].type_label, source.lines[0].material_label) == ("Round bar", "S355J2")
    assert source.company_name == "Demo Steel Ltd"
    # One batched read of the reserved rows, one of the certifications, and two label lookups in all.
    assert world.records.calls == [{"s-1", "s-2", "s-3", "s-4"}]
    assert world.reference.item_reads == [{"c-100", "c-200"}]
    assert len(world.reference.lookups) == 2
    assert {("heat", "H-100"), ("heat", "h-100"), ("heat", "H-200"), ("material", "mat-1")} <= (
        world.reference.lookups[0]
    )
    assert world.reference.lookups[1] == {("organisation", "org-1")}


def test_an_order_without_reservations_gets_a_cover_and_reads_no_stock(world: World) -> None:
    fingerprint, pdf, _ = world.pack()

    assert pdf is not None and pdf.startswith(b"%PDF")
    texts = pages_of(pdf)
    assert len(texts) == 1
    assert "SO-1" in texts[0]
    assert texts[0].count(NOTHING_RESERVED) == 2  # in the certificates and the missing heat codes sections
    assert NO_CERTIFICATES not in texts[0]
    assert world.records.calls == []
    assert world.cache.packs.keys() == {pack_key(T, "o-1", fingerprint)}


def test_a_missing_order_reads_nothing_else(world: World) -> None:
    with pytest.raises(NotFound):
        world.service.pack(T, "o-unknown")
    with pytest.raises(NotFound):
        world.service.pack("tenant-2", "o-1")

    assert world.cache.pack_reads == []
    assert world.renderer.renders == 0


# -- the cache --------------------------------------------------------------------------------


def test_a_cache_hit_does_not_render_or_fetch_documents(world: World) -> None:
    world.row("s-1", "H-100")
    world.reserve("l-1", "s-1")
    world.certificate("c-100", "H-100", url=OWN_KEY)
    world.cache.objects[OWN_KEY] = certificate_pdf("MILL CERT H-100")

    first, pdf, cached = world.pack()
    assert pdf is not None and not cached
    assert world.renderer.renders == 1
    assert world.cache.fetched == [OWN_KEY]
    cover = "".join(pages_of(pdf)[0].split())  # table cells wrap anywhere
    assert "Roundbar1(Roundbar,S355J2,diameter50mm)" in cover
    assert "MILL CERT H-100" in pages_of(pdf)[-1]

    second, again, cached = world.pack()

    assert cached
    assert second == first
    assert again == pdf
    assert world.renderer.renders == 1
    assert world.cache.fetched == [OWN_KEY]


def test_if_none_match_with_the_current_fingerprint_reads_no_pack(world: World) -> None:
    fingerprint, _, _ = world.pack()
    reads = len(world.cache.pack_reads)

    same, pdf, _ = world.pack(if_none_match={"other", fingerprint})

    assert same == fingerprint
    assert pdf is None
    assert len(world.cache.pack_reads) == reads


def test_every_change_of_what_the_pack_shows_gives_a_new_fingerprint(world: World) -> None:
    world.row("s-1", "H-100")
    world.row("s-2", "H-200")
    world.certificate("c-100", "H-100", url=OWN_KEY)
    world.cache.objects[OWN_KEY] = certificate_pdf("version one")
    empty, _, _ = world.pack()

    first_reservation = world.reserve("l-1", "s-1")
    reserved, _, _ = world.pack()
    world.reserve("l-2", "s-2")
    two_heats, _, _ = world.pack()
    world.cache.objects[OWN_KEY] = certificate_pdf("version two")  # the document is uploaded again
    new_document, pdf, cached = world.pack()
    world.orders.reservations["o-1"].remove(first_reservation)  # unreserve
    unreserved, _, _ = world.pack()

    assert len({empty, reserved, two_heats, new_document, unreserved}) == 5
    assert not cached
    assert pdf is not None and "version two" in pages_of(pdf)[-1]
    assert world.renderer.renders == 5


# -- where documents may come from --------------------------------------------------------------


def test_documents_outside_the_tenants_own_prefix_are_never_fetched(world: World) -> None:
    foreign = {
        "c-1": "https://mill.example/certs/H-1.pdf",
        "c-2": "http://169.254.169.254/latest/meta-data/",
        "c-3": f"s3://another-bucket/certificates/{T}/H-3.pdf",
        "c-4": "certificates/tenant-2/H-4.pdf",
        "c-5": f"https://{BUCKET}.s3.amazonaws.com/uploads/{T}/H-5.pdf",
        "c-6": f"certificates/{T}/../tenant-2/H-6.pdf",
    }
    for number, (ref_id, url) in enumerate(sorted(foreign.items()), start=1):
        world.row(f"s-{number}", f"H-{number}")
        world.reserve("l-1", f"s-{number}")
        world.certificate(ref_id, f"H-{number}", url=url)
        world.cache.objects[url] = b"%PDF must not be read"
    world.row("s-own", "H-100")
    world.reserve("l-2", "s-own")
    world.certificate("c-own", "H-100", url=f"s3://{BUCKET}/{OWN_KEY}")
    world.cache.objects[OWN_KEY] = certificate_pdf("OUR OWN COPY")

    _, pdf, _ = world.pack()

    assert world.cache.stats == [{OWN_KEY}]
    assert world.cache.fetched == [OWN_KEY]
    assert pdf is not None
    texts = pages_of(pdf)
    placeholders = [t for t in texts if "Certificate not included" in t]
    assert len(placeholders) == len(foreign)
    # Each says the document was not fetched, not that there is none.
    assert all(NOT_FETCHED in t.replace("\n", " ") for t in placeholders)
    assert not any(NO_DOCUMENT in t for t in placeholders)
    assert any("mill.example" in t for t in placeholders)
    assert any("OUR OWN COPY" in t for t in texts)


def test_an_own_document_missing_from_the_bucket_or_no_url_at_all_is_not_on_file(world: World) -> None:
    world.row("s-1", "H-100")
    world.row("s-2", "H-200")
    world.reserve("l-1", "s-1")
    world.reserve("l-2", "s-2")
    world.certificate("c-100", "H-100", url=OWN_KEY)  # ours, but nothing was uploaded there
    world.certificate("c-200", "H-200")  # no documentUrl

    _, pdf, _ = world.pack()

    assert world.cache.stats == [{OWN_KEY}]
    assert world.cache.fetched == []
    assert pdf is not None
    placeholders = [t for t in pages_of(pdf) if "Certificate not included" in t]
    assert len(placeholders) == 2
    assert all(NO_DOCUMENT in t and NOT_FETCHED not in t.replace("\n", " ") for t in placeholders)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (OWN_KEY, OWN_KEY),
        (f"  {OWN_KEY}  ", OWN_KEY),
        (f"s3://{BUCKET}/{OWN_KEY}", OWN_KEY),
        (f"https://{BUCKET}.s3.amazonaws.com/{OWN_KEY}", OWN_KEY),
        (f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/{OWN_KEY}?X-Amz-Signature=abc", OWN_KEY),
        (f"https://s3.eu-west-1.amazonaws.com/{BUCKET}/{OWN_KEY}", OWN_KEY),
        (f"https://{BUCKET}.s3.amazonaws.com/certificates/{T}/H%20100.pdf", f"certificates/{T}/H 100.pdf"),
        (f"http://{BUCKET}.s3.amazonaws.com/{OWN_KEY}", None),
        (f"https://{BUCKET}.s3.amazonaws.com:8443/{OWN_KEY}", None),
        (f"https://user@{BUCKET}.s3.amazonaws.com/{OWN_KEY}", None),
        (f"https://{BUCKET}.s3.amazonaws.com.evil.example/{OWN_KEY}", None),
        (f"https://evil-{BUCKET}.s3.amazonaws.com/{OWN_KEY}", None),
        (f"https://s3.amazonaws.com/other-bucket/{OWN_KEY}", None),
        (f"s3://other/{OWN_KEY}", None),
        (f"file:///{OWN_KEY}", None),
        ("certificates/tenant-2/H-1.pdf", None),
        (f"certificates/{T}", None),
        (f"certificates/{T}/", None),
        (f"certificates/{T}//x.pdf", None),
        (f"certificates/{T}/a/../../tenant-2/x.pdf", None),
        (f"certificates/{T}-other/x.pdf", None),
        (f"packs/{T}/o-1/abc.pdf", None),
        (f"certificates/{T}/x\n.pdf", None),
        ("", None),
        (None, None),
    ],
)
def test_only_keys_under_the_tenants_certificates_prefix_in_our_bucket_are_ours(
    url: str | None, key: str | None
) -> None:
    assert own_document_key(url, T, BUCKET) == key


def test_documents_over_the_limit_are_refused_before_any_is_read(world: World) -> None:
    world.row("s-1", "H-100")
    world.reserve("l-1", "s-1")
    world.certificate("c-100", "H-100", url=OWN_KEY)
    world.cache.objects[OWN_KEY] = certificate_pdf("BIG")
    small = CountingPdf(limit=100)
    service = CertificatePackService(
        world.orders, world.records, world.reference, FakeTenants(), world.cache, small, BUCKET
    )

    with pytest.raises(PackTooLarge) as raised:
        service.pack(T, "o-1")

    assert raised.value.details == [{"field": "orderId", "message": "certificate documents exceed 100 bytes"}]
    assert world.cache.fetched == []
    assert small.renders == 0
    assert world.cache.packs == {}
