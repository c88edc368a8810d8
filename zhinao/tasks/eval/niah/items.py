"""The evaluation grid: one item per (language, variant, context length, depth, sample), each a
chat user message (document + question) that fits its target length in tokens."""
from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import Iterable

from .haystack import collect, join_pool
from .needles import Needle, fact_needles, value_needles
from .sentences import boundaries, insert_at
from .tokens import token_counter

VARIANTS = ("fact", "value", "multikey")
PROMPTS = {
    "en": ("Below is a document. Read it carefully; a question about it follows.\n\n<document>\n{context}\n"
           "</document>\n\n{question} Answer using only the document, as briefly as possible."),
    "zh": ("下面是一篇文档，请仔细阅读，之后回答一个关于它的问题。\n\n<document>\n{context}\n</document>\n\n"
           "{question}请只根据文档回答，尽量简短。"),
}


def depth_grid(steps: int = 11) -> list[float]:
    """`steps` depths evenly from 0 to 100 percent."""
    return [round(100 * i / (steps - 1), 2) for i in range(steps)] if steps > 1 else [0.0]


def render_prompt(context: str, question: str, lang: str) -> str:
    return PROMPTS[lang].format(context=context, question=question)


def build_items(texts, lengths: Iterable[int] = (1024, 2048, 4096), depths: Iterable[float] = depth_grid(11),
                langs: Iterable[str] = ("en", "zh"), variants: Iterable[str] = ("fact", "value"),
                tokenizer=None, seed: int = 0, samples: int = 1, n_keys: int = 4, reserve: int = 0,
                pool_factor: float = 4.0) -> list[dict]:
    """The grid of items. `texts`: a folder, an iterable of texts (split by script into the
    languages' haystacks), or {lang: folder or texts}. `tokenizer`: a `count_tokens` callable, an HF
    tokenizer, or None (tokens.approx_tokens). `reserve`: tokens kept free below each length (chat
    template, the answer). `samples`: items per cell (fact needles in turn; fresh keys for values).
    `n_keys`: needles in a multikey item (one asked for, the rest distractors)."""
    lengths, depths, langs = list(lengths), list(depths), list(langs)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; known: {VARIANTS}")
    count = token_counter(tokenizer)
    need = int(max(lengths) * 1.1) + 64            # slack: per-document counts only approximate the join
    if isinstance(texts, Mapping):       # texts given per language: taken as they are
        pools = {lang: collect(texts[lang], [None], need, pool_factor)[None] for lang in langs}
    else:
        pools = collect(texts, langs, need, pool_factor)
    missing = [lang for lang in langs if not pools[lang]]
    if missing:
        raise ValueError(f"no {'/'.join(missing)} texts to build a haystack from")
    hay = {lang: join_pool(pools[lang], need, seed, count, salt=lang) for lang in langs}
    items = []
    for lang in langs:
        cuts = boundaries(hay[lang])
        # tokens up to each boundary, summed per sentence: one pass instead of counting every prefix;
        # the prompts themselves are counted exactly
        cum = [0]
        for a, b in zip(cuts, cuts[1:]):
            cum.append(cum[-1] + count(hay[lang][a:b]))
        for variant in variants:
            for length in lengths:
                for depth in depths:
                    for sample in range(samples):
                        item_id = f"niah-{lang}-{variant}-L{length}-D{depth:g}-s{sample}"
                        rng = random.Random(f"{seed}:{item_id}")
                        if variant == "fact":
                            facts = fact_needles(lang)
                            needles = [facts[sample % len(facts)]]
                        else:
                            needles = value_needles(lang, rng, n_keys if variant == "multikey" else 1)
                        items.append(_item(item_id, lang, variant, length, depth, hay[lang], cuts, cum, needles,
                                           rng, count, reserve))
    return items


def _item(item_id, lang, variant, length, depth, haystack, cuts, cum, needles: list[Needle], rng, count,
          reserve) -> dict:
    target = needles[0]
    budget = length - reserve
    overhead = count(render_prompt(" ".join(n.text for n in needles), target.question, lang))
    if overhead > budget:
        raise ValueError(f"{item_id}: the question and needles alone take {overhead} > {budget} tokens")
    i = bisect.bisect_right(cum, budget - overhead) - 1       # the last boundary whose prefix fits
    while True:
        prompt, actual_depth = _place(haystack[:cuts[i]], cuts[:i + 1], cum[:i + 1], needles, depth, rng,
                                      lang, count)
        actual = count(prompt)
        if actual <= budget or i == 0:
            break
        # per-sentence sums and the joins miss a few tokens: drop at least the overshoot and retry
        i = max(0, min(i - 1, bisect.bisect_right(cum, cum[i] - (actual - budget)) - 1))
    return {"id": item_id, "lang": lang, "variant": variant, "length": length, "actual_tokens": actual,
            "depth": depth, "actual_depth": actual_depth, "question": target.question, "prompt": prompt,
            "answer": target.answer, "pattern": target.pattern}


def _place(context: str, cuts: list[int], cum: list[int], needles: list[Needle], depth: float, rng, lang,
           count) -> tuple[str, float]:
    """The target needle (first) at the last boundary at or before `depth` percent of the context's
    tokens, distractors at random boundaries; returns (prompt, the target's depth: percent of the
    context's tokens before it, counted exactly)."""
    k = bisect.bisect_right(cum, depth / 100 * cum[-1]) - 1
    placed = [(cuts[k], 0)] + [(rng.choice(cuts), n) for n in range(1, len(needles))]
    total = count(context)
    for offset, n in sorted(placed, reverse=True):      # from the end, so earlier offsets stay valid
        context, _ = insert_at(context, offset, needles[n].text)
    before = context[:context.find(needles[0].text)]
    for n in needles[1:]:
        before = before.replace(n.text, "")
    actual_depth = round(100 * count(before.rstrip()) / max(total, 1), 2)
    return render_prompt(context, needles[0].question, lang), actual_depth
