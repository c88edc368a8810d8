"""Connected components of the duplicate graph on Ray: alternating large-star and small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", 2014).

Edges live as (u, v) rows in partitions by u, stored in both directions, so one task sees every
neighbour of its nodes. Several tasks write to each partition and the same edge can arrive from
more than one of them, so every step reads a partition as a set (`read_edges`). Each round rewires
edges toward smaller ids. `connected_components` drives the rounds and stops exactly when the edge
set is a star forest: every node either has only larger neighbours (it represents its component,
whose smallest node it is) or has exactly one neighbour, a smaller one. Each large-star step counts
the nodes of its partition that break this rule; the rounds stop when no partition has one.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..runtime.sink import ShardSink
from ..stats import StageStats
from .shuffle import node_partition, read_partition, write_partitioned

EDGES = pa.schema([("u", pa.int64()), ("v", pa.int64())])
MAX_ROUNDS = 64


def ref_split(refs: np.ndarray) -> np.ndarray:
    """The input split of each node: documents are nodes `ref = split << 32 | row`."""
    return (refs >> 32).astype(np.int64)


def ref_row(refs: np.ndarray) -> pa.Array:
    """The row within its split of each node."""
    return pa.array(refs & 0xFFFFFFFF, pa.int64())


def write_by_split(root, folder: str, name: str, table: pa.Table, splits: np.ndarray) -> None:
    write_partitioned(root, folder, name, table, splits)


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


def read_edges(root, folder: str, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Partition `p` of an edge folder as a set, sorted by (u, v): writers repeat edges."""
    table = read_partition(root, folder, p, EDGES)
    if not table.num_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([table["u"].to_numpy(), table["v"].to_numpy()], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _starts(u: np.ndarray) -> np.ndarray:
    """Index of the first edge of each node's run in sorted `u`."""
    return np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.zeros(0, np.int64)


def _neighbourhoods(u: np.ndarray, v: np.ndarray):
    starts = _starts(u)
    for s, e in zip(starts, np.r_[starts[1:], len(u)]):
        yield int(u[s]), v[s:e]


def unsettled(u: np.ndarray, v: np.ndarray) -> int:
    """Nodes of a sorted, deduplicated, symmetric edge set that are not yet in a star around the
    smallest node of their component: those with a smaller neighbour and more than one neighbour.
    Zero over all partitions means a star forest (a leaf's one neighbour has a larger neighbour, the
    leaf, so it is not a leaf and has only larger ones: a centre), the fixed point of both steps."""
    starts = _starts(u)
    if not len(starts):
        return 0
    degree = np.diff(np.r_[starts, len(u)])
    return int(((v[starts] < u[starts]) & (degree > 1)).sum())


def star_step(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """One large-star or small-star step over partition `p` of `source`, writing to `target`. The
    large-star step also counts the `unsettled` nodes of its input (the stop rule)."""
    root, p = split["root"], split["partition"]
    u_in, v_in = read_edges(root, split["source"], p)
    if split["kind"] == "large":
        stats.count("unsettled", unsettled(u_in, v_in))
    out_a, out_b = [], []
    for u, nbrs in _neighbourhoods(u_in, v_in):
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


RunPhase = Callable[[Callable, list, str], Sequence[Any]]


def connected_components(run: RunPhase, partitions: list[dict[str, Any]], folder: str,
                         max_rounds: int = MAX_ROUNDS) -> tuple[str, StageStats]:
    """Alternate large-star and small-star rounds over the edges in `<folder>/r000` until they form a
    star forest; returns the folder that holds it and statistics (`components_rounds`: the full
    rounds that took, 0 when the input already was one).

    `run(process, splits, desc)` runs one phase over the splits and returns results with `.stats`
    (a RunContext's `map`, or any in-process loop); `partitions` are the per-partition splits
    (root, partition, partitions). The stop rule is exact: no node of any partition is unsettled."""
    left = None
    for r in range(max_rounds):
        source, middle, target = f"{folder}/r{r:03d}", f"{folder}/r{r:03d}l", f"{folder}/r{r + 1:03d}"
        large = run(star_step, [p | {"kind": "large", "source": source, "target": middle} for p in partitions],
                    f"components round {r + 1} (large-star)")
        left = sum(res.stats.counters.pop("unsettled", 0) for res in large)
        if not left:
            stats = StageStats()
            stats.count("components_rounds", r)
            return source, stats
        run(star_step, [p | {"kind": "small", "source": middle, "target": target} for p in partitions],
            f"components round {r + 1} (small-star)")
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds: {left} nodes were "
                       f"still not in a star around their component's smallest node after the last one")


def stars(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """After convergence: each node with only larger neighbours represents them. Writes members
    (row, rep) per member's split and representatives (row) per representative's split."""
    root, p = split["root"], split["partition"]
    reps, members, member_reps = [], [], []
    for u, nbrs in _neighbourhoods(*read_edges(root, split["source"], p)):
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
