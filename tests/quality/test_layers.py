"""The layering of ``src/propops``, read from the source with ``ast`` (nothing is imported).

A domain package is a sub-package of ``propops`` other than ``core`` (settings, database, HTTP
plumbing), ``infra`` (servers, caches, the statement executor) and ``migrations``. Every import
counts, at module level or inside a function: a lazy import hides a cycle from Python, not from a
reader. The top-level modules (``main``, ``cli``, ``demo``, ``worker``, ``all_models``) compose the
domains and are not part of the graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "propops"
NOT_DOMAINS = {"core", "infra", "migrations"}

Edges = dict[str, dict[str, list[str]]]  # importer -> imported -> ["file:line", ...]


def _packages() -> set[str]:
    return {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        # ``from propops import agents`` names the package in the alias
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return []


def package_imports() -> Edges:
    """Which sub-package of ``propops`` imports which, with where (relative imports are not used)."""
    packages = _packages()
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2:
            continue  # a top-level module
        importer = rel.parts[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for module in _imported_modules(node):
                parts = module.split(".")
                if len(parts) >= 2 and parts[0] == "propops" and parts[1] in packages and parts[1] != importer:
                    where = f"{rel}:{getattr(node, 'lineno', 0)}"
                    if where not in edges[importer][parts[1]]:
                        edges[importer][parts[1]].append(where)
    return edges


def cycles(edges: Edges, nodes: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in nodes:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(found)


def _describe(edges: Edges, component: list[str]) -> str:
    inside = set(component)
    lines = [" <-> ".join(component)]
    for a in component:
        for b, where in sorted(edges.get(a, {}).items()):
            if b in inside:
                lines.append(f"  {a} -> {b}: {', '.join(where[:5])}{' …' if len(where) > 5 else ''}")
    return "\n".join(lines)


def test_the_graph_is_read() -> None:
    """The parser sees the imports it must see (so an empty graph cannot pass the tests below)."""
    edges = package_imports()
    assert "contractors" in edges["jobs"]  # jobs assign contractors
    assert "auth" in edges["agents"]
    assert {"core", "infra", "migrations"} <= _packages()


def test_cycle_detection_finds_a_cycle() -> None:
    edges: Edges = {"a": {"b": ["a.py:1"]}, "b": {"c": ["b.py:1"]}, "c": {"a": ["c.py:1"]}, "d": {"a": ["d.py:1"]}}
    assert cycles(edges, {"a", "b", "c", "d"}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": ["a.py:1"]}}, {"a", "b"}) == []


def test_no_import_cycle_between_domain_packages() -> None:
    edges = package_imports()
    domains = _packages() - NOT_DOMAINS
    found = cycles(edges, domains)
    assert not found, "import cycles between domain packages:\n" + "\n".join(_describe(edges, c) for c in found)


def test_core_imports_no_domain() -> None:
    edges = package_imports()
    domains = _packages() - NOT_DOMAINS
    wrong = {d: where for d, where in edges.get("core", {}).items() if d in domains}
    assert not wrong, f"propops.core imports domain packages: {wrong}"
