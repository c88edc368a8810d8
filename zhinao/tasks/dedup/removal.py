"""The last phase of every dedup stage: per input shard, drop the rows its removal lists name.

Removal lists live in the stage's scratch folder as `<scratch>/drop/s<split>/*.parquet` with columns
`row` (row number in the shard) and `dup_of` (id of the kept representative).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import pyarrow as pa
import pyarrow.compute as pc

from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..store.fs import Root
from ..store.writer import write_shard
from .shuffle import read_partition, read_table


def drop_folder(scratch: str, split_index: int) -> str:
    return f"{scratch}/drop/s{split_index:05d}"


def removal_list(root: Root, folder: str) -> pa.Table:
    files = [f.path for f in root.listdir(root.join(folder)) if f.path.endswith(".parquet")]
    if not files:
        return pa.table({"row": pa.array([], pa.int64()), "dup_of": pa.array([], pa.string())})
    return pa.concat_tables([read_table(root, f) for f in sorted(files)])


def apply_removals(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """Split: {path, root, schema, index, scratch, reason, columns: {name: per-row values table path}}."""
    root: Root = split["root"]
    table = read_table(root, split["path"])
    stats.count("rows_in", table.num_rows)
    for name, values in split.get("added", {}).items():   # per-row columns computed in an earlier phase
        table = table.append_column(name, read_table(root, values)[name])
    removals = removal_list(root, drop_folder(split["scratch"], split["index"]))
    drop = pa.array([False] * table.num_rows, pa.bool_())      # typed: an empty shard's list has no type
    if removals.num_rows:
        drop = pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=removals["row"])
    kept = table.filter(pc.invert(drop))
    stats.count("rows_out", kept.num_rows)
    if removals.num_rows:
        stats.drop(split["reason"], removals.num_rows)
    sink.write(conform(kept, split["schema"]))
    if removals.num_rows:
        order = pc.sort_indices(removals, [("row", "ascending")])
        removals = removals.take(order)
        dropped = table.take(removals["row"]).append_column("dup_of", removals["dup_of"])
        dropped = dropped.append_column("drop_reason", pa.array([split["reason"]] * dropped.num_rows, pa.string()))
        audit_schema = split["schema"].append(pa.field("dup_of", pa.string())).append(pa.field("drop_reason", pa.string()))
        sink.drop(conform(dropped, audit_schema), signals=list(split.get("added", {})))


def resolve(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """Removal list (row, dup_of id) and the cluster column (representative id; `split["column"]`,
    default dup_cluster) of one shard, from the members (row, rep ref) and representatives (row)
    that clustering wrote for it; refs are `split << 32 | row` and ids come from `ids/s<split>`."""
    root, scratch, i = split["root"], split["scratch"], split["index"]
    ids = read_table(root, root.join(f"{scratch}/ids/s{i:05d}.parquet"))["id"]
    members = read_partition(root, f"{scratch}/members", i, pa.schema([("row", pa.int64()), ("rep", pa.int64())]))
    reps = read_partition(root, f"{scratch}/reps", i, pa.schema([("row", pa.int64())]))
    cluster: list[str | None] = [None] * len(ids)
    for row in reps["row"].to_pylist():
        cluster[row] = ids[row].as_py()
    dup_of: list[str] = []
    if members.num_rows:
        rep_refs = members["rep"].to_numpy()
        rep_ids = np.empty(len(rep_refs), dtype=object)
        for s in np.unique((rep_refs >> 32)):
            mask = (rep_refs >> 32) == s
            other = ids if s == i else read_table(root, root.join(f"{scratch}/ids/s{s:05d}.parquet"))["id"]
            rep_ids[mask] = other.take(pa.array(rep_refs[mask] & 0xFFFFFFFF)).to_pylist()
        dup_of = list(rep_ids)
        for row, rep in zip(members["row"].to_pylist(), dup_of):
            cluster[row] = rep
    write_shard(root, drop_folder(scratch, i), "minhash.parquet",
                pa.table({"row": members["row"] if members.num_rows else pa.array([], pa.int64()),
                          "dup_of": pa.array(dup_of, pa.string())}))
    column = split.get("column", "dup_cluster")
    write_shard(root, f"{scratch}/values/s{i:05d}", f"{column}.parquet", pa.table({column: pa.array(cluster, pa.string())}))

