"""Connected components (zhinao.tasks.dedup.components) against union-find, on random graphs shaped like
the bucket phase's output, driven in process (no Ray, no Prefect) at several partition counts."""
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from zhinao.tasks.dedup import components, lsh
from zhinao.tasks.dedup.components import (
    connected_components,
    read_edges,
    star_step,
    stars,
    unsettled,
    write_edges,
)
from zhinao.tasks.stats import StageStats
from zhinao.tasks.store.fs import open_root

MEMBERS = pa.schema([("row", pa.int64()), ("rep", pa.int64())])
REPS = pa.schema([("row", pa.int64())])


def bucket_graph(rng: np.random.Generator, chained: bool):
    """Documents (refs split << 32 | row) in LSH buckets: per band, disjoint buckets over a random
    subset of them (buckets of different bands overlap); with `chained`, also a chain of buckets
    each sharing one document with the next. A bucket is a star from its smallest member, and
    verify rejects some pairs. Returns the edges as their writers hand them to partitions (one
    list of pairs per writer: like verify, one writer per split of the first document; or like a
    band shuffle without dedup, pairs repeated across writers) and all pairs."""
    n = int(rng.integers(4, 40))
    n_splits = int(rng.integers(1, 4))
    split = np.sort(rng.integers(0, n_splits, n))
    row = np.zeros(n, np.int64)
    for s in range(n_splits):
        row[split == s] = np.arange((split == s).sum())
    ids = (split.astype(np.int64) << 32) | row
    groups = []
    for _band in range(int(rng.integers(1, 5))):
        members = rng.permutation(n)[: int(rng.integers(2, n + 1))]
        cuts = np.sort(rng.choice(np.arange(1, len(members)), replace=False,
                                  size=min(len(members) - 1, int(rng.integers(0, 6)))))
        groups += [g for g in np.split(members, cuts) if len(g) > 1]
    if chained:
        perm, size = rng.permutation(n), int(rng.integers(2, 4))
        groups += [perm[k:k + size] for k in range(0, n - 1, size - 1) if len(perm[k:k + size]) > 1]
    pairs = [np.zeros((0, 2), np.int64)]
    for g in groups:
        refs = np.sort(ids[g])
        keep = rng.random(len(refs) - 1) > 0.15
        pairs.append(np.stack([np.full(keep.sum(), refs[0]), refs[1:][keep]], axis=1))
    pairs = np.concatenate(pairs)
    if rng.random() < 0.5:
        pairs = np.unique(pairs, axis=0)
        writers = [pairs[(pairs[:, 0] >> 32) == s] for s in range(n_splits)]
    else:
        which = rng.integers(0, int(rng.integers(2, 5)), len(pairs))
        writers = [pairs[which == w] for w in range(which.max(initial=0) + 1)]
        writers.append(pairs[rng.random(len(pairs)) < 0.3])
    return writers, pairs


def union_find(pairs: np.ndarray) -> dict[int, int]:
    """node -> smallest node of its component, for every node on an edge."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


def local_run(process, splits, desc):
    """What RunContext.map does with use_ray=False, minus the sinks these phases do not use."""
    out = []
    for split in splits:
        stats = StageStats()
        process(split, None, None, stats)
        out.append(SimpleNamespace(stats=stats))
    return out


class MemoryShuffle:
    """The scratch shuffle (zhinao.tasks.dedup.shuffle) in memory: a file per (folder, partition, writer
    name), a rewrite replaces it, a read concatenates the partition's files in name order. Parquet
    on disk costs ~0.1 s a graph; this is what lets the test run thousands."""

    def __init__(self):
        self.files: dict[tuple[str, int], dict[str, pa.Table]] = {}

    def write_partitioned(self, root, folder, name, table, parts):
        order = np.argsort(parts, kind="stable")
        for p in np.unique(parts):
            rows = order[parts[order] == p]
            self.files.setdefault((folder, int(p)), {})[f"{name}.parquet"] = table.take(pa.array(rows))

    def read_partition(self, root, folder, p, schema):
        files = self.files.get((folder, p), {})
        return pa.concat_tables([files[k] for k in sorted(files)]) if files else schema.empty_table()


@pytest.fixture
def memory_shuffle(monkeypatch):
    shuffle = MemoryShuffle()
    for module in (components, lsh):
        monkeypatch.setattr(module, "write_partitioned", shuffle.write_partitioned)
    monkeypatch.setattr(components, "read_partition", shuffle.read_partition)
    return shuffle


def found_components(root, writers, parts: int, scratch: str) -> dict[int, set[int]]:
    """Write the edges as verify does, run the rounds and `stars`, read back members and
    representatives as `resolve` does: node -> the representatives it was given."""
    for w, pairs in enumerate(writers):
        write_edges(root, f"{scratch}/cc/r000", f"s{w:05d}", pairs[:, 0], pairs[:, 1], parts)
    partitions = [{"root": root, "scratch": scratch, "partition": p, "partitions": parts} for p in range(parts)]
    final, _ = connected_components(local_run, partitions, f"{scratch}/cc")
    local_run(stars, [p | {"source": final} for p in partitions], "clusters")
    read = components.read_partition
    out: dict[int, set[int]] = {}
    for s in range(4):
        members = read(root, f"{scratch}/members", s, MEMBERS)
        for row, rep in zip(members["row"].to_pylist(), members["rep"].to_pylist()):
            out.setdefault(s << 32 | row, set()).add(rep)
        for row in read(root, f"{scratch}/reps", s, REPS)["row"].to_pylist():
            out.setdefault(s << 32 | row, set()).add(s << 32 | row)
    return out


@pytest.mark.parametrize("parts", [1, 3, 8])
def test_components_match_union_find_on_random_bucket_graphs(memory_shuffle, parts):
    rng = np.random.default_rng(parts)
    wrong = []
    for i in range(1000):
        writers, pairs = bucket_graph(rng, chained=bool(i % 2))
        got = found_components(None, writers, parts, f"g{i}")
        if got != {node: {rep} for node, rep in union_find(pairs).items()}:
            wrong.append(i)
    assert not wrong, f"{len(wrong)} of 1000 graphs got wrong components at {parts} partitions: {wrong[:10]}"


@pytest.mark.parametrize("parts", [3, 8])
def test_components_on_parquet_scratch(tmp_path, parts):
    """The same through the real shuffle (Parquet files, several writers per partition)."""
    root = open_root(str(tmp_path))
    rng = np.random.default_rng(100 + parts)
    for i in range(12):
        writers, pairs = bucket_graph(rng, chained=bool(i % 2))
        got = found_components(root, writers, parts, f"g{i}")
        assert got == {node: {rep} for node, rep in union_find(pairs).items()}, i


def test_unsettled_is_zero_exactly_on_star_forests():
    def count(pairs):
        pairs = np.array(pairs, np.int64)
        both = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)
        return unsettled(both[:, 0], both[:, 1])

    assert count([(1, 2), (1, 3), (5, 9)]) == 0               # stars around their smallest node
    assert count([(1, 2), (2, 3)]) == 1                       # chain: 2 has a smaller neighbour and another
    assert count([(2, 1), (2, 3)]) == 1                       # star around 2, not the smallest
    assert count([(1, 2), (1, 3), (2, 3)]) == 2               # triangle


def test_read_edges_is_a_set(memory_shuffle):
    for w in range(3):                                        # three writers send the same edge
        write_edges(None, "e", f"s{w}", np.array([1]), np.array([2]), 1)
    u, v = read_edges(None, "e", 0)
    assert u.tolist() == [1, 2] and v.tolist() == [2, 1]


def test_chain_needs_rounds_and_max_rounds_is_a_clear_error(memory_shuffle):
    chain = np.arange(1, 40, dtype=np.int64)
    write_edges(None, "cc/r000", "s0", chain[:-1], chain[1:], 3)
    partitions = [{"root": None, "partition": p, "partitions": 3} for p in range(3)]
    with pytest.raises(RuntimeError, match="did not converge in 2 rounds"):
        connected_components(local_run, partitions, "cc", max_rounds=2)
    final, stats = connected_components(local_run, partitions, "cc")
    assert 2 < stats.counters["components_rounds"] < 20
    u = np.concatenate([read_edges(None, final, p)[0] for p in range(3)])
    v = np.concatenate([read_edges(None, final, p)[1] for p in range(3)])
    assert sorted(zip(u.tolist(), v.tolist())) == sorted([(1, int(x)) for x in chain[1:]] +
                                                        [(int(x), 1) for x in chain[1:]])


def test_star_step_counts_unsettled_on_large_only(memory_shuffle):
    write_edges(None, "a", "s0", np.array([1, 2]), np.array([2, 3]), 1)
    stats = StageStats()
    star_step({"root": None, "partition": 0, "partitions": 1, "kind": "large", "source": "a", "target": "b"},
              None, None, stats)
    assert stats.counters["unsettled"] == 1
    stats = StageStats()
    star_step({"root": None, "partition": 0, "partitions": 1, "kind": "small", "source": "b", "target": "c"},
              None, None, stats)
    assert "unsettled" not in stats.counters
