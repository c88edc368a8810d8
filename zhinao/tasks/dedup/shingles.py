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

_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x9FFF), (0xF900, 0xFAFF), (0xAC00, 0xD7AF))  # kana, Han, hangul
_WORD = re.compile(r"\w+", re.U)
_MULT = np.uint64(0x9E3779B97F4A7C15)


def is_cjk_text(text: str) -> bool:
    # code points counted in numpy: a regex findall over the sample cost more than hashing it
    cp = np.frombuffer(text[:1000].encode("utf-32-le"), dtype=np.uint32)
    cjk = np.zeros(len(cp), dtype=bool)
    for lo, hi in _CJK_RANGES:
        cjk |= (cp >= lo) & (cp <= hi)
    return int(np.count_nonzero(cjk)) > 0.3 * max(1, len(cp) - int(np.count_nonzero(cp == 32)))


def _nfkc(text: str) -> str:
    # the check is ~100x cheaper than normalizing text that is already normal
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def units(text: str) -> np.ndarray:
    """uint64 per unit: CJK characters (punctuation and spaces removed) or lower-cased words."""
    if is_cjk_text(text):
        # word characters first, then NFKC: full-width punctuation, the usual reason CJK text is not
        # NFKC-normal, is dropped anyway, so most documents take the cheap path
        chars = _nfkc("".join(_WORD.findall(text))).lower()
        return np.frombuffer(chars.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    text = _nfkc(text).lower()
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
    h.sort()  # distinct values by sort + neighbour compare: np.unique's overhead dominated small docs
    return h[np.concatenate(([True], h[1:] != h[:-1]))]
