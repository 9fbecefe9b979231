"""multipart/form-data bodies, read with the standard library's email parser
(the cgi module is deprecated and gone in Python 3.13)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.http.errors import bad_request


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str | None
    content: bytes


def file_parts(content_type: str, body: bytes) -> list[FilePart]:
    """Every part of the form that carries a file (or any named value), in order."""
    if "boundary=" not in content_type:
        raise bad_request("multipart body without a boundary", field="Content-Type", code="INVALID_MULTIPART")
    # The email package is imported here, by the uploads that need it, not by every cold start.
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(_class=EmailMessage, policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise bad_request("multipart body could not be read", field="body", code="INVALID_MULTIPART")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        parts.append(FilePart(str(name), part.get_filename(), payload if isinstance(payload, bytes) else b""))
    return parts
