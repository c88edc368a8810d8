"""Constraints for instruction evolution: a checker and the sentence that asks for it, with kwargs
drawn deterministically from a seed, and a prompt extended with several of them as an IFEval record.
"""
from __future__ import annotations

import random
from typing import Any

from .base import LANGS, REGISTRY, IFEvalError, Instruction
from .data import InputRecord
from .registry import build, conflicting


def rng_for(seed: int | str, instruction_id: str) -> random.Random:
    # str seeds go through SHA-512 in random.seed: the same kwargs on every run and machine
    return random.Random(f"{seed}:{instruction_id}")


def make(instruction_id: str, lang: str = "en", seed: int | str = 0, prompt: str | None = None,
         **kwargs: Any) -> tuple[Instruction, str]:
    """(checker, its instruction sentence in `lang`); kwargs not given are drawn from `seed`.
    `prompt` is what combination:repeat_prompt repeats."""
    if lang not in LANGS:
        raise IFEvalError(f"lang must be one of {LANGS}, got {lang!r}")
    if instruction_id not in REGISTRY:
        build(instruction_id)       # registers the families, raises the unknown-id error
    drawn = REGISTRY[instruction_id].sample(rng_for(seed, instruction_id), lang, prompt)
    checker = build(instruction_id, {**drawn, **{k: v for k, v in kwargs.items() if v is not None}})
    return checker, checker.describe(lang)


def add_constraints(prompt: str, instruction_ids: list[str], lang: str = "en", seed: int | str = 0,
                    key: int | str | None = None, kwargs: dict[str, dict[str, Any]] | None = None) -> InputRecord:
    """The prompt, a blank line, then one instruction sentence per line, as an input_data.jsonl record.
    `kwargs` fixes some instructions' kwargs ({instruction id: {name: value}}); the rest are drawn."""
    clash = conflicting(instruction_ids)
    if clash:
        raise IFEvalError(f"instructions that cannot share a prompt: {clash}")
    made = [make(i, lang, seed, prompt=prompt, **(kwargs or {}).get(i, {})) for i in instruction_ids]
    text = prompt.rstrip() + "\n\n" + "\n".join(s for _, s in made)
    return InputRecord(key=key if key is not None else str(seed), prompt=text,
                       instruction_id_list=tuple(instruction_ids),
                       kwargs=tuple(c.kwargs() for c, _ in made), lang=lang)
