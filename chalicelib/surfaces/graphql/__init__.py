"""GraphQL for the multi-source inventory (004): `POST /graphql` (and `GET` for queries), an Apollo
Federation v2 subgraph, and its SDL at `GET /graphql/schema.graphql`. Translation only: the resolvers
call the v2 service and the import service.

strawberry (and graphql-core) load on the first GraphQL request: importing the app imports only the
route declarations (`routes.py`), never `schema.py`, `execution.py` or `limits.py`.
"""

from __future__ import annotations

from chalice import Blueprint

graphql = Blueprint(__name__)

# Importing the route module declares its routes on the blueprint.
from chalicelib.surfaces.graphql import routes  # noqa: E402, F401
