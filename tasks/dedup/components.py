"""Connected components of the duplicate graph on Ray: alternating large-star and small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", 2014).

Edges live as (u, v) rows in partitions by u, stored in both directions, so one task sees every
neighbour of its nodes. Each round rewires edges toward smaller ids; when a round changes nothing
every component is a star around its smallest node, which becomes its representative.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..runtime.sink import ShardSink
from ..stats import StageStats
from .shuffle import node_partition, read_partition, write_partitioned

EDGES = pa.schema([("u", pa.int64()), ("v", pa.int64())])


def write_edges(root, folder: str, name: str, a: np.ndarray, b: np.ndarray, partitions: int) -> None:
    """Undirected edges a-b, both directions, partitioned by their first node; self loops dropped."""
    keep = a != b
    a, b = a[keep], b[keep]
    u, v = np.concatenate([a, b]), np.concatenate([b, a])
    if len(u):
        pairs = np.unique(np.stack([u, v], axis=1), axis=0)
        u, v = pairs[:, 0], pairs[:, 1]
    table = pa.table({"u": pa.array(u, pa.int64()), "v": pa.array(v, pa.int64())})
    write_partitioned(root, folder, name, table, node_partition(u, partitions))


def _neighbourhoods(table: pa.Table):
    u, v = table["u"].to_numpy(), table["v"].to_numpy()
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    bounds = np.flatnonzero(np.diff(u)) + 1
    for group in np.split(np.arange(len(u)), bounds):
        if len(group):
            yield int(u[group[0]]), v[group]


def checksum(table: pa.Table) -> int:
    """Order-independent fingerprint of an edge set (to detect the round that changes nothing)."""
    if not table.num_rows:
        return 0
    u, v = table["u"].to_numpy().astype(np.uint64), table["v"].to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        h = (u * np.uint64(0x9E3779B97F4A7C15)) ^ (v * np.uint64(0xC2B2AE3D27D4EB4F))
        h ^= h >> np.uint64(29)
    return int(np.bitwise_xor.reduce(h))


def star_step(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """One large-star or small-star step over partition `p` of `source`, writing to `target`."""
    root, p = split["root"], split["partition"]
    table = read_partition(root, split["source"], p, EDGES)
    stats.count(f"checksum_in.{p}", checksum(table))
    out_a, out_b = [], []
    for u, nbrs in _neighbourhoods(table):
        if split["kind"] == "large":
            m = min(u, int(nbrs[0]))
            bigger = nbrs[nbrs > u]
            out_a.append(bigger)
            out_b.append(np.full(len(bigger), m, dtype=np.int64))
        else:
            smaller = nbrs[nbrs <= u]
            m = int(smaller[0]) if len(smaller) and smaller[0] < u else u
            group = np.append(smaller, u)
            out_a.append(group)
            out_b.append(np.full(len(group), m, dtype=np.int64))
    a = np.concatenate(out_a) if out_a else np.zeros(0, np.int64)
    b = np.concatenate(out_b) if out_b else np.zeros(0, np.int64)
    write_edges(root, split["target"], f"from{p:05d}", a, b, split["partitions"])


def stars(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """After convergence: each node with only larger neighbours represents them. Writes members
    (row, rep) per member's split and representatives (row) per representative's split."""
    from .lsh import ref_row, ref_split, write_by_split

    root, p = split["root"], split["partition"]
    table = read_partition(root, split["source"], p, EDGES)
    reps, members, member_reps = [], [], []
    for u, nbrs in _neighbourhoods(table):
        if nbrs[0] > u:
            reps.append(u)
            members.append(nbrs)
            member_reps.append(np.full(len(nbrs), u, dtype=np.int64))
            stats.observe("dup_cluster_size", len(nbrs) + 1)
            stats.count("dup_clusters")
    if reps:
        m, r = np.concatenate(members), np.concatenate(member_reps)
        write_by_split(root, f"{split['scratch']}/members", f"p{p:05d}",
                       pa.table({"row": ref_row(m), "rep": pa.array(r, pa.int64())}), ref_split(m))
        rp = np.array(reps, dtype=np.int64)
        write_by_split(root, f"{split['scratch']}/reps", f"p{p:05d}", pa.table({"row": ref_row(rp)}), ref_split(rp))
