"""Files in the S3 bucket: uploads, presigned uploads and downloads, and streaming reads.

`lines` never holds the file: it decodes S3's body chunk by chunk and yields
text lines with their line ends (the csv module needs them to read quoted
cells that span lines), so an import's memory stays flat whatever the size.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import Any

from chalicelib.storage.aws import client

READ_CHUNK_BYTES = 256 * 1024


class S3Files:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
        filename: str | None = None,
    ) -> None:
        """Store one object; with a filename, whoever GETs it saves it as an attachment of that name."""
        extra = {"ContentDisposition": attachment(filename)} if filename is not None else {}
        client("s3").put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata or {}, **extra
        )

    def read_bytes(self, key: str) -> bytes:
        data: bytes = client("s3").get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return data

    def download_url(self, key: str, filename: str, content_type: str, expires_seconds: int) -> str:
        return presigned_get(self._bucket, key, filename, content_type, expires_seconds)

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = client("s3").head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def lines(self, key: str) -> Iterator[str]:
        """The object's text (UTF-8, a leading BOM dropped), line by line, line ends kept."""
        body = client("s3").get_object(Bucket=self._bucket, Key=key)["Body"]
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        pending = ""
        try:
            for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                # Split on \n only: "\r\n" stays whole, and characters that str.splitlines
                # also breaks on (form feed, U+2028) stay inside their cell.
                *complete, pending = (pending + decoder.decode(chunk)).split("\n")
                for line in complete:
                    yield line + "\n"
            pending += decoder.decode(b"", final=True)
            if pending:
                yield pending
        finally:
            body.close()

    def copy(self, source_key: str, key: str, metadata: dict[str, str] | None = None) -> None:
        """Copy an object inside the bucket (server side: the file never passes through this process)."""
        client("s3").copy_object(
            Bucket=self._bucket,
            Key=key,
            CopySource={"Bucket": self._bucket, "Key": source_key},
            Metadata=metadata or {},
            MetadataDirective="REPLACE",
            ContentType="text/csv",
        )

    def presigned_post(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        """A form POST that stores one file at `key`; S3 itself refuses a bigger file."""
        conditions: list[Any] = [["content-length-range", 1, max_bytes]]
        post: dict[str, Any] = client("s3").generate_presigned_post(
            Bucket=self._bucket, Key=key, Conditions=conditions, ExpiresIn=expires_seconds
        )
        return post


def presigned_get(bucket: str, key: str, filename: str, content_type: str, expires_seconds: int) -> str:
    """A GET URL, signed with this role's credentials, that downloads the object as an attachment."""
    url: str = client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": attachment(filename),
        },
        ExpiresIn=expires_seconds,
    )
    return url


def attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'
