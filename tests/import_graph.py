"""The import graph of ShiftRec's packages, and the layering rules it must keep.

Run ``python -m tests.import_graph`` (exit 1 and one line per problem) or let
``tests/test_import_graph.py`` run it. Every import counts, also those inside functions
or under ``TYPE_CHECKING``: a lazy import still ties two modules together.

Rules:
- no cycle between modules of agent/, memory/, prompts/ and serving/;
- the layers point down: serving -> agent -> memory, prompts; memory/ and prompts/ import
  neither agent/ nor serving/, agent/ never imports serving/;
- the product imports bench/ only lazily (inside a function), never at module level.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PRODUCT = ("agent", "memory", "prompts", "serving")
# package -> packages it must never import
FORBIDDEN = {
    "memory": {"agent", "serving", "bench"},
    "prompts": {"agent", "serving", "bench"},
    "agent": {"serving", "bench"},
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a module of the tree, or any other name)
    line: int
    top_level: bool  # at module level, not inside a function


def module_names(root: Path, packages: tuple[str, ...] = PRODUCT) -> dict[str, Path]:
    """Dotted name -> file for every module of ``packages`` under ``root``."""
    names = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every import statement in the file, resolved to a known module where one matches."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, top_level in _walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno, top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.module, node.level)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(Import(module, candidate if candidate in known else base, node.lineno, top_level))
    return found


def _walk(tree: ast.Module):
    """(node, at module level) for every node; class bodies count as module level (run at import)."""
    stack = [(child, True) for child in ast.iter_child_nodes(tree)]
    while stack:
        node, top = stack.pop()
        yield node, top
        inside = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack += [(child, inside) for child in ast.iter_child_nodes(node)]


def _absolute(module: str, is_package: bool, name: str | None, level: int) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # iterative Tarjan: no recursion limit on deep graphs
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges.get(node, ()):
                    groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def problems(root: Path) -> list[str]:
    """Every broken rule under ``root``, one sentence each; [] when the layout holds."""
    names = module_names(root)
    known = set(names)
    found: list[str] = []
    edges: dict[str, set[str]] = {name: set() for name in names}
    for module, path in names.items():
        package = module.split(".")[0]
        for imp in imports_of(module, path, known):
            target_package = imp.target.split(".")[0]
            where = f"{path.relative_to(root)}:{imp.line}"
            if target_package in FORBIDDEN.get(package, set()):
                found.append(f"{where}: {module} imports {imp.target} ({package}/ must not import {target_package}/)")
            elif target_package == "bench" and imp.top_level:
                found.append(f"{where}: {module} imports {imp.target} at module level (import bench/ lazily)")
            if imp.target in known and imp.target != module:
                edges[module].add(imp.target)
    found += [f"import cycle: {' -> '.join(group)}" for group in cycles(edges)]
    return found


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    found = problems(root)
    for problem in found:
        print(problem)
    print(f"{len(module_names(root))} modules checked, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
