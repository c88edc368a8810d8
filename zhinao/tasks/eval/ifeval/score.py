"""Strict and loose following, per response and aggregated.

Strict: the instruction's check passes on the response. Loose (IFEval): it passes on any of eight
variants: the response, without its first line, without its last line, without both, and each of
these with every markdown `*` removed. An empty (all-whitespace) variant never passes. Prompt level:
all of a prompt's instructions followed; instruction level: the fraction of instructions followed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from .base import IFEvalError, Instruction
from .data import InputRecord
from .registry import family


def variants(response: str) -> list[str]:
    lines = response.split("\n")
    cut = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return cut + [v.replace("*", "") for v in cut]


def follows(checker: Instruction, response: str, loose: bool = False) -> bool:
    return any(v.strip() and checker.check(v) for v in (variants(response) if loose else [response]))


@dataclass(frozen=True)
class PromptResult:
    key: int | str
    lang: str
    instruction_id_list: tuple[str, ...]
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    def to_json(self) -> dict:
        return {"key": self.key, "lang": self.lang, "instruction_id_list": list(self.instruction_id_list),
                "strict": list(self.strict), "loose": list(self.loose),
                "follow_all_strict": all(self.strict), "follow_all_loose": all(self.loose)}


def prompt_lang(record: InputRecord) -> str:
    if record.lang:
        return record.lang
    from .lang import detect

    return detect(record.prompt)[0]


def score(record: InputRecord, response: str) -> PromptResult:
    return PromptResult(record.key, prompt_lang(record), record.instruction_id_list,
                        tuple(follows(c, response) for c in record.checkers),
                        tuple(follows(c, response, loose=True) for c in record.checkers))


def complies(record: InputRecord, response: str, loose: bool = False) -> bool:
    """Every instruction followed (instruction evolution keeps only such responses)."""
    return all(follows(c, response, loose) for c in record.checkers)


def reward(record: InputRecord, response: str, loose: bool = False) -> float:
    """Fraction of the record's instructions the response follows (a verifiable RL reward)."""
    return sum(follows(c, response, loose) for c in record.checkers) / max(1, len(record.checkers))


def _levels(results: list[PromptResult]) -> dict:
    out = {"prompts": len(results), "instructions": sum(len(r.strict) for r in results)}
    for mode in ("strict", "loose"):
        flags = [getattr(r, mode) for r in results]
        done = [f for fs in flags for f in fs]
        out[mode] = {"prompt_level": sum(all(fs) for fs in flags) / len(flags) if flags else 0.0,
                     "instruction_level": sum(done) / len(done) if done else 0.0}
    return out


def _per(results: list[PromptResult], name) -> dict:
    tally: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "strict": 0, "loose": 0})
    for r in results:
        for iid, s, lo in zip(r.instruction_id_list, r.strict, r.loose):
            t = tally[name(iid)]
            t["n"] += 1
            t["strict"] += s
            t["loose"] += lo
    return {k: {"n": t["n"], "strict": t["strict"] / t["n"], "loose": t["loose"] / t["n"]}
            for k, t in sorted(tally.items())}


def summarize(results: list[PromptResult], by_lang: bool = True) -> dict:
    """Prompt and instruction level accuracy (strict, loose), per instruction id and family, and
    the same per prompt language."""
    out = _levels(results) | {"by_instruction": _per(results, lambda i: i), "by_family": _per(results, family)}
    if by_lang:
        langs = sorted({r.lang for r in results})
        out["by_lang"] = {lang: summarize([r for r in results if r.lang == lang], by_lang=False) for lang in langs}
    return out


def evaluate(records: Iterable[InputRecord], responses: Mapping[str, str],
             missing: str = "error") -> tuple[dict, list[PromptResult]]:
    """Scores responses (prompt -> response, as read_responses gives) against records. A prompt
    without a response is an error, or with missing='fail' an empty response (nothing followed)."""
    if missing not in ("error", "fail"):
        raise IFEvalError(f"missing must be 'error' or 'fail', got {missing!r}")
    records = list(records)
    absent = [r.key for r in records if r.prompt not in responses]
    if absent and missing == "error":
        raise IFEvalError(f"{len(absent)} prompt(s) have no response, keys {absent[:5]}")
    results = [score(r, responses.get(r.prompt, "")) for r in records]
    return summarize(results), results
