"""The order certificate pack: what goes into it, where its documents may come from, and its cache.

CertificatePackService gathers a PackSource for an order: the order and its
active lines, the heat codes of the inventory rows reserved against each
line, the mill certifications of those heat codes with their suppliers'
names, and where each certificate's document is stored. Its PackRenderer
(the wiring builds it with the PDF one, chalicelib/documents/order_pack.py)
turns a source into a fingerprint and into bytes. The rendered pack is cached under its fingerprint: while nothing the
pack shows has changed, it is served from the cache and nothing is rendered.

Certificate documents are read ONLY from our own bucket, under the tenant's
own prefix `certificates/<tenant>/`. A documentUrl is parsed into such a key
and never fetched as a URL: any other URL (another host, another bucket,
another tenant's prefix) is listed on the cover and gets a placeholder page,
so a stored URL can never make the server request something (no SSRF).

Reads per pack (a cache hit stops after step 6): tenant (GetItem); order
with its lines (one Query), plus the customer name (one BatchGetItem) when
set; the order's reservations (one Query); the reserved rows (one
BatchGetItem); heat-code guards and line type/material labels together (one
BatchGetItem); the certifications (one BatchGetItem); supplier names (one
BatchGetItem); one S3 HEAD per stored document (in parallel), then the
cache GET. A miss adds one GET per stored document and one PUT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote, urlsplit

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Reservation, StockRecord, Tenant
from chalicelib.core.reference.service import HEAT, ReferenceItem, RefKey, RefKind, Resolved
from chalicelib.features.orders import LineItem, OrderView

PACKS_PREFIX = "packs"
CERTIFICATES_PREFIX = "certificates"
MAX_KEY_CHARS = 1024  # S3's own limit on a key
HEAT_CODE_ATTRIBUTE = "heat_code"

# Hosts of an https URL into a bucket: virtual-hosted (<bucket>.s3[.-]<region>.amazonaws.com) or
# path-style (s3[.-]<region>.amazonaws.com/<bucket>/...). The region part is optional.
_VIRTUAL_HOST = re.compile(r"^(?P<bucket>[a-z0-9.-]+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")
_PATH_HOST = re.compile(r"^s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")


class PackTooLarge(ValidationFailed):
    """The pack would not fit in a Lambda's memory or the renderer's limits."""

    code = "PACK_TOO_LARGE"


# -- what a pack is made of ---------------------------------------------------------


@dataclass(frozen=True)
class PackLineSource:
    line: LineItem
    heat_codes: tuple[str, ...]  # heat codes of the rows reserved against the line, sorted
    type_label: str | None = None
    material_label: str | None = None


@dataclass(frozen=True)
class CertificateSource:
    certification: ReferenceItem
    supplier_name: str | None = None
    # Our bucket's key of the document, when its documentUrl points under the tenant's own prefix.
    document_key: str | None = None
    # The stored object's ETag and size, when it exists: the fingerprint uses the ETag, not the bytes.
    document_etag: str | None = None
    document_size: int | None = None

    @property
    def certification_id(self) -> str:
        return self.certification.ref_id

    @property
    def document_url(self) -> str | None:
        url = self.certification.data.get("document_url")
        return str(url) if url else None


@dataclass(frozen=True)
class PackSource:
    company_name: str
    view: OrderView
    lines: tuple[PackLineSource, ...]
    certificates: tuple[CertificateSource, ...]
    generated_at: datetime


@dataclass(frozen=True)
class PackResult:
    fingerprint: str
    order_reference: str
    pdf: bytes | None  # None: the caller already has this fingerprint (If-None-Match)
    from_cache: bool = False


@dataclass(frozen=True)
class StoredObject:
    etag: str
    size: int


@dataclass(frozen=True)
class StoredDocument:
    body: bytes
    etag: str


# -- ports ---------------------------------------------------------------------------


class PackRenderer(Protocol):
    """Turns a source into its fingerprint and its bytes; the wiring supplies the format."""

    @property
    def max_document_bytes(self) -> int:
        """Most bytes of certificate documents one pack may hold."""
        ...

    def check(self, source: PackSource) -> None:
        """Raise PackTooLarge when the pack is over a limit that needs no document bytes."""
        ...

    def fingerprint(self, source: PackSource) -> str:
        """Equal for sources with equal content, whenever generated; uses document ETags, not bytes."""
        ...

    def render(self, source: PackSource, documents: Mapping[str, bytes]) -> bytes:
        """The pack, with the documents by certification id. Raises PackTooLarge past a limit."""
        ...


class PackCache(Protocol):
    """Rendered packs and the certificate documents, in our own bucket."""

    def get(self, tenant_id: str, order_id: str, fingerprint: str) -> bytes | None: ...
    def put(self, tenant_id: str, order_id: str, fingerprint: str, pdf: bytes) -> None: ...
    def stat(self, keys: Iterable[str]) -> dict[str, StoredObject]:
        """ETag and size of each key that exists (missing ones are left out)."""
        ...

    def document(self, key: str, max_bytes: int) -> StoredDocument | None:
        """The object's bytes, or None when it is missing or bigger than max_bytes."""
        ...

    def download_url(self, tenant_id: str, order_id: str, fingerprint: str, filename: str) -> str:
        """A short-lived URL of a cached pack, for packs too big to answer inline."""
        ...


class OrderReads(Protocol):
    def get(self, tenant_id: str, order_id: str) -> OrderView: ...
    def reservations_of(self, tenant_id: str, order_id: str) -> list[Reservation]: ...


class RecordReads(Protocol):
    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]: ...


class ReferenceReads(Protocol):
    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]: ...
    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]: ...


class TenantReads(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


# -- keys ------------------------------------------------------------------------------


def pack_key(tenant_id: str, order_id: str, fingerprint: str) -> str:
    return f"{PACKS_PREFIX}/{tenant_id}/{order_id}/{fingerprint}.pdf"


def certificate_prefix(tenant_id: str) -> str:
    return f"{CERTIFICATES_PREFIX}/{tenant_id}/"


def own_document_key(url: str | None, tenant_id: str, bucket: str) -> str | None:
    """The key in our bucket that a documentUrl names, if it is under the tenant's prefix; else None.

    Accepted: a bare key (`certificates/<tenant>/...`), `s3://<bucket>/<key>`, and https URLs of our
    bucket on amazonaws.com (virtual-hosted or path-style; a presigned URL's query is ignored).
    """
    if not url:
        return None
    key = _key_of(url.strip(), bucket)
    return key if key is not None and _is_tenant_key(key, tenant_id) else None


def _key_of(url: str, bucket: str) -> str | None:
    if "://" not in url:
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return parts.path.removeprefix("/") if parts.netloc == bucket else None
    if scheme != "https" or parts.port is not None or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    virtual = _VIRTUAL_HOST.match(host)
    if virtual:
        return path.removeprefix("/") if virtual.group("bucket") == bucket else None
    if _PATH_HOST.match(host):
        named, _, key = path.removeprefix("/").partition("/")
        return key if named == bucket else None
    return None


def _is_tenant_key(key: str, tenant_id: str) -> bool:
    prefix = certificate_prefix(tenant_id)
    if not tenant_id or "/" in tenant_id or not key.startswith(prefix) or len(key) > MAX_KEY_CHARS:
        return False
    segments = key[len(prefix) :].split("/")
    # S3 keys are literal, but a key that a path normaliser would read differently is refused anyway.
    if any(s in ("", ".", "..") for s in segments):
        return False
    return all(ord(c) >= 0x20 and c != "\x7f" for c in key)


# -- service ---------------------------------------------------------------------------


class CertificatePackService:
    def __init__(
        self,
        orders: OrderReads,
        records: RecordReads,
        reference: ReferenceReads,
        tenants: TenantReads,
        cache: PackCache,
        renderer: PackRenderer,
        bucket: str,
    ) -> None:
        self._orders = orders
        self._records = records
        self._reference = reference
        self._tenants = tenants
        self._cache = cache
        self._renderer = renderer
        self._bucket = bucket

    def pack(self, tenant_id: str, order_id: str, if_none_match: Iterable[str] = ()) -> PackResult:
        """The order's pack: from the cache when nothing it shows has changed, else rendered and cached.

        A deleted order, or another tenant's, is NotFound. With a fingerprint the caller already holds
        (`if_none_match`), nothing is read from the cache and `pdf` is None.
        """
        renderer = self._renderer
        source = self.gather(tenant_id, order_id)
        fingerprint = renderer.fingerprint(source)
        reference = source.view.order.order_reference
        if fingerprint in set(if_none_match):
            return PackResult(fingerprint, reference, None)
        cached = self._cache.get(tenant_id, order_id, fingerprint)
        if cached is not None:
            return PackResult(fingerprint, reference, cached, from_cache=True)
        renderer.check(source)
        self._check_document_bytes(source, renderer.max_document_bytes)
        source, documents = self._fetch_documents(source, renderer.max_document_bytes)
        # A document replaced between HEAD and GET changes its ETag: file the pack under what it shows.
        fingerprint = renderer.fingerprint(source)
        pdf = renderer.render(source, documents)
        self._cache.put(tenant_id, order_id, fingerprint, pdf)
        return PackResult(fingerprint, reference, pdf)

    def download_url(self, tenant_id: str, order_id: str, fingerprint: str, filename: str) -> str:
        return self._cache.download_url(tenant_id, order_id, fingerprint, filename)

    def gather(self, tenant_id: str, order_id: str) -> PackSource:
        view = self._orders.get(tenant_id, order_id)
        tenant = self._tenants.get_tenant(tenant_id)
        heat_by_line = self._reserved_heat_codes(tenant_id, order_id, view.line_items)
        codes = {code for codes in heat_by_line.values() for code in codes}
        labels = self._lookup(tenant_id, _line_label_keys(view.line_items) | {(HEAT, c) for c in codes})
        guards = {c: labels[(HEAT, c)].id for c in codes if (HEAT, c) in labels}
        certifications = self._certifications(tenant_id, list(dict.fromkeys(guards.values())))
        # Heat codes match in any case: the cover spells a reserved code as its certificate does.
        spelling = {c: certifications[i].heat_code or c for c, i in guards.items() if i in certifications}
        lines = tuple(
            PackLineSource(
                line=line,
                heat_codes=tuple(sorted({spelling.get(c, c) for c in heat_by_line.get(line.line_item_id, ())})),
                type_label=_label(labels, RefKind.TYPE, line.type),
                material_label=_label(labels, RefKind.MATERIAL, line.material),
            )
            for line in view.line_items
        )
        return PackSource(
            company_name=tenant.name if tenant is not None else tenant_id,
            view=view,
            lines=lines,
            certificates=self._certificate_sources(tenant_id, list(certifications.values())),
            generated_at=utcnow(),
        )

    # -- gathering -------------------------------------------------------------------

    def _reserved_heat_codes(self, tenant_id: str, order_id: str, lines: Sequence[LineItem]) -> dict[str, set[str]]:
        """Heat codes of the rows reserved against each active line: one Query and one batched read."""
        active = {line.line_item_id for line in lines}
        reservations = [
            r for r in self._orders.reservations_of(tenant_id, order_id) if r.reference.get("lineItemId") in active
        ]
        records = self._records.get_records(tenant_id, {r.stock_id for r in reservations}) if reservations else {}
        found: dict[str, set[str]] = {}
        for reservation in reservations:
            record = records.get(reservation.stock_id)
            code = str(record.attributes.get(HEAT_CODE_ATTRIBUTE) or "").strip() if record else ""
            if code:
                found.setdefault(reservation.reference["lineItemId"], set()).add(code)
        return found

    def _certifications(self, tenant_id: str, ids: list[str]) -> dict[str, ReferenceItem]:
        if not ids:
            return {}
        items = self._reference.get_items(tenant_id, RefKind.MILL_CERTIFICATION, ids)
        return {ref_id: item for ref_id, item in items.items() if item.active and item.heat_code}

    def _lookup(self, tenant_id: str, wanted: set[RefKey]) -> dict[RefKey, Resolved]:
        return self._reference.lookup(tenant_id, wanted) if wanted else {}

    def _certificate_sources(self, tenant_id: str, items: list[ReferenceItem]) -> tuple[CertificateSource, ...]:
        suppliers = {str(i.data["supplier_id"]) for i in items if i.data.get("supplier_id")}
        names = self._lookup(tenant_id, {(RefKind.ORGANISATION.value, s) for s in suppliers})
        keys = {i.ref_id: own_document_key(_text(i.data.get("document_url")), tenant_id, self._bucket) for i in items}
        wanted = {k for k in keys.values() if k}
        stored = self._cache.stat(wanted) if wanted else {}
        sources = []
        for item in items:
            key = keys[item.ref_id]
            found = stored.get(key) if key else None
            sources.append(
                CertificateSource(
                    certification=item,
                    supplier_name=_label(names, RefKind.ORGANISATION, _text(item.data.get("supplier_id"))),
                    document_key=key,
                    document_etag=found.etag if found else None,
                    document_size=found.size if found else None,
                )
            )
        return tuple(sources)

    # -- documents ---------------------------------------------------------------------

    def _check_document_bytes(self, source: PackSource, limit: int) -> None:
        total = sum(c.document_size or 0 for c in source.certificates if c.document_etag)
        if total > limit:
            raise PackTooLarge(
                f"the certificate documents of this order total {total} bytes; a pack holds at most {limit}",
                [{"field": "orderId", "message": f"certificate documents exceed {limit} bytes"}],
            )

    def _fetch_documents(self, source: PackSource, limit: int) -> tuple[PackSource, dict[str, bytes]]:
        """Every stored document, read from our bucket only; the source's ETags become those read."""
        documents: dict[str, bytes] = {}
        certificates = []
        budget = limit
        for certificate in source.certificates:
            got = None
            if certificate.document_key and certificate.document_etag:
                got = self._cache.document(certificate.document_key, budget)
            if got is None:
                certificates.append(replace(certificate, document_etag=None, document_size=None))
                continue
            budget -= len(got.body)
            documents[certificate.certification_id] = got.body
            certificates.append(replace(certificate, document_etag=got.etag, document_size=len(got.body)))
        return replace(source, certificates=tuple(certificates)), documents


def _line_label_keys(lines: Iterable[LineItem]) -> set[RefKey]:
    keys: set[RefKey] = set()
    for line in lines:
        if line.type:
            keys.add((RefKind.TYPE.value, line.type))
        if line.material:
            keys.add((RefKind.MATERIAL.value, line.material))
    return keys


def _label(found: Mapping[RefKey, Resolved], kind: RefKind, ref_id: str | None) -> str | None:
    resolved = found.get((kind.value, ref_id)) if ref_id else None
    return resolved.label if resolved is not None else None


def _text(value: object) -> str | None:
    return str(value) if value else None
