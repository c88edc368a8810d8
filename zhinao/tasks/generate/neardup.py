"""Near-duplicate removal among synthetic items: MinHash band buckets, candidates verified by
their estimated Jaccard, the first item (in the given order) of each duplicate group kept.

Synthetic sets are small next to the crawl (thousands to millions of items), so this runs in one
process over the items' signatures rather than as the distributed dedup-minhash stage."""
from __future__ import annotations

from ..dedup.minhash import MinHasher, estimated_jaccard


def near_duplicates(texts: list[str], threshold: float = 0.7, ngram: int = 3, bands: int = 16,
                    rows: int = 8) -> dict[int, int]:
    """{index of a duplicate: index of the item it duplicates}; earlier items win."""
    if len(texts) < 2:
        return {}
    hasher = MinHasher(bands, rows, ngram)
    sigs = hasher.signatures(texts)
    keys = hasher.band_keys(sigs)
    owner: dict[tuple[int, int], int] = {}
    dup: dict[int, int] = {}
    for i in range(len(texts)):
        candidates = {owner[(b, int(k))] for b, k in enumerate(keys[i]) if (b, int(k)) in owner}
        best = None
        for j in sorted(candidates):
            j = dup.get(j, j)
            if estimated_jaccard(sigs[i:i + 1], sigs[j:j + 1])[0] >= threshold:
                best = j
                break
        if best is not None:
            dup[i] = best
            continue
        for b, k in enumerate(keys[i]):
            owner.setdefault((b, int(k)), i)
    return dup

