"""What every company route shares: the path's company must be the caller's own."""

from __future__ import annotations

from chalicelib.http.errors import HttpError
from chalicelib.http.routing import Call

TAG_INVENTORY = "Company inventory"
TAG_REFERENCE = "Company reference data"
TAG_IMPORTS = "Company imports"
PREFIX = "/companies/{companyId}"


def company_of(call: Call) -> str:
    """The tenant the route acts for. A companyId that is not the caller's is a 403, whatever exists."""
    if call.path.get("companyId") != call.tenant_id:
        raise HttpError(
            403,
            "FORBIDDEN",
            "this key cannot act for that company",
            [{"field": "companyId", "message": "not the company of this API key"}],
        )
    return call.tenant_id
