"""Cold-start import cost of the app, next to chalice + boto3 + pydantic alone.

    python -m benchmarks.cold_start [--repeat N]

Each measurement is a fresh interpreter (as a Lambda cold start is) that
times one import statement from inside, so interpreter start-up is left out
of every figure. It records wall time and the process's CPU time: on a busy
machine wall time swings with other processes' load while CPU time stays
close to the import's own work. The cases are interleaved, so drift in
machine load touches them alike. Bytecode is cached in a private directory that a warm-up run
fills first, so every measured run reads compiled bytecode and no run pays
for compiling. Nothing here asserts: the figures are for reading.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import SAFE_ENV

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import time\nwall, cpu = time.perf_counter(), time.process_time()\n{statement}\n"
    "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
)
BASELINE = "chalice + boto3 + pydantic"
APP = "app"
CASES = {
    BASELINE: "import chalice, boto3, pydantic",
    APP: "import app",
    # What the first request that touches DynamoDB adds: clients import boto3 lazily.
    "app, then boto3": "import app, boto3",
    # What the first request adds by validating its first model (models are built on first use).
    "app, then settings": "import app\nfrom chalicelib.settings import get_settings\nget_settings()",
}
TOP = 10


@dataclass(frozen=True)
class ImportCost:
    self_us: int
    cumulative_us: int
    module: str


def child_env(pycache: str) -> dict[str, str]:
    # Only what an interpreter needs, plus the AWS safety variables: no
    # endpoint override, no profile, nothing from the caller's shell that
    # could change what gets imported.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPYCACHEPREFIX": pycache, **SAFE_ENV}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float


def time_import(statement: str, env: dict[str, str]) -> Sample:
    result = run_python(["-c", PROBE.format(statement=statement)], env)
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return Sample(float(wall), float(cpu))


def measure(repeat: int, env: dict[str, str]) -> dict[str, list[Sample]]:
    for statement in CASES.values():
        time_import(statement, env)  # warm-up: fills the bytecode cache
    samples: dict[str, list[Sample]] = {name: [] for name in CASES}
    for _ in range(repeat):
        for name, statement in CASES.items():
            samples[name].append(time_import(statement, env))
    return samples


def import_costs(statement: str, env: dict[str, str]) -> list[ImportCost]:
    """Parse `python -X importtime` output (microseconds, one line per module)."""
    result = run_python(["-X", "importtime", "-c", statement], env)
    costs = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        costs.append(ImportCost(int(fields[0]), int(fields[1]), fields[2].strip()))
    return costs


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def report_times(samples: dict[str, list[Sample]], repeat: int) -> None:
    print(f"Import time in a fresh interpreter, {repeat} interleaved runs each (start-up excluded)\n")
    width = max(len(name) for name in samples)
    heads = ("wall median", "wall min", "cpu median", "cpu min", "vs baseline")
    print(f"  {'import'.ljust(width)}  " + "  ".join(h.rjust(11) for h in heads))
    base = statistics.median(s.cpu for s in samples[BASELINE])
    for name, values in samples.items():
        wall = [s.wall for s in values]
        cpu = [s.cpu for s in values]
        figures = (statistics.median(wall), min(wall), statistics.median(cpu), min(cpu))
        ratio = statistics.median(cpu) / base
        print(f"  {name.ljust(width)}  " + "  ".join(ms(f) for f in figures) + f"  {ratio:10.2f}x")
    app, baseline = samples[APP], samples[BASELINE]
    print(
        f"\n  app / ({BASELINE}):"
        f" cpu median {_ratio(app, baseline, 'cpu', statistics.median)},"
        f" wall median {_ratio(app, baseline, 'wall', statistics.median)},"
        f" wall min {_ratio(app, baseline, 'wall', min)}"
    )


def _ratio(a: list[Sample], b: list[Sample], figure: str, pick: Callable[[list[float]], float]) -> str:
    return f"{pick([getattr(s, figure) for s in a]) / pick([getattr(s, figure) for s in b]):.2f}x"


def report_costs(costs: list[ImportCost]) -> None:
    total = max((c.cumulative_us for c in costs), default=0)
    print(f"\nTop {TOP} cumulative import costs of `import app` (python -X importtime, one run)\n")
    print(f"  {'cumulative':>12}  {'self':>10}  module")
    for cost in sorted(costs, key=lambda c: c.cumulative_us, reverse=True)[:TOP]:
        print(f"  {cost.cumulative_us / 1000:9.1f} ms  {cost.self_us / 1000:7.1f} ms  {cost.module}")
    print(f"\n  {len(costs)} modules imported, {total / 1000:.1f} ms in all")
    print(f"  third-party packages loaded: {', '.join(third_party(costs))}")


def third_party(costs: list[ImportCost]) -> list[str]:
    """Top-level packages outside the standard library and this repository.

    importtime also lists imports that were tried and failed (copy.py tries
    `org.python.core`), so only packages that can be found count.
    """
    own = {"app", "chalicelib", "sitecustomize"}
    names = {c.module.split(".", maxsplit=1)[0] for c in costs}
    return sorted(
        n
        for n in names - own
        if n not in sys.stdlib_module_names and not n.startswith("_") and importlib.util.find_spec(n) is not None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured runs per case (default 7)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stockroom-pycache-") as pycache:
        env = child_env(pycache)
        samples = measure(args.repeat, env)
        costs = import_costs(CASES[APP], env)
    report_times(samples, args.repeat)
    report_costs(costs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
