"""The instruction base class, the registry of instruction ids and kwargs validation.

An instruction is a frozen dataclass whose fields are its IFEval kwargs: `check(response)` says
whether a response complies, `describe(lang)` gives the sentence that asks for it ('en' or 'zh'),
and `sample(rng, lang)` draws kwargs for instruction evolution.
"""
from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any, ClassVar

LANGS = ("en", "zh")
RELATIONS = ("less than", "at least")
_RELATION_ZH = {"less than": "少于", "at least": "至少"}

REGISTRY: dict[str, type[Instruction]] = {}


class IFEvalError(ValueError):
    """Bad instruction ids, kwargs or data files."""


def register(cls: type[Instruction]) -> type[Instruction]:
    if cls.id in REGISTRY:
        raise RuntimeError(f"instruction id {cls.id} registered twice")
    REGISTRY[cls.id] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class Instruction:
    id: ClassVar[str] = ""
    EN: ClassVar[str] = ""      # str.format templates over values(lang)
    ZH: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check and coerce kwargs (raise IFEvalError)."""

    def check(self, response: str) -> bool:
        raise NotImplementedError

    def values(self, lang: str) -> dict[str, Any]:
        """What the description templates format: the kwargs, relations in the description's language."""
        out = self.kwargs()
        for name, value in out.items():
            if name.endswith("relation"):
                out[name] = relation_text(value, lang)
        return out

    def describe(self, lang: str = "en") -> str:
        template = {"en": self.EN, "zh": self.ZH}.get(lang)
        if template is None:
            raise IFEvalError(f"description language must be one of {LANGS}, got {lang!r}")
        return template.format(**self.values(lang))

    def kwargs(self) -> dict[str, Any]:
        """The IFEval kwargs dict of this instruction (as input_data.jsonl holds it)."""
        return {f.name: copy.copy(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def sample(cls, rng: random.Random, lang: str, prompt: str | None = None) -> dict[str, Any]:
        """Random kwargs for a prompt in `lang` (instruction evolution)."""
        return {}

    # kwargs validation helpers: coerce in place (frozen dataclass), name the instruction and kwarg
    def _fail(self, name: str, why: str) -> None:
        raise IFEvalError(f"{self.id}: kwarg {name!r} {why}, got {getattr(self, name)!r}")

    def _int(self, name: str, minimum: int = 0) -> None:
        value = getattr(self, name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(name, "must be an integer")
        if value < minimum:
            self._fail(name, f"must be at least {minimum}")
        object.__setattr__(self, name, value)

    def _str(self, name: str) -> None:
        value = getattr(self, name)
        if not isinstance(value, str) or not value.strip():
            self._fail(name, "must be a non-empty string")
        object.__setattr__(self, name, value.strip())

    def _strs(self, name: str) -> None:
        value = getattr(self, name)
        if isinstance(value, str):
            value = [value]
        if (not isinstance(value, (list, tuple)) or not value
                or not all(isinstance(v, str) and v.strip() for v in value)):
            self._fail(name, "must be a non-empty list of non-empty strings")
        object.__setattr__(self, name, [v.strip() for v in value])

    def _relation(self, name: str) -> None:
        if getattr(self, name) not in RELATIONS:
            self._fail(name, f"must be one of {RELATIONS}")


def relation_text(relation: str, lang: str) -> str:
    return _RELATION_ZH[relation] if lang == "zh" else relation


def compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


def quoted(items: list[str], lang: str) -> str:
    """A list of words as a description shows it."""
    if lang == "zh":
        return "、".join(f"“{w}”" for w in items)
    return ", ".join(f'"{w}"' for w in items)
