"""The hexagon's layers, as the imports draw them: every dependency points inward.

model  <-  ports  <-  use_cases  <-  adapters  <-  entrypoints

The model imports only the model; the ports the model; the use cases the
model and the ports; adapters implement ports and never reach the use cases or
the entrypoints; nothing in the domain imports a framework or does I/O.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {
    "sqlalchemy",
    "flask",
    "celery",
    "kombu",
    "redis",
    "dependency_injector",
    "pandas",
    "pyarrow",
    "psycopg",
    "dotenv",
    "alembic",
}
# What each layer may import of the service's own packages.
ALLOWED = {
    "domain.model": {"domain.model"},
    "domain.ports": {"domain.model", "domain.ports"},
    "domain.use_cases": {"domain.model", "domain.ports", "domain.use_cases"},
    "adapters": {"domain.model", "domain.ports", "adapters"},
}
OWN_PACKAGES = ("domain", "adapters", "entrypoints", "benchmarks")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def layer_of(module: str) -> str | None:
    """The layer a module of the service belongs to (None for a library's module)."""
    parts = module.split(".")
    if parts[0] == "domain":
        return ".".join(parts[:2]) if len(parts) > 1 else "domain"
    return parts[0] if parts[0] in OWN_PACKAGES else None


def crossings(path: Path, allowed: set[str]) -> set[str]:
    """The service's modules ``path`` imports from layers it may not reach."""
    return {module for module in imported_modules(path) if (layer := layer_of(module)) and layer not in allowed}


FILES = {layer: sorted((ROOT / layer.replace(".", "/")).rglob("*.py")) for layer in ALLOWED}


@pytest.mark.parametrize(
    ("layer", "path"),
    [(layer, path) for layer, paths in FILES.items() for path in paths],
    ids=lambda value: str(value.relative_to(ROOT)) if isinstance(value, Path) else value,
)
def test_each_layer_imports_only_the_layers_inside_it(layer: str, path: Path) -> None:
    assert not crossings(path, ALLOWED[layer])


@pytest.mark.parametrize("path", sorted((ROOT / "domain").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_imports_no_framework(path: Path) -> None:
    assert not {module.split(".")[0] for module in imported_modules(path)} & FRAMEWORKS


def test_a_crossing_would_be_found() -> None:
    # A use case reaching another use case is inward for its own layer, a crossing for a port.
    use_case = ROOT / "domain" / "use_cases" / "report_runs.py"
    assert crossings(use_case, ALLOWED["domain.use_cases"]) == set()
    assert "domain.use_cases.reports" in crossings(use_case, ALLOWED["domain.ports"])


def test_the_domain_has_the_parts_the_design_names() -> None:
    modules = {str(path.relative_to(ROOT).with_suffix("")) for path in (ROOT / "domain").rglob("*.py")}
    assert {
        "domain/model/interval",
        "domain/model/timeline",
        "domain/model/uptime",
        "domain/ports/data",
        "domain/ports/reports",
        "domain/use_cases/reports",
        "domain/use_cases/report_runs",
    } <= modules
