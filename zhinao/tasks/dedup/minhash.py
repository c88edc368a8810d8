"""Vectorized MinHash signatures and LSH band keys for a batch of documents."""
from __future__ import annotations

import sys

import numpy as np

from .shingles import shingle_hashes

_BAND_MULT = np.uint64(0x100000001B3)
_LITTLE = sys.byteorder == "little"


class MinHasher:
    """`bands * rows` multiply-shift hash functions h(x) = ((a*x + b) mod 2^64) >> 32 with random odd
    64-bit a (Dietzfelbinger et al.): uint64 arithmetic wraps, so numpy computes them exactly.
    Seeded: every worker computes identical signatures."""

    def __init__(self, bands: int, rows: int, ngram: int, seed: int = 1):
        self.bands, self.rows, self.ngram = bands, rows, ngram
        rng = np.random.default_rng(seed)
        n = bands * rows
        self.a = (rng.integers(0, 1 << 63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1))[:, None]
        self.b = rng.integers(0, 1 << 63, size=n, dtype=np.uint64)[:, None]

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def signatures(self, texts: list[str], chunk: int = 1 << 13) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures; documents with no shingle get all-max rows."""
        shingles = [shingle_hashes(t or "", self.ngram) for t in texts]
        sizes = np.array([len(s) for s in shingles])
        out = np.full((len(texts), self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        nonempty = np.flatnonzero(sizes)
        if not len(nonempty):
            return out
        # process documents in groups of about `chunk` shingles to bound the (num_perm x shingles) matrix
        start = 0
        while start < len(nonempty):
            stop, total = start, 0
            while stop < len(nonempty) and (total == 0 or total + sizes[nonempty[stop]] <= chunk):
                total += sizes[nonempty[stop]]
                stop += 1
            docs = nonempty[start:stop]
            x = np.concatenate([shingles[d] for d in docs])
            with np.errstate(over="ignore"):  # in place: the matrix is the hot loop
                h = self.a * x[None, :]
                h += self.b
            # ">> 32" is the high 32-bit word of each value: read it through a view (little-endian)
            # instead of shifting and narrowing the whole matrix
            high = h.view(np.uint32)[:, 1::2] if _LITTLE else (h >> np.uint64(32)).astype(np.uint32)
            offsets = np.concatenate([[0], np.cumsum(sizes[docs])[:-1]])
            out[docs] = np.minimum.reduceat(high, offsets, axis=1).T
            start = stop
        return out

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(docs, bands) uint64 keys: each band's `rows` values folded into one hash."""
        view = sigs.reshape(len(sigs), self.bands, self.rows).astype(np.uint64)
        keys = np.zeros((len(sigs), self.bands), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for r in range(self.rows):
                keys = keys * _BAND_MULT + view[:, :, r]
                keys ^= keys >> np.uint64(31)
        return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise share of equal signature values (the MinHash estimate of Jaccard similarity)."""
    return (a == b).mean(axis=1)
