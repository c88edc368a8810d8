"""Near-duplicate test corpora with known ground truth, for tests and benchmarks/dedup.py.

Families of documents: an original and copies edited at controlled rates (word or character
replacements, deletions, insertions). The truth is exact: two documents are near-duplicates when the
Jaccard similarity of their n-gram sets (words, or characters for Chinese) is at least the threshold;
clusters are the connected components of that relation. Documents of different families share
(almost) no n-grams, so only pairs within a family are compared.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

EDIT_RATES = (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4)
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "ch", "sh", "qu"]
_COMMON_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]


@dataclass
class TruthCorpus:
    ids: list[str]
    texts: list[str]
    families: list[int]
    duplicates: set[str] = field(default_factory=set)     # ids in a near-duplicate cluster (size >= 2)
    clusters: int = 0


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def _units(text: str, lang: str) -> list[str]:
    if lang == "zh":
        return [c for c in text if "\u4e00" <= c <= "\u9fff"]
    return re.findall(r"\w+", text.lower())


def _edit(rng: random.Random, units: list[str], rate: float, pool: list[str]) -> list[str]:
    out = []
    for u in units:
        r = rng.random()
        if r < rate / 3:
            continue                                   # delete
        if r < 2 * rate / 3:
            out.append(rng.choice(pool))               # replace
        else:
            out.append(u)
        if rng.random() < rate / 3:
            out.append(rng.choice(pool))               # insert
    return out


def _render(units: list[str], lang: str) -> str:
    if lang == "zh":
        return "".join(u + ("，" if i % 17 == 16 else "。" if i % 53 == 52 else "") for i, u in enumerate(units))
    return " ".join(units)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def generate(n_docs: int, lang: str = "en", dup_share: float = 0.4, ngram: int = 5, threshold: float = 0.75,
             seed: int = 0) -> TruthCorpus:
    rng = random.Random(seed)
    pool = _vocabulary(rng, 20000) if lang == "en" else _COMMON_HAN
    weights = [1 / (i + 1) ** 0.8 for i in range(len(pool))]      # Zipf-like word frequencies
    ids, texts, families = [], [], []
    family = 0
    while len(texts) < n_docs:
        length = rng.randint(120, 400) if lang == "en" else rng.randint(300, 900)
        original = rng.choices(pool, weights=weights, k=length)
        copies = [original]
        if rng.random() < dup_share:
            copies += [_edit(rng, original, rng.choice(EDIT_RATES), pool) for _ in range(rng.randint(1, 3))]
        for units in copies[: n_docs - len(texts)]:
            ids.append(f"{lang}{family:07d}-{len(ids):07d}")
            texts.append(_render(units, lang))
            families.append(family)
        family += 1
    corpus = TruthCorpus(ids, texts, families)
    _label(corpus, lang, ngram, threshold)
    return corpus


def _label(corpus: TruthCorpus, lang: str, n: int, threshold: float) -> None:
    by_family: dict[int, list[int]] = {}
    for i, f in enumerate(corpus.families):
        by_family.setdefault(f, []).append(i)
    for members in by_family.values():
        if len(members) < 2:
            continue
        grams = {}
        for i in members:
            u = _units(corpus.texts[i], lang)
            grams[i] = {tuple(u[k:k + n]) for k in range(max(1, len(u) - n + 1))}
        parent = {i: i for i in members}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for x in members:
            for y in members:
                if x < y and jaccard(grams[x], grams[y]) >= threshold:
                    parent[find(x)] = find(y)
        roots: dict[int, list[int]] = {}
        for i in members:
            roots.setdefault(find(i), []).append(i)
        for group in roots.values():
            if len(group) > 1:
                corpus.clusters += 1
                corpus.duplicates.update(corpus.ids[i] for i in group)


def f1(predicted: set[str], truth: set[str]) -> tuple[float, float, float]:
    """Document-level precision, recall, F1 of 'is in a near-duplicate cluster'."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)
