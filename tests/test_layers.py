"""Imports point one way: a package imports only from packages lower in app/domains.LAYERS,
so there is no cycle between packages. Every import counts, also those inside functions."""
import ast
from pathlib import Path

import pytest

from app.domains import LAYERS

pytestmark = pytest.mark.no_database

APP = Path(__file__).resolve().parent.parent / "app"


def _layer(module: str) -> str:
    """app.patients.service -> patients; app.errors -> errors; app -> app."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"


def import_graph() -> dict[str, dict[str, set[str]]]:
    """{importing layer: {imported layer: {file that imports it}}}"""
    graph: dict = {}
    for path in sorted(APP.rglob("*.py")):
        module = ".".join(path.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__")
        source = _layer(module)
        graph.setdefault(source, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names
                                         if node.module == "app"]
            else:
                continue
            for name in names:
                if name == "app" or not name.startswith("app."):
                    continue
                target = _layer(name)
                if target != source:
                    graph[source].setdefault(target, set()).add(str(path.relative_to(APP.parent)))
    return graph


def cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one layer (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_package_has_its_place_in_the_order():
    unknown = set(import_graph()) - set(LAYERS)
    assert not unknown, f"add {sorted(unknown)} to app/domains.py LAYERS, where they belong"


def test_no_import_cycle_between_packages():
    assert cycles(import_graph()) == []


def upward_imports(graph) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [f"{source} imports {target} ({', '.join(sorted(files))})"
            for source, targets in sorted(graph.items())
            for target, files in sorted(targets.items())
            if rank.get(target, len(LAYERS)) >= rank.get(source, -1)]


def test_no_package_imports_a_higher_one():
    assert upward_imports(import_graph()) == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    graph = {"audit": {"auth": {"app/audit/routes.py"}}, "auth": {"audit": {"app/auth/service.py"}}}
    assert cycles(graph) == [["audit", "auth"]]
    assert upward_imports(graph) == ["audit imports auth (app/audit/routes.py)"]
