"""ARCHITECTURE.md's one-way import rules, checked over every module of every package.

Every import counts: top-level ones, those inside functions or `if TYPE_CHECKING:` blocks, and
`importlib.import_module("...")` / `__import__("...")` calls with a literal name.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lifeboat", "api", "workflows", "activities", "worker", "cli")
PASSED_THROUGH = "workflow.unsafe.imports_passed_through"

# Packages each layer must never import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "lifeboat": frozenset({"api", "workflows", "activities", "worker"}),
    "api": frozenset({"activities", "worker"}),
    "activities": frozenset({"api", "worker"}),
    # The command line talks to the public API only.
    "cli": frozenset({"activities", "workflows", "worker"}),
}
# Workflow code runs in the sandbox and must be deterministic: an allow-list, not a deny-list.
WORKFLOWS_ALLOWED = frozenset(sys.stdlib_module_names) | {"temporalio", "workflows"}
# The core's modules of plain values the contracts are typed with (standard library only).
WORKFLOWS_ALLOWED_CORE = frozenset({"lifeboat.status", "lifeboat.specs"})


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported, and whether the sandbox passes it through."""

    path: str
    line: int
    module: str
    passed_through: bool

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_passed_through(item: ast.withitem) -> bool:
    call = item.context_expr
    return isinstance(call, ast.Call) and (
        _dotted(call.func) in (PASSED_THROUGH, f"temporalio.{PASSED_THROUGH}")
    )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, path: str, package: str) -> None:
        self.path = path
        self.package = package
        self.imports: list[Import] = []
        self._passed_through = False

    def _add(self, node: ast.AST, module: str) -> None:
        line = getattr(node, "lineno", 0)
        self.imports.append(Import(self.path, line, module, self._passed_through))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            base = node.module or ""
        else:
            parts = self.package.split(".")
            if node.level > len(parts):
                base = "." * node.level + (node.module or "")
            else:
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
        self._add(node, base)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            _dotted(node.func) in ("importlib.import_module", "import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._add(node, node.args[0].value)
        self.generic_visit(node)

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item)
        outer = self._passed_through
        self._passed_through = outer or any(_is_passed_through(item) for item in node.items)
        for statement in node.body:
            self.visit(statement)
        self._passed_through = outer

    def visit_With(self, node: ast.With) -> None:
        self._visit_with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._visit_with(node)


def collect_imports(source: str, path: str, package: str) -> list[Import]:
    """Every import in `source`, a module of `package` (which resolves relative imports)."""
    collector = _ImportCollector(path, package)
    collector.visit(ast.parse(source, filename=path))
    return collector.imports


def violations(layer: str, imports: list[Import]) -> list[str]:
    """One line per import that breaks `layer`'s rule: file, line, module and the rule."""
    found = []
    for imp in imports:
        where = f"{imp.path}:{imp.line}: imports {imp.module!r}"
        if layer == "workflows":
            if imp.top == "activities":
                if not imp.passed_through:
                    found.append(f"{where}; activities only inside {PASSED_THROUGH}()")
            elif imp.top not in WORKFLOWS_ALLOWED and imp.module not in WORKFLOWS_ALLOWED_CORE:
                found.append(
                    f"{where}; workflows import only the standard library, temporalio, "
                    f"workflows.* and (passed through) activities.*"
                )
        elif imp.top in FORBIDDEN.get(layer, frozenset()):
            found.append(f"{where}; {layer} must not import {imp.top}")
    return found


def _modules(layer: str) -> Iterator[tuple[str, str, str]]:
    for path in sorted((ROOT / layer).rglob("*.py")):
        relative = path.relative_to(ROOT)
        yield str(relative), ".".join(relative.parent.parts), path.read_text()


@pytest.mark.parametrize("layer", PACKAGES)
def test_layer_follows_import_rules(layer: str) -> None:
    modules = list(_modules(layer))
    assert modules, f"no modules found under {layer}/"
    found = [
        problem
        for path, package, source in modules
        for problem in violations(layer, collect_imports(source, path, package))
    ]
    assert not found, "import rule broken (see ARCHITECTURE.md):\n" + "\n".join(found)


# Object storage clients, each imported only by its location backend (lifeboat.locations).
STORAGE_CLIENTS = {"minio": "lifeboat/locations/s3.py"}


def test_only_its_location_backend_imports_a_storage_client() -> None:
    found = [
        f"{imp.path}:{imp.line}: imports {imp.module!r}; only {STORAGE_CLIENTS[imp.top]} may"
        for layer in PACKAGES
        for path, package, source in _modules(layer)
        for imp in collect_imports(source, path, package)
        if imp.top in STORAGE_CLIENTS and path != STORAGE_CLIENTS[imp.top]
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", sorted(WORKFLOWS_ALLOWED_CORE))
def test_core_modules_the_workflows_import_use_only_the_standard_library(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    imports = collect_imports(path.read_text(), str(path.relative_to(ROOT)), "lifeboat")
    outside = [i.module for i in imports if i.top not in sys.stdlib_module_names]
    assert outside == [], f"{module} is imported by workflows: standard library only"


SYNTHETIC_WORKFLOW = """\
from __future__ import annotations
import asyncio
from temporalio import workflow
from workflows.contracts import ClusterSyncInput
from . import options
import sqlalchemy

with workflow.unsafe.imports_passed_through():
    from activities.kube import KubeActivities
    import lifeboat.secrets

from activities.catalog import CatalogActivities


def helper() -> None:
    import api.deps
    importlib.import_module("worker.main")
"""


def test_checker_flags_workflow_violations_with_file_and_line() -> None:
    imports = collect_imports(SYNTHETIC_WORKFLOW, "workflows/fake.py", "workflows")
    assert [(i.line, i.module, i.passed_through) for i in imports] == [
        (1, "__future__", False),
        (2, "asyncio", False),
        (3, "temporalio", False),
        (4, "workflows.contracts", False),
        (5, "workflows", False),
        (6, "sqlalchemy", False),
        (9, "activities.kube", True),
        (10, "lifeboat.secrets", True),
        (12, "activities.catalog", False),
        (16, "api.deps", False),
        (17, "worker.main", False),
    ]
    problems = violations("workflows", imports)
    assert [p.split(";")[0] for p in problems] == [
        "workflows/fake.py:6: imports 'sqlalchemy'",
        "workflows/fake.py:10: imports 'lifeboat.secrets'",
        "workflows/fake.py:12: imports 'activities.catalog'",
        "workflows/fake.py:16: imports 'api.deps'",
        "workflows/fake.py:17: imports 'worker.main'",
    ]


def test_checker_flags_forbidden_layers() -> None:
    source = "import os\n\n\ndef f() -> None:\n    from api.app import create_app\n"
    problems = violations("lifeboat", collect_imports(source, "lifeboat/x.py", "lifeboat"))
    assert problems == ["lifeboat/x.py:5: imports 'api.app'; lifeboat must not import api"]

    source = "from ..routes import clusters\nfrom activities import kube\n"
    imports = collect_imports(source, "api/routes/x.py", "api.routes")
    assert [i.module for i in imports] == ["api.routes", "activities"]
    assert violations("api", imports) == [
        "api/routes/x.py:2: imports 'activities'; api must not import activities"
    ]
    assert violations("activities", collect_imports("import worker.main\n", "a.py", "activities"))
