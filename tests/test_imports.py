"""dlkit's import graph, built from the source: no cycles, nothing imports viz.

Edges are every import a module makes, at module level or inside a function (an
import inside a function still ties the two modules together: it only hides the
circle until the function runs), except under ``if TYPE_CHECKING`` and except lazy
aliases: an old import path kept by a module ``__getattr__`` (PEP 562, usually
:func:`dlkit.aliases.moved`) that imports a name's new home when it is first used; the
module lists those names in ``_MOVED``.

    python tests/test_imports.py     # prints the floors' sizes and any cycle
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "dlkit"


def modules() -> dict[str, Path]:
    """Every module of dlkit: dotted name -> file."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(name: str, path: Path, node: ast.AST, known: dict) -> list[str]:
    """The dlkit modules an import statement loads."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if isinstance(node, ast.Import):
        found = [a.name for a in node.names]
    else:
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known]
        # ``from pkg import submodule`` needs the submodule, not pkg's own names
        found = subs if len(subs) == len(node.names) else [mod] + subs
    out = []
    for m in found:
        while m and m not in known:
            m = m.rpartition(".")[0]
        if m.startswith("dlkit") and m != name:
            out.append(m)
    return out


def _all_imports(tree: ast.AST):
    """Every import statement, with the name of the function it sits in (None at module
    level); those under ``if TYPE_CHECKING`` are left out."""

    def walk(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    yield from walk(other, func)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, func
            inner = (
                child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            )
            yield from walk(child, inner)

    yield from walk(tree, None)


def graph() -> dict[str, set[str]]:
    """Import edges between dlkit's modules, lazy aliases (``__getattr__``) left out."""
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, func in _all_imports(tree):
            if func != "__getattr__":
                edges[name].update(_targets(name, path, node, known))
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        for v in sorted(modules()):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(old)
    return out


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "module-level import cycles in dlkit:\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_nothing_in_dlkit_imports_viz():
    """viz draws; it is imported by chapters only. An old path kept for a name that
    moved into viz is a lazy alias: an import inside a module ``__getattr__``."""
    known = modules()
    bad = []
    for name, path in known.items():
        if name == "dlkit.viz" or name.startswith("dlkit.viz."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, func in _all_imports(tree):
            if any(
                t == "dlkit.viz" or t.startswith("dlkit.viz.")
                for t in _targets(name, path, node, known)
            ):
                if func != "__getattr__":
                    bad.append(f"{name} (line {node.lineno}, in {func or 'module level'})")
    assert not bad, "dlkit modules that import viz: " + ", ".join(bad)


def test_the_graph_sees_a_cycle(tmp_path, monkeypatch):
    """The check can fail: circles are found, also through a function; a lazy alias is not."""
    pkg = tmp_path / "dlkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from dlkit.b import x\n")
    (pkg / "b.py").write_text("import dlkit.a\nx = 1\n")
    (pkg / "c.py").write_text("def f():\n    import dlkit.d\n")  # a circle hidden
    (pkg / "d.py").write_text("import dlkit.c\n")  # in a function
    (pkg / "e.py").write_text("def __getattr__(name):\n    import dlkit.f\n")  # an alias
    (pkg / "f.py").write_text("import dlkit.e\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    assert cycles(graph()) == [["dlkit.a", "dlkit.b"], ["dlkit.c", "dlkit.d"]]


def _report() -> None:
    known = modules()
    edges = graph()
    sizes = sorted(
        ((len(p.read_text(encoding="utf-8").splitlines()), n) for n, p in known.items()),
        reverse=True,
    )
    print(f"{len(known)} modules, {sum(len(e) for e in edges.values())} import edges")
    print("cycles:", cycles(edges) or "none")
    print("longest modules:", ", ".join(f"{n} ({k} lines)" for k, n in sizes[:5]))


if __name__ == "__main__":
    _report()
