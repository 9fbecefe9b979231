"""The `stockroom` command-line client against the local stack, run as `make install` installs it."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockroom_cli.install import write_launcher
from tests.e2e.conftest import Stack


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bin") / "stockroom"
    write_launcher(path, sys.executable)
    return path


def run(
    launcher: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOCKROOM_")}
    return subprocess.run(
        [str(launcher), *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def as_key(stack: Stack) -> dict[str, str]:
    return {"STOCKROOM_URL": stack.base_url, "STOCKROOM_API_KEY": stack.api_key}


def test_whoami_reads_the_url_and_key_from_the_environment_or_from_flags(stack: Stack, launcher: Path) -> None:
    from_env = run(launcher, "whoami", env=as_key(stack))
    from_flags = run(launcher, "--url", stack.base_url, "--key", stack.api_key, "whoami")

    assert from_env.returncode == 0, from_env.stderr
    assert f"Company ID:  {stack.company_id}" in from_env.stdout
    assert from_flags.stdout == from_env.stdout


def test_without_a_key_it_says_so_and_a_bad_key_is_the_api_s_refusal(stack: Stack, launcher: Path) -> None:
    missing = run(launcher, "--url", stack.base_url, "whoami")
    refused = run(launcher, "--url", stack.base_url, "--key", "sr_nope", "whoami")

    assert missing.returncode == 2
    assert "--key" in missing.stderr
    assert refused.returncode == 3
    assert "401" in refused.stderr


def test_a_clean_import_exits_0_and_export_and_jobs_show_it(stack: Stack, launcher: Path, tmp_path: Path) -> None:
    file = tmp_path / "stock.csv"
    file.write_text("productName,quantity\nCli bar,3\nCli tube,2\n")

    imported = run(launcher, "import", "inventory", str(file), env=as_key(stack))

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "completed: 2 rows processed, 2 created, 0 updated, 0 rejected" in imported.stdout
    assert "Importing" in imported.stderr  # the progress bar
    exported = run(launcher, "export", "inventory", "-o", str(tmp_path / "out.csv"), env=as_key(stack))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert {"Cli bar", "Cli tube"} <= {r["productName"] for r in rows}
    listed = run(launcher, "jobs", env=as_key(stack))
    assert listed.returncode == 0, listed.stderr
    assert "stock.csv" in listed.stdout
    assert "presigned" in listed.stdout


def test_rejected_rows_are_a_table_and_a_non_zero_exit(stack: Stack, launcher: Path, tmp_path: Path) -> None:
    file = tmp_path / "mixed.csv"
    file.write_text("productName,quantity\nCli good,1\nCli bad,-4\n,2\n")

    imported = run(launcher, "import", "inventory", str(file), env=as_key(stack))

    assert imported.returncode == 1, imported.stdout + imported.stderr
    assert "1 created" in imported.stdout
    assert "2 rejected" in imported.stdout
    lines = imported.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["line", "field", "message"])
    table = lines[header + 2 : header + 4]
    assert [row.split()[:2] for row in table] == [["3", "quantity"], ["4", "productName"]]
    assert "errors.csv" in imported.stdout
