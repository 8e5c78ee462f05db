"""Imports run one way: depthlab's import graph has no cycle.

The graph is read from the source with :mod:`ast`, so it holds every import a module can
run: at its top and inside its functions (those under ``if TYPE_CHECKING:`` run never and
are left out). Importing ``a.b.c`` also runs the packages ``a.b`` and ``a``, unless they are
the importer's own packages (which Python has begun to import before it), so that an
``__init__`` importing its submodules makes no cycle of its own. A cycle is a set
of modules each of which imports, directly or not, every other.

As a command, ``python tests/test_imports.py`` lists the cycles, one per line, and exits 1
if there is any.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "depthlab"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        else:
            todo += ast.iter_child_nodes(node)


def _packages(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``: the packages Python imports before ``name``."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that importing module ``name`` (at ``path``) can import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # ``from a import b``: the module a.b if there is one, else a
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    found = {target for target in targets if target in known}
    found.update(m for target in targets for m in _packages(target) if m in known and m not in _packages(name))
    return found - {name}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` -> the modules it imports."""
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each knot of ``edges`` (a strongly connected set of more than one module) as one of
    its shortest cycles, ``[a, b, …, a]``, through its first module by name; the knot's
    other modules, if any, follow the cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    knots = []
    for root in sorted(edges):  # Tarjan's algorithm, iteratively
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                knot = []
                while True:
                    member = stack.pop()
                    knot.append(member)
                    if member == node:
                        break
                if len(knot) > 1:
                    knots.append(set(knot))
    found = []
    for knot in knots:
        cycle = _shortest_cycle(min(knot), edges, knot)
        found.append([*cycle, *sorted(knot - set(cycle))])
    return sorted(found)


def _shortest_cycle(start: str, edges: dict[str, set[str]], within: set[str]) -> list[str]:
    came_from = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges[node] & within):
            if child == start:
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in no cycle")


def describe(cycle: list[str]) -> str:
    """``a -> b -> a``, then the knot's other modules: ``(with c, d)``."""
    end = cycle.index(cycle[0], 1) + 1
    rest = f" (with {', '.join(cycle[end:])})" if cycle[end:] else ""
    return " -> ".join(cycle[:end]) + rest


def test_the_import_graph_has_no_cycle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(map(describe, found))


def test_the_graph_sees_imports_in_functions_and_packages_but_not_type_checking_ones(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub import b\n")
    (package / "a.py").write_text("def f():\n    from pkg.sub.b import g\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nfrom . import c\n"
                                          "if TYPE_CHECKING:\n    import pkg.a\n")
    (package / "sub" / "c.py").write_text("import pkg.a\n")
    edges = graph(package)
    assert edges == {"pkg": set(), "pkg.sub": {"pkg.sub.b"}, "pkg.a": {"pkg.sub", "pkg.sub.b"},
                     "pkg.sub.b": {"pkg.sub.c"}, "pkg.sub.c": {"pkg.a"}}
    assert cycles(edges) == [["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a", "pkg.sub"]]


if __name__ == "__main__":
    found = cycles(graph())
    print("\n".join(map(describe, found)) or "no import cycles")
    sys.exit(1 if found else 0)
