"""The CPU annotator: zero-shot topics from sentence embeddings against the category descriptions,
plus keyword evidence from the same descriptions.

score[c] = cos(doc, prototype_c in the document's language) + lexical_weight[lang] * keywords[c];
the label is the arg-max, its confidence the softmax probability at `temperature`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..semantic.encoder import encoder
from .lexical import KeywordScorer
from .taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class ZeroShotConfig:
    model_path: str
    taxonomy: str | None = None                  # a taxonomy JSON file; None: the built-in one
    device: str = "auto"
    max_chars: int = 2000
    temperature: float = 0.05
    # MiniLM reads English: Chinese relies on the keywords, embeddings break ties
    lexical_weight: tuple[tuple[str, float], ...] = field(default=(("zh", 2.0),))
    batch_size: int = 64


def _lang(lang: str | None) -> str:
    return "zh" if (lang or "").startswith("zh") else "en"


class ZeroShotAnnotator:
    def __init__(self, cfg: ZeroShotConfig):
        self.cfg = cfg
        self.taxonomy: Taxonomy = load_taxonomy(cfg.taxonomy)
        self.model = encoder(cfg.model_path, cfg.device)
        self.keywords = KeywordScorer(self.taxonomy)
        self.prototypes = {lang: self._encode([f"{c.name(lang)}: {c.description(lang)}"
                                               for c in self.taxonomy.categories]) for lang in ("en", "zh")}
        self.weights = dict(cfg.lexical_weight)

    def _encode(self, texts: list[str]) -> np.ndarray:
        emb = self.model.encode(texts, batch_size=self.cfg.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(emb, dtype=np.float32).reshape(len(texts), -1)

    def scores(self, texts: list[str], langs: list[str | None]) -> np.ndarray:
        docs = self._encode([(t or "")[: self.cfg.max_chars] for t in texts])
        out = np.empty((len(texts), len(self.taxonomy)), dtype=np.float32)
        for i, (text, lang) in enumerate(zip(texts, langs)):
            lang = _lang(lang)
            out[i] = self.prototypes[lang] @ docs[i]
            w = self.weights.get(lang, 0.0)
            if w:
                out[i] += w * self.keywords.score((text or "")[: self.cfg.max_chars], lang)
        return out

    def annotate(self, texts: list[str], langs: list[str | None]) -> list[tuple[str, float]]:
        """(topic id, confidence) per text."""
        if not texts:
            return []
        s = self.scores(texts, langs) / self.cfg.temperature
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        best = p.argmax(axis=1)
        ids = self.taxonomy.ids
        return [(ids[b], float(p[i, b])) for i, b in enumerate(best)]


@lru_cache(maxsize=2)
def zero_shot(cfg: ZeroShotConfig) -> ZeroShotAnnotator:
    """One annotator per process and config: an actor loads the encoder once."""
    return ZeroShotAnnotator(cfg)
