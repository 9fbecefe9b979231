"""The multi-source inventory surface (004): `/v2/...` exactly as documented, plus `/v2/products`
(create, read one) as extensions. Translation only: `features/multisource` holds the rules."""

from __future__ import annotations

from chalice import Blueprint

multisource = Blueprint(__name__)

# Importing the route module declares its routes on the blueprint.
from chalicelib.surfaces.multisource import routes  # noqa: E402, F401
