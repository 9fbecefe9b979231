"""What every company route shares: its tags and path prefix (the company check is `endpoint(company_param=...)`)."""

from __future__ import annotations

TAG_INVENTORY = "Company inventory"
TAG_REFERENCE = "Company reference data"
TAG_IMPORTS = "Company imports"
PREFIX = "/companies/{companyId}"
