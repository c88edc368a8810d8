"""Rebalancing topics per language: how many documents each (language, topic) keeps, and a
deterministic down-sampling: a document is kept when a salted hash of its id falls under its
group's threshold (order- and layout-independent: the same documents survive every rerun).

Thresholds come from a histogram of the hashes per group (runtime/sampling.py), so the kept count
misses the target by at most the documents of one bucket: none on small groups, ~n/4096 on big ones."""
from __future__ import annotations

import math
from statistics import median
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.sampling import bucket, taken
from ..stats import StageStats

NONE = "(none)"
REASON = "rebalance_downsampled"
SALT = "rebalance"


def group_of(lang: str | None, topic: str | None) -> str:
    return f"{lang or NONE}/{topic or NONE}"


def split_group(group: str) -> tuple[str, str]:
    lang, _, topic = group.partition("/")
    return lang, topic


def targets(counts: dict[str, int], cap_factor: float | None, target_shares: dict[str, dict[str, float]],
            min_docs: int) -> dict[str, int]:
    """Documents to keep per group ("lang/topic"). A language with explicit target shares is
    resized to the largest corpus whose shares they are (topics it does not list keep their
    natural share); other languages are capped at cap_factor x their median topic count
    (never below min_docs). Documents without a topic are kept."""
    by_lang: dict[str, dict[str, int]] = {}
    for g, n in counts.items():
        lang, topic = split_group(g)
        by_lang.setdefault(lang, {})[topic] = n
    out: dict[str, int] = {}
    for lang, topics in by_lang.items():
        labelled = {t: n for t, n in topics.items() if t != NONE and n > 0}
        shares = target_shares.get(lang)
        if shares and labelled:
            total = sum(labelled.values())
            weights = {t: shares.get(t, n / total) for t, n in labelled.items()}
            norm = sum(weights.values())
            weights = {t: w / norm for t, w in weights.items()}
            size = min(labelled[t] / w for t, w in weights.items() if w > 0)
            keep = {t: min(labelled[t], math.floor(w * size + 1e-9)) for t, w in weights.items()}
        elif cap_factor is not None and labelled:
            cap = max(min_docs, math.ceil(cap_factor * median(labelled.values())))
            keep = {t: min(n, cap) for t, n in labelled.items()}
        else:
            keep = dict(labelled)
        for t, n in topics.items():
            out[group_of(lang, t)] = keep.get(t, n)
    return out


def count_groups(split: dict, params: Any, sink, stats: StageStats) -> None:
    """First pass: documents per (language, topic) in one shard, and their hash histogram."""
    root = split["root"]
    with root.fs.open_input_file(split["path"]) as fh:
        t = pq.read_table(fh, columns=["id", params.lang_column, params.topic_column])
    for doc_id, lang, topic in zip(t["id"].to_pylist(), t[params.lang_column].to_pylist(),
                                   t[params.topic_column].to_pylist()):
        g = group_of(lang, topic)
        stats.observe("before", g)
        stats.observe(f"hash/{g}", bucket(doc_id, params.seed, SALT))


def downsample_batch(table: pa.Table, params: Any, stats: StageStats, thresholds: dict[str, float]) -> tuple[pa.Table, pa.Table]:
    keep = []
    for doc_id, lang, topic in zip(table["id"].to_pylist(), table[params.lang_column].to_pylist(),
                                   table[params.topic_column].to_pylist()):
        g = group_of(lang, topic)
        k = taken(doc_id, params.seed, SALT, thresholds.get(g, 1.0))
        keep.append(k)
        if k:
            stats.observe("after", g)
    mask = pa.array(keep, pa.bool_())
    dropped = table.filter(pa.compute.invert(mask))
    return table.filter(mask), dropped.append_column("drop_reason", pa.array([REASON] * dropped.num_rows, pa.string()))
