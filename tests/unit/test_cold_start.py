"""`import app` (a Lambda cold start) builds nothing a request does not need.

Every model's validator is built on first use (`core.models.Model`,
`defer_build`), so a request pays only for the models it touches; boto3, the
email parser (multipart uploads), PyJWT (OAuth2 tokens), GraphQL (strawberry) and the certificate pack code load on the
first request that needs them. benchmarks/cold_start.py prints the figures;
this test only pins what is loaded, never a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
import app
import pydantic

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

built = sorted(
    f"{c.__module__}.{c.__qualname__}"
    for c in set(subclasses(pydantic.BaseModel))
    if c.__module__.startswith("chalicelib") and c.__pydantic_complete__
)
heavy = ("boto3", "email.parser", "pydantic.plugin._loader", "chalicelib.features.certificates.packs", "jwt")
heavy += ("strawberry", "graphql")
print(json.dumps({"built": built, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_importing_the_app_builds_no_model_and_loads_nothing_heavy() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYDANTIC")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )

    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"built": [], "loaded": []}


def test_a_deferred_model_still_validates_on_first_use() -> None:
    from chalicelib.core.models import Actor, StockRecord

    with pytest.raises(ValueError, match="available must equal"):
        StockRecord(tenant_id="t", product_id="p", location_id="l", on_hand=1)
    assert Actor(id="a", name="A").model_dump() == {"id": "a", "name": "A"}
