"""The generator labeler: a short classification prompt per item, its answer parsed into the fixed
intent and difficulty sets; a label the answer does not name falls back to the heuristic one (the
item is never dropped for it), and `label_source` says which labels came from where."""
from __future__ import annotations

import re
from typing import Any

from ..chat.schema import user_text
from ..generate.api import Completion, Request
from ..generate.engine import GenJob, request_seed
from ..generate.prompts import Template
from .labels import DIFFICULTIES, INTENTS, pick_label

LABEL = Template(
    "sft-labels", 1,
    "Classify the user request below.\nIntent, one of: {intents}.\nDifficulty, one of: easy, medium, hard.\n"
    "Answer in exactly this format:\nIntent: <intent>\nDifficulty: <difficulty>\n\nRequest:\n{request}",
    prefill="Intent:")

_FIELD = re.compile(r"(intent|difficulty)\s*[:：]\s*([^\n]*)", re.I)


def parse_labels(text: str) -> tuple[str | None, str | None]:
    """(intent, difficulty) named on their lines of an answer; None for a field it does not name."""
    fields: dict[str, str] = {}
    for name, value in _FIELD.findall(text or ""):
        fields.setdefault(name.lower(), value)
    return pick_label(fields.get("intent"), INTENTS), pick_label(fields.get("difficulty"), DIFFICULTIES)


def build(row: dict, p: Any) -> list[Request]:
    return [LABEL.request(seed=request_seed(p.seed, row["id"], "labels"), max_tokens=24, temperature=0.0,
                          intents=", ".join(INTENTS), request=user_text(row["messages"])[:p.max_chars])]


def parse(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    (c,) = completions
    intent, difficulty = parse_labels(c.text) if c.finish_reason != "error" else (None, None)
    source = f"intent:{'generator' if intent else 'heuristic'},difficulty:{'generator' if difficulty else 'heuristic'}"
    return [dict(row) | {"intent": intent or row["intent"], "difficulty": difficulty or row["difficulty"],
                         "label_source": source, "drop_reason": None}]


JOB = GenJob("sft-labels", build, parse)
