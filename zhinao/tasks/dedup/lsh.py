"""MinHash LSH phases on Ray, each reading and writing scratch partitions (nothing corpus-sized in
one process):

1. `sign`      per input shard: signatures, band keys -> band partitions; signatures and ids kept.
2. `bucket`    per band partition: documents sharing a band key -> candidate pairs (star from the
               smallest), sent to the second document's shard.
3. `attach`    per shard: candidate pairs get the second document's signature, sent to the first's.
4. `verify`    per shard: pairs whose estimated Jaccard passes the threshold become graph edges.
5. components  (zhinao.tasks.dedup.components) -> members and representatives per shard.
6. `resolve`   (zhinao.tasks.dedup.removal) per shard: representative ids for the removal list and the
               `dup_cluster` column.

Documents are nodes `ref = split << 32 | row`; the representative of a cluster is its smallest ref,
i.e. its first document in the input version's order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..store.writer import write_shard
# the graph's nodes (refs) and edges are the components' own; ref_row stays importable from here too
from .components import ref_row, ref_split, write_by_split, write_edges  # noqa: F401
from .minhash import MinHasher, estimated_jaccard
from .shuffle import read_partition, read_table, write_partitioned

BANDS = pa.schema([("band", pa.int16()), ("key", pa.uint64()), ("ref", pa.int64())])
PAIRS = pa.schema([("a", pa.int64()), ("b", pa.int64())])


def hasher(params: Any) -> MinHasher:
    return MinHasher(params.bands, params.rows, params.ngram, params.seed)


def _sigs(root, scratch: str, split: int) -> np.ndarray:
    col = read_table(root, root.join(f"{scratch}/sig/s{split:05d}.parquet"))["sig"]
    return np.frombuffer(b"".join(col.to_pylist()), dtype=np.uint32).reshape(len(col), -1)


def sign(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, scratch, i = split["root"], split["scratch"], split["index"]
    table = read_table(root, split["path"], columns=["id", "text"])
    h = hasher(params)
    sigs = h.signatures(table["text"].to_pylist())
    write_shard(root, f"{scratch}/sig", f"s{i:05d}.parquet",
                pa.table({"sig": pa.array([row.tobytes() for row in sigs], pa.binary(sigs.shape[1] * 4))}))
    write_shard(root, f"{scratch}/ids", f"s{i:05d}.parquet", pa.table({"id": table["id"]}))
    texts_ok = np.array([bool(t and t.strip()) for t in table["text"].to_pylist()], dtype=bool)
    rows = np.flatnonzero(texts_ok)
    stats.count("signed", len(rows))
    if not len(rows):
        return
    keys = h.band_keys(sigs[rows])                              # (docs, bands)
    refs = (np.int64(i) << 32) | rows.astype(np.int64)
    band = np.repeat(np.arange(h.bands, dtype=np.int16)[None, :], len(rows), axis=0).ravel()
    key = keys.ravel()
    ref = np.repeat(refs, h.bands)
    with np.errstate(over="ignore"):
        parts = ((key ^ (band.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))) % np.uint64(params.partitions))
    write_partitioned(root, f"{scratch}/bands", f"s{i:05d}",
                      pa.table({"band": band, "key": key, "ref": ref}, schema=BANDS), parts.astype(np.int64))


def bucket(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, scratch, p = split["root"], split["scratch"], split["partition"]
    t = read_partition(root, f"{scratch}/bands", p, BANDS)
    if not t.num_rows:
        return
    band, key, ref = t["band"].to_numpy(), t["key"].to_numpy(), t["ref"].to_numpy()
    order = np.lexsort((ref, key, band))
    band, key, ref = band[order], key[order], ref[order]
    new_group = np.ones(len(ref), dtype=bool)
    new_group[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(ref)), 0))
    member = ~new_group                                           # every document after the first
    a, b = ref[group_start[member]], ref[member]
    if not len(a):
        return
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    stats.count("candidate_pairs", len(pairs))
    write_by_split(root, f"{scratch}/pairs", f"p{p:05d}",
                   pa.table({"a": pairs[:, 0], "b": pairs[:, 1]}, schema=PAIRS), ref_split(pairs[:, 1]))


def attach(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, scratch, i = split["root"], split["scratch"], split["index"]
    pairs = read_partition(root, f"{scratch}/pairs", i, PAIRS)
    if not pairs.num_rows:
        return
    # the same pair can come from several band partitions
    unique = np.unique(np.stack([pairs["a"].to_numpy(), pairs["b"].to_numpy()], axis=1), axis=0)
    a, b = unique[:, 0], unique[:, 1]
    sigs = _sigs(root, scratch, i)
    table = pa.table({"a": a, "b": b, "sig_b": pa.array([s.tobytes() for s in sigs[b & 0xFFFFFFFF]],
                                                          pa.binary(sigs.shape[1] * 4))})
    write_by_split(root, f"{scratch}/attached", f"s{i:05d}", table, ref_split(a))


def verify(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, scratch, i = split["root"], split["scratch"], split["index"]
    schema = PAIRS.append(pa.field("sig_b", pa.binary()))
    table = read_partition(root, f"{scratch}/attached", i, schema)
    if not table.num_rows:
        return
    sigs = _sigs(root, scratch, i)
    a, b = table["a"].to_numpy(), table["b"].to_numpy()
    sig_a = sigs[a & 0xFFFFFFFF]
    sig_b = np.frombuffer(b"".join(table["sig_b"].to_pylist()), dtype=np.uint32).reshape(len(a), -1)
    ok = estimated_jaccard(sig_a, sig_b) >= params.threshold
    stats.count("verified_pairs", int(ok.sum()))
    stats.count("rejected_pairs", int((~ok).sum()))
    write_edges(root, f"{scratch}/cc/r000", f"s{i:05d}", a[ok], b[ok], params.partitions)
