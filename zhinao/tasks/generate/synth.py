"""synth: topics from real documents, then math / code / instruction items generated from them,
made harder round by round (Evol-Instruct style), every item parsed strictly from its format."""
from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from .api import Completion, Request
from .checks import output_problem
from .engine import GenJob, request_seed
from .prompts import EVOLVE, SYNTH, TOPICS
from .rows import stable_rank

KINDS = tuple(SYNTH)

TOPIC_SCHEMA = pa.schema([("id", pa.string()), ("doc_id", pa.string()), ("lang", pa.string()),
                          ("topic", pa.string()), ("subtopics", pa.list_(pa.string()))])

ITEM_SCHEMA = pa.schema([("id", pa.string()), ("kind", pa.string()), ("prompt", pa.string()),
                         ("response", pa.string()), ("answer", pa.string()), ("topic", pa.string()),
                         ("subtopic", pa.string()), ("round", pa.int32()), ("evolved_from", pa.string()),
                         ("synth_from", pa.string()), ("lang", pa.string()), ("generator", pa.string()),
                         ("template", pa.string())])

_TOPIC = re.compile(r"Topic\s*:\s*(?P<topic>[^\n]+)\s*\n+\s*Sub-?topics\s*:\s*(?P<subs>[^\n]+)", re.I)
_MATH = re.compile(r"Problem\s*:\s*(?P<body>.+?)\n\s*Final answer\s*:\s*(?P<answer>[^\n]+)", re.I | re.S)
_SOLUTION = re.compile(r"\n\s*Solution\s*:\s*", re.I)
_CODE = re.compile(r"Task\s*:\s*(?P<task>.+?)```(?:python|py)?\s*\n(?P<code>.+?)```\s*(?:Explanation\s*:)?"
                   r"\s*(?P<explanation>.+)", re.I | re.S)
_INSTRUCTION = re.compile(r"Instruction\s*:\s*(?P<prompt>.+?)\n\s*Response\s*:\s*(?P<response>.+)", re.I | re.S)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


# ---- topics ------------------------------------------------------------------------------------
def build_topics(row: dict, p: Any) -> list[Request]:
    return [TOPICS.request(seed=request_seed(p.seed, row["id"], "topics"), max_tokens=64, temperature=0.3,
                           top_p=p.top_p, text=(row.get("text") or "")[: p.max_source_chars])]


def parse_topics(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    out = {"id": f"{row['id']}~topics", "doc_id": row["id"], "lang": row.get("lang"), "topic": None,
           "subtopics": None, "drop_reason": None}
    if c.finish_reason == "error" or not c.text.strip():
        return [out | {"drop_reason": "generation_error" if c.finish_reason == "error" else "empty"}]
    m = _TOPIC.search(c.text)
    subs = [s.strip(" .;,-*") for s in re.split(r"[;；,，]", m.group("subs"))] if m else []
    subs = [s for s in subs if 2 <= len(s) <= 80]
    if not m or not subs or len(m.group("topic").strip()) < 2:
        return [out | {"drop_reason": "unparseable"}]
    return [out | {"topic": m.group("topic").strip(" .")[:120], "subtopics": subs[: p.subtopics]}]


TOPIC_JOB = GenJob("synth-topics", build_topics, parse_topics)


# ---- items ------------------------------------------------------------------------------------
def seed_rows(topics: list[dict], kinds: list[str]) -> list[dict]:
    """Round-1 seeds: one per (document sub-topic, kind), in a stable order."""
    rows = []
    for t in topics:
        for sub in t["subtopics"] or []:
            for kind in kinds:
                rows.append({"id": f"{t['doc_id']}~{kind}~{stable_rank(sub)[:8]}", "kind": kind, "topic": t["topic"],
                             "subtopic": sub, "synth_from": t["doc_id"], "lang": t["lang"], "round": 1,
                             "evolved_from": None, "prompt": None})
    return sorted(rows, key=lambda r: r["id"])


def template_for(row: dict):
    return SYNTH[row["kind"]] if row["round"] == 1 else EVOLVE[row["kind"]]


def build_item(row: dict, p: Any) -> list[Request]:
    t = template_for(row)
    return [t.request(seed=request_seed(p.seed, row["id"]), max_tokens=p.max_tokens, temperature=p.temperature,
                      top_p=p.top_p, topic=row["topic"], subtopic=row["subtopic"], prompt=row.get("prompt") or "")]


def parse_answer(text: str) -> str | None:
    """The final numeric answer, normalized ('1,200.50' -> '1200.5'); None when there is none."""
    m = _NUMBER.search(text.replace("$", ""))
    if not m:
        return None
    raw = m.group(0).replace(",", "")
    try:
        if "/" in raw:
            a, b = raw.split("/")
            value = float(a) / float(b)
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError):
        return None
    return f"{value:.10g}"


def parse_item_text(kind: str, text: str) -> tuple[dict | None, str | None]:
    """(prompt, response, answer) fields of a generation, or the reason it does not parse."""
    if kind == "math":
        m = _MATH.search(text)
        if not m:
            return None, "unparseable"
        answer = parse_answer(m.group("answer"))
        if answer is None:
            return None, "no_final_answer"
        # problem, then the solution after "Solution:" (or, when the label is missing, after the
        # problem's first paragraph)
        parts = _SOLUTION.split(m.group("body"), maxsplit=1)
        if len(parts) == 1:
            parts = re.split(r"\n\s*\n", parts[0].strip(), maxsplit=1)
        if len(parts) < 2:
            return None, "unparseable"
        return {"prompt": parts[0].strip(), "response": f"{parts[1].strip()}\n\nFinal answer: "
                f"{m.group('answer').strip()}", "answer": answer}, None
    if kind == "code":
        m = _CODE.search(text)
        if not m or len(m.group("explanation").strip()) < 20:
            return None, "unparseable"
        code = m.group("code").strip()
        try:
            compile(code, "<synth>", "exec")
        except (SyntaxError, ValueError):
            return None, "code_syntax_error"
        return {"prompt": m.group("task").strip(), "answer": None,
                "response": f"```python\n{code}\n```\n\n{m.group('explanation').strip()}"}, None
    m = _INSTRUCTION.search(text)
    if not m:
        return None, "unparseable"
    return {"prompt": m.group("prompt").strip(), "response": m.group("response").strip(), "answer": None}, None


def parse_item(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    t = template_for(row)
    out = {"id": row["id"] if row["round"] == 1 else f"{row['evolved_from']}~r{row['round']}", "kind": row["kind"],
           "topic": row["topic"], "subtopic": row["subtopic"], "round": row["round"],
           "evolved_from": row.get("evolved_from"), "synth_from": row["synth_from"], "lang": row["lang"],
           "generator": p.model, "template": t.key(), "prompt": None, "response": c.text, "answer": None}
    # the topic's language is what the item should be written in; code is checked on its prose
    reason = output_problem(c, row["lang"] if row["kind"] != "code" else None, min_chars=20)
    fields = None
    if reason is None:
        fields, reason = parse_item_text(row["kind"], c.text)
    if reason is None and (len(fields["prompt"]) < 10 or len(fields["response"]) < 10):
        reason = "empty"
    return [out | (fields or {}) | {"drop_reason": reason}]


ITEM_JOB = GenJob("synth-items", build_item, parse_item)


def evolve_rows(items: list[dict], next_round: int) -> list[dict]:
    """Seeds for the next round: each kept item of the previous round, to be made harder."""
    return sorted(({"id": f"{it['id']}~evolve{next_round}", "kind": it["kind"], "topic": it["topic"],
                    "subtopic": it["subtopic"], "synth_from": it["synth_from"], "lang": it["lang"],
                    "round": next_round, "evolved_from": it["id"], "prompt": it["prompt"]} for it in items),
                  key=lambda r: r["id"])
