"""docs/stages.md, generated from the declarations: every stage and pipeline with what it reads, what
it makes and every parameter (type, default, range, whether it enters the version id)."""
from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from zhinao.tasks.params import StageParams, in_key
from zhinao.tasks.registry import stages, upstream

from ..flows.registry import targets
from ..flows.stages import attribute
from .params import _model_of, field_bounds

_SIGNS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
_OUTPUT = {"dataset": "dataset (Parquet rows)", "model": "model (a checkpoint folder)",
           "tokens": "token shards", "eval": "evaluation (Parquet rows)"}


def render() -> str:
    found = targets()
    out = ["<!-- GENERATED from the stage declarations by `python -m zhinao.app.generate`: do not edit. -->",
           "# Stage reference", "",
           "Every stage and pipeline `zhinao run` knows, in pipeline order, as declared in "
           "`zhinao/tasks/<area>/*stage.py` (see [writing a stage](writing-a-stage.md)). A parameter "
           "marked *run* changes how a stage runs, not what it makes: it stays out of the version id.", ""]
    for kind in ("stage", "pipeline"):
        out += [f"## {kind.capitalize()}s", ""]
        out += [f"- [{t.name}](#{t.name}): {first_sentence(t.description)}" for t in found.values() if t.kind == kind]
        out.append("")
    for t in found.values():
        out += _target(t)
    return "\n".join(out).rstrip() + "\n"


def _target(t) -> list[str]:
    lines = [f"### {t.name}", "", " ".join(t.description.split()), ""]
    facts = [f"group: {', '.join(t.tags) or '-'}"]
    stage = getattr(t.flow, "stage", None)
    if stage is not None:
        reads = upstream(stage)
        facts += [f"reads: {', '.join(f'`{r}`' for r in reads) if reads else 'no dataset (its sources are parameters)'}"
                  + (" (chosen by its parameters; shown for the defaults)" if callable(stage.inputs) else ""),
                  *([f"names: {', '.join(f'`{u}`' for u in uses)} (by default; a parameter names each)"]
                    if (uses := stage.uses(stage.params())) else []),
                  f"makes: {_OUTPUT.get(stage.kind, stage.kind)} `{stage.name}`",
                  f"retries: {stage.retries}",
                  f"declared in: `{stage.plan.__module__}`"]
    lines += [f"- {f}" for f in facts] + ["", "| parameter | type | default | | description |", "|---|---|---|---|---|"]
    lines += list(_rows(t.params)) + [""]
    return lines


def _rows(model: type[BaseModel], prefix: str = ""):
    for name, f in model.model_fields.items():
        sub = _model_of(f.annotation)
        default = f.get_default(call_default_factory=True) if f.default is not PydanticUndefined \
            or f.default_factory is not None else PydanticUndefined
        if sub is not None and issubclass(sub, StageParams):      # a pipeline's stage: its own section
            owners = [n for n, s in stages().items() if s.params is sub]     # the field's own stage first
            owner = next((n for n in owners if attribute(n) == name), owners[0] if owners else None)
            kind = f"[{sub.__name__}](#{owner})" if owner else sub.__name__
            yield f"| `{prefix}{name}` | {kind} | | | {_cell(f.description or '')} {_overrides(default)} |"
            continue
        if sub is not None and isinstance(default, BaseModel) and prefix.count(".") < 1:
            yield f"| `{prefix}{name}` | {sub.__name__} | | {'' if in_key(f) else 'run'} | " \
                  f"{_cell(f.description or '')} (fields below) |"
            yield from _rows(sub, f"{prefix}{name}.")
            continue
        yield (f"| `{prefix}{name}` | {_cell(_type(f.annotation))}{_bounds(f)} | {_cell(_value(default))} | "
               f"{'' if in_key(f) else 'run'} | {_cell(f.description or '')} |")


def _overrides(default: Any) -> str:
    """What a pipeline sets differently from the stage's own defaults."""
    if not isinstance(default, BaseModel):
        return "(not run unless given)" if default is None else ""
    changed = default.model_dump(mode="json", exclude_unset=True)
    return f"(the pipeline sets {_value(changed)})" if changed else ""


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    for noise in ("zhinao.tasks.", "pydantic.", "annotated_types."):
        text = text.replace(noise, "")
    return text


def _bounds(f) -> str:
    found = [f"{_SIGNS[k]} {v}" for k, v in field_bounds(f)]
    return f" ({', '.join(found)})" if found else ""


def _value(v: Any) -> str:
    if v is PydanticUndefined:
        return "required"
    if isinstance(v, BaseModel):
        v = v.model_dump(mode="json")
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def first_sentence(text: str, width: int = 0) -> str:
    """A description's first sentence (cut to `width` characters when given)."""
    head = " ".join(text.split()).split(". ")[0].rstrip(".")
    return head if not width or len(head) <= width else head[:width - 1].rstrip() + "…"
