"""Dependencies point inward: the domain imports no adapter, entrypoint or framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_DOMAIN = {
    "adapters",
    "entrypoints",
    "sqlalchemy",
    "flask",
    "celery",
    "redis",
    "dependency_injector",
    "pandas",
    "psycopg",
    "dotenv",
}


def _imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


DOMAIN_FILES = sorted((ROOT / "domain").glob("*.py"))


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_module_imports_nothing_from_the_outside(path: Path) -> None:
    assert not (_imported_top_level_modules(path) & FORBIDDEN_IN_DOMAIN)


def test_the_domain_has_the_modules_the_design_names() -> None:
    names = {path.stem for path in DOMAIN_FILES}
    assert {"interval", "timeline", "uptime", "ports", "services"} <= names


ADAPTER_FILES = sorted((ROOT / "adapters").rglob("*.py"))


@pytest.mark.parametrize("path", ADAPTER_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_never_import_entrypoints(path: Path) -> None:
    assert "entrypoints" not in _imported_top_level_modules(path)
