"""Audit the pinned dependencies against an offline OSV advisory database.

    python -m infra.audit [--lock requirements.lock] [--db DIR]

DIR is a snapshot of the Python Packaging Advisory Database (one OSV YAML
file per advisory under `vulns/<package>/`); it comes from `--db` or the
`STOCKROOM_ADVISORIES` setting, so a newer snapshot can be dropped in. Every
`name==version` pin of the lock file is checked against the advisories'
`affected` entries (explicit versions, and ECOSYSTEM ranges with
introduced / fixed / last_affected events). Exits 1 naming each known
vulnerability of a pinned version, 2 when the database or lock is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]

    def __str__(self) -> str:
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fix = f"; fixed in {', '.join(self.fixed)}" if self.fixed else "; no fixed release listed"
        return f"{self.package}=={self.version}: {self.advisory}{also}{fix}"


def normalise(name: str) -> str:
    """PEP 503: names compare lower-case with runs of -, _ and . as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock_text: str) -> dict[str, str]:
    return {normalise(name): version for name, version in PIN.findall(lock_text)}


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV ECOSYSTEM range semantics: affected from each `introduced` until the next `fixed`/`last_affected`."""
    affected = False
    for event in sorted(events, key=_event_order):
        if "introduced" in event:
            start = event["introduced"]
            if start == "0" or ((v := _version(start)) is not None and version >= v):
                affected = True
        elif _past_the_end(version, event):
            affected = False
    return affected


def _past_the_end(version: Version, event: dict[str, str]) -> bool:
    if "fixed" in event:
        fixed = _version(event["fixed"])
        return fixed is not None and version >= fixed
    last = _version(event.get("last_affected", ""))
    return last is not None and version > last


def _event_order(event: dict[str, str]) -> tuple[Version, int]:
    (kind, value), *_ = event.items()
    parsed = Version("0") if value == "0" else (_version(value) or Version("0"))
    # At the same version, an introduction comes before the fix that ends it.
    return parsed, 0 if kind == "introduced" else 1


def affects(advisory: dict[str, Any], package: str, version: str) -> tuple[bool, tuple[str, ...]]:
    """Whether `advisory` covers package==version, and the releases that fix it."""
    parsed = _version(version)
    hit = False
    fixed: list[str] = []
    for entry in advisory.get("affected") or []:
        if normalise(str((entry.get("package") or {}).get("name", ""))) != package:
            continue
        if version in {str(v) for v in entry.get("versions") or []}:
            hit = True
        for spread in entry.get("ranges") or []:
            events = [{str(k): str(v) for k, v in e.items()} for e in spread.get("events") or []]
            fixed += [e["fixed"] for e in events if "fixed" in e]
            if spread.get("type") == "ECOSYSTEM" and parsed is not None and in_range(parsed, events):
                hit = True
    return hit, tuple(sorted(set(fixed), key=lambda f: _version(f) or Version("0")))


def advisories(db: Path, package: str) -> Iterator[dict[str, Any]]:
    folder = db / "vulns"
    for candidate in folder.iterdir() if folder.is_dir() else ():
        if candidate.is_dir() and normalise(candidate.name) == package:
            for path in sorted(candidate.glob("*.yaml")):
                loaded = yaml.safe_load(path.read_text())
                if isinstance(loaded, dict) and not loaded.get("withdrawn"):
                    yield loaded


def audit(lock_text: str, db: Path) -> list[Finding]:
    findings: list[Finding] = []
    for package, version in sorted(pins(lock_text).items()):
        for advisory in advisories(db, package):
            hit, fixed = affects(advisory, package, version)
            if hit:
                aliases = tuple(str(a) for a in advisory.get("aliases") or [])
                findings.append(Finding(package, version, str(advisory.get("id")), aliases, fixed))
    return findings


def online(host: str = "api.osv.dev", timeout: float = 3.0) -> bool:
    """Whether the online advisory service answers (pip-audit runs only then)."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--db", type=Path, default=os.environ.get("STOCKROOM_ADVISORIES"))
    parser.add_argument("--online-check", action="store_true", help="exit 0 if the online service answers, else 1")
    args = parser.parse_args(argv)
    if args.online_check:
        return 0 if online() else 1
    if args.db is None or not (args.db / "vulns").is_dir():
        print(f"advisory database not found at {args.db} (set STOCKROOM_ADVISORIES or --db)", file=sys.stderr)
        return 2
    if not args.lock.is_file():
        print(f"lock file not found: {args.lock}", file=sys.stderr)
        return 2
    lock_text = args.lock.read_text()
    findings = audit(lock_text, args.db)
    for finding in findings:
        print(f"VULNERABLE {finding}")
    print(f"audited {len(pins(lock_text))} pinned packages against {args.db}: {len(findings)} known vulnerabilities")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
