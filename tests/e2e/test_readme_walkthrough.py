"""The README's "first ten minutes" runs as written, against the local stack, so it cannot rot.

Every fenced `sh` block between the walkthrough markers is run, in order, in
one POSIX shell, with the values `make run` prints (base URL, company, key)
and the stack's S3 endpoint put where the README tells the reader to put
them. Then the API is asked whether each step did what the README says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import PROJECT_DIR, Api, Stack

README = PROJECT_DIR / "README.md"
START = "<!-- walkthrough"
END = "<!-- /walkthrough -->"


def walkthrough_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index(START) : text.index(END)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def script_for(stack: Stack) -> str:
    blocks = walkthrough_blocks()
    first = blocks[0]
    values = {
        "B=http://127.0.0.1:8000": f"B={stack.base_url}",
        "CO=<Company ID>": f"CO={stack.company_id}",
        "KEY=<API key>": f"KEY={stack.api_key}",
        "S3=http://127.0.0.1:5001": f"S3={stack.moto_endpoint}",
    }
    for placeholder, value in values.items():
        assert placeholder in first, f"the first block no longer sets {placeholder}"
        first = first.replace(placeholder, value)
    report = 'echo; echo "ITEM=$ITEM ORDER=$ORDER LINE=$LINE RESERVED=$RESERVED JOB=$JOB"\n'
    return "\n".join([first, *blocks[1:], report])


def test_the_walkthrough_has_every_step_the_readme_promises() -> None:
    script = "\n".join(walkthrough_blocks())

    for step in ("inventory-types", "/inventory ", "inventory/csv", "dropbox/", "/orders", "/reserve?", "DELETE"):
        assert step in script
    # No platform-specific command (`open` exists only on macOS, `start` only on Windows).
    assert not re.search(r"^\s*(open|start|xdg-open|pbcopy)\b", script, flags=re.MULTILINE)


def test_the_readme_walkthrough_runs_as_written(stack: Stack, api: Api, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    done = subprocess.run(
        ["sh", "-e", "-c", script_for(stack)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    made = dict(pair.split("=", 1) for pair in done.stdout.strip().splitlines()[-1].split())
    assert all(made.values()), done.stdout
    # The misspelt field was named.
    assert '"field":"[0].qty"' in done.stdout
    # The CSV upload's job completed with both rows.
    job = api.get(f"/companies/{stack.company_id}/imports/{made['JOB']}").json()
    assert (job["status"], job["created"]) == ("completed", 2)
    # The drop folder's file became a job of its own, listed with the others.
    jobs = api.get(f"/companies/{stack.company_id}/imports").json()
    assert any(j["source"] == "dropbox" for j in jobs)
    # The reservation was split off and released again: its row holds the 4, nothing reserved.
    reserved = api.get(f"/companies/{stack.company_id}/inventory/{made['RESERVED']}").json()
    original = api.get(f"/companies/{stack.company_id}/inventory/{made['ITEM']}").json()
    assert (reserved["quantity"], original["quantity"]) == (4, 8)
    assert reserved["linkedOrders"] == "[]"
    order = api.get(f"/companies/{stack.company_id}/orders/{made['ORDER']}").json()
    assert order["orderReference"] == "PO-2026-0142"


@pytest.mark.parametrize("command", ["curl", "sh"])
def test_the_walkthrough_needs_only_common_tools(command: str) -> None:
    assert subprocess.run(["sh", "-c", f"command -v {command}"], capture_output=True, check=False).returncode == 0
