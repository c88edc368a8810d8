"""The embedded default eval sets, built by the project itself (no benchmark files needed): held-out
articles for perplexity (another seed than the sample crawl's, so no model trained on them), a
generated arithmetic multiple-choice set, arithmetic word problems in GSM8K's layout, and the
IFEval-style prompts shipped with tasks/eval/ifeval."""
from __future__ import annotations

import random

from .gsm8k import MathItem
from .mc_data import LETTERS, MCItem

HELD_OUT_SEED = 7919


def held_out_articles(per_topic: int, seed: int = HELD_OUT_SEED) -> list[dict]:
    from ..corpus.labelled import labelled_articles

    return [{"id": r["id"], "text": r["text"], "lang": r["lang"], "source": "held-out-sample", "topic": r["truth"]}
            for r in labelled_articles(per_topic, seed=seed)]


def arithmetic_mc(subjects: dict[str, int], seed: int = 0) -> dict[str, list[MCItem]]:
    """subject -> items; subjects 'addition', 'subtraction', 'multiplication' are known."""
    ops = {"addition": ("+", lambda a, b: a + b), "subtraction": ("-", lambda a, b: a - b),
           "multiplication": ("*", lambda a, b: a * b)}
    out = {}
    for s, n in subjects.items():
        sym, fn = ops[s]
        rng = random.Random(f"{seed}:{s}")
        items = []
        for i in range(n):
            a, b = rng.randint(2, 30), rng.randint(2, 30)
            right = fn(a, b)
            opts = {right}
            while len(opts) < len(LETTERS):
                opts.add(right + rng.choice([-1, 1]) * rng.randint(1, 9))
            opts = sorted(opts, key=lambda _: rng.random())
            items.append(MCItem(s, i, f"What is {a} {sym} {b}?", tuple(str(o) for o in opts), opts.index(right)))
        out[s] = items
    return out


def word_problems(n: int, seed: int = 0) -> list[MathItem]:
    rng = random.Random(f"{seed}:word-problems")
    things = ["apples", "books", "pencils", "stamps", "marbles"]
    out = []
    for i in range(n):
        a, b, c = rng.randint(3, 40), rng.randint(2, 9), rng.randint(1, 20)
        thing = rng.choice(things)
        q = f"Mia has {a} {thing}. She buys {b} packs of {c} {thing} each. How many {thing} does she have now?"
        total = a + b * c
        solution = f"The packs hold {b} * {c} = {b * c} {thing}. {a} + {b * c} = {total}.\n#### {total}"
        out.append(MathItem(i, q, solution, str(total)))
    return out
