"""Every instruction id (importing the families registers them) and which ids cannot share a prompt."""
from __future__ import annotations

import dataclasses
from itertools import combinations
from typing import Any

from . import case, content, formats, keywords, length  # noqa: F401  (register)
from .base import REGISTRY, IFEvalError, Instruction

INSTRUCTIONS = REGISTRY


def family(instruction_id: str) -> str:
    return instruction_id.split(":", 1)[0]


# Pairs whose instructions contradict or make each other unverifiable; symmetric, and every id
# conflicts with itself. A fixed answer or a JSON document leaves no room for most other formats.
_ALL = set(REGISTRY)
_LOOSE = {"keywords:existence", "keywords:forbidden_words", "keywords:frequency", "keywords:letter_frequency",
          "language:response_language", "length_constraints:number_words"}
_CONFLICTS: dict[str, set[str]] = {
    "detectable_format:constrained_response": _ALL,
    "detectable_format:json_format": _ALL - _LOOSE,
    "combination:two_responses": _ALL - {"keywords:existence", "keywords:forbidden_words",
                                         "language:response_language", "detectable_format:title",
                                         "punctuation:no_comma"},
    "combination:repeat_prompt": _ALL - {"keywords:existence", "detectable_format:title", "punctuation:no_comma"},
    "language:response_language": {"keywords:existence", "keywords:frequency", "keywords:forbidden_words",
                                   "startend:end_checker", "detectable_format:multiple_sections",
                                   "detectable_content:postscript", "length_constraints:nth_paragraph_first_word",
                                   "change_case:english_capital", "change_case:english_lowercase"},
    "change_case:english_capital": {"change_case:english_lowercase", "change_case:capital_word_frequency"},
    "change_case:english_lowercase": {"change_case:capital_word_frequency"},
    "length_constraints:number_paragraphs": {"length_constraints:nth_paragraph_first_word"},
}


def conflicts(a: str, b: str) -> bool:
    return a == b or b in _CONFLICTS.get(a, ()) or a in _CONFLICTS.get(b, ())


def conflicting(instruction_ids: list[str]) -> list[tuple[str, str]]:
    """The pairs of `instruction_ids` that cannot be asked together."""
    return [(a, b) for a, b in combinations(instruction_ids, 2) if conflicts(a, b)]


def build(instruction_id: str, kwargs: dict[str, Any] | None = None) -> Instruction:
    """The checker for an IFEval instruction id and its kwargs; None values mean absent (IFEval's
    files list every kwarg of every type with nulls)."""
    cls = REGISTRY.get(instruction_id)
    if cls is None:
        raise IFEvalError(f"unknown instruction id {instruction_id!r}")
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(given) - set(names))
    missing = [n for n in names if n not in given]
    if unknown or missing:
        raise IFEvalError(f"{instruction_id}: kwargs must be {names or 'none'}"
                          + (f"; unknown {unknown}" if unknown else "") + (f"; missing {missing}" if missing else ""))
    return cls(**given)
