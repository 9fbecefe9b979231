"""The layer rules of docs/architecture.md, enforced on the source text.

Every module under chalicelib/ and app.py is parsed with `ast`, never
imported, so a violation is caught even in a lazy, function-level import and
the check costs no AWS client and no socket.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.disable_socket

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"

AWS_SDK = ("boto3", "botocore")
POWERTOOLS_BUILT_ONCE = {"Logger", "Metrics", "Tracer"}
ENV_ACCESS = {"environ", "getenv", "putenv", "unsetenv", "environb", "getenvb"}
SETTINGS_OR_OBSERVABILITY = {"chalicelib/settings.py", "chalicelib/observability.py"}


@dataclass(frozen=True)
class Module:
    path: str  # relative to the repository root, with forward slashes
    name: str  # dotted module name
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.endswith("__init__.py")


def load(path: Path) -> Module:
    rel = path.relative_to(ROOT).as_posix()
    parts = rel.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return Module(rel, ".".join(parts), ast.parse(path.read_text(), filename=rel))


def shipped_modules() -> list[Module]:
    paths = [*sorted(CHALICELIB.rglob("*.py")), ROOT / "app.py"]
    return [load(p) for p in paths]


MODULES = shipped_modules()


def in_layer(module: Module, *prefixes: str) -> bool:
    return any(module.path == p or module.path.startswith(p.rstrip("/") + "/") for p in prefixes)


# -- what a module imports ---------------------------------------------------


def _resolve_relative(module: Module, node: ast.ImportFrom) -> str:
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: Module) -> set[str]:
    """Every dotted name a module imports, anywhere in it (lazy imports included).

    `from a.b import c` yields both `a.b` and `a.b.c`, because `c` may be a
    submodule (`from chalicelib import storage`).
    """
    found: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_relative(module, node) if node.level else (node.module or "")
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def imports_any(module: Module, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in imported_names(module) if any(n == f or n.startswith(f + ".") for f in forbidden))


def top_level_package(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


# -- what a module does --------------------------------------------------------


def env_reads(module: Module) -> list[int]:
    """Line numbers where the process environment is read or changed."""
    os_aliases = {"os"}
    lines: list[int] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            os_aliases.update(alias.asname or alias.name for alias in node.names if alias.name == "os")
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            lines.extend(node.lineno for alias in node.names if alias.name in ENV_ACCESS)
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_ACCESS
            and isinstance(node.value, ast.Name)
            and node.value.id in os_aliases
        ):
            lines.append(node.lineno)
    return sorted(lines)


def _powertools_bindings(module: Module) -> tuple[set[str], set[str]]:
    """(names bound to Logger/Metrics/Tracer, names bound to a powertools module)."""
    classes: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aws_lambda_powertools"):
            for alias in node.names:
                if alias.name in POWERTOOLS_BUILT_ONCE:
                    classes.add(alias.asname or alias.name)
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aws_lambda_powertools"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    return classes, modules


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _builds_a_logger(func: ast.expr, classes: set[str], powertools_modules: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in classes
    if not isinstance(func, ast.Attribute):
        return False
    root = _root_name(func)
    if root == "logging":
        return func.attr in {"getLogger", "basicConfig"}
    return func.attr in POWERTOOLS_BUILT_ONCE and root in powertools_modules


def observability_constructions(module: Module) -> list[int]:
    """Lines that build a powertools Logger/Metrics/Tracer or a stdlib logger."""
    classes, powertools_modules = _powertools_bindings(module)
    return sorted(
        node.lineno
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and _builds_a_logger(node.func, classes, powertools_modules)
    )


def _is_app_attribute(node: ast.expr) -> bool:
    """True for `app.api` and anything below it (`app.api.binary_types`)."""
    chain: list[str] = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    return isinstance(node, ast.Name) and node.id == "app" and chain[-1:] == ["api"]


def _is_chalice_creation(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["app"]
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "Chalice"
    )


def _is_api_setting(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Attribute) and _is_app_attribute(t.value) for t in targets)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Attribute) and _is_app_attribute(func.value)
    return False


def _is_blueprint_registration(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "register_blueprint"
        and isinstance(func.value, ast.Name)
        and func.value.id == "app"
    )


def app_violations(tree: ast.Module) -> list[str]:
    """Statements of app.py that are not imports, the app, api settings or blueprints."""
    problems: list[str] = []
    creations = 0
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if _is_chalice_creation(node):
            creations += 1
            continue
        if _is_api_setting(node) or _is_blueprint_registration(node):
            continue
        problems.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    if creations != 1:
        problems.append(f"expected exactly one `app = Chalice(...)`, found {creations}")
    return problems


# -- the rules -----------------------------------------------------------------


def test_every_shipped_layer_is_parsed() -> None:
    # Guards against a glob that silently finds nothing and passes every rule.
    paths = {m.path for m in MODULES}
    assert "app.py" in paths
    for layer in ("core", "features", "storage", "http", "surfaces", "events"):
        assert any(p.startswith(f"chalicelib/{layer}/") for p in paths), layer
    assert {"chalicelib/settings.py", "chalicelib/observability.py", "chalicelib/wiring.py"} <= paths


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/core")], ids=lambda m: m.path)
def test_core_imports_no_framework_sdk_or_outer_layer(module: Module) -> None:
    forbidden = (
        *AWS_SDK,
        "chalice",
        "chalicelib.storage",
        "chalicelib.http",
        "chalicelib.surfaces",
        "chalicelib.events",
        "chalicelib.wiring",
        "chalicelib.features",
    )
    assert imports_any(module, forbidden) == []


def _feature_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if parts[:2] == ["chalicelib", "features"] and len(parts) > 2 else None


MODULE_NAMES = {m.name for m in MODULES}


def reaches_into_other_features(module: Module) -> list[str]:
    """Modules of another feature that `module` imports; that feature's package itself is allowed."""
    own = _feature_of(module.name)
    return sorted(
        name
        for name in imported_names(module)
        if (other := _feature_of(name)) is not None
        and other != own
        and name in MODULE_NAMES
        and name != f"chalicelib.features.{other}"
    )


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/features")], ids=lambda m: m.path)
def test_features_import_only_the_core_and_other_features_packages(module: Module) -> None:
    forbidden = (*AWS_SDK, "chalice", "chalicelib.storage", "chalicelib.http", "chalicelib.surfaces")
    assert imports_any(module, (*forbidden, "chalicelib.events", "chalicelib.wiring")) == []
    assert reaches_into_other_features(module) == []


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/features")], ids=lambda m: m.path)
def test_features_use_only_pydantic_and_the_standard_library(module: Module) -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "pydantic", "pydantic_core", "typing_extensions"}

    def permitted(name: str) -> bool:
        if name in {"chalicelib", "chalicelib.core", "chalicelib.features"}:
            return True
        if name.startswith(("chalicelib.core.", "chalicelib.features.")):
            return True
        return top_level_package(name) in allowed

    assert sorted(n for n in imported_names(module) if not permitted(n)) == []


def _surface_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if parts[:2] == ["chalicelib", "surfaces"] and len(parts) > 2 else None


def reaches_into_other_surfaces(module: Module) -> list[str]:
    own = _surface_of(module.name)
    return sorted(n for n in imported_names(module) if (other := _surface_of(n)) is not None and other != own)


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/surfaces")], ids=lambda m: m.path)
def test_surfaces_never_import_each_other(module: Module) -> None:
    assert reaches_into_other_surfaces(module) == []


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/core")], ids=lambda m: m.path)
def test_core_uses_only_pydantic_and_the_standard_library(module: Module) -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "pydantic", "pydantic_core", "typing_extensions"}

    def permitted(name: str) -> bool:
        # The bare `chalicelib` comes from `from chalicelib import x`; `chalicelib.x` is judged on its own.
        if name in {"chalicelib", "chalicelib.core"} or name.startswith("chalicelib.core."):
            return True
        return top_level_package(name) in allowed

    assert sorted(n for n in imported_names(module) if not permitted(n)) == []


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/documents")], ids=lambda m: m.path)
def test_documents_use_only_the_core_pydantic_and_the_pdf_libraries(module: Module) -> None:
    # Rendering is pure: core data in, bytes out. Fetching and storing documents is the caller's job.
    allowed = set(sys.stdlib_module_names) | {
        "__future__",
        "pydantic",
        "pydantic_core",
        "typing_extensions",
        "fpdf",
        "pypdf",
    }

    def permitted(name: str) -> bool:
        if name in {"chalicelib", "chalicelib.core", "chalicelib.features", "chalicelib.documents"}:
            return True
        if name.startswith(("chalicelib.core.", "chalicelib.features.", "chalicelib.documents.")):
            return True
        return top_level_package(name) in allowed

    assert sorted(n for n in imported_names(module) if not permitted(n)) == []


@pytest.mark.parametrize("module", [m for m in MODULES if not in_layer(m, "chalicelib/storage")], ids=lambda m: m.path)
def test_only_storage_imports_the_aws_sdk(module: Module) -> None:
    assert imports_any(module, AWS_SDK) == []


@pytest.mark.parametrize(
    "module", [m for m in MODULES if in_layer(m, "chalicelib/http", "chalicelib/surfaces")], ids=lambda m: m.path
)
def test_http_and_surfaces_never_reach_storage(module: Module) -> None:
    assert imports_any(module, (*AWS_SDK, "chalicelib.storage")) == []


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/http")], ids=lambda m: m.path)
def test_http_does_not_depend_on_surfaces_or_events(module: Module) -> None:
    found = imports_any(module, ("chalicelib.surfaces", "chalicelib.events"))
    if module.path == "chalicelib/http/jobs.py":
        # The one exception: operators run the schedules' own job functions (`POST /jobs/{name}/run`).
        found = [name for name in found if name not in ("chalicelib.events", "chalicelib.events.schedules")]
    assert found == []


@pytest.mark.parametrize("module", [m for m in MODULES if in_layer(m, "chalicelib/storage")], ids=lambda m: m.path)
def test_storage_does_not_depend_on_outer_layers(module: Module) -> None:
    outer = ("chalice", "chalicelib.http", "chalicelib.surfaces", "chalicelib.events", "chalicelib.wiring")
    assert imports_any(module, outer) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.path)
def test_environment_is_read_only_by_settings_and_observability(module: Module) -> None:
    if module.path in SETTINGS_OR_OBSERVABILITY:
        return
    assert env_reads(module) == [], "read settings through chalicelib.settings.get_settings()"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.path)
def test_logger_metrics_and_tracer_are_built_only_in_observability(module: Module) -> None:
    if module.path == "chalicelib/observability.py":
        return
    assert observability_constructions(module) == [], "import them from chalicelib.observability"


def test_app_only_creates_the_app_and_registers_blueprints() -> None:
    app = next(m for m in MODULES if m.path == "app.py")
    assert app_violations(app.tree) == []


# -- the detectors catch what they are meant to catch --------------------------
# Without these, a detector that never fires would make every rule above pass.


def _module(source: str, path: str = "chalicelib/core/example.py") -> Module:
    name = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    return Module(path, name, ast.parse(source))


def test_detector_sees_lazy_relative_and_submodule_imports() -> None:
    module = _module(
        "def f():\n    import boto3\n"
        "from ..storage import keys\n"
        "from chalicelib import wiring\n"
        "from botocore.exceptions import ClientError\n"
    )
    found = imports_any(module, ("boto3", "botocore", "chalicelib.storage", "chalicelib.wiring"))
    assert found == [
        "boto3",
        "botocore.exceptions",
        "botocore.exceptions.ClientError",
        "chalicelib.storage",
        "chalicelib.storage.keys",
        "chalicelib.wiring",
    ]


def test_detector_resolves_relative_imports_inside_a_package_init() -> None:
    module = _module("from .stock_repo import DynamoStockStore\n", "chalicelib/storage/__init__.py")
    assert "chalicelib.storage.stock_repo" in imported_names(module)


def test_detector_sees_every_way_of_reading_the_environment() -> None:
    module = _module(
        "import os\nimport os as o\nfrom os import getenv\n"
        "a = os.environ['X']\nb = o.getenv('Y')\nc = os.environ.get('Z')\nd = os.path.join('a')\n"
    )
    assert env_reads(module) == [3, 4, 5, 6]


def test_detector_sees_powertools_and_stdlib_loggers() -> None:
    module = _module(
        "import logging\nimport aws_lambda_powertools as pt\n"
        "from aws_lambda_powertools import Logger as L, Metrics\n"
        "a = L()\nb = Metrics(namespace='x')\nc = pt.Tracer()\nd = logging.getLogger(__name__)\n"
        "e = logging.INFO\n"
    )
    assert observability_constructions(module) == [4, 5, 6, 7]


def test_app_rule_refuses_routes_and_debug() -> None:
    source = (
        '"""doc"""\nfrom chalice import Chalice\napp = Chalice(app_name="x")\n'
        "app.api.binary_types.extend(['a'])\napp.api.cors = True\napp.register_blueprint(bp)\n"
        "app.debug = True\n@app.route('/')\ndef index():\n    return {}\n"
    )
    problems = app_violations(ast.parse(source))
    assert len(problems) == 2
    assert problems[0].startswith("line 7: app.debug = True")
    assert "@app.route('/')" in problems[1]


def test_detector_sees_a_feature_reaching_into_another_features_modules() -> None:
    module = _module(
        "from chalicelib.features.orders import LineItem\n"
        "from chalicelib.features.orders.service import OrderView\n"
        "from chalicelib.features.certificates.packs import pack_key\n",
        "chalicelib/features/certificates/documents.py",
    )
    assert reaches_into_other_features(module) == ["chalicelib.features.orders.service"]


def test_detector_sees_a_surface_importing_another_surface() -> None:
    module = _module(
        "from chalicelib.surfaces.company.common import company_of\nfrom chalicelib.surfaces.maker import models\n",
        "chalicelib/surfaces/maker/routes.py",
    )
    assert reaches_into_other_surfaces(module) == [
        "chalicelib.surfaces.company.common",
        "chalicelib.surfaces.company.common.company_of",
    ]
