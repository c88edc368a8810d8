"""SemDeDup (Abbas et al. 2023) on Ray: k-means over embeddings, then within each cluster a document
is a duplicate when its cosine similarity to an earlier-ranked member exceeds 1 - eps.

1. `train`   one task: spherical FAISS k-means on a deterministic sample of the embeddings.
2. `assign`  per shard: nearest centroid; rows shuffled to cluster partitions.
3. `dedup`   per partition: for each cluster, members ranked farthest-from-centroid first (the
             prototypical, most redundant ones go first), removals and their kept representative.
4. `resolve` (zhinao.tasks.dedup.removal) then the removal itself, as for MinHash.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from ..dedup.lsh import ref_row, ref_split, write_by_split
from ..dedup.shuffle import read_partition, read_table, write_partitioned
from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..store.writer import write_shard
from .embed import column_embeddings, embeddings_column

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("faiss-cpu",)}

BLOCK = 2048   # columns of the similarity matrix computed at a time (bounds memory for big clusters)


def _embeddings(root, path: str) -> tuple[pa.Array, np.ndarray]:
    t = read_table(root, path)
    dim = t.schema.field("embedding").type.list_size
    return t["id"], column_embeddings(t["embedding"], dim)


def train(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    import faiss

    root, paths, total = split["root"], split["embed_paths"], split["rows"]
    per_shard = math.ceil(params.max_train / max(1, len(paths)))
    sample = []
    for path in paths:
        _, emb = _embeddings(root, path)
        if len(emb):
            step = max(1, len(emb) // per_shard)
            sample.append(emb[::step][:per_shard])
    if not sample:
        return
    x = np.ascontiguousarray(np.concatenate(sample), dtype=np.float32)
    k = params.clusters or max(1, round(total / params.cluster_size))
    k = max(1, min(k, len(x)))
    kmeans = faiss.Kmeans(x.shape[1], k, niter=params.niter, seed=params.seed, spherical=True, verbose=False,
                          min_points_per_centroid=1)
    kmeans.train(x)
    stats.count("kmeans_clusters", k)
    stats.count("kmeans_sample", len(x))
    write_shard(root, split["scratch"], "centroids.parquet", pa.table({"centroid": embeddings_column(kmeans.centroids)}))


CLUSTERED = pa.schema([("cluster", pa.int32()), ("ref", pa.int64()), ("centroid_sim", pa.float32()),
                       ("embedding", pa.binary())])


def assign(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    import faiss

    root, scratch, i = split["root"], split["scratch"], split["index"]
    ids, emb = _embeddings(root, split["embed_path"])
    doc_ids = read_table(root, split["path"], columns=["id"])["id"]
    if not ids.equals(doc_ids):
        raise ValueError(f"embedding shard {split['embed_path']} does not match document shard {split['path']}: "
                         "the embed version was computed from another input version")
    write_shard(root, f"{scratch}/ids", f"s{i:05d}.parquet", pa.table({"id": doc_ids}))
    if not len(emb):
        return
    cent = read_table(root, root.join(f"{scratch}/centroids.parquet"))["centroid"]
    centroids = np.ascontiguousarray(column_embeddings(cent, emb.shape[1]), dtype=np.float32)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(centroids)
    sims, clusters = index.search(np.ascontiguousarray(emb, dtype=np.float32), 1)
    refs = (np.int64(i) << 32) | np.arange(len(emb), dtype=np.int64)
    table = pa.table({"cluster": pa.array(clusters[:, 0], pa.int32()), "ref": refs,
                      "centroid_sim": pa.array(sims[:, 0], pa.float32()),
                      "embedding": pa.array([e.tobytes() for e in emb.astype(np.float32)], pa.binary())},
                     schema=CLUSTERED)
    write_partitioned(root, f"{scratch}/clusters", f"s{i:05d}", table, clusters[:, 0].astype(np.int64) % params.partitions)


def near_duplicates(emb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """For members in rank order: removed[j] when some earlier member is more similar than
    `threshold`; rep[j] = the kept member that j (transitively) duplicates."""
    n = len(emb)
    best = np.full(n, -np.inf, dtype=np.float32)
    arg = np.zeros(n, dtype=np.int64)
    for c0 in range(1, n, BLOCK):
        c1 = min(n, c0 + BLOCK)
        sim = emb[:c1] @ emb[c0:c1].T                      # rows: candidates before each column
        rows = np.arange(c1)[:, None]
        sim[rows >= np.arange(c0, c1)[None, :]] = -np.inf   # only earlier-ranked members count
        best[c0:c1], arg[c0:c1] = sim.max(axis=0), sim.argmax(axis=0)
    removed = best > threshold
    rep = np.arange(n)
    for j in np.flatnonzero(removed):
        r = arg[j]
        while removed[r]:
            r = arg[r]
        rep[j] = r
    return removed, rep


def dedup(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, scratch, p = split["root"], split["scratch"], split["partition"]
    t = read_partition(root, f"{scratch}/clusters", p, CLUSTERED)
    if not t.num_rows:
        return
    cluster, ref, sim = t["cluster"].to_numpy(), t["ref"].to_numpy(), t["centroid_sim"].to_numpy()
    emb_all = np.frombuffer(b"".join(t["embedding"].to_pylist()), dtype=np.float32).reshape(t.num_rows, -1)
    order = np.lexsort((ref, sim, cluster))            # by cluster, then farthest from the centroid first
    bounds = np.flatnonzero(np.diff(cluster[order])) + 1
    members, member_reps, reps = [], [], []
    for group in np.split(order, bounds):
        if len(group) < 2:
            continue
        removed, rep = near_duplicates(emb_all[group], 1.0 - params.eps)
        if removed.any():
            members.append(ref[group][removed])
            member_reps.append(ref[group][rep[removed]])
            kept_reps = np.unique(ref[group][rep[removed]])
            reps.append(kept_reps)
            stats.count("dup_clusters", len(kept_reps))
    if not members:
        return
    m, r, k = np.concatenate(members), np.concatenate(member_reps), np.concatenate(reps)
    write_by_split(root, f"{scratch}/members", f"p{p:05d}",
                   pa.table({"row": ref_row(m), "rep": pa.array(r, pa.int64())}), ref_split(m))
    write_by_split(root, f"{scratch}/reps", f"p{p:05d}", pa.table({"row": ref_row(k)}), ref_split(k))
