"""The import graph of a Python package, read with ``ast`` (nothing is imported), and its
cycles.

An edge ``a -> b`` means that running module ``a`` may import module ``b``:

- every ``import`` and ``from ... import`` statement, at module level or inside a function
  (a function-level import is a deferred import, not an absent one), relative ones resolved;
- ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``;
- importing ``pkg.sub`` from outside ``pkg`` runs ``pkg/__init__.py`` first: an edge to
  ``pkg`` too, so that a package whose ``__init__`` imports back is seen;
- a module that calls ``importlib.import_module`` (a PEP 562 ``__getattr__`` loader, a lazy
  command table) has an edge to every module of the package named in one of its string
  constants (``"pkg.mod"`` or ``"pkg.mod:attr"``): loading later is still loading;
- imports under ``if TYPE_CHECKING:`` are left out: they never run.

``python -m tests.support.imports SRC_DIR`` prints the cycles of the package at SRC_DIR (for
example a tree from ``git archive``), one a line, and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir``, by dotted name."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield other
                yield from _statements(other)
            continue
        yield node
        yield from _statements(node)


def _imported(name: str, node: ast.AST, package: str, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that the import statement ``node`` in ``name`` loads."""
    targets: set[str] = set()
    if isinstance(node, ast.Import):
        targets.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            candidate = f"{source}.{alias.name}"
            targets.add(candidate if candidate in modules else source)
    return {target for target in targets if target in modules}


def _lazy_targets(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The package's modules named in string constants of a module that imports by name."""
    calls_import_module = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        == "import_module"
        for node in _statements(tree)
    )
    if not calls_import_module:
        return set()
    named = set()
    for node in _statements(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            candidate = node.value.partition(":")[0]
            if candidate in modules:
                named.add(candidate)
    return named


def _with_packages(importer: str, target: str, modules: dict[str, Path]) -> set[str]:
    """``target`` and the packages above it that are run first (those not above ``importer``)."""
    found = {target}
    parts = target.split(".")
    for n in range(1, len(parts)):
        package = ".".join(parts[:n])
        inside = importer == package or importer.startswith(package + ".")
        if package in modules and not inside:
            found.add(package)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (see the module docstring for the rules)."""
    modules = module_names(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set(_lazy_targets(tree, modules))
        for node in _statements(tree):
            targets |= _imported(name, node, package, modules)
        graph[name] = set()
        for target in targets:
            graph[name] |= _with_packages(name, target, modules)
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of ``graph`` (Tarjan), each
    starting at its smallest name, as ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                connect(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(_shortest_cycle(graph, group) for group in groups)


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def main(argv: list[str]) -> int:
    (package_dir,) = argv
    found = cycles(import_graph(Path(package_dir)))
    for cycle in found:
        print(" -> ".join(cycle))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
