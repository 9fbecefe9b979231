"""Downloads too big for a Lambda response: stored in S3 and handed out as a short-lived URL.

Lambda answers API Gateway with at most 6 MB, and the body travels inside
that answer: a binary body (ZIP) base64-encoded, 4/3 of its bytes, a text body
(CSV) as a JSON string, where quotes, newlines and every non-ASCII character
are escaped. A file whose body would take more than `MAX_INLINE_BYTES` there
is written to `exports/<tenant>/<uuid>/<filename>` and the caller answers with
a presigned GET valid `DOWNLOAD_SECONDS`. The bucket expires `exports/` after
a day (infra/resources.json), so nothing needs cleaning up.
"""

from __future__ import annotations

import json
from typing import Protocol

from chalicelib.core.ids import new_id
from chalicelib.core.limits import LAMBDA_BODY_BYTES

EXPORTS_PREFIX = "exports"
# Read on every call, not bound at import: tests lower it with monkeypatch.
# 4 MiB as sent leaves the rest of the 6 MB for the headers and the response envelope.
MAX_INLINE_BYTES = LAMBDA_BODY_BYTES
DOWNLOAD_SECONDS = 5 * 60


class ExportStore(Protocol):
    """Where handed-out files live (S3); storage implements it."""

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
        filename: str | None = None,
    ) -> None: ...

    def download_url(self, key: str, filename: str, content_type: str, expires_seconds: int) -> str: ...


def export_key(tenant_id: str, filename: str) -> str:
    # A fresh folder per download: two downloads of the same day never share a key.
    return f"{EXPORTS_PREFIX}/{tenant_id}/{new_id()}/{filename}"


def encoded_size(body: bytes | str) -> int:
    """Bytes the body takes in Lambda's response: bytes are sent base64, text as a JSON string."""
    if isinstance(body, bytes):
        return 4 * ((len(body) + 2) // 3)
    # json.dumps escapes like the runtime does at worst (ensure_ascii); its output is ASCII, so length = bytes.
    return len(json.dumps(body)) - 2


def fits_inline(body: bytes | str) -> bool:
    if isinstance(body, str) and len(body.encode("utf-8")) > MAX_INLINE_BYTES:
        # Escaping never makes text shorter than its UTF-8 bytes: skip building the escaped copy.
        return False
    return encoded_size(body) <= MAX_INLINE_BYTES


class ExportService:
    def __init__(self, store: ExportStore) -> None:
        self._store = store

    def hand_out(self, tenant_id: str, filename: str, body: bytes | str, content_type: str) -> str | None:
        """None when the body can be answered inline; otherwise it is stored and this is its download URL."""
        if fits_inline(body):
            return None
        key = export_key(tenant_id, filename)
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._store.put(key, data, content_type, {"tenant-id": tenant_id}, filename=filename)
        return self._store.download_url(key, filename, content_type, DOWNLOAD_SECONDS)
