"""Schemathesis over the whole OpenAPI document, against the local stack.

Every operation the document lists is fuzzed (a route added later is covered
without editing anything; only `DELETE /api-keys/{keyId}` is left out, in
`schemathesis.toml`, or the run would revoke its own key). Checks: no 5xx,
no undocumented status code, no undocumented Content-Type, every response
valid against its documented schema.

Phases (`STOCKROOM_FUZZ_PHASES`): by default the document's examples,
fuzzing (`STOCKROOM_FUZZ_EXAMPLES` generated cases per operation, 10 by
default) and stateful runs along the document's links (a created order to
its GET, details, history and reserve). `make fuzz` (which CI runs after
`make test`) runs the examples and 100 cases per operation; `make fuzz-deep`
adds the coverage phase (boundary and invalid values, wrong media types and
methods) and the stateful runs. 100 cases
do not fit `make test`'s 15-minute budget on a 2-core machine (figures in the
README's "Safety net").

The run uses a company of its own, so it does not disturb the other tests'
demo company.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.e2e.conftest import PROJECT_DIR, CreatedTenant, Stack, subprocess_env

FUZZ_EXAMPLES = int(os.environ.get("STOCKROOM_FUZZ_EXAMPLES", "10"))
FUZZ_PHASES = os.environ.get("STOCKROOM_FUZZ_PHASES", "examples,fuzzing,stateful")
# The whole run stops after this long (the local stack is slow but never this slow).
FUZZ_TIMEOUT = 3600


def test_given_the_openapi_document_when_fuzzed_then_no_5xx_no_undocumented_status_and_valid_bodies(
    stack: Stack, make_tenant: Callable[..., CreatedTenant], tmp_path: Path
) -> None:
    # Given a company of the fuzzer's own, with every permission
    tenant = make_tenant("Fuzz company")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    report = tmp_path / "junit.xml"

    # When schemathesis runs over every operation the document lists
    done = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{stack.base_url}/openapi.json",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--phases",
            FUZZ_PHASES,
            "--seed",
            os.environ.get("STOCKROOM_FUZZ_SEED", "20261206"),
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        cwd=PROJECT_DIR,
        env=subprocess_env(
            STOCKROOM_FUZZ_KEY=tenant.api_key,
            STOCKROOM_FUZZ_COMPANY=tenant.company_id,
            SCHEMATHESIS_HOOKS="tests.e2e.fuzz_hooks",
        ),
        capture_output=True,
        text=True,
        timeout=FUZZ_TIMEOUT,
        check=False,
    )

    # Then every check passed for every operation
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "No operations" not in output
    assert " 0 generated" not in output, output[-3000:]
