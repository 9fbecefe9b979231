"""GET /companies/{companyId}/orders/{orderId}/certificate-pack through the real app on moto.

A mill certification whose document is uploaded into the bucket, an inventory
row with its heat code, an order line reserved against it: the pack is a PDF
with a cover and the certificate's pages, cached in S3 under its fingerprint,
served again without rendering, and a new one once a reservation changes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client
from fpdf import FPDF
from pypdf import PdfReader

from chalicelib import wiring
from chalicelib.core import exports
from chalicelib.core.models import SYSTEM
from chalicelib.documents import certificate_pack
from chalicelib.documents.order_pack import NOT_FETCHED
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client, on_call
from tests.integration.company import Company, Refs, make_company

pytestmark = pytest.mark.shared_aws

EVERYTHING = ("admin", "inventory.read", "inventory.write", "orders.read", "orders.write")
HEAT = "H-77"
REFERENCE = "PO 2026/0415"
PDF_HEADERS = {"Accept": "application/pdf"}


def certificate_pdf(marker: str, pages: int = 2) -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))  # not the current second: equal input, equal bytes
    pdf.set_font("helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"{marker} sheet {number}")
    return bytes(pdf.output())


def texts_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def upload(key: str, body: bytes) -> None:
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=body, ContentType="application/pdf")


class PackShop:
    """A company with a certified heat in stock and an order line reserved against it."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.refs = Refs(company)  # also files a certification for heat H-1, without a document
        self.document_key = f"certificates/{company.id}/{HEAT}.pdf"
        upload(self.document_key, certificate_pdf(f"MILL CERT {HEAT}"))
        certification = {
            "heatCode": HEAT,
            "certificateNumber": "MC-3.1-0077",
            "supplierId": self.refs.supplier,
            "issuedDate": "2026-03-14",
            "documentUrl": f"s3://{get_settings().bucket}/{self.document_key}",
        }
        company.ok("POST", "/mill-certifications", [certification], 201)
        self.certified = self.stock(HEAT)
        self.uncertified = self.stock("H-1")
        line = {"productName": "Round bar 50mm", "quantity": "4", "certificationRequired": True}
        self.order = company.ok("POST", "/orders", [{"orderReference": REFERENCE, "lineItems": [line]}], 201)[0]
        self.line_id = self.order["lineItems"][0]["lineItemId"]
        self.reserve(self.certified)

    @property
    def path(self) -> str:
        return f"/orders/{self.order['orderId']}/certificate-pack"

    def stock(self, heat_code: str) -> str:
        item = self.company.ok("POST", "/inventory", [self.refs.item(heatCode=heat_code, quantity="4")], 201)[0]
        stock_id: str = item["inventoryId"]
        return stock_id

    def reserve(self, stock_id: str) -> None:
        path = f"/orders/{self.order['orderId']}/line-items/{self.line_id}/reserve"
        self.company.ok("POST", f"{path}?inventoryId={stock_id}&reserveQuantity=4&split=0")

    def unreserve(self, stock_id: str) -> None:
        self.company.ok("DELETE", f"/orders/{self.order['orderId']}/line-items/{self.line_id}/reservations/{stock_id}")

    def get(self, headers: dict[str, str] | None = None, path: str | None = None) -> Any:
        return self.company.call("GET", path or self.path, headers={**PDF_HEADERS, **(headers or {})})


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme Steel", EVERYTHING)


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other", EVERYTHING)


@pytest.fixture
def shop(acme: Company) -> PackShop:
    return PackShop(acme)


@pytest.fixture
def s3_calls() -> Iterator[list[str]]:
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation) if service == "s3" else None)
    yield calls
    stop()


def etag_of(response: Any) -> str:
    etag = str(response.headers["ETag"])
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag), etag
    return etag


# -- the pack ---------------------------------------------------------------------------------


def test_the_pack_is_a_pdf_of_a_cover_and_the_certificates_pages(shop: PackShop) -> None:
    response = shop.get()

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="certificate-pack-PO_2026_0415.pdf"'
    assert response.body.startswith(b"%PDF")
    texts = texts_of(response.body)
    assert len(texts) == 1 + 2
    cover = texts[0]
    for expected in (REFERENCE, shop.order["orderId"], "Acme Steel", "Round bar 50mm", HEAT, "MC-3.1-0077"):
        assert expected in cover
    assert "Steel Co" in cover  # the supplier's name, resolved
    assert [t.strip() for t in texts[1:]] == [f"MILL CERT {HEAT} sheet 1", f"MILL CERT {HEAT} sheet 2"]
    # H-1 is on file too, but nothing of this order is reserved from it.
    assert "H-1" not in cover


def test_the_pack_is_cached_in_s3_under_its_fingerprint(shop: PackShop) -> None:
    response = shop.get()
    fingerprint = etag_of(response).strip('"')

    key = f"packs/{shop.company.id}/{shop.order['orderId']}/{fingerprint}.pdf"
    stored = client("s3").get_object(Bucket=get_settings().bucket, Key=key)
    assert stored["ContentType"] == "application/pdf"
    assert stored["Body"].read() == response.body


def test_a_second_get_is_served_from_the_cache_without_rendering(
    shop: PackShop, s3_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = shop.get()
    assert first.status_code == 200
    assert s3_calls.count("PutObject") == 1

    def no_render(*_: object, **__: object) -> bytes:
        raise AssertionError("a cached pack must not be rendered again")

    monkeypatch.setattr(certificate_pack, "render_pack", no_render)
    s3_calls.clear()
    second = shop.get()

    assert second.status_code == 200, second.body
    assert second.body == first.body
    assert etag_of(second) == etag_of(first)
    assert "PutObject" not in s3_calls
    # The certificate document is looked at (HEAD, for its ETag) but not downloaded again.
    assert s3_calls.count("GetObject") == 1  # the cached pack itself
    assert s3_calls.count("HeadObject") == 1


def test_changing_the_reservations_or_the_document_gives_a_new_pack(shop: PackShop) -> None:
    reserved = shop.get()

    shop.unreserve(shop.certified)
    unreserved = shop.get()
    shop.reserve(shop.uncertified)
    other_heat = shop.get()
    shop.reserve(shop.certified)
    upload(shop.document_key, certificate_pdf("REISSUED", pages=1))
    reissued = shop.get()

    etags = [etag_of(r) for r in (reserved, unreserved, other_heat, reissued)]
    assert len(set(etags)) == 4
    assert len(texts_of(unreserved.body)) == 1  # the cover alone: no heat code is reserved
    assert texts_of(unreserved.body)[0].count(certificate_pack.NOTHING_RESERVED) == 2
    # H-1's certification has no document: it is listed, with a placeholder page.
    placeholder = texts_of(other_heat.body)[1]
    assert "Certificate not included" in placeholder
    assert "H-1" in placeholder
    assert any("REISSUED" in t for t in texts_of(reissued.body))


def test_if_none_match_with_the_etag_is_a_304_without_a_body(shop: PackShop) -> None:
    etag = etag_of(shop.get())

    for header in (etag, f"W/{etag}", f'"something-else", {etag}'):
        response = shop.get({"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.body == b""
        assert response.headers["ETag"] == etag

    stale = shop.get({"If-None-Match": '"0000"'})
    assert stale.status_code == 200
    assert stale.body.startswith(b"%PDF")


def test_a_pack_too_big_to_answer_inline_is_handed_out_as_a_download_url(
    shop: PackShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 100)

    response = shop.get()

    assert response.status_code == 303, response.body
    fingerprint = etag_of(response).strip('"')
    location = response.headers["Location"]
    assert json.loads(response.body) == {"downloadUrl": location}
    assert f"packs/{shop.company.id}/{shop.order['orderId']}/{fingerprint}.pdf" in location
    assert "X-Amz-Signature=" in location or "Signature=" in location


# -- documents of other places and other companies --------------------------------------------


def test_a_document_url_of_another_company_or_host_is_not_included(shop: PackShop, other: Company) -> None:
    refs = Refs(other)
    bucket = get_settings().bucket
    certifications = [
        {"heatCode": "X-1", "documentUrl": f"s3://{bucket}/{shop.document_key}"},  # Acme's document
        {"heatCode": "X-2", "documentUrl": "http://169.254.169.254/latest/meta-data/"},
    ]
    other.ok("POST", "/mill-certifications", certifications, 201)
    line = {"productName": "Plate", "quantity": "2"}
    order = other.ok("POST", "/orders", [{"orderReference": "OTHER-1", "lineItems": [line]}], 201)[0]
    for heat in ("X-1", "X-2"):
        stock = other.ok("POST", "/inventory", [refs.item(heatCode=heat, quantity="1")], 201)[0]["inventoryId"]
        path = f"/orders/{order['orderId']}/line-items/{order['lineItems'][0]['lineItemId']}/reserve"
        other.ok("POST", f"{path}?inventoryId={stock}&reserveQuantity=1&split=0")

    response = other.call("GET", f"/orders/{order['orderId']}/certificate-pack", headers=PDF_HEADERS)

    assert response.status_code == 200, response.body
    texts = texts_of(response.body)
    assert len(texts) == 1 + 2
    assert all("Certificate not included" in t for t in texts[1:])
    assert all(NOT_FETCHED in t.replace("\n", " ") for t in texts[1:])
    assert not any("MILL CERT" in t for t in texts)


# -- who may read which pack ----------------------------------------------------------------------


def test_a_deleted_or_unknown_order_is_a_404(shop: PackShop) -> None:
    assert shop.get(path="/orders/no-such-order/certificate-pack").status_code == 404

    shop.company.ok("DELETE", "/orders", {"ids": [shop.order["orderId"]]})
    response = shop.get()

    assert response.status_code == 404
    assert json.loads(response.body)["code"] == "NOT_FOUND"


def test_another_companys_order_is_a_404_and_its_path_a_403(shop: PackShop, other: Company) -> None:
    own_path = other.call("GET", shop.path, headers=PDF_HEADERS)
    assert own_path.status_code == 404
    assert json.loads(own_path.body)["code"] == "NOT_FOUND"

    foreign = other.http.http.request(
        "GET",
        f"/companies/{shop.company.id}{shop.path}",
        headers={"X-API-Key": other.key, **PDF_HEADERS},
    )
    assert foreign.status_code == 403
    assert json.loads(foreign.body)["code"] == "FORBIDDEN"


def test_a_key_without_orders_read_is_a_403(shop: PackShop, http: Client) -> None:
    _, key = wiring.tenant_service().issue_key(shop.company.id, "inventory only", ["inventory.read"], SYSTEM)
    response = http.http.request(
        "GET", f"/companies/{shop.company.id}{shop.path}", headers={"X-API-Key": key, **PDF_HEADERS}
    )

    assert response.status_code == 403
