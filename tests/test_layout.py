"""The package's layout: no import circles, between modules or between the packages of smarts_rl/.

Imports are read from the source (ast), wherever they are in a module: an import inside a function
makes a circle as surely as one at the top, only later.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "smarts_rl"

# Circles allowed for now, each as the set of modules (or packages) it goes through, with why.
EXEMPT: list[set[str]] = []


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that module `name` imports, anywhere in it (`from a import b` is a's
    module b when there is one, else a)."""

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {owner(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else owner(source))
    return found - {None, name}


def import_graph(package: Path) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def package_graph(graph: dict[str, set[str]], package: Path) -> dict[str, set[str]]:
    """Which of the package's subpackages (`run`, `evaluation`, ...) import which others."""
    top = package.name

    def subpackage(module: str) -> str | None:
        parts = module.split(".")
        inside = len(parts) > 2 or (len(parts) == 2 and (package / parts[1]).is_dir())
        return parts[1] if parts[0] == top and inside else None

    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        source = subpackage(module)
        if source is None:
            continue
        targets = {subpackage(m) for m in imported} - {None, source}
        packages.setdefault(source, set()).update(targets)
    return packages


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected parts of more than one node (Tarjan): each holds a circle."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def described(part: set[str], graph: dict[str, set[str]]) -> str:
    """The part's shortest circle through its first member, as `a -> b -> a`."""
    start = min(part)
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for following in sorted(graph[node] & part):
            if following == start:
                return " -> ".join(paths[node] + [start])
            if following not in paths:
                paths[following] = paths[node] + [following]
                queue.append(following)
    raise AssertionError(f"no circle in {sorted(part)}")


def test_no_module_imports_itself_through_others():
    graph = import_graph(PACKAGE)
    found = [described(part, graph) for part in circles(graph) if part not in EXEMPT]
    assert not found, "import circles between modules:\n" + "\n".join(found)


def test_no_package_of_smarts_rl_imports_itself_through_others():
    graph = package_graph(import_graph(PACKAGE), PACKAGE)
    assert {"run", "evaluation", "env", "agents", "algorithms", "scenarios", "run_dir", "upstream"} <= set(graph)
    found = [described(part, graph) for part in circles(graph) if part not in EXEMPT]
    assert not found, "import circles between packages of smarts_rl/:\n" + "\n".join(found)


def test_the_check_finds_circles_through_function_level_and_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    for folder in (package, package / "one", package / "two"):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (package / "one" / "a.py").write_text("def f():\n    from .b import g\n")
    (package / "one" / "b.py").write_text("from pkg.two import c\n")
    (package / "two" / "c.py").write_text("import pkg.one.a\n")
    graph = import_graph(package)
    assert circles(graph) == [{"pkg.one.a", "pkg.one.b", "pkg.two.c"}]
    assert described(circles(graph)[0], graph) == "pkg.one.a -> pkg.one.b -> pkg.two.c -> pkg.one.a"
    assert circles(package_graph(graph, package)) == [{"one", "two"}]
