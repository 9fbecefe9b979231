"""`POST /jobs/{name}/run`: an operator runs a scheduled job now, for their own company.

The route and the schedule call the same function (`events/schedules.JOBS`). This is
the one http module that reaches into `events`: it imports the registry on first
call, so the API's cold start does not load the job code.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.errors import At, NotFound, Problem
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.http.routing import Call, endpoint

jobs = Blueprint(__name__)


@endpoint(
    jobs,
    "/jobs/{name}/run",
    "POST",
    permissions=[Permission.ADMIN],
    summary="Run a scheduled job now",
    tag="Platform: jobs",
    extension=True,
    response=dict[str, Any],
    description=(
        "Runs scheduled job `name` for the caller's company only, now, and answers a summary of what it did "
        "(the same code the schedule runs for every company). Names: `reservation-expiry` (releases expired "
        "reservations: `expired`), `reconciliation` (checks every record's on-hand against its ledger now, "
        "whatever the nightly pass did: `checked`, `mismatches`, `done`), the warehouse jobs (`expiry`, "
        "`hold-expiry`, `replenishment`), and `backfill` (numbers "
        "products and locations written before numbering and adds the index entries older stock records and "
        "ledger lines lack; bounded per call: `done` false means call it again, it resumes where it stopped). An "
        "unknown name is a 404 listing the known ones. No body. Permission: admin."
    ),
    response_example={"job": "reconciliation", "checked": 42, "mismatches": [], "done": True},
)
def run_job(call: Call) -> dict[str, Any]:
    from chalicelib.events import schedules

    name = call.path["name"]
    if name not in schedules.JOBS:
        known = ", ".join(schedules.job_names())
        raise NotFound(f"no job named {name}", [Problem(At("name"), f"unknown job; known: {known}")])
    return schedules.run_job(name, call.tenant_id)
