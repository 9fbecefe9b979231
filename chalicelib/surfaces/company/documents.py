"""Mill certificate documents: `PUT` and `GET /companies/{companyId}/mill-certifications/{id}/document`.

HTTP only: chalicelib/features/certificates/documents.py checks the PDF, names its
key, stores it and points the certification at it through the versioned
reference path. The certificate pack (surfaces/company/orders/packs.py) then includes
the document's pages.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.core.models import Model
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.certificates.documents import MAX_DOCUMENT_BYTES, PDF
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.common import PREFIX, TAG_REFERENCE
from chalicelib.surfaces.company.reference import KINDS, MillCertificationOut, reference_out
from chalicelib.wiring import certificate_document_service

DOCUMENT_PATH = f"{PREFIX}/mill-certifications/{{id}}/document"
CERTIFICATIONS = next(k for k in KINDS if k.segment == "mill-certifications")


class DocumentLink(Model):
    downloadUrl: str = Field(description="A download of the stored PDF, valid for 5 minutes (also in Location)")


@endpoint(
    company,
    DOCUMENT_PATH,
    "PUT",
    permissions=[Permission.INVENTORY_WRITE],
    summary="Upload a mill certificate's PDF",
    tag=TAG_REFERENCE,
    company_param="companyId",
    content_types=[PDF],
    response=MillCertificationOut,
    max_body_bytes=MAX_DOCUMENT_BYTES,
    description=(
        "The body is the certificate's PDF itself (`Content-Type: application/pdf`), at most "
        f"{MAX_DOCUMENT_BYTES} bytes (413 above that); a body that does not start with `%PDF-` is a 400 naming "
        "`document`. The file is stored with Stockroom under this company's certificates, keyed by its SHA-256, "
        "and the certification's `documentUrl` becomes that key: a new version of the certification, recorded "
        "in its history. Certificate packs of orders reserving the heat code then include the document's pages; "
        "uploading other bytes later gives those packs a new ETag. The answer is the updated certification, as "
        "the mill-certifications routes return it. An unknown or deleted certification, or another company's, "
        "is a 404. Permission: inventory.write."
    ),
)
def put_certificate_document(call: Call) -> dict[str, Any]:
    tenant = call.tenant_id
    body: bytes = call.body
    item = certificate_document_service().upload(tenant, call.path["id"], body, call.actor)
    return reference_out(CERTIFICATIONS, item)


@endpoint(
    company,
    DOCUMENT_PATH,
    "GET",
    permissions=[Permission.INVENTORY_READ],
    summary="Download a mill certificate's PDF",
    tag=TAG_REFERENCE,
    company_param="companyId",
    status=303,
    headers=("Location", "Cache-Control"),
    response=DocumentLink,
    description=(
        "A 303 whose `Location` (also `downloadUrl` in the body) is a download of the certificate's stored PDF, "
        "valid for 5 minutes. A 404 when the certification has no document stored with Stockroom: none "
        "uploaded, or a `documentUrl` that points anywhere else (that URL is the client's to follow; Stockroom "
        "never fetches it). An unknown or deleted certification, or another company's, is a 404. "
        "Permission: inventory.read."
    ),
)
def get_certificate_document(call: Call) -> Reply:
    tenant = call.tenant_id
    url = certificate_document_service().download_url(tenant, call.path["id"])
    return Reply(body={"downloadUrl": url}, headers={"Location": url, "Cache-Control": "no-store"})
