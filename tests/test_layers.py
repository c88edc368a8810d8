"""Layering of zhinao/, read from the source alone (ast; nothing of zhinao is imported):

- no import loops among the project's own modules, imports inside functions included (a lazy
  import hides a loop from import time, not from the design);
- tasks/, model/ and kernels/ never import Prefect: task code reaches the orchestrator through
  zhinao/tasks/runtime/hooks.py, which the flow layer fills (zhinao/flows/hooks.py);
- layers import only downwards; the store reads no settings and no environment.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "zhinao"
PREFECT_FREE = ("zhinao.tasks", "zhinao.model", "zhinao.kernels")


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import in the module, at any depth (functions, classes,
    try/if blocks). `from X import y` yields X.y when that is a module, else X."""
    tree = ast.parse(path.read_bytes(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield (sub if sub in MODULES else source), node.lineno
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (isinstance(node.func, ast.Name) and node.func.id == "__import__"
                   or isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            # importlib.import_module("literal") / __import__("literal"): only for the Prefect rule
            # (a non-module target never becomes a graph edge, see _graph)
            yield f"<dynamic>{node.args[0].value}", node.lineno


def _graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports by name.

    Only imports written in the source are edges. Importing a.b.c also runs the __init__ of a and
    a.b first, but those implicit edges are left out: from inside a package they point to an
    ancestor that is necessarily already in sys.modules (it is being or has been initialised
    before any of its submodules runs), so they can never start a loop; the explicit ones (a
    submodule doing `from . import name` of its package's __init__) are kept, and so is every edge
    from a package __init__ to its own submodules, so a real loop through an __init__ is found."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return sorted(found)


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"    {m} -> {t}" for m in component for t in sorted(graph[m] & members)]
    return f"  loop of {len(component)} modules:\n" + "\n".join(edges)


def test_cycle_finder_finds_a_loop_and_ignores_a_chain():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_from_imports_resolve_to_modules():
    edges = {t for t, _ in _imports("zhinao.tasks.dedup.lsh", MODULES["zhinao.tasks.dedup.lsh"])}
    assert {"zhinao.tasks.dedup.components", "zhinao.tasks.runtime.sink", "zhinao.tasks.stats"} <= edges


def test_no_import_loops():
    graph = _graph()
    loops = _cycles(graph)
    assert not loops, "import loops among zhinao's modules:\n" + "\n".join(_describe(c, graph) for c in loops)


def test_tasks_model_and_kernels_do_not_import_prefect():
    bad = []
    for name, path in MODULES.items():
        if not name.startswith(tuple(f"{p}." for p in PREFECT_FREE)) and name not in PREFECT_FREE:
            continue
        for target, line in _imports(name, path):
            target = target.removeprefix("<dynamic>")
            if target == "prefect" or target.startswith("prefect.") or target.startswith("prefect_"):
                bad.append(f"  {path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not bad, "Prefect belongs to zhinao/flows/ (reach it through zhinao.tasks.runtime.hooks):\n" + "\n".join(bad)


# each layer imports only those below it: app -> flows -> tasks -> model, kernels
BELOW = {"zhinao.tasks": ("zhinao.flows", "zhinao.app"), "zhinao.model": ("zhinao.flows", "zhinao.app"),
         "zhinao.kernels": ("zhinao.flows", "zhinao.app"), "zhinao.flows": ("zhinao.app",)}


def test_layers_import_only_downwards():
    bad = []
    for name, path in MODULES.items():
        for layer, above in BELOW.items():
            if name == layer or name.startswith(layer + "."):
                for target, line in _imports(name, path):
                    if target.startswith(tuple(a + "." for a in above)) or target in above:
                        bad.append(f"  {path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not bad, "an import against the layers (app -> flows -> tasks -> model, kernels):\n" + "\n".join(bad)


# external.py's job is to fingerprint the environment variables that shape an output
READS_ITS_ENVIRONMENT = {"zhinao.tasks.store.external"}


def test_the_store_is_handed_what_it_needs():
    """zhinao/tasks/store reads no settings and no environment: its opener hands it the root, the
    catalog, the model cache, the fingerprint memo and the lease times (zhinao.tasks.home, the flows)."""
    bad = []
    for name, path in MODULES.items():
        if not name.startswith("zhinao.tasks.store.") or name in READS_ITS_ENVIRONMENT:
            continue
        bad += [f"  {path.relative_to(PACKAGE.parent)}:{line} imports {target}" for target, line in _imports(name, path)
                if target == "zhinao.tasks.settings"]
        tree = ast.parse(path.read_bytes(), str(path))
        bad += [f"  {path.relative_to(PACKAGE.parent)}:{node.lineno} reads os.{node.attr}" for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")]
    assert not bad, "the store reads its environment:\n" + "\n".join(bad)
