"""The package's layers: the domain and the use cases load without web, scheduler or provider."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "shiftfill"


def test_the_domain_and_the_services_import_no_framework_scheduler_or_provider() -> None:
    script = """
import importlib, pkgutil, sys
import shiftfill.domain, shiftfill.services
for package in (shiftfill.domain, shiftfill.services):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
loaded = sorted({name.split(".")[0] for name in sys.modules})
outside = {"flask", "apscheduler", "twilio", "redis", "prometheus_client"}
print(" ".join(name for name in loaded if name in outside))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert result.stdout.strip() == ""


def module_imports() -> dict[str, set[str]]:
    """Map each module of the package to the package modules it imports at module level."""
    modules = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in PACKAGE.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                }
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    graph = module_imports()
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []


def test_no_import_hides_inside_a_function() -> None:
    hidden = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert hidden == []


def test_no_module_of_the_package_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 600
    }
    assert long == {}


def test_the_stores_share_rules_through_the_domain_not_through_each_other() -> None:
    graph = module_imports()
    redis_modules = [m for m in graph if m.startswith("shiftfill.adapters.redis_store")]
    assert redis_modules
    assert [m for m in redis_modules if "shiftfill.adapters.memory_store" in graph[m]] == []
    assert not any(m in graph["shiftfill.adapters.memory_store"] for m in redis_modules)


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    outside = set()
    for path in (PACKAGE / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and not name.startswith("shiftfill.domain"):
                    outside.add(f"{path.name}: {name}")
    assert outside == set()
