"""The last phase of every dedup stage: per input shard, drop the rows its removal lists name.

Removal lists live in the stage's scratch folder as `<scratch>/drop/s<split>/*.parquet` with columns
`row` (row number in the shard) and `dup_of` (id of the kept representative).
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..store.fs import Root


def drop_folder(scratch: str, split_index: int) -> str:
    return f"{scratch}/drop/s{split_index:05d}"


def read_table(root: Root, path: str, columns: list[str] | None = None) -> pa.Table:
    with root.fs.open_input_file(path) as fh:
        return pq.read_table(fh, columns=columns)


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
    drop = pa.array([False] * table.num_rows)
    if removals.num_rows:
        drop = pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=removals["row"])
    kept = table.filter(pc.invert(drop))
    stats.count("rows_out", kept.num_rows)
    if removals.num_rows:
        stats.drop(split["reason"], removals.num_rows)
    sink.write(conform(kept, split["schema"]))
    if sink.auditing and removals.num_rows:
        order = pc.sort_indices(removals, [("row", "ascending")])
        removals = removals.take(order)
        dropped = table.take(removals["row"]).append_column("dup_of", removals["dup_of"])
        dropped = dropped.append_column("drop_reason", pa.array([split["reason"]] * dropped.num_rows, pa.string()))
        audit_schema = split["schema"].append(pa.field("dup_of", pa.string())).append(pa.field("drop_reason", pa.string()))
        sink.drop(conform(dropped, audit_schema))
