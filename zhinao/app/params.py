"""Command-line parameters: `KEY=VALUE` pairs into a stage's or pipeline's parameter model, and one-line
errors that say what a parameter allows."""
import json
from typing import Any

from pydantic import BaseModel, ValidationError


def parse_params(model: type[BaseModel], pairs: list[str]) -> BaseModel:
    """`KEY=VALUE` pairs (dotted keys reach nested models: `ingest.shard_rows=100`) into `model`.

    Values are read as JSON when they parse (numbers, booleans, lists) and as text otherwise; a
    list field also takes comma-separated text (`a,b` or `[a,b]`) and a single value.
    """
    raw: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {pair!r}: expected KEY=VALUE")
        target, cls, parts = raw, model, key.split(".")
        for i, part in enumerate(parts):
            if part not in cls.model_fields:
                raise ValueError(f"unknown parameter {'.'.join(parts[:i + 1])!r}; {cls.__name__} has: "
                                 + ", ".join(sorted(cls.model_fields)))
            field = cls.model_fields[part]
            if i < len(parts) - 1:
                sub = _model_of(field.annotation)
                if sub is None and _is(field.annotation, dict) and i == len(parts) - 2:
                    # a mapping's key: the others keep their defaults (rewards.math=1)
                    target = target.setdefault(part, dict(field.get_default(call_default_factory=True) or {}))
                    target[parts[-1]] = _value(value, None)
                    break
                if sub is None:
                    raise ValueError(f"parameter {'.'.join(parts[:i + 1])!r} has no sub-parameters")
                target, cls = target.setdefault(part, {}), sub
        else:
            target[parts[-1]] = _value(value, cls.model_fields[parts[-1]].annotation)
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ValueError(explain(model, e)) from e


_BOUNDS = {"gt": "greater than", "ge": "greater than or equal to", "lt": "less than", "le": "less than or equal to"}


def explain(model: type[BaseModel], error: ValidationError) -> str:
    """One line for the command line: each bad parameter (dotted), the value given and what it allows."""
    problems = []
    for e in error.errors():
        key = ".".join(str(part) for part in e["loc"])
        given = "" if not key or isinstance(e.get("input"), dict) else f"={json.dumps(e.get('input'), default=str)}"
        bounds = _bounds(model, e["loc"]) if e["type"].startswith(("greater_than", "less_than")) else ""
        why = f"should be {bounds}" if bounds else e["msg"].removeprefix("Value error, ").removeprefix("Input ")
        problems.append(f"{key}{given}: {why}" if key else why)
    return f"invalid parameter{'s' if len(problems) > 1 else ''} " + "; ".join(problems)


def _bounds(model: type[BaseModel], loc: tuple) -> str:
    """The range a field allows, in words ('' when the location is no model field: a dict value)."""
    cls, field = model, None
    for part in loc:
        if isinstance(part, int):       # a list index
            continue
        if cls is None or part not in cls.model_fields:
            return ""
        field = cls.model_fields[part]
        cls = _model_of(field.annotation)
    return " and ".join(f"{_BOUNDS[k]} {v}" for k, v in field_bounds(field)) if field is not None else ""


def field_bounds(field) -> list[tuple[str, Any]]:
    """A field's bounds as (gt|ge|lt|le, value), in that order per constraint."""
    return [(k, getattr(m, k)) for m in field.metadata for k in _BOUNDS if hasattr(m, k)]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The parameter model a field holds (also inside `X | None`), or None."""
    for a in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _is(annotation: Any, kind: type) -> bool:
    """A field of `kind` (dict, list), also inside `X | None`."""
    return any(getattr(a, "__origin__", None) is kind for a in (annotation, *getattr(annotation, "__args__", ())))


def _value(text: str, annotation: Any) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if _is(annotation, list):
        if isinstance(value, str):          # a,b and [a,b] (a shell-friendly list of names)
            inner = value[1:-1] if value.startswith("[") and value.endswith("]") else value
            value = [v.strip() for v in inner.split(",") if v.strip()]
        elif not isinstance(value, list):   # one number or boolean: a list of one
            value = [value]
    return value
