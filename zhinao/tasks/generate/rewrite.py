"""rewrite: web documents rewritten by an LLM into cleaner forms (article, Q&A, notes), each a new
document linked to its source by `rewritten_from`."""
from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from .api import Completion, Request
from .checks import output_problem, trim_truncated
from .engine import GenJob, request_seed
from .prompts import REWRITE, language_name
from .rows import stable_rank

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string()),
                    ("lang", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
                    ("rewritten_from", pa.string()), ("style", pa.string()), ("generator", pa.string()),
                    ("template", pa.string())])

_QA = re.compile(r"\bQ\s*[:：].+?\bA\s*[:：]\s*\S", re.S)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+\S", re.M)     # bullets or a numbered list


def styles_for(doc_id: str, styles: list[str], per_doc: int) -> list[str]:
    """Which styles a document gets: `per_doc` of them, rotated by a hash of its id so the corpus
    gets an even mix without every document being rewritten every way."""
    if per_doc >= len(styles):
        return list(styles)
    start = int(stable_rank(doc_id, "style")[:8], 16) % len(styles)
    return [styles[(start + k) % len(styles)] for k in range(per_doc)]


def build(row: dict, p: Any) -> list[Request]:
    text = (row.get("text") or "")[: p.max_source_chars]
    return [REWRITE[s].request(seed=request_seed(p.seed, row["id"], s), max_tokens=p.max_tokens,
                               temperature=p.temperature, top_p=p.top_p, text=text,
                               language=language_name(row.get("lang")))
            for s in styles_for(row["id"], p.styles, p.styles_per_doc)]


def format_problem(style: str, text: str) -> str | None:
    if style == "qa" and not _QA.search(text):
        return "unparseable"
    if style == "notes" and len(_BULLET.findall(text)) < 2:
        return "unparseable"
    return None


def parse(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    out = []
    for style, c in zip(styles_for(row["id"], p.styles, p.styles_per_doc), completions):
        if p.trim_truncated:
            c = trim_truncated(c)
        text = c.text.strip()
        reason = output_problem(c, row.get("lang"), min_chars=p.min_chars) or format_problem(style, text)
        out.append({"id": f"{row['id']}~{style}", "text": text, "url": row.get("url"), "source": row.get("source"),
                    "lang": row.get("lang"), "timestamp": row.get("timestamp"), "rewritten_from": row["id"],
                    "style": style, "generator": p.model, "template": REWRITE[style].key(), "drop_reason": reason})
    return out


JOB = GenJob("rewrite", build, parse)
