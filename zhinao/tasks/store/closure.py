"""What a stage's output can depend on in this repository's code: the in-repo import closure of its
modules (flows/ included), and a fingerprint of it.

Imports are read from the source (`ast`), anywhere in a module, function bodies included, so lazy
imports count; a package that is imported brings its `__init__`. The fingerprint hashes each
module's syntax tree without docstrings: an edit that changes what runs changes it, a comment or
a reformatted line does not."""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

PROJECT = ("zhinao",)     # the repository's own package: flows, tasks, model, kernels under it
REPO = Path(__file__).resolve().parents[3]


def module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def module_of(fn: Callable) -> str | None:
    """The module a function was written in, named by its file (Prefect may load flow files under
    another module name), when it lies in the repository."""
    try:
        path = Path(inspect.getsourcefile(fn) or "").resolve()
    except TypeError:
        return None
    try:
        rel = path.relative_to(REPO).with_suffix("")
    except ValueError:
        return getattr(fn, "__module__", None)
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts) if parts and parts[0] in PROJECT else getattr(fn, "__module__", None)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def read_source(path: Path) -> bytes:
    return path.read_bytes()


@lru_cache(maxsize=4096)
def _imports(name: str, is_package: bool, source: bytes) -> frozenset[str]:
    """Module names a module's source imports (absolute; `from a import b` also names a.b)."""
    tree = ast.parse(source)
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except ImportError:
                    continue
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(out)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(modules: Iterable[str], tops: Iterable[str] = PROJECT,
            read: Callable[[Path], bytes] = read_source) -> dict[str, Path]:
    """Module name -> source file for the named modules and everything they import, transitively,
    inside the top-level packages `tops` (and those of the named modules). A named package stands
    for every module below it."""
    modules = list(modules)
    tops = set(tops) | {m.split(".")[0] for m in modules}
    todo = list(modules)
    for name in modules:
        path = module_file(name)
        if path is not None and _is_package(path):
            todo += [".".join((name, *p.relative_to(path.parent).with_suffix("").parts)).removesuffix(".__init__")
                     for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts]
    found: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in found or name.split(".")[0] not in tops:
            continue
        path = module_file(name)
        if path is None:        # `from pkg import function`: pkg.function is not a module
            continue
        found[name] = path
        todo += _parents(name) + sorted(_imports(name, _is_package(path), read(path)))
    return dict(sorted(found.items()))


@lru_cache(maxsize=4096)
def _tree_digest(source: bytes) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):     # docstrings do not shape output
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def files_fingerprint(modules: dict[str, Path], salt: str = "", read: Callable[[Path], bytes] = read_source) -> str:
    """Hash of the syntax of a closure's modules (`read` gives a file's source: tests swap in edits)."""
    h = hashlib.sha256(salt.encode())
    for name, path in modules.items():
        h.update(name.encode() + b"\0" + _tree_digest(read(path)).encode())
    return h.hexdigest()[:16]


def code_fingerprint(modules: Iterable[str], salt: str = "", read: Callable[[Path], bytes] = read_source) -> str:
    """Hash of the syntax of the named modules' whole in-repo import closure."""
    return files_fingerprint(closure(modules, read=read), salt, read)
