"""judge: an LLM scores each synthetic item on named dimensions (strict JSON), math answers are
checked by re-solving and by running a program the model writes, code is executed."""
from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

from .api import Completion, Request
from .engine import GenJob, request_seed
from .prompts import JUDGE, PROGRAM, RESOLVE
from .sandbox import run_python
from .synth import parse_answer

DIMENSIONS = ("correctness", "difficulty", "clarity", "usefulness")

ADDED = tuple(pa.field(f"judge_{d}", pa.int8()) for d in DIMENSIONS) + (
    pa.field("judge_mean", pa.float32()), pa.field("answer_check", pa.string()), pa.field("code_runs", pa.bool_()))

_FINAL = re.compile(r"Final answer\s*[:：]\s*([^\n]+)", re.I)
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def parse_scores(text: str) -> dict[str, int] | None:
    """Strict: the answer opens with one flat JSON object holding exactly the four dimensions, each an
    integer from 1 to 10 (prose after the closed object is ignored). Anything else is unparseable."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    end = text.find("}")
    if end < 0:
        return None
    try:
        obj = json.loads(text[:end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or set(obj) != set(DIMENSIONS):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10 for v in obj.values()):
        return None
    return obj


def build(row: dict, p: Any) -> list[Request]:
    reqs = [JUDGE.request(seed=request_seed(p.seed, row["id"], "judge", k), max_tokens=48,
                          temperature=0.0 if k == 0 else p.temperature, top_p=p.top_p, kind=row["kind"],
                          prompt=row["prompt"], response=row["response"]) for k in range(p.judge_attempts)]
    if row["kind"] == "math" and p.check_math:
        reqs.append(RESOLVE.request(seed=request_seed(p.seed, row["id"], "resolve"), max_tokens=p.max_tokens,
                                    temperature=0.0, prompt=row["prompt"]))
        reqs.append(PROGRAM.request(seed=request_seed(p.seed, row["id"], "program"), max_tokens=p.max_tokens,
                                    temperature=0.0, prompt=row["prompt"]))
    return reqs


def same_answer(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    x, y = float(a), float(b)
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def check_math(row: dict, resolve: Completion, program: Completion) -> str:
    """'agree' when a re-solve or the program's output matches the item's answer, 'disagree' when
    they produced answers and none matches, 'unchecked' when neither produced one."""
    found = []
    m = _FINAL.search(resolve.text) if resolve.finish_reason != "error" else None
    if m:
        found.append(parse_answer(m.group(1)))
    block = _CODE_BLOCK.search(program.text + ("" if "```" in program.text[9:] else "\n```"))
    if block and program.finish_reason != "error":
        ran = run_python(block.group(1))
        if ran.ok and ran.stdout.strip():
            found.append(parse_answer(ran.stdout.strip().splitlines()[-1]))
    found = [f for f in found if f is not None]
    if not found:
        return "unchecked"
    return "agree" if any(same_answer(row["answer"], f) for f in found) else "disagree"


def code_runs(response: str) -> bool:
    block = _CODE_BLOCK.search(response)
    return bool(block) and run_python(block.group(1)).ok


def parse(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    judged = completions[:p.judge_attempts]
    scores = next((s for s in (parse_scores(c.text) for c in judged) if s is not None), None)
    out = dict(row) | {f"judge_{d}": (scores or {}).get(d) for d in DIMENSIONS}
    out["judge_mean"] = sum(scores.values()) / len(scores) if scores else None
    out["answer_check"] = None
    out["code_runs"] = None
    reason = None if scores else ("generation_error" if all(c.finish_reason == "error" for c in judged)
                                  else "judge_unparseable")
    if row["kind"] == "math" and p.check_math and len(completions) > p.judge_attempts:
        out["answer_check"] = check_math(row, *completions[p.judge_attempts:p.judge_attempts + 2])
    if row["kind"] == "code" and p.check_code:
        out["code_runs"] = code_runs(row["response"] or "")
    if reason is None:
        for d in DIMENSIONS:
            if scores[d] < p.min_scores.get(d, 1):
                reason = f"low_{d}"
                break
    if reason is None and out["answer_check"] == "disagree" and p.answer_check != "off":
        reason = "answer_mismatch"
    if reason is None and out["answer_check"] == "unchecked" and p.answer_check == "agree":
        reason = "answer_unchecked"
    if reason is None and out["code_runs"] is False:
        reason = "code_error"
    return [out | {"drop_reason": reason}]


JOB = GenJob("judge", build, parse)
