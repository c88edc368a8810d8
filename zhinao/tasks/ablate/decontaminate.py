"""Keep validation text out of training sets: a training document is dropped when its normalized
text equals a validation document's, or when their MinHash estimate of Jaccard similarity reaches
`threshold` (candidates from LSH bands). Without this a raw corpus holding copies of validation
documents would score better for the wrong reason."""
from __future__ import annotations

import numpy as np

from ..dedup.exact import text_hash
from ..dedup.minhash import MinHasher, estimated_jaccard


class Decontaminator:
    def __init__(self, valid_texts: list[str], threshold: float = 0.7, bands: int = 16, rows: int = 8,
                 ngram: int = 5):
        self.threshold = threshold
        self.hasher = MinHasher(bands, rows, ngram)
        self.exact = {text_hash(t) for t in valid_texts}
        self.sigs = self.hasher.signatures(valid_texts)
        self.buckets: dict[tuple[int, int], list[int]] = {}
        for i, keys in enumerate(self.hasher.band_keys(self.sigs)):
            for band, key in enumerate(keys):
                self.buckets.setdefault((band, int(key)), []).append(i)

    def contaminated(self, texts: list[str]) -> np.ndarray:
        """One flag per text: True when it (nearly) repeats a validation document."""
        flags = np.array([text_hash(t) in self.exact for t in texts], dtype=bool)
        if not len(self.sigs) or not texts:
            return flags
        sigs = self.hasher.signatures(texts)
        empty = np.iinfo(np.uint32).max
        for i, keys in enumerate(self.hasher.band_keys(sigs)):
            if flags[i] or (sigs[i] == empty).all():
                continue
            candidates = {j for band, key in enumerate(keys) for j in self.buckets.get((band, int(key)), ())}
            if candidates:
                sims = estimated_jaccard(self.sigs[sorted(candidates)], sigs[i][None, :])
                flags[i] = bool((sims >= self.threshold).any())
        return flags
