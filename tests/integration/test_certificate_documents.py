"""PUT and GET /companies/{companyId}/mill-certifications/{id}/document through the real app on moto.

An uploaded PDF is stored under the company's certificates, keyed by its
SHA-256, and the certification points at it; the certificate pack of an order
reserving that heat code then holds the document's pages, and a new upload
gives the pack a new ETag.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from chalice.test import Client
from fpdf import FPDF
from pypdf import PdfReader

from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from chalicelib.features.certificates.documents import MAX_DOCUMENT_BYTES
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from tests.integration.company import Company, Refs, error_fields, make_company

pytestmark = pytest.mark.shared_aws

EVERYTHING = ("admin", "inventory.read", "inventory.write", "orders.read", "orders.write")
HEAT = "HC-501"
PDF = "application/pdf"


def certificate_pdf(marker: str, pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))
    pdf.set_font("helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"{marker} page {number}")
    return bytes(pdf.output())


def texts_of(pdf: bytes) -> list[str]:
    return [page.extract_text().strip() for page in PdfReader(io.BytesIO(pdf)).pages]


def document_path(certification_id: str) -> str:
    return f"/mill-certifications/{certification_id}/document"


def put_document(
    company: Company, certification_id: str, body: bytes, key: str | None = None, company_id: str | None = None
) -> Any:
    return company.http.http.request(
        "PUT",
        f"/companies/{company_id or company.id}{document_path(certification_id)}",
        headers={"X-API-Key": key or company.key, "Content-Type": PDF},
        body=body,
    )


def get_document(company: Company, certification_id: str, key: str | None = None) -> Any:
    return company.http.http.request(
        "GET", f"/companies/{company.id}{document_path(certification_id)}", headers={"X-API-Key": key or company.key}
    )


def stored(key: str) -> dict[str, Any]:
    found: dict[str, Any] = client("s3").get_object(Bucket=get_settings().bucket, Key=key)
    return found


def certificate_keys(company_id: str) -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=get_settings().bucket, Prefix=f"certificates/{company_id}/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def certification(company: Company, certification_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in company.ok("GET", "/mill-certifications") if c["id"] == certification_id)
    return found


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme Steel", EVERYTHING)


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other", EVERYTHING)


@pytest.fixture
def cert(acme: Company) -> dict[str, Any]:
    created: dict[str, Any] = acme.ok(
        "POST", "/mill-certifications", [{"heatCode": HEAT, "certificateNumber": "MC 3.1/501"}], 201
    )[0]
    return created


class ReservedOrder:
    """An order whose line is reserved against a row of heat HEAT."""

    def __init__(self, company: Company) -> None:
        self.company = company
        refs = Refs(company)
        stock = company.ok("POST", "/inventory", [refs.item(heatCode=HEAT, quantity="2")], 201)[0]["inventoryId"]
        line = {"productName": "Round bar 50mm", "quantity": "2", "certificationRequired": True}
        order = company.ok("POST", "/orders", [{"orderReference": "SO-501", "lineItems": [line]}], 201)[0]
        self.order_id = order["orderId"]
        reserve = f"/orders/{self.order_id}/line-items/{order['lineItems'][0]['lineItemId']}/reserve"
        company.ok("POST", f"{reserve}?inventoryId={stock}&reserveQuantity=2&split=0")

    def pack(self) -> Any:
        response = self.company.call(
            "GET", f"/orders/{self.order_id}/certificate-pack", headers={"Accept": "application/pdf"}
        )
        assert response.status_code == 200, response.body
        return response


# -- upload ---------------------------------------------------------------------------------------


def test_an_upload_is_stored_under_its_sha256_and_becomes_the_document_url(acme: Company, cert: dict[str, Any]) -> None:
    document = certificate_pdf("MILL CERT HC-501")

    response = put_document(acme, cert["id"], document)

    assert response.status_code == 200, response.body
    updated = json.loads(response.body)
    key = f"certificates/{acme.id}/{cert['id']}/{hashlib.sha256(document).hexdigest()}.pdf"
    assert updated["documentUrl"] == key
    assert (updated["id"], updated["heatCode"], updated["certificateNumber"]) == (cert["id"], HEAT, "MC 3.1/501")
    assert updated["version"] == cert["version"] + 1
    assert certification(acme, cert["id"]) == updated
    obj = stored(key)
    assert obj["ContentType"] == PDF
    assert obj["Body"].read() == document
    assert certificate_keys(acme.id) == [key]


def test_the_pack_of_an_order_reserving_the_heat_code_holds_the_uploaded_pages(
    acme: Company, cert: dict[str, Any]
) -> None:
    order = ReservedOrder(acme)
    without = order.pack()
    assert "Certificate not included" in texts_of(without.body)[1]

    assert put_document(acme, cert["id"], certificate_pdf("MILL CERT HC-501", pages=2)).status_code == 200
    with_document = order.pack()

    texts = texts_of(with_document.body)
    assert texts[1:] == ["MILL CERT HC-501 page 1", "MILL CERT HC-501 page 2"]
    assert HEAT in texts[0]
    assert with_document.headers["ETag"] != without.headers["ETag"]


def test_a_new_upload_is_a_new_key_and_gives_the_pack_a_new_etag(acme: Company, cert: dict[str, Any]) -> None:
    order = ReservedOrder(acme)
    first = json.loads(put_document(acme, cert["id"], certificate_pdf("FIRST ISSUE")).body)
    first_pack = order.pack()
    assert order.pack().headers["ETag"] == first_pack.headers["ETag"]  # unchanged: served again

    second = json.loads(put_document(acme, cert["id"], certificate_pdf("REISSUED")).body)
    second_pack = order.pack()

    assert second["documentUrl"] != first["documentUrl"]
    assert second["version"] == first["version"] + 1
    assert second_pack.headers["ETag"] != first_pack.headers["ETag"]
    assert texts_of(second_pack.body)[1:] == ["REISSUED page 1"]
    # The first object is never overwritten: packs that cited it stay true to what they showed.
    assert stored(first["documentUrl"])["Body"].read().startswith(b"%PDF-")
    assert certificate_keys(acme.id) == sorted([first["documentUrl"], second["documentUrl"]])


def test_an_upload_replayed_with_its_idempotency_key_answers_the_same(acme: Company, cert: dict[str, Any]) -> None:
    document = certificate_pdf("ONCE")
    headers = {"X-API-Key": acme.key, "Content-Type": PDF, "Idempotency-Key": "upload-501"}
    path = f"/companies/{acme.id}{document_path(cert['id'])}"

    first = acme.http.http.request("PUT", path, headers=headers, body=document)
    again = acme.http.http.request("PUT", path, headers=headers, body=document)

    assert first.status_code == again.status_code == 200
    assert json.loads(again.body) == json.loads(first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert certification(acme, cert["id"])["version"] == cert["version"] + 1


# -- bad uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"hello, not a pdf", b"%PDF", b" %PDF-1.7\n"], ids=repr)
def test_a_body_that_is_not_a_pdf_is_a_400_naming_document(acme: Company, cert: dict[str, Any], body: bytes) -> None:
    response = put_document(acme, cert["id"], body)

    assert response.status_code == 400, response.body
    assert error_fields(response) == ["document"]
    assert "documentUrl" not in certification(acme, cert["id"])
    assert certificate_keys(acme.id) == []


def test_a_document_over_the_limit_is_a_413_and_stores_nothing(acme: Company, cert: dict[str, Any]) -> None:
    largest = b"%PDF-1.7\n" + b"0" * (MAX_DOCUMENT_BYTES - 9)
    assert len(largest) == MAX_DOCUMENT_BYTES

    response = put_document(acme, cert["id"], largest + b"0")

    assert response.status_code == 413, response.body
    assert json.loads(response.body)["code"] == "PAYLOAD_TOO_LARGE"
    assert certificate_keys(acme.id) == []
    # Exactly the limit is accepted: the check is the route's, not a smaller one elsewhere.
    assert put_document(acme, cert["id"], largest).status_code == 200


def test_an_unknown_deleted_or_other_companys_certification_is_a_404(
    acme: Company, other: Company, cert: dict[str, Any]
) -> None:
    theirs = other.ok("POST", "/mill-certifications", [{"heatCode": "THEIRS-1"}], 201)[0]
    gone = acme.ok("POST", "/mill-certifications", [{"heatCode": "GONE-1"}], 201)[0]
    acme.ok("DELETE", "/mill-certifications", {"ids": [gone["id"]]})
    document = certificate_pdf("NOPE")

    for certification_id in (theirs["id"], gone["id"], "no-such-certification", "x" * 300):
        response = put_document(acme, certification_id, document)
        assert response.status_code == 404, (certification_id, response.body)
        assert json.loads(response.body)["code"] == "NOT_FOUND"
        assert get_document(acme, certification_id).status_code == 404

    assert certificate_keys(acme.id) == certificate_keys(other.id) == []
    assert "documentUrl" not in certification(other, theirs["id"])


def test_another_companys_path_is_a_403(acme: Company, other: Company, cert: dict[str, Any]) -> None:
    response = put_document(other, cert["id"], certificate_pdf("INTRUDER"), company_id=acme.id)
    download = other.http.http.request(
        "GET", f"/companies/{acme.id}{document_path(cert['id'])}", headers={"X-API-Key": other.key}
    )

    assert response.status_code == 403, response.body
    assert json.loads(response.body)["code"] == "FORBIDDEN"
    assert download.status_code == 403
    assert certificate_keys(acme.id) == []


def test_a_key_without_inventory_write_cannot_upload_and_without_inventory_read_cannot_download(
    acme: Company, http: Client, cert: dict[str, Any]
) -> None:
    tenants = wiring.tenant_service()
    _, reader = tenants.issue_key(acme.id, "reader", ["inventory.read", "orders.write"], SYSTEM)
    _, orders_only = tenants.issue_key(acme.id, "orders", ["orders.read"], SYSTEM)
    assert put_document(acme, cert["id"], certificate_pdf("OK")).status_code == 200

    refused = put_document(acme, cert["id"], certificate_pdf("REFUSED"), key=reader)

    assert refused.status_code == 403, refused.body
    assert len(certificate_keys(acme.id)) == 1
    assert get_document(acme, cert["id"], key=reader).status_code == 303
    assert get_document(acme, cert["id"], key=orders_only).status_code == 403


# -- download -------------------------------------------------------------------------------------


def test_a_stored_document_is_a_303_to_a_presigned_get_of_our_bucket(acme: Company, cert: dict[str, Any]) -> None:
    key = json.loads(put_document(acme, cert["id"], certificate_pdf("DOWNLOAD ME")).body)["documentUrl"]

    response = get_document(acme, cert["id"])

    assert response.status_code == 303, response.body
    location = response.headers["Location"]
    assert json.loads(response.body) == {"downloadUrl": location}
    url = urlsplit(location)
    query = parse_qs(url.query)
    bucket = get_settings().bucket
    assert key in url.path
    assert url.hostname is not None and (url.hostname.startswith(f"{bucket}.") or url.path.startswith(f"/{bucket}/"))
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Signature"]
    assert query["response-content-type"] == [PDF]
    assert query["response-content-disposition"] == ['attachment; filename="certificate-MC_3.1_501.pdf"']


def test_no_document_a_foreign_url_or_a_missing_object_is_a_404(acme: Company, cert: dict[str, Any]) -> None:
    none = get_document(acme, cert["id"])
    assert none.status_code == 404
    assert "has no document" in json.loads(none.body)["error"]

    acme.ok("PUT", "/mill-certifications", [{"id": cert["id"], "documentUrl": "https://mill.example/cert.pdf"}])
    foreign = get_document(acme, cert["id"])
    assert foreign.status_code == 404
    assert "not stored with Stockroom" in json.loads(foreign.body)["error"]

    missing_key = f"certificates/{acme.id}/{cert['id']}/{'0' * 64}.pdf"
    acme.ok("PUT", "/mill-certifications", [{"id": cert["id"], "documentUrl": missing_key}])
    missing = get_document(acme, cert["id"])
    assert missing.status_code == 404
    assert "missing" in json.loads(missing.body)["error"]
