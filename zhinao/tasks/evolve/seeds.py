"""Seed tasks of instruction evolution: the package's seed file (a few dozen English and Chinese
instructions in the self-instruct manner: varied tasks, one sentence or two each), optionally the
user turns of a chat or judge dataset, and a deterministic, language-balanced pick of them."""
from __future__ import annotations

from pathlib import Path

from ..chat.schema import LANGS
from ..jsonl import json_objects
from ..generate.rows import stable_rank

SEEDS_FILE = Path(__file__).with_name("seeds.jsonl")

# inputs from outside the code that shape output (zhinao/tasks/store/external.py): the seed tasks
EXTERNAL = {"files": lambda: [SEEDS_FILE]}


def load_seeds(path: str | Path = SEEDS_FILE) -> list[dict]:
    """Rows {id, lang, instruction} of a seed JSONL file; a bad line is an error naming it."""
    out, seen = [], set()
    for where, row in json_objects(path):
        if not all(isinstance(row.get(k), str) and row[k].strip() for k in ("id", "lang", "instruction")):
            raise ValueError(f"{where}: a seed task needs string fields id, lang and instruction")
        if row["lang"] not in LANGS:
            raise ValueError(f"{where}: lang must be one of {LANGS}, got {row['lang']!r}")
        if row["id"] in seen:
            raise ValueError(f"{where}: seed id {row['id']!r} appears twice")
        seen.add(row["id"])
        out.append({"id": row["id"], "lang": row["lang"], "instruction": row["instruction"].strip()})
    if not out:
        raise ValueError(f"{path}: no seed tasks")
    return out


def pick(seeds: list[dict], n: int, seed: int, langs: list[str]) -> list[dict]:
    """`n` seeds (0: all) of the given languages, taking the languages in turn, each in the order of
    a salted hash of the ids: the same pick on every run, both languages in the smallest samples."""
    by_lang = {lang: sorted((s for s in seeds if s["lang"] == lang), key=lambda s: stable_rank(s["id"], f"seeds:{seed}"))
               for lang in langs}
    queues = [q for q in by_lang.values() if q]
    out: list[dict] = []
    while queues and (n <= 0 or len(out) < n):
        for q in list(queues):
            if n > 0 and len(out) >= n:
                break
            out.append(q.pop(0))
            if not q:
                queues.remove(q)
    return out


def dataset_seeds(rows: list[dict], langs: list[str]) -> list[dict]:
    """Seed tasks from a chat dataset (its first user turn) or a judge/synth dataset (its prompt)."""
    out = []
    for r in rows:
        if r.get("messages"):
            text = next((m["content"] for m in r["messages"] if m["role"] == "user"), None)
        else:
            text = r.get("prompt")
        lang = (r.get("lang") or "").split("-")[0]
        if text and text.strip() and lang in langs:
            out.append({"id": r["id"], "lang": lang, "instruction": text.strip()})
    return out
