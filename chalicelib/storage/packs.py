"""Certificate packs and certificate documents in the files bucket.

Rendered packs are cached at `packs/<tenant>/<orderId>/<fingerprint>.pdf`
(features/certificates/packs.pack_key); a new fingerprint is a new object, so a cached
pack is never overwritten with other content. Certificate documents are read
from `certificates/<tenant>/...` only: the core decides which key a
documentUrl names, and this store refuses any key outside `certificates/`
as well, so nothing else in the bucket can be pulled into a pack.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.features.certificates.packs import (
    CERTIFICATES_PREFIX,
    StoredDocument,
    StoredObject,
    certificate_prefix,
    pack_key,
)
from chalicelib.storage.aws import client
from chalicelib.storage.files import presigned_get

PDF = "application/pdf"
# HEADs run in parallel: a pack of 200 certificates costs one round trip's time, not 200.
STAT_WORKERS = 16
READ_CHUNK_BYTES = 1024 * 1024
DOWNLOAD_SECONDS = 300
MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3PackStore:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    # -- the cache -------------------------------------------------------------------

    def get(self, tenant_id: str, order_id: str, fingerprint: str) -> bytes | None:
        response = self._get_object(pack_key(tenant_id, order_id, fingerprint))
        if response is None:
            return None
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def put(self, tenant_id: str, order_id: str, fingerprint: str, pdf: bytes) -> None:
        client("s3").put_object(
            Bucket=self._bucket,
            Key=pack_key(tenant_id, order_id, fingerprint),
            Body=pdf,
            ContentType=PDF,
            Metadata={"order-id": order_id, "fingerprint": fingerprint},
        )

    def _get_object(self, key: str) -> dict[str, Any] | None:
        """GetObject's response, or None when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = client("s3").get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return response

    def download_url(self, tenant_id: str, order_id: str, fingerprint: str, filename: str) -> str:
        key = pack_key(tenant_id, order_id, fingerprint)
        return presigned_get(self._bucket, key, filename, PDF, DOWNLOAD_SECONDS)

    # -- certificate documents ---------------------------------------------------------

    def stat(self, keys: Iterable[str]) -> dict[str, StoredObject]:
        wanted = sorted({k for k in keys if _is_certificate(k)})
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=min(STAT_WORKERS, len(wanted))) as pool:
            found = dict(zip(wanted, pool.map(self._head, wanted), strict=True))
        return {k: v for k, v in found.items() if v is not None}

    def document(self, key: str, max_bytes: int) -> StoredDocument | None:
        """The document's bytes, or None when it is missing, outside `certificates/` or over max_bytes."""
        response = self._get_object(key) if _is_certificate(key) else None
        if response is None:
            return None
        body = response["Body"]
        try:
            if int(response.get("ContentLength", 0)) > max_bytes:
                return None
            data = _read_at_most(body, max_bytes)
        finally:
            body.close()
        return StoredDocument(data, str(response["ETag"])) if data is not None else None

    def _head(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            head = client("s3").head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return StoredObject(etag=str(head["ETag"]), size=int(head["ContentLength"]))


def _is_certificate(key: str) -> bool:
    # certificate_prefix("") is "certificates//": the tenant part must be there and not empty.
    return key.startswith(f"{CERTIFICATES_PREFIX}/") and not key.startswith(certificate_prefix(""))


def _read_at_most(body: Any, max_bytes: int) -> bytes | None:
    """The body, or None once it passes max_bytes (its stated length may not be what arrives)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in body.iter_chunks(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _missing(exc: Any) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in MISSING
