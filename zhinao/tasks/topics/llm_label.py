"""The GPU annotator: an LLM picks one category id for a document (through the generator interface,
so vLLM on GPU, transformers elsewhere). With `votes` > 1 it samples several answers and the
majority wins; the label's score is the share of votes it got."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..generate.api import Completion, Request
from ..generate.engine import GenJob, request_seed
from ..generate.prompts import Template
from .taxonomy import Taxonomy, load_taxonomy

LABEL = Template(
    "topic-label", 1,
    "Classify the web page below into exactly one of these categories:\n\n{categories}\n\n"
    "Web page:\n{text}\n\nAnswer with the category id only (for example `{example}`).",
    system="You label web pages by topic. You answer with one category id and nothing else.")


def category_list(taxonomy: Taxonomy) -> str:
    return "\n".join(f"- {c.id}: {c.en} ({c.description_en})" for c in taxonomy.categories)


def parse_label(text: str, taxonomy: Taxonomy) -> str | None:
    """The category id the answer names first (ids are matched whole; an English name counts too)."""
    low = text.lower()
    found = []
    for c in taxonomy.categories:
        for needle in (c.id, c.en.lower()):
            m = re.search(rf"(?<![a-z_]){re.escape(needle)}(?![a-z_])", low)
            if m:
                found.append((m.start(), c.id))
    return min(found)[1] if found else None


def build(row: dict, p: Any) -> list[Request]:
    taxonomy = load_taxonomy(p.taxonomy)
    text = (row.get("text") or "")[: p.max_chars]
    return [LABEL.request(seed=request_seed(p.seed, row["id"], k), max_tokens=p.max_tokens,
                          temperature=p.temperature if p.votes > 1 else 0.0, top_p=p.top_p,
                          categories=category_list(taxonomy), text=text, example=taxonomy.ids[0])
            for k in range(p.votes)]


def parse(row: dict, completions: list[Completion], p: Any) -> list[dict]:
    taxonomy = load_taxonomy(p.taxonomy)
    votes = Counter(label for c in completions if c.finish_reason != "error"
                    for label in [parse_label(c.text, taxonomy)] if label)
    out = {"id": row["id"], "lang": row.get("lang"), "text": (row.get("text") or "")[: p.max_chars],
           "annotator": f"llm:{p.model}", "topic": None, "annotation_score": 0.0, "drop_reason": None}
    if not votes:
        errors = all(c.finish_reason == "error" for c in completions)
        return [out | {"drop_reason": "generation_error" if errors else "unparseable"}]
    (label, n), = votes.most_common(1)
    score = n / len(completions)
    return [out | {"topic": label, "annotation_score": score,
                   "drop_reason": "low_confidence" if score < p.min_confidence else None}]


JOB = GenJob("topic-label", build, parse)
