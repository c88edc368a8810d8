"""Every stage by name, found where it is declared: the module-level `Stage` objects of the project's
`zhinao/tasks/<area>/stage.py` and `*_stage.py` modules, and of the modules a user names in
ZHINAO_STAGE_MODULES (comma-separated, importable: a stage of one's own package). Nothing lists a
stage by hand: a new declaration file is found, and with it its flow, deployment, CLI entry,
pipeline edges and reference page."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from .declare import Stage

ENV = "ZHINAO_STAGE_MODULES"
GROUPS = ("data", "model", "post-training")      # a stage's first tag; the listing follows this order
_TASKS = Path(__file__).resolve().parent
_found: dict[str, dict[str, Stage]] = {}


def declaration_modules() -> list[str]:
    """The modules that may declare stages, the project's first (sorted by path), then the user's."""
    files = sorted(p for p in _TASKS.glob("*/*.py") if p.name == "stage.py" or p.name.endswith("_stage.py"))
    ours = [f"zhinao.tasks.{p.parent.name}.{p.stem}" for p in files]
    theirs = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    return ours + [m for m in theirs if m not in ours]


def stages() -> dict[str, Stage]:
    """Name -> declaration, in pipeline order: upstream before downstream, data before model before
    post-training. Found once per process (and again when ZHINAO_STAGE_MODULES changes)."""
    key = os.environ.get(ENV, "")
    if key not in _found:
        _found[key] = _in_order(_collect(declaration_modules()))
    return _found[key]


def _collect(modules: list[str]) -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    where: dict[str, str] = {}
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if not isinstance(value, Stage) or found.get(value.name) is value:
                continue
            if value.name in found:
                raise ValueError(f"stage {value.name!r} is declared twice: in {where[value.name]} and in {name}")
            found[value.name], where[value.name] = value, name
    return found


def upstream(stage: Stage) -> tuple[str, ...]:
    """The datasets a stage reads with its default parameters (the edges of the stage graph)."""
    return stage.reads(stage.params())


def group(stage: Stage) -> str:
    return stage.tags[0] if stage.tags and stage.tags[0] in GROUPS else GROUPS[-1]


def _in_order(found: dict[str, Stage]) -> dict[str, Stage]:
    """Upstream first; among stages ready at once, by group, then the longest chain behind them
    (the main line before its side branches), then name."""
    depth: dict[str, int] = {}

    def chain(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in depth:
            ups = [u for u in upstream(found[name]) if u in found and u not in seen]
            depth[name] = 1 + max((chain(u, seen + (name,)) for u in ups), default=0)
        return depth[name]

    done: list[str] = []
    waiting = set(found)
    while waiting:
        ready = [n for n in waiting if not any(u in waiting and u != n for u in upstream(found[n]))] or list(waiting)
        first = min(ready, key=lambda n: (GROUPS.index(group(found[n])), chain(n), n))
        done.append(first)
        waiting.remove(first)
    return {n: found[n] for n in done}
