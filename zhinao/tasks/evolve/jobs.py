"""The generation jobs of instruction evolution, each a build (row -> requests) and a parse
(completions -> rows, or a drop reason): new tasks from sampled ones (self-instruct), a harder or a
new instruction (Evol-Instruct depth / breadth), a constrained instruction's response kept only when
the checkers say it complies, and the response to every other kept instruction.

Every row has the WORK schema; the driver (rounds.py) turns kept rows into chat items."""
from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from ..eval.ifeval import complies
from ..generate.api import Completion, Request
from ..generate.checks import output_problem, trim_truncated
from ..generate.engine import GenJob, request_seed
from ..generate.prompts import language_name
from .constraints import record_of
from .prompts import BREADTH, DEPTH, DEPTH_OPS, SELF_INSTRUCT
from .rouge import rouge_l
from ..chat.text import units

WORK = pa.schema([("id", pa.string()), ("round", pa.int32()), ("method", pa.string()), ("lang", pa.string()),
                  ("instruction", pa.string()), ("response", pa.string()), ("evolved_from", pa.string()),
                  ("examples", pa.list_(pa.string())), ("example_ids", pa.list_(pa.string())),
                  ("op", pa.string()), ("constraints", pa.string())])

_NUMBERED = re.compile(r"^\s*(?:\d{1,2}|[一二三四五六七八九十]{1,2})\s*[.)、．:：]\s*(?P<task>.+?)\s*$")
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:task|instruction|new instruction|rewritten instruction|任务|指令)\s*[:：]\s*"
                    r"(?:\*\*)?\s*", re.I)
# words that give away the template instead of an instruction (WizardLM drops such evolutions)
_LEAKED = re.compile(r"\bthe (?:given |original |new |rewritten )?instruction\b|(?:rewritten|new) instruction|"
                     r"instruction below|demanding version|#|改写后的指令|原指令|新指令|这条指令", re.I)
# tasks a text-only assistant cannot do (self-instruct filters these out)
_MEDIA = re.compile(r"\b(?:image|images|picture|photo|graph|video|audio|draw|plot|diagram|map|file|"
                    r"attached|go to|browse|url|link)\b|图片|图像|照片|视频|音频|画一|绘制|附件|链接|网址", re.I)
# a character stuck on repeat ("！））））））…"): the generic checks judge short answers by their lines only
_STUCK = re.compile(r"([^\s\-=_*#~.])\1{11,}")
_REFUSAL = re.compile(r"\b(?:sorry|i cannot|i can't|i am unable|i'm unable|as an ai)\b|抱歉|对不起|我无法|我不能",
                      re.I)


def instruction_problem(text: str, lang: str, p: Any) -> str | None:
    """Why a generated instruction is unusable, or None."""
    n = len(units(text))
    if n < p.min_instruction_units:
        return "too_short"
    if n > p.max_instruction_units:
        return "too_long"
    if _MEDIA.search(text):
        return "needs_media"
    return output_problem(Completion(text, "stop"), lang, min_chars=1)


def _clean(text: str) -> str:
    return _LABEL.sub("", text).strip().strip('"“”「」').strip()


def _first_block(text: str) -> str:
    """The instruction a rewrite produced: its first paragraph, and the next one when the first ends
    with a colon (an input the instruction shows)."""
    paras = [x.strip() for x in re.split(r"\n\s*\n", text.strip()) if x.strip()]
    if not paras:
        return ""
    return paras[0] + ("\n\n" + paras[1] if len(paras) > 1 and paras[0].rstrip().endswith((":", "：")) else "")


def _common(row: dict, **changes) -> dict:
    return {k: row.get(k) for k in WORK.names} | {"response": None} | changes


# ---- self-instruct -----------------------------------------------------------------------------
def build_self_instruct(row: dict, p: Any) -> list[Request]:
    examples = "\n".join(f"{i}. {t}" for i, t in enumerate(row["examples"], 1))
    return [SELF_INSTRUCT.request(seed=request_seed(p.seed, row["id"]), max_tokens=p.max_tokens,
                                  temperature=p.temperature, top_p=p.top_p, examples=examples,
                                  n=p.new_per_request, language=language_name(row["lang"]))]


def parse_self_instruct(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    if c.finish_reason == "error":
        return [_common(row, drop_reason="generation_error")]
    lines = [m.group("task") for m in map(_NUMBERED.match, c.text.splitlines()) if m]
    if c.finish_reason == "length" and lines:
        lines = lines[:-1]            # the last task may be cut off mid-sentence
    tasks = [_clean(t) for t in lines][: p.new_per_request]
    if not tasks:
        return [_common(row, drop_reason="unparseable", instruction=c.text)]
    out = []
    for k, task in enumerate(tasks):
        # the example it resembles most is what it was made from
        scores = [rouge_l(ex, task) for ex in row["examples"]]
        parent = row["example_ids"][max(range(len(scores)), key=scores.__getitem__)]
        out.append(_common(row, id=f"{row['id']}-{k}", instruction=task, evolved_from=parent, examples=None,
                           example_ids=None, drop_reason=instruction_problem(task, row["lang"], p)))
    return out


SELF_INSTRUCT_JOB = GenJob("evolve-self-instruct", build_self_instruct, parse_self_instruct)


# ---- Evol-Instruct: depth and breadth ------------------------------------------------------------
def build_evol(row: dict, p: Any) -> list[Request]:
    kw = dict(seed=request_seed(p.seed, row["id"]), max_tokens=p.max_tokens, temperature=p.temperature,
              top_p=p.top_p, instruction=row["instruction"], language=language_name(row["lang"]))
    if row["method"] == "evol-depth":
        return [DEPTH.request(how=DEPTH_OPS[row["op"]], **kw)]
    return [BREADTH.request(**kw)]


def parse_evol(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    base = _common(row, id=f"{row['id']}-new", evolved_from=row["evolved_from"])
    if c.finish_reason in ("error", "length"):    # the audit shows what came back, not the original
        return [base | {"instruction": c.text, "drop_reason": "generation_error" if c.finish_reason == "error"
                        else "truncated"}]
    text = _clean(_first_block(_LABEL.sub("", c.text, count=1)))
    reason = instruction_problem(text, row["lang"], p)
    if reason is None and _LEAKED.search(text):
        reason = "leaked_template"
    if reason is None and row["method"] == "evol-depth" and rouge_l(row["instruction"], text) >= p.max_evol_similarity:
        reason = "not_evolved"        # no information gained over the original
    return [base | {"instruction": text, "drop_reason": reason}]


EVOL_JOB = GenJob("evolve-evol", build_evol, parse_evol)


# ---- responses ------------------------------------------------------------------------------------
def response_problem(c: Completion, expect_lang: str | None, p: Any) -> tuple[str, str | None]:
    """(the response text, why it is unusable or None)."""
    if p.trim_truncated:
        c = trim_truncated(c)
    reason = output_problem(c, expect_lang, min_chars=p.min_response_chars)
    text = c.text.strip()
    if reason is None and _STUCK.search(text):
        reason = "repetitive"
    if reason is None and _REFUSAL.search(text[:200]) and len(units(text)) < 80:
        reason = "refusal"            # WizardLM: "sorry" in a short answer means the instruction failed
    return text, reason


def build_response(row: dict, p: Any) -> list[Request]:
    return [Request.chat(row["instruction"], seed=request_seed(p.seed, row["id"], "response"),
                         max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p)]


def parse_response(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    text, reason = response_problem(c, row["lang"], p)
    return [_common(row, response=text, drop_reason=reason)]


RESPONSE_JOB = GenJob("evolve-response", build_response, parse_response)


# ---- constraint auto-evolution ----------------------------------------------------------------------
def build_constrained(row: dict, p: Any) -> list[Request]:
    # the first attempt greedy, the others sampled: the first compliant one is kept
    return [Request.chat(row["instruction"], seed=request_seed(p.seed, row["id"], "constrained", k),
                         max_tokens=p.max_tokens, temperature=0.0 if k == 0 else p.temperature, top_p=p.top_p)
            for k in range(p.constraint_attempts)]


def parse_constrained(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    record = record_of(row["instruction"], row["constraints"], row["lang"], row["id"])
    # the checkers judge a response in another language than the instruction's
    expect = None if "language:response_language" in record.instruction_id_list else row["lang"]
    first_reason, last_text = None, None
    for c in completions:
        text, reason = response_problem(c, expect, p)
        if reason is None and not complies(record, text, loose=p.loose):
            reason = "not_compliant"
        if reason is None:
            return [_common(row, response=text, drop_reason=None)]
        # a response that was fine but broke a constraint says more than a truncated one
        if first_reason is None or reason == "not_compliant":
            first_reason, last_text = reason, text
    return [_common(row, response=last_text, drop_reason=first_reason or "generation_error")]


CONSTRAINT_JOB = GenJob("evolve-constraint", build_constrained, parse_constrained)
