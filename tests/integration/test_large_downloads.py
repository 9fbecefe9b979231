"""Downloads too big for a Lambda response, through the real app on moto.

The inventory CSV, the orders CSV and the orders ZIP are answered inline up
to the limit, and above it with a 303 to a presigned S3 URL of the same file.
The limit is lowered to the exact size of each download, so both sides of it
are exercised with real files of a few KiB.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from chalice.test import Client

from chalicelib.core import exports
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from tests.integration.company import Company, Refs, make_company

pytestmark = pytest.mark.shared_aws

EVERYTHING = ("admin", "inventory.read", "inventory.write", "orders.read", "orders.write")
CSV = "text/csv; charset=utf-8"
ZIP = "application/zip"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Download:
    path: str
    content_type: str
    prefix: str  # of the attachment's filename
    extension: str


DOWNLOADS = [
    Download("/inventory/csv", CSV, "inventory", "csv"),
    Download("/orders/csv", CSV, "orders", "csv"),
    Download("/orders/zip", ZIP, "orders", "zip"),
]


@pytest.fixture
def acme(http: Client) -> Company:
    company = make_company(http, "Acme", EVERYTHING)
    refs = Refs(company)
    items = [
        refs.item(productName='Rundstahl Ø 50 "blank"', heatCode="H-Ü1"),
        refs.item(productName="=SUM(A1:A9)", quantity="2"),
        refs.item(productName="Plate 20mm", quantity="3"),
    ]
    company.ok("POST", "/inventory", items, 201)
    orders = [
        {
            "orderReference": f"SO-{n}",
            "lineItems": [{"productName": f"Bar {n} \u2013 Größe {m}", "quantity": str(m)} for m in (1, 2)],
        }
        for n in range(3)
    ]
    company.ok("POST", "/orders", orders, 201)
    return company


@pytest.fixture
def other(http: Client) -> Company:
    company = make_company(http, "Other", EVERYTHING)
    company.ok("POST", "/orders", [{"orderReference": "OTHER-1"}], 201)
    return company


def get(company: Company, download: Download) -> Any:
    # API Gateway answers a binary body only to a request that accepts it.
    return company.call("GET", download.path, headers={"Accept": "*/*"})


def body_bytes(response: Any) -> bytes:
    return response.body if isinstance(response.body, bytes) else response.body.encode()


def travelling_size(download: Download, body: bytes) -> int:
    """What the body takes in Lambda's response, worked out here rather than by the code under test."""
    if download.content_type == ZIP:
        return len(base64.b64encode(body))
    return len(json.dumps(body.decode("utf-8"))) - 2


def content(download: Download, body: bytes) -> Any:
    """What the file holds: a ZIP's bytes carry the time it was built, so its members are compared."""
    if download.content_type != ZIP:
        return body
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def exported_keys(tenant: str = "") -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=get_settings().bucket, Prefix=f"exports/{tenant}")
    return [item["Key"] for item in listed.get("Contents", [])]


def key_of(url: str) -> str:
    """The object key a presigned URL names, path-style or virtual-hosted."""
    bucket = get_settings().bucket
    parts = urlsplit(url)
    path = unquote(parts.path).lstrip("/")
    if parts.hostname and parts.hostname.startswith(f"{bucket}."):
        return path
    assert path.startswith(f"{bucket}/"), url
    return path.removeprefix(f"{bucket}/")


def seconds_valid(query: dict[str, list[str]]) -> float:
    """How long a presigned URL lives. SigV4 only: buckets made since 2020 refuse SigV2 signatures."""
    assert "X-Amz-Signature" in query and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    return int(query["X-Amz-Expires"][0])


@pytest.mark.parametrize("download", DOWNLOADS, ids=lambda d: d.path)
def test_a_download_within_the_limit_is_answered_inline(
    acme: Company, download: Download, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = get(acme, download)
    assert first.status_code == 200, first.body
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", travelling_size(download, body_bytes(first)))

    response = get(acme, download)

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == download.content_type
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="{download.prefix}-{acme.id}-\d{{8}}\.{download.extension}"', disposition
    )
    assert "Location" not in response.headers
    assert content(download, body_bytes(response)) == content(download, body_bytes(first))
    assert exported_keys(acme.id) == []


@pytest.mark.parametrize("download", DOWNLOADS, ids=lambda d: d.path)
def test_a_download_over_the_limit_is_a_303_to_the_same_file_in_s3(
    acme: Company, other: Company, download: Download, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = get(acme, download)
    assert inline.status_code == 200, inline.body
    filename = re.findall(r'filename="([^"]+)"', inline.headers["Content-Disposition"])[0]
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", travelling_size(download, body_bytes(inline)) - 1)

    response = get(acme, download)

    assert response.status_code == 303, response.body
    location = response.headers["Location"]
    assert json.loads(response.body) == {"downloadUrl": location}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Disposition" not in response.headers
    # A presigned GET of our bucket, under the caller's exports, valid five minutes.
    key = key_of(location)
    assert re.fullmatch(rf"exports/{acme.id}/{UUID}/{re.escape(filename)}", key), key
    query = parse_qs(urlsplit(location).query)
    assert 295 <= seconds_valid(query) <= 300
    assert query["response-content-disposition"] == [f'attachment; filename="{filename}"']
    assert query["response-content-type"] == [download.content_type]
    # Other tests of the module share the bucket: this download wrote one object, under its company.
    assert (exported_keys(acme.id), exported_keys(other.id)) == ([key], [])
    # The object is the file the inline answer would have been, typed and named like it.
    stored = client("s3").get_object(Bucket=get_settings().bucket, Key=key)
    assert stored["ContentType"] == download.content_type
    assert stored["ContentDisposition"] == f'attachment; filename="{filename}"'
    assert content(download, stored["Body"].read()) == content(download, body_bytes(inline))
    # Nothing of another company is in it.
    assert other.id not in stored.get("Metadata", {}).values()


def test_the_download_url_serves_the_file_as_an_attachment(acme: Company, monkeypatch: pytest.MonkeyPatch) -> None:
    download = DOWNLOADS[0]
    inline = get(acme, download)
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 100)

    location = get(acme, download).headers["Location"]
    fetched = requests.get(location, timeout=5)  # answered by moto in-process

    assert fetched.status_code == 200
    assert fetched.content == body_bytes(inline)
    assert fetched.headers["Content-Type"] == CSV
    assert fetched.headers["Content-Disposition"] == inline.headers["Content-Disposition"]


def test_each_large_download_is_a_new_object_of_its_own_company(
    acme: Company, other: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 10)
    orders_csv = DOWNLOADS[1]

    first = get(acme, orders_csv)
    second = get(acme, orders_csv)
    theirs = get(other, orders_csv)

    assert {first.status_code, second.status_code, theirs.status_code} == {303}
    mine = {key_of(first.headers["Location"]), key_of(second.headers["Location"])}
    assert len(mine) == 2
    assert set(exported_keys(acme.id)) == mine
    (their_key,) = exported_keys(other.id)
    assert their_key == key_of(theirs.headers["Location"])
    stored = client("s3").get_object(Bucket=get_settings().bucket, Key=their_key)["Body"].read().decode()
    assert "OTHER-1" in stored
    assert "SO-0" not in stored
