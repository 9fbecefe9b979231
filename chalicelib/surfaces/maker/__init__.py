"""The maker surface (002): `/api/products`, `/api/materials`, `/api/locations`, `/api/tasks`,
`/api/task-batches`, and the extensions `/api/users` and `/api/custom-statuses`. Translation only."""

from __future__ import annotations

from chalice import Blueprint

maker = Blueprint(__name__)

# Importing the route modules declares their routes on the blueprint.
from chalicelib.surfaces.maker import locations, people, resources, tasks  # noqa: E402, F401
