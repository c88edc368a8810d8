"""Constraint auto-evolution in the CF-Bench manner: an instruction gets one or more verifiable
constraints of different types (length, format, keywords, language, JSON, case, sections, start /
end, punctuation ...) drawn deterministically, as an IFEval record whose checkers later judge the
response (tasks/eval/ifeval)."""
from __future__ import annotations

import json
import random

from ..eval.ifeval import INSTRUCTIONS, InputRecord, add_constraints, conflicts, parse_record

# Constraints that shape an answer without replacing it: a fixed-option answer, repeating the prompt,
# two answers, letter or capital-word counts and "paragraph n starts with" make odd training targets.
DEFAULT_CONSTRAINTS = (
    "length_constraints:number_words", "length_constraints:number_sentences", "length_constraints:number_paragraphs",
    "detectable_format:number_bullet_lists", "detectable_format:title", "detectable_format:json_format",
    "detectable_format:multiple_sections", "detectable_format:number_highlighted_sections",
    "keywords:existence", "keywords:frequency", "keywords:forbidden_words", "language:response_language",
    "change_case:english_lowercase", "change_case:english_capital", "startend:end_checker", "startend:quotation",
    "detectable_content:postscript", "detectable_content:number_placeholders", "punctuation:no_comma",
)
# these need an English answer (a Chinese one fails them): not asked of Chinese instructions
_ENGLISH_ONLY = {"change_case:english_lowercase", "change_case:english_capital", "change_case:capital_word_frequency"}


def unknown_constraints(ids: list[str]) -> list[str]:
    return [i for i in ids if i not in INSTRUCTIONS]


def draw(allowed: list[str], lang: str, most: int, key: str) -> list[str]:
    """1 to `most` constraint ids for an instruction in `lang`, none conflicting, drawn from `key`
    (the stage seed, round and item: the same draw on every run)."""
    rng = random.Random(f"constraints:{key}")
    want = rng.randint(1, max(1, most))
    ids = sorted(i for i in allowed if not (lang == "zh" and i in _ENGLISH_ONLY))
    rng.shuffle(ids)
    chosen: list[str] = []
    for i in ids:
        if len(chosen) == want:
            break
        if not any(conflicts(i, c) for c in chosen):
            chosen.append(i)
    return chosen


def constrained(instruction: str, ids: list[str], lang: str, key: str) -> tuple[str, str]:
    """(the instruction with its constraint sentences, the record as JSON for the checkers)."""
    record = add_constraints(instruction, ids, lang=lang, seed=key, key=key)
    spec = {"instruction_id_list": list(record.instruction_id_list), "kwargs": [dict(k) for k in record.kwargs]}
    return record.prompt, json.dumps(spec, ensure_ascii=False, sort_keys=True)


def record_of(prompt: str, spec: str, lang: str, key: str = "item") -> InputRecord:
    """The IFEval record a `constraints` column value describes (what complies() checks)."""
    return parse_record({"key": key, "prompt": prompt, "lang": lang, **json.loads(spec)}, key)
