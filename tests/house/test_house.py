"""Issue 13: the shape of the house, as the code's own imports have it.

Every ``import`` and ``from ... import`` of the shipped packages counts,
wherever it stands (module level, inside a function, under
``TYPE_CHECKING``): a circle hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# store < dialplan < agi, notifier < web < chakushin. A package imports its own
# modules and those of lower floors; agi and notifier share a floor and do
# not import each other.
FLOORS = {"store": 0, "dialplan": 1, "agi": 2, "notifier": 2, "web": 3, "chakushin": 4}
MAX_LINES = 700


def _modules() -> Iterator[tuple[str, Path]]:
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


MODULES = dict(_modules())


def _resolve(name: str) -> str | None:
    """The shipped module ``name`` refers to: itself, or the package it is in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            names.append(base)
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _floor(module: str) -> int:
    return FLOORS[module.partition(".")[0]]


def test_issue13_no_import_runs_up_a_floor_or_across_to_a_peer() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if module.partition(".")[0] != target.partition(".")[0] and _floor(target) >= _floor(module)
    )
    assert not wrong, "\n".join(wrong)


def _circles() -> list[list[str]]:
    """Tarjan: every strongly connected set of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == module:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_issue13_no_import_circle() -> None:
    assert _circles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_issue13_no_module_over_700_lines(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)}: {lines} lines"


def test_issue13_the_checker_sees_what_it_checks() -> None:
    # The rules above pass vacuously if the graph is empty or misses a kind of import.
    assert len(MODULES) > 50
    assert "store.models" in GRAPH["store.service.lines"]  # from ... import
    assert "notifier.model" in GRAPH["notifier.rules"]
    assert "web.pages.base" in GRAPH["web.pages.otp"]
    # An import inside a function counts: bootstrap imports the site only when it builds it.
    assert "web.app" in GRAPH["chakushin.bootstrap"]


def test_issue13_every_package_of_the_house_is_installed() -> None:
    """A package missing from pyproject's list works in a checkout and is absent from a wheel."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in FLOORS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages - listed == set()


def test_issue13_no_test_module_imports_another_test_module() -> None:
    """Shared steps live in tests/builders.py, a conftest or a steps module, never in a test."""
    wrong = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                # "from tests.x import test_y" imports the test module test_y too.
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            wrong += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")
            ]
    assert wrong == []
