"""The company inventory surface (000): `/companies/{companyId}/...`, translation only."""

from __future__ import annotations

from chalice import Blueprint

company = Blueprint(__name__)

# Importing the route modules declares their routes on the blueprint.
from chalicelib.surfaces.company import csv_export, documents, imports, inventory, reference  # noqa: E402, F401
