"""Exact dedup: hash of the normalized text, grouped across the corpus by hash partition.

Phase 1 (per input shard): hash every document, write (hash, row, split, id, timestamp) into the
hash's partition. Phase 2 (per partition): within each group of equal hashes keep the earliest
document (timestamp, then id: deterministic), list the others for removal by their shard.
Phase 3 (per input shard, zhinao.tasks.dedup.removal): drop them. No step holds the corpus in memory.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..store.writer import write_shard
from .removal import drop_folder
from .shuffle import read_table

_STRIP = re.compile(r"[\W_]+", re.U)


def normalize(text: str) -> str:
    """NFKC, lower case, no whitespace or punctuation: copies that differ only in those are one."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", text).lower())


def text_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(normalize(text).encode())


def partition_of(h: str, partitions: int) -> int:
    return int(h[:8], 16) % partitions


def hash_shard(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root = split["root"]
    table = read_table(root, split["path"], columns=["id", "text", "timestamp"])
    hashes = [text_hash(t or "") for t in table["text"].to_pylist()]
    keys = pa.table({
        "hash": pa.array(hashes, pa.string()),
        "row": pa.array(range(table.num_rows), pa.int64()),
        "split": pa.array([split["index"]] * table.num_rows, pa.int32()),
        "id": table["id"], "timestamp": table["timestamp"],
    })
    write_shard(root, f"{split['scratch']}/values/s{split['index']:05d}", "text_hash.parquet",
                pa.table({"text_hash": keys["hash"]}))
    parts = pa.array([partition_of(h, params.partitions) for h in hashes], pa.int32())
    for p in pc.unique(parts).to_pylist():
        write_shard(root, f"{split['scratch']}/hash/p{p:04d}", f"s{split['index']:05d}.parquet",
                    keys.filter(pc.equal(parts, p)))


def group_partition(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, folder = split["root"], f"{split['scratch']}/hash/p{split['partition']:04d}"
    files = sorted(f.path for f in root.listdir(root.join(folder)))
    if not files:
        return
    keys = pa.concat_tables([read_table(root, f) for f in files])
    # earliest first (documents without a date last), then by id: the kept copy does not depend
    # on how the corpus was sharded or which task finished first
    keys = keys.append_column("no_ts", pc.is_null(keys["timestamp"]))
    keys = keys.sort_by([("hash", "ascending"), ("no_ts", "ascending"), ("timestamp", "ascending"),
                         ("id", "ascending")])
    hashes, ids = keys["hash"].to_pylist(), keys["id"].to_pylist()
    splits, rows = keys["split"].to_pylist(), keys["row"].to_pylist()
    removals: dict[int, tuple[list[int], list[str]]] = {}
    i = 0
    while i < len(hashes):
        j = i + 1
        while j < len(hashes) and hashes[j] == hashes[i]:
            j += 1
        if j - i > 1:
            stats.observe("dup_cluster_size", j - i)
            stats.count("dup_clusters")
            for k in range(i + 1, j):
                bucket = removals.setdefault(splits[k], ([], []))
                bucket[0].append(rows[k])
                bucket[1].append(ids[i])
        i = j
    for s, (rs, reps) in removals.items():
        write_shard(root, drop_folder(split["scratch"], s), f"p{split['partition']:04d}.parquet",
                    pa.table({"row": pa.array(rs, pa.int64()), "dup_of": pa.array(reps, pa.string())}))
