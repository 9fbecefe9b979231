"""003 certificate pack: `GET /companies/{companyId}/orders/{orderId}/certificate-pack`.

HTTP only: the service (wiring.certificate_pack_service(), built with its PDF
renderer from chalicelib/documents/order_pack.py) gathers the pack, renders it
and keeps the S3 cache. This module reads If-None-Match, names the file and
chooses between an inline body, a 304 and a 303 to a download URL. It never
imports the documents layer, so importing the app loads no PDF code.
"""

from __future__ import annotations

import re

from chalicelib.core import exports
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company.orders import orders
from chalicelib.surfaces.company.orders.common import ORDER, READ, TAG_ORDERS
from chalicelib.wiring import certificate_pack_service

PDF = "application/pdf"
PACK_PATH = f"{ORDER}/certificate-pack"
FILENAME_CHARS = 100


def pack_filename(order_reference: str, order_id: str) -> str:
    """`certificate-pack-<reference>.pdf` with only letters, digits, `.`, `_` and `-` in the reference."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", order_reference).strip("._-")[:FILENAME_CHARS]
    return f"certificate-pack-{safe or re.sub(r'[^A-Za-z0-9-]', '', order_id)}.pdf"


def requested_etags(header: str | None) -> set[str]:
    """The entity tags of an If-None-Match header, unquoted; weak ones compare equal (RFC 9110 13.1.2)."""
    tags = set()
    for part in (header or "").split(","):
        tag = part.strip().removeprefix("W/").strip()
        if len(tag) >= 2 and tag.startswith('"') and tag.endswith('"'):
            tags.add(tag[1:-1])
    return tags


@endpoint(
    orders,
    PACK_PATH,
    "GET",
    permissions=READ,
    summary="Download the order's certificate pack (PDF)",
    tag=TAG_ORDERS,
    company_param="companyId",
    produces=PDF,
    headers=("ETag", "Cache-Control", "Content-Disposition", "Location"),
    description=(
        "One PDF: a cover page listing the order, its active line items with the heat codes of the inventory "
        "reserved against each, the mill certifications of those heat codes (with their pages in the pack) and "
        "the heat codes that have no certificate, followed by each certificate's own PDF. An order without "
        "reservations still gets a pack: its cover says no heat code is reserved. Certificate documents are "
        "included only when the certification's documentUrl names this company's files in Stockroom's bucket "
        "(`certificates/<companyId>/...`, as a key, an `s3://` URI or an https S3 URL); any other URL is never "
        "fetched, and the certificate gets a placeholder page that shows the URL and says the document is not "
        "stored with Stockroom. The pack is stored in S3 and "
        "served again while nothing it shows has changed (order, lines, reservations, certifications, "
        "suppliers, documents). `ETag` is the pack's fingerprint: a request with `If-None-Match` equal to it "
        f"gets 304 with no body. A pack over {exports.MAX_INLINE_BYTES // (1024 * 1024)} MiB (base64) is answered "
        "with 303 and a `Location` (also `downloadUrl` in the body) valid for 5 minutes. A pack over its limits "
        "(1,000 lines, 200 certificates, 50 MiB of documents, 2,000 pages) is a 400 PACK_TOO_LARGE. "
        "Send `Accept: application/pdf` (or `*/*`): API "
        "Gateway answers a binary body only to a request that accepts it. A deleted order, or another "
        "company's, is a 404. Permission: orders.read."
    ),
)
def certificate_pack(call: Call) -> Reply:
    tenant = call.tenant_id
    order_id = call.path["orderId"]
    service = certificate_pack_service()
    wanted = requested_etags(call.request.headers.get("if-none-match"))
    result = service.pack(tenant, order_id, if_none_match=wanted)
    headers = {"ETag": f'"{result.fingerprint}"', "Cache-Control": "private, no-cache"}
    if result.pdf is None:
        return Reply(status=304, raw="", headers=headers)
    filename = pack_filename(result.order_reference, order_id)
    if not exports.fits_inline(result.pdf):
        url = service.download_url(tenant, order_id, result.fingerprint, filename)
        return Reply(status=303, body={"downloadUrl": url}, headers={**headers, "Location": url})
    disposition = f'attachment; filename="{filename}"'
    return Reply(raw=result.pdf, content_type=PDF, headers={**headers, "Content-Disposition": disposition})
