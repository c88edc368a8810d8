"""The rounds of instruction evolution, over a `phase(job, rows, name) -> (kept, dropped)` callback
that runs a generation job (the stage gives it Ray and the generator; tests give it a stand-in).

A round: self-instruct (new tasks from `examples` sampled instructions of one language; a task
whose ROUGE-L with any instruction in the pool reaches the threshold is dropped), Evol-Instruct on
the round's frontier (depth: one of four ways of making it harder; breadth: a new, rarer task in its
domain, filtered like self-instruct's), constraint auto-evolution of frontier instructions (the
response generated and kept only when it complies), then a response for every new instruction. The
instructions that got a response join the pool and are the next round's frontier (WizardLM evolves
the last round's output again). Near-duplicate items (instruction + response) are dropped at the end,
the earlier round winning. Every pick is by a salted hash of ids and the stage seed: the same seed
gives the same requests, whatever ran before.
"""
from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from typing import Any, Callable

import pyarrow as pa

from ..chat.schema import CHAT, chat_id, turn
from ..generate.neardup import near_duplicates
from ..generate.rows import stable_rank
from .constraints import constrained, draw
from .jobs import CONSTRAINT_JOB, EVOL_JOB, RESPONSE_JOB, SELF_INSTRUCT_JOB
from .prompts import DEPTH_OPS
from .rouge import RougePool

METHODS = ("self-instruct", "evol-depth", "evol-breadth", "constraint")
SCHEMA = CHAT.append(pa.field("round", pa.int32())).append(pa.field("constraints", pa.string()))

Phase = Callable[[Any, list[dict], str], tuple[list[dict], list[dict]]]

log = logging.getLogger("zhinao.evolve")


def _picked(items: list[dict], n: int, salt: str) -> list[dict]:
    return sorted(items, key=lambda r: stable_rank(r["id"], salt))[:max(0, n)]


def self_instruct_rows(known: list[dict], p: Any, rnd: int) -> list[dict]:
    """One request row per self-instruct request, the languages taken in turn."""
    langs = [lang for lang in p.langs if any(k["lang"] == lang for k in known)]
    rows = []
    for i in range(p.self_instruct if langs else 0):
        lang = langs[i % len(langs)]
        mine = sorted((k for k in known if k["lang"] == lang), key=lambda k: k["id"])
        rng = random.Random(f"self-instruct:{p.seed}:{rnd}:{i}")
        examples = rng.sample(mine, min(p.examples, len(mine)))
        rows.append({"id": f"r{rnd}-si-{i}", "round": rnd, "method": "self-instruct", "lang": lang,
                     "examples": [e["instruction"] for e in examples], "example_ids": [e["id"] for e in examples]})
    return rows


def evol_rows(frontier: list[dict], p: Any, rnd: int) -> list[dict]:
    rows = []
    for k, it in enumerate(_picked(frontier, p.evol_depth, f"depth:{p.seed}:{rnd}")):
        op = list(DEPTH_OPS)[(k + rnd - 1) % len(DEPTH_OPS)]    # the four ways in turn
        rows.append({"id": f"r{rnd}-depth-{it['id']}", "round": rnd, "method": "evol-depth", "op": op,
                     "lang": it["lang"], "instruction": it["instruction"], "evolved_from": it["id"]})
    for it in _picked(frontier, p.evol_breadth, f"breadth:{p.seed}:{rnd}"):
        rows.append({"id": f"r{rnd}-breadth-{it['id']}", "round": rnd, "method": "evol-breadth",
                     "lang": it["lang"], "instruction": it["instruction"], "evolved_from": it["id"]})
    return rows


def constraint_rows(frontier: list[dict], p: Any, rnd: int) -> list[dict]:
    rows = []
    for it in _picked(frontier, p.constraint_evol, f"constraint:{p.seed}:{rnd}"):
        key = f"{p.seed}:{rnd}:{it['id']}"
        ids = draw(p.constraint_ids, it["lang"], p.max_constraints, key)
        prompt, spec = constrained(it["instruction"], ids, it["lang"], key)
        rows.append({"id": f"r{rnd}-constraint-{it['id']}", "round": rnd, "method": "constraint",
                     "lang": it["lang"], "instruction": prompt, "constraints": spec, "evolved_from": it["id"]})
    return rows


def to_chat(row: dict) -> dict:
    """A work row as a chat item (an audit row keeps what it had: maybe no response)."""
    messages = [turn("user", row.get("instruction") or "")]
    if row.get("response"):
        messages.append(turn("assistant", row["response"]))
    origin = f"evolve:{row['method']}"
    out = {"id": chat_id(messages, origin), "messages": messages, "lang": row["lang"], "origin": origin,
           "evolved_from": row.get("evolved_from"), "round": row["round"], "constraints": row.get("constraints")}
    return out | ({"drop_reason": row["drop_reason"]} if row.get("drop_reason") else {})


def _new_tasks(rows: list[dict], pool: RougePool, threshold: float) -> tuple[list[dict], list[dict]]:
    """Self-instruct's filter, in id order: a task too close (ROUGE-L) to one in the pool is dropped,
    a kept one joins the pool, so later candidates are compared with it too."""
    kept, dropped = [], []
    for r in sorted(rows, key=lambda r: r["id"]):
        score, _ = pool.most_similar(r["instruction"])
        if score >= threshold:
            dropped.append(r | {"drop_reason": "rouge_similar"})
        else:
            pool.add(r["id"], r["instruction"])
            kept.append(r)
    return kept, dropped


def evolve(seeds: list[dict], p: Any, phase: Phase) -> tuple[list[dict], list[dict], list[dict]]:
    """(kept chat items, dropped ones with their drop_reason, a table per round and method)."""
    pool = RougePool()
    for s in seeds:
        pool.add(s["id"], s["instruction"])
    known = list(seeds)                       # instructions self-instruct may show as examples
    frontier = list(seeds)
    requested: Counter = Counter()
    items: list[dict] = []
    dropped: list[dict] = []
    for rnd in range(1, p.rounds + 1):
        def run(job, rows, name):
            for r in rows:      # what each method asked for: new instructions, then their responses
                requested[(rnd, r["method"], name == "responses")] += 1
            kept, bad = phase(job, rows, f"round{rnd}-{name}") if rows else ([], [])
            dropped.extend(bad)
            return sorted(kept, key=lambda r: r["id"])

        tasks, bad = _new_tasks(run(SELF_INSTRUCT_JOB, self_instruct_rows(known, p, rnd), "self-instruct"),
                                pool, p.rouge_threshold)
        dropped.extend(bad)
        evolved = run(EVOL_JOB, evol_rows(frontier, p, rnd), "evol")
        breadth, bad = _new_tasks([e for e in evolved if e["method"] == "evol-breadth"], pool, p.rouge_threshold)
        dropped.extend(bad)
        constrained_items = run(CONSTRAINT_JOB, constraint_rows(frontier, p, rnd), "constraint")
        answered = run(RESPONSE_JOB, tasks + [e for e in evolved if e["method"] == "evol-depth"] + breadth,
                       "responses")
        for r in answered:        # depth evolutions join the pool too: later new tasks must differ from them
            if r["method"] == "evol-depth":
                pool.add(r["id"], r["instruction"])
        made = [to_chat(r) for r in answered + constrained_items]
        items += made
        log.info("round %d: %s kept, pool %d instructions", rnd,
                 ", ".join(f"{m} {sum(x['origin'] == f'evolve:{m}' for x in made)}" for m in METHODS), len(pool))
        fresh = [{"id": m["id"], "lang": m["lang"], "instruction": m["messages"][0]["content"]}
                 for m in made if m["origin"] != "evolve:constraint"]
        known += fresh
        frontier = fresh or frontier
    items, dups = _distinct(items, p.near_dup_threshold)
    dropped = [to_chat(r) for r in dropped] + dups
    return items, dropped, method_table(requested, items, dropped)


def _distinct(items: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    """Near-duplicates (and repeats of an id) dropped; the earlier round, then the smaller id, wins."""
    items = sorted(items, key=lambda r: (r["round"], r["id"]))
    texts = ["\n".join(m["content"] for m in r["messages"]) for r in items]
    dup = near_duplicates(texts, threshold)
    seen, kept, dropped = set(), [], []
    for i, r in enumerate(items):
        if i in dup or r["id"] in seen:
            dropped.append(r | {"drop_reason": "near_duplicate"})
        else:
            seen.add(r["id"])
            kept.append(r)
    return kept, dropped


def method_table(requested: Counter, items: list[dict], dropped: list[dict]) -> list[dict]:
    """Per round and method: generation requests for instructions (a self-instruct request asks for
    several) and for responses, items kept, and drops by reason."""
    kept = Counter((r["round"], r["origin"].removeprefix("evolve:")) for r in items)
    drops: dict[tuple, Counter] = defaultdict(Counter)
    for r in dropped:
        drops[(r["round"], r["origin"].removeprefix("evolve:"))][r["drop_reason"]] += 1
    keys = sorted({k[:2] for k in requested} | set(kept) | set(drops), key=lambda k: (k[0], METHODS.index(k[1])))
    return [{"round": rnd, "method": m, "requests": requested.get((rnd, m, False), 0),
             "responses": requested.get((rnd, m, True), 0), "kept": kept.get((rnd, m), 0),
             "dropped": sum(drops[(rnd, m)].values()),
             "drop_reasons": ", ".join(f"{k}={v}" for k, v in sorted(drops[(rnd, m)].items()))}
            for rnd, m in keys]
