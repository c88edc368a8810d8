"""Keyword evidence for a topic: the terms listed in a category's description, counted in the text.

MiniLM (the offline encoder) is an English model: on Chinese text its embeddings barely separate
topics, so the zero-shot annotator leans on these counts there (see zeroshot.py).
"""
from __future__ import annotations

import math
import re

import numpy as np

from .taxonomy import Taxonomy

_ZH_SPLIT = re.compile(r"[、，,。；;和与及\s]+")
_EN_SPLIT = re.compile(r",|;|\.|\band\b|\bor\b")
_EN_NORM = re.compile(r"[^a-z0-9]+")


def keywords(description: str, lang: str) -> list[str]:
    if lang == "zh":
        return [t for t in _ZH_SPLIT.split(description) if len(t) >= 2]
    return [" ".join(_EN_NORM.sub(" ", t.lower()).split()) for t in _EN_SPLIT.split(description)
            if len(t.strip()) >= 3]


class KeywordScorer:
    """score(text, lang)[c] = sum over category c's keywords of log(1 + occurrences)."""

    def __init__(self, taxonomy: Taxonomy):
        self.terms = {lang: [keywords(c.description(lang), lang) for c in taxonomy.categories]
                      for lang in ("en", "zh")}

    def score(self, text: str, lang: str | None) -> np.ndarray:
        lang = "zh" if (lang or "").startswith("zh") else "en"
        if lang == "zh":
            hay, pad = text, ""
        else:   # whole words: " sport" must not match inside "transport"
            hay, pad = f" {' '.join(_EN_NORM.sub(' ', text.lower()).split())} ", " "
        out = np.zeros(len(self.terms[lang]), dtype=np.float32)
        for j, terms in enumerate(self.terms[lang]):
            out[j] = sum(math.log1p(hay.count(pad + t)) for t in terms)
        return out
