"""The company surface's orders (003): `/companies/{companyId}/orders...`, translation only."""

from __future__ import annotations

from chalice import Blueprint

orders = Blueprint(__name__)

# Importing the route modules declares their routes on the blueprint.
from chalicelib.surfaces.company.orders import exports, files, packs, routes  # noqa: E402, F401
