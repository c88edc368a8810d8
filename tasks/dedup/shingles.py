"""Shingle hashes for MinHash: word n-grams for spaced languages, character n-grams for CJK.

Words are hashed once (xxh3) and combined into n-gram hashes with a polynomial over uint64 in numpy;
CJK text needs no tokenizer at all: its code points are the units. Deterministic across processes
(no Python hash()).
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import xxhash

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_WORD = re.compile(r"\w+", re.U)
_MULT = np.uint64(0x9E3779B97F4A7C15)


def is_cjk_text(text: str) -> bool:
    sample = text[:1000]
    return len(_CJK.findall(sample)) > 0.3 * max(1, len(sample) - sample.count(" "))


def units(text: str) -> np.ndarray:
    """uint64 per unit: CJK characters (punctuation and spaces removed) or lower-cased words."""
    text = unicodedata.normalize("NFKC", text).lower()
    if is_cjk_text(text):
        chars = "".join(_WORD.findall(text))
        return np.frombuffer(chars.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return np.fromiter((xxhash.xxh3_64_intdigest(w) for w in _WORD.findall(text)), dtype=np.uint64)


def shingle_hashes(text: str, n: int) -> np.ndarray:
    """Distinct n-gram hashes of a text; a text shorter than n units is one shingle."""
    u = units(text)
    if len(u) == 0:
        return np.zeros(0, dtype=np.uint64)
    if len(u) < n:
        n = len(u)
    h = np.zeros(len(u) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _MULT + u[k : len(u) - n + 1 + k]
            h ^= h >> np.uint64(29)
    return np.unique(h)
