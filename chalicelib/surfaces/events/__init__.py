"""Stock events and webhooks: `/events`, `/webhooks...` (an extension: no seed document has them).

Translation only: the rules live in chalicelib/core/events."""

from __future__ import annotations

from chalice import Blueprint

stock_events = Blueprint(__name__)

# Importing the route module declares its routes on the blueprint.
from chalicelib.surfaces.events import routes  # noqa: E402, F401
