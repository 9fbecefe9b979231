"""The offline dependency audit (infra/audit.py) and the hash-pinned lock it reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import audit

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[2]
SHARED_DB = ROOT.parent / "shared" / "advisories"

ADVISORY = """\
id: PYSEC-0000-1
aliases: [CVE-0000-1]
affected:
- package: {{name: Demo_Pkg, ecosystem: PyPI}}
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 1.4.0
    - introduced: 2.0.0
    - last_affected: 2.1.0
  versions: [0.9b1]
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    folder = tmp_path / "vulns" / "demo-pkg"
    folder.mkdir(parents=True)
    (folder / "PYSEC-0000-1.yaml").write_text(ADVISORY.format())
    withdrawn = ADVISORY.format().replace("PYSEC-0000-1", "PYSEC-0000-2") + "withdrawn: '2020-01-01T00:00:00Z'\n"
    (folder / "PYSEC-0000-2.yaml").write_text(withdrawn)
    return tmp_path


CASES = [("1.0", True), ("1.3.9", True), ("1.4.0", False), ("1.9", False), ("2.0.0", True), ("2.1.0", True)]
CASES += [("2.1.1", False), ("0.9b1", True)]


@pytest.mark.parametrize(("version", "vulnerable"), CASES)
def test_a_pin_inside_an_affected_range_or_list_is_found(db: Path, version: str, vulnerable: bool) -> None:
    lock = f"demo.pkg=={version} \\\n    --hash=sha256:00\nother==1.0\n"
    findings = audit.audit(lock, db)
    assert [f.advisory for f in findings] == (["PYSEC-0000-1"] if vulnerable else [])
    if vulnerable:
        assert findings[0].aliases == ("CVE-0000-1",)
        assert findings[0].fixed == ("1.4.0",)


def test_main_exits_1_naming_the_vulnerability_and_2_without_a_database(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("Demo-Pkg[extra]==1.2 \\\n    --hash=sha256:00\n")
    assert audit.main(["--lock", str(lock), "--db", str(db)]) == 1
    assert "VULNERABLE demo-pkg==1.2: PYSEC-0000-1 (CVE-0000-1); fixed in 1.4.0" in capsys.readouterr().out
    assert audit.main(["--lock", str(lock), "--db", str(tmp_path / "missing")]) == 2


@pytest.mark.skipif(not SHARED_DB.is_dir(), reason="the shared advisory snapshot is not on this machine")
def test_the_real_snapshot_knows_an_old_requests_and_passes_todays_lock() -> None:
    findings = audit.audit("requests==2.2.0\n", SHARED_DB)
    assert "PYSEC-2014-13" in {f.advisory for f in findings}
    assert audit.audit((ROOT / "requirements.lock").read_text(), SHARED_DB) == []


def test_every_requirement_pin_is_in_the_lock_with_hashes() -> None:
    # `make install` installs from the lock with --require-hashes: a pin changed in requirements*.txt
    # without `make lock` would silently not be what gets installed.
    lock = (ROOT / "requirements.lock").read_text()
    locked = audit.pins(lock)
    for name in ("requirements.txt", "requirements-dev.txt"):
        for package, version in audit.pins((ROOT / name).read_text()).items():
            assert locked.get(package) == version, f"{name}: {package}=={version} is not in requirements.lock"
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[-1].strip())
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)
