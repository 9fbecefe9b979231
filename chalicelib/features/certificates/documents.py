"""Mill certificate documents stored with Stockroom.

A certification's PDF is uploaded through the API and kept in our own bucket at
`certificates/<tenant>/<certification id>/<sha256 of the bytes>.pdf`; the
certification's documentUrl is then set to that key through ReferenceService,
so the change is versioned and recorded in history like any other edit.

The key is content-addressed: other bytes are another key, never an overwrite.
The certificate pack's fingerprint covers the document's key and ETag, so a new
upload gives a new pack, and a pack cached before it can never be served with
the old certificate after it. Superseded objects are kept: nothing deletes
them, and no lifecycle rule covers `certificates/`.

Reads per upload: the certification (one GetItem), then the versioned update
(its own reads and one transaction). Per download: the certification and one
S3 HEAD, so a missing object is a 404 and not a dead link.
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.exports import ExportStore
from chalicelib.core.limits import LAMBDA_BODY_BYTES
from chalicelib.core.models import Actor
from chalicelib.core.reference.service import ReferenceItem, ReferenceUpdate, RefKind

PDF = "application/pdf"
PDF_MAGIC = b"%PDF-"
# A PDF travels base64 in the Lambda event: 4 MiB is about 5.6 MB there, 5 MiB would never reach the handler.
MAX_DOCUMENT_BYTES = LAMBDA_BODY_BYTES
DOWNLOAD_SECONDS = 300
FILENAME_CHARS = 100
MAX_ID_CHARS = 100  # as the reference routes' `id`: longer is no certification, and no key to read
DOCUMENT_URL = "document_url"


class DocumentStore(ExportStore, Protocol):
    """Objects in our files bucket (storage/files.S3Files): an export store that can also tell a size."""

    def size(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        ...


class Certifications(Protocol):
    """The versioned reference data path (core/reference/service.ReferenceService)."""

    def get_active(self, tenant_id: str, kind: RefKind, ref_id: str) -> ReferenceItem | None: ...
    def update(
        self, tenant_id: str, kind: RefKind, updates: list[ReferenceUpdate], actor: Actor
    ) -> list[ReferenceItem]: ...


def document_key(tenant_id: str, certification_id: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    # The pack module (with its order and PDF dependencies) loads on use, not with the upload route.
    from chalicelib.features.certificates.packs import certificate_prefix

    return f"{certificate_prefix(tenant_id)}{certification_id}/{digest}.pdf"


def document_filename(certification: ReferenceItem) -> str:
    """`certificate-<number or heat code>.pdf`, with only letters, digits, `.`, `_` and `-` in the name."""
    name = str(certification.data.get("certificate_number") or certification.heat_code or "")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:FILENAME_CHARS]
    return f"certificate-{safe or certification.ref_id}.pdf"


def check_document(body: bytes) -> None:
    """A PDF (its first bytes say so) of at most MAX_DOCUMENT_BYTES; else ValidationFailed naming `document`."""
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed(
            f"the document is {len(body)} bytes; at most {MAX_DOCUMENT_BYTES}",
            [{"field": "document", "message": f"more than {MAX_DOCUMENT_BYTES} bytes"}],
        )
    if not body.startswith(PDF_MAGIC):
        raise ValidationFailed(
            "the document is not a PDF", [{"field": "document", "message": "must be a PDF (start with %PDF-)"}]
        )


class CertificateDocumentService:
    def __init__(self, certifications: Certifications, files: DocumentStore, bucket: str) -> None:
        self._certifications = certifications
        self._files = files
        self._bucket = bucket

    def upload(self, tenant_id: str, certification_id: str, body: bytes, actor: Actor) -> ReferenceItem:
        """Store the PDF and point the certification at it; the updated certification is returned.

        The object is written before the certification: a failed update leaves an unreferenced object,
        never a documentUrl naming nothing. The same bytes again are the same key (S3 overwrites it
        with itself) and a new version of the certification that changes nothing else.
        """
        check_document(body)
        certification = self._certification(tenant_id, certification_id)
        key = document_key(tenant_id, certification.ref_id, body)
        self._files.put(key, body, PDF, metadata={"certification-id": certification.ref_id})
        update = ReferenceUpdate(ref_id=certification.ref_id, label=None, data={DOCUMENT_URL: key})
        return self._certifications.update(tenant_id, RefKind.MILL_CERTIFICATION, [update], actor)[0]

    def download_url(self, tenant_id: str, certification_id: str) -> str:
        """A presigned GET, valid for DOWNLOAD_SECONDS, of the document stored for the certification.

        NotFound when the certification has no documentUrl, when its documentUrl is not this tenant's
        object in our bucket (not ours to serve), or when that object is gone.
        """
        certification = self._certification(tenant_id, certification_id)
        url = certification.data.get(DOCUMENT_URL)
        if not url:
            raise NotFound(
                f"mill certification {certification_id} has no document",
                [{"field": "documentUrl", "message": "no document uploaded"}],
            )
        from chalicelib.features.certificates.packs import own_document_key

        key = own_document_key(str(url), tenant_id, self._bucket)
        if key is None:
            raise NotFound(
                f"the document of mill certification {certification_id} is not stored with Stockroom",
                [{"field": "documentUrl", "message": "not stored with Stockroom: use the URL itself"}],
            )
        if self._files.size(key) is None:
            raise NotFound(
                f"the document of mill certification {certification_id} is missing from storage",
                [{"field": "documentUrl", "message": "no stored object at this key"}],
            )
        return self._files.download_url(key, document_filename(certification), PDF, DOWNLOAD_SECONDS)

    def _certification(self, tenant_id: str, certification_id: str) -> ReferenceItem:
        found = None
        if len(certification_id) <= MAX_ID_CHARS:
            found = self._certifications.get_active(tenant_id, RefKind.MILL_CERTIFICATION, certification_id)
        if found is None:
            raise NotFound(
                f"mill certification {certification_id} not found",
                [{"field": "id", "message": f"{certification_id} not found"}],
            )
        return found
