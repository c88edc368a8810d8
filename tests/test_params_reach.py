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


def test_a_run_spec_takes_each_field_as_declared_and_refuses_one_that_goes_nowhere():
    """spec_values: a field fills the spec field of its name, or the one it names, or none (the plan
    reads it); a field that shapes the output and fills nothing is an error naming it."""
    from dataclasses import dataclass

    from pydantic import Field

    from zhinao.tasks.params import NOT_IN_KEY, PLAN_READS, fills, spec_values

    @dataclass
    class Spec:
        max_lr: float = 0.0
        steps: int = 0

    class Params(StageParams):
        lr: float = Field(0.1, json_schema_extra=fills("max_lr"))
        steps: int = 3
        packing: str = Field("naive", json_schema_extra=PLAN_READS)
        log_every: int = Field(1, json_schema_extra=NOT_IN_KEY)     # how it runs: no spec field needed

    assert spec_values(Params(), Spec) == {"max_lr": 0.1, "steps": 3}

    class Lost(Params):
        beta: float = 0.5

    with pytest.raises(ValueError, match=r"Lost: \['beta'\] shape the output, but Spec has no such field"):
        spec_values(Lost(), Spec)
