"""Stratified sampling to a target size: every stratum (a combination of labels) gets a share of the
target proportional to its size, never more than its cap (a per-stratum limit: no combination
crowds out the others) nor than it has; what capped strata leave over goes, proportionally again, to
the others (water filling). Within a stratum the items with the smallest salted hash of their id
are taken, so a seed fixes the sample whatever order the items come in."""
from __future__ import annotations

import math

from ..runtime.sampling import unit_hash

SALT = "sft-data"


def stratum_cap(target: int, strata: int, max_per_stratum: int | None, cap_factor: float | None) -> int | None:
    """The per-stratum limit: `max_per_stratum`, and at most `cap_factor` times an even share of the
    target; None when neither is set."""
    caps = [c for c in (max_per_stratum, math.ceil(cap_factor * target / strata) if cap_factor and strata else None)
            if c is not None]
    return min(caps) if caps else None


def allocate(counts: dict[str, int], target: int, cap: int | None = None, seed: int = 0) -> dict[str, int]:
    """Items to take per stratum: sum = min(target, sum of min(count, cap)); proportional to the
    counts among the strata below their limit (largest remainders round; ties go by a salted hash of
    the stratum, so the seed, not the names' order, decides them)."""
    limit = {s: min(n, cap) if cap is not None else n for s, n in counts.items() if n > 0}
    if target >= sum(limit.values()):
        return {s: limit.get(s, 0) for s in counts}
    quota = {s: 0 for s in counts}
    free, left = set(limit), target
    while True:     # strata whose proportional share exceeds their limit get the limit, then refill
        total = sum(counts[s] for s in free)
        full = {s for s in free if left * counts[s] / total >= limit[s]}
        if not full:
            break
        for s in full:
            quota[s] = limit[s]
            left -= limit[s]
        free -= full
    total = sum(counts[s] for s in free)
    exact = {s: left * counts[s] / total for s in free}
    for s in free:
        quota[s] = math.floor(exact[s])
    spare = left - sum(quota[s] for s in free)
    for s in sorted(free, key=lambda s: (-(exact[s] - quota[s]), unit_hash(s, seed, SALT), s))[:spare]:
        quota[s] += 1
    return quota


def select(items: list[tuple[str, str]], quota: dict[str, int], seed: int) -> set[str]:
    """The ids taken: per stratum, the `quota` ids of smallest hash. items: (id, stratum) pairs."""
    by: dict[str, list[tuple[float, str]]] = {}
    for item_id, stratum in items:
        by.setdefault(stratum, []).append((unit_hash(item_id, seed, SALT), item_id))
    taken: set[str] = set()
    for stratum, ranked in by.items():
        ranked.sort()
        taken.update(i for _, i in ranked[:quota.get(stratum, 0)])
    return taken


def stratum_of(row: dict, labels: tuple[str, ...]) -> str:
    return "|".join(str(row[k]) for k in labels)


def sample_shards(shards: list[list[dict]], labels: tuple[str, ...], target: int, max_per_stratum: int | None,
                  cap_factor: float | None, seed: int) -> dict:
    """The sample over labelled shards (rows {id, labels...}, in source order: a repeated id belongs
    to its first shard). Returns per shard the ids it writes (`keep`) and why its other first
    occurrences are dropped (`reasons`: stratum_cap or sampled_out; anything else is a duplicate),
    the unique rows `before` and the taken rows `after`, and a summary."""
    owner: dict[str, int] = {}
    unique: list[dict] = []
    for k, rows in enumerate(shards):
        for r in rows:
            if r["id"] not in owner:
                owner[r["id"]] = k
                unique.append(r)
    strata = {r["id"]: stratum_of(r, labels) for r in unique}
    counts: dict[str, int] = {}
    for s in strata.values():
        counts[s] = counts.get(s, 0) + 1
    cap = stratum_cap(target, len(counts), max_per_stratum, cap_factor)
    quota = allocate(counts, target, cap, seed)
    taken = select(list(strata.items()), quota, seed)
    keep: list[set[str]] = [set() for _ in shards]
    reasons: list[dict[str, str]] = [{} for _ in shards]
    for item_id, k in owner.items():
        if item_id in taken:
            keep[k].add(item_id)
        else:
            s = strata[item_id]
            reasons[k][item_id] = "stratum_cap" if cap is not None and quota[s] == cap < counts[s] else "sampled_out"
    after = [r for r in unique if r["id"] in taken]
    summary = {"target_size": target, "stratum_cap": cap, "strata_before": len(counts),
               "strata_after": sum(1 for q in quota.values() if q > 0), "items_before": len(unique),
               "items_after": len(after), "duplicates": sum(len(rows) for rows in shards) - len(unique),
               "largest_stratum_before": max(counts.values(), default=0),
               "largest_stratum_after": max(quota.values(), default=0)}
    return {"keep": keep, "reasons": reasons, "before": unique, "after": after, "summary": summary}
