"""Math by generation on GSM8K's JSONL layout (`question`, `answer` whose last line is `#### N`):
chain-of-thought few-shot prompts, answer extraction and exact match, as lm-evaluation-harness's
`gsm8k` task does it (its strict `#### N` filter and its flexible last-number filter), so the
verdicts agree with lm-eval's given the same generations. Also reads the synth stage's math items
(`question`/`problem` and a numeric `answer`)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
# lm-eval's exact_match for gsm8k: case-insensitive, after removing these
IGNORE = [re.compile(p) for p in (",", r"\$", r"(?s).*#### ", r"\.$")]
STOP = ("Question:", "</s>", "<|im_end|>")
INVALID = "[invalid]"


@dataclass(frozen=True)
class MathItem:
    index: int
    question: str
    solution: str        # the worked answer, `#### N` last (what few-shot examples show)
    target: str          # N


def read_jsonl(path: str | Path) -> list[MathItem]:
    path = Path(path).expanduser()
    items = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {n}: not JSON ({e.msg})") from None
            items.append(item_of(row, len(items), f"{path}, line {n}"))
    return items


def item_of(row: dict[str, Any], index: int, where: str = "row") -> MathItem:
    question = row.get("question") or row.get("problem")
    answer = row.get("answer")
    if not question or answer is None:
        raise ValueError(f"{where}: needs `question` (or `problem`) and `answer`")
    answer = str(answer).strip()
    if "####" in answer:
        target = answer.rsplit("####", 1)[1].strip()
        solution = answer
    else:                       # a bare number (synth items): the solution is just the answer line
        target, solution = answer, f"#### {answer}"
    return MathItem(index, str(question).strip(), solution, target)


def prompt(item: MathItem, shots: list[MathItem]) -> str:
    """lm-eval's gsm8k layout: `Question: ...\\nAnswer: <solution>` examples, blank-line separated."""
    solved = "".join(f"Question: {s.question}\nAnswer: {s.solution}\n\n" for s in shots)
    return f"{solved}Question: {item.question}\nAnswer:"


def extract_strict(response: str) -> str:
    m = STRICT.findall(response)
    return m[0].strip() if m else INVALID


def extract_flexible(response: str) -> str:
    found = FLEXIBLE.findall(response)
    if not found:
        return INVALID
    last = found[-1]
    return next(g for g in last if g).strip()


def _normalise(s: str) -> str:
    for pattern in IGNORE:
        s = pattern.sub("", s)
    return s.lower()


def exact_match(prediction: str, target: str) -> bool:
    return _normalise(prediction) == _normalise(target)


def verdicts(item: MathItem, response: str) -> dict[str, Any]:
    strict, flexible = extract_strict(response), extract_flexible(response)
    return {"index": item.index, "target": item.target, "strict": strict, "flexible": flexible,
            "strict_match": exact_match(strict, item.target), "flexible_match": exact_match(flexible, item.target)}


def accuracy(results: list[dict[str, Any]]) -> dict[str, float]:
    n = len(results)
    return {"items": n, "strict_match": sum(r["strict_match"] for r in results) / n if n else 0.0,
            "flexible_match": sum(r["flexible_match"] for r in results) / n if n else 0.0}
