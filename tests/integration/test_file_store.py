"""The files bucket contracts, run against S3 (moto) and the in-memory fakes.

S3Files is the core's FileSource (imports), ExportStore (downloads) and
DocumentStore (certificate documents); S3PackStore is the certificate pack
cache over the same bucket, which reads documents only under `certificates/`.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.core.ids import new_id
from chalicelib.core.imports.jobs import FileRejected, read_rows
from chalicelib.features.certificates.packs import PackCache, StoredObject, pack_key
from chalicelib.settings import get_settings
from chalicelib.storage.files import S3Files
from chalicelib.storage.packs import S3PackStore
from tests.fakes import InMemoryFiles, InMemoryPackStore

PDF = b"%PDF-1.4 a certificate"


@pytest.fixture(params=["fake", "s3"])
def bucket(request: pytest.FixtureRequest) -> tuple[Any, PackCache]:
    """The files store and the pack cache of one bucket."""
    if request.param == "fake":
        files = InMemoryFiles()
        return files, InMemoryPackStore(files)
    request.getfixturevalue("module_aws")
    name = get_settings().bucket
    return S3Files(name), S3PackStore(name)


@pytest.fixture
def files(bucket: tuple[Any, PackCache]) -> Any:
    return bucket[0]


@pytest.fixture
def packs(bucket: tuple[Any, PackCache]) -> PackCache:
    return bucket[1]


@pytest.fixture
def tenant() -> str:
    return new_id()


def etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


# -- files: imports read them line by line -------------------------------------------------


def test_a_file_reads_back_as_utf8_lines_with_their_ends_and_without_a_bom(files: Any, tenant: str) -> None:
    key = f"uploads/{tenant}/inventory/{new_id()}.csv"
    body = '\ufeffname,notes\r\n"Bar","two\nlines"\r\nTube,a\u2028b\x0cc\nlast'.encode()
    files.put(key, body, "text/csv", {"job-id": "j1"})

    assert files.size(key) == len(body)
    assert list(files.lines(key)) == ["name,notes\r\n", '"Bar","two\n', 'lines"\r\n', "Tube,a\u2028b\x0cc\n", "last"]
    columns, rows = read_rows(files.lines(key))
    assert columns == ["name", "notes"]
    assert [(r.line, r.cells.get("notes")) for r in rows] == [(2, "two\nlines"), (3, "a\u2028b\x0cc"), (4, None)]
    assert files.size(f"uploads/{tenant}/inventory/missing.csv") is None


def test_a_file_that_is_not_utf8_is_refused_at_the_line_where_the_stream_reaches_it(files: Any, tenant: str) -> None:
    small = f"uploads/{tenant}/inventory/{new_id()}.csv"
    files.put(small, b"name\nBar\n" + "Müller\n".encode("latin-1"), "text/csv")
    with pytest.raises(FileRejected, match="line 1: not readable"):
        read_rows(files.lines(small))

    # The file is read in 256 KiB pieces: rows before the piece with the bad byte are read first.
    big = f"uploads/{tenant}/inventory/{new_id()}.csv"
    body = b"name\n" + b"".join(b"row-%06d\n" % n for n in range(30_000)) + "Müller\n".encode("latin-1")
    files.put(big, body, "text/csv")
    whole_lines = body[: 256 * 1024].count(b"\n")
    _, rows = read_rows(files.lines(big))
    with pytest.raises(FileRejected, match=f"line {whole_lines + 1}: not readable"):
        list(rows)

    empty = f"uploads/{tenant}/inventory/{new_id()}.csv"
    files.put(empty, b"", "text/csv")
    with pytest.raises(FileRejected, match="empty"):
        read_rows(files.lines(empty))


def test_a_presigned_post_targets_the_key(files: Any, tenant: str) -> None:
    key = f"uploads/{tenant}/inventory/{new_id()}.csv"
    post = files.presigned_post(key, 1024, 900)
    assert post["fields"]["key"] == key
    assert get_settings().bucket in post["url"]


# -- files: downloads -------------------------------------------------------------------------


def test_a_download_url_names_the_object_its_filename_type_and_lifetime(files: Any, tenant: str) -> None:
    key = f"exports/{tenant}/{new_id()}/inventory.csv"
    files.put(key, b"a,b\r\n", "text/csv", {"tenant-id": tenant}, filename="inventory.csv")

    url = files.download_url(key, "inventory.csv", "text/csv; charset=utf-8", 300)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.endswith(key)
    assert query["response-content-disposition"] == ['attachment; filename="inventory.csv"']
    assert query["response-content-type"] == ["text/csv; charset=utf-8"]
    assert query["X-Amz-Expires"] == ["300"]


# -- the pack cache ----------------------------------------------------------------------------


def test_a_cached_pack_reads_back_by_its_fingerprint(packs: PackCache, tenant: str) -> None:
    packs.put(tenant, "o-1", "fp-1", PDF)

    assert packs.get(tenant, "o-1", "fp-1") == PDF
    assert packs.get(tenant, "o-1", "fp-2") is None
    assert packs.get(new_id(), "o-1", "fp-1") is None
    url = packs.download_url(tenant, "o-1", "fp-1", "pack-SO-1.pdf")
    assert urlsplit(url).path.endswith(pack_key(tenant, "o-1", "fp-1"))
    assert parse_qs(urlsplit(url).query)["response-content-disposition"] == ['attachment; filename="pack-SO-1.pdf"']


def test_documents_are_read_only_under_certificates_and_within_their_size(
    files: Any, packs: PackCache, tenant: str
) -> None:
    own = f"certificates/{tenant}/c-1/{new_id()}.pdf"
    elsewhere = f"exports/{tenant}/{new_id()}/secret.pdf"
    files.put(own, PDF, "application/pdf")
    files.put(elsewhere, PDF, "application/pdf")
    packs.put(tenant, "o-1", "fp-1", PDF)
    missing = f"certificates/{tenant}/c-2/none.pdf"

    assert packs.stat([own, elsewhere, missing, pack_key(tenant, "o-1", "fp-1"), "certificates//x.pdf"]) == {
        own: StoredObject(etag=etag(PDF), size=len(PDF))
    }
    assert packs.stat([]) == {}
    document = packs.document(own, len(PDF))
    assert document is not None
    assert (document.body, document.etag) == (PDF, etag(PDF))
    assert packs.document(own, len(PDF) - 1) is None
    assert packs.document(elsewhere, 10_000) is None
    assert packs.document(missing, 10_000) is None
    assert packs.document(pack_key(tenant, "o-1", "fp-1"), 10_000) is None
