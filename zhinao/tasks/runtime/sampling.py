"""Deterministic sampling by id hash: an item is taken when a salted hash of its id, read as a
number in [0, 1), falls under a threshold. Thresholds come from weighted histograms of the hashes
(BUCKETS buckets), gathered in a first pass, so a target count or token budget is met to within
one bucket's weight, whatever the shard layout."""
from __future__ import annotations

import xxhash

BUCKETS = 4096


def unit_hash(key: str, seed: int, salt: str) -> float:
    """`salt` names the purpose: samples drawn by different stages from the same ids must be
    independent (the same hash everywhere would make a later sample pick the documents an earlier
    one favoured)."""
    return xxhash.xxh64_intdigest(f"{salt}\x00{key}", seed=seed) / 2.0**64


def taken(key: str, seed: int, salt: str, rate: float) -> bool:
    """Whether `key` is in the sample of this rate (or under a threshold from threshold())."""
    return unit_hash(key, seed, salt) < rate


def bucket(key: str, seed: int, salt: str) -> int:
    return int(unit_hash(key, seed, salt) * BUCKETS)


def threshold(histogram: dict, target: float) -> float:
    """The hash threshold whose taken weight comes closest to `target`; histogram: bucket -> weight
    (1.0 takes everything)."""
    total = sum(histogram.values())
    if target >= total:
        return 1.0
    if target <= 0:
        return 0.0
    cum = prev = 0
    for b in sorted(histogram, key=int):
        prev, cum = cum, cum + histogram[b]
        if cum >= target:
            return (int(b) + 1) / BUCKETS if cum - target <= target - prev else int(b) / BUCKETS
    return 1.0
