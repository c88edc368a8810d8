"""Every parameter of every stage reaches the work, or says it does not shape the output: a field of a
stage's params (nested parameter models too) must be read by name somewhere in the stage's code
closure (an attribute `.field`, a keyword `field=`, or a key `"field"`) outside the parameter
classes themselves, unless it is marked NOT_IN_KEY. A field copied into a run spec by a dict
intersection that drops it, or one nothing reads, fails here."""
import ast
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

from zhinao.tasks.declare import stage_modules
from zhinao.tasks.params import StageParams, in_key
from zhinao.tasks.registry import stages
from zhinao.tasks.store.closure import closure

STAGES = stages()


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The params class, its bases up to StageParams, and the parameter models it holds."""
    found = [c for c in model.__mro__ if isinstance(c, type) and issubclass(c, BaseModel) and c is not BaseModel]
    for f in model.model_fields.values():
        for a in (f.annotation, *getattr(f.annotation, "__args__", ())):
            if isinstance(a, type) and issubclass(a, BaseModel) and a not in found:
                found += _models(a)
    return found


def _fields(model: type[BaseModel], prefix: str = ""):
    """(dotted name, field) of the params and of the models they hold; the base parameters every
    stage shares (audit, use_ray, num_cpus) are the runner's, not the stage's."""
    for name, f in model.model_fields.items():
        if prefix == "" and name in StageParams.model_fields:
            continue
        yield prefix + name, f
        for a in (f.annotation, *getattr(f.annotation, "__args__", ())):
            if isinstance(a, type) and issubclass(a, BaseModel):
                yield from _fields(a, f"{prefix}{name}.")


@cache
def _names_read(path: Path, skip: frozenset[str]) -> frozenset[str]:
    """Names a module reads: attributes, keywords and string keys, outside the classes in `skip`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()

    def walk(node):
        if isinstance(node, ast.ClassDef) and node.name in skip:
            return
        if isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(tree)
    return frozenset(out)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_parameter_reaches_the_work_or_is_marked(name):
    stage = STAGES[name]
    skip = frozenset(c.__name__ for c in _models(stage.params))
    read = set().union(*(_names_read(p, skip) for p in closure(stage_modules(stage)).values()))
    unread = [dotted for dotted, f in _fields(stage.params) if in_key(f) and dotted.rsplit(".", 1)[-1] not in read]
    assert not unread, (f"{name}: parameter(s) {unread} enter the version id but nothing in the stage's code reads "
                        "them: pass them on, or mark them NOT_IN_KEY (they do not shape the output)")


def test_an_unread_parameter_is_found():
    """The check itself: a field nothing reads fails, one read by attribute passes."""
    import dataclasses

    from pydantic import Field, create_model

    stage = STAGES["dedup-exact"]
    extra = create_model("ExtraParams", __base__=stage.params, __module__=stage.params.__module__,
                         nowhere_read_knob=(int, Field(3)))
    fake = dataclasses.replace(stage, params=extra)
    skip = frozenset(c.__name__ for c in _models(extra))
    read = set().union(*(_names_read(p, skip) for p in closure(stage_modules(fake)).values()))
    assert "nowhere_read_knob" not in read
    assert all(dotted.rsplit(".", 1)[-1] in read for dotted, f in _fields(stage.params) if in_key(f))
