"""Writes the `stockroom` launcher (`make install` runs it): `python -m stockroom_cli.install PATH`.

The launcher runs pyproject's entry point `stockroom_cli.main:cli` with this
interpreter and this checkout, as pip's console scripts do, without a build
step (so it works offline, from the hash-pinned lock alone).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LAUNCHER = """#!{python}
import sys

sys.path.insert(0, {project!r})
from stockroom_cli.main import cli

sys.exit(cli())
"""


def write_launcher(path: Path, python: str = sys.executable) -> None:
    path.write_text(LAUNCHER.format(python=python, project=str(PROJECT_DIR)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


if __name__ == "__main__":
    write_launcher(Path(sys.argv[1]))
