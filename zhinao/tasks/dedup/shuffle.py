"""Scratch-space shuffles between phases of a multi-phase stage: each task writes the rows meant
for partition p into `<folder>/p<p>/<name>.parquet`; the task for p reads that folder."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..store.fs import Root
from ..store.writer import write_shard


def read_table(root: Root, path: str, columns: list[str] | None = None) -> pa.Table:
    with root.fs.open_input_file(path) as fh:
        return pq.read_table(fh, columns=columns)


def part_folder(folder: str, p: int) -> str:
    return f"{folder}/p{p:05d}"


def write_partitioned(root: Root, folder: str, name: str, table: pa.Table, parts: np.ndarray) -> None:
    """Write each row of `table` to the partition given by `parts` (an int array, one per row)."""
    if not table.num_rows:
        return
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
    for chunk in np.split(np.arange(len(order)), bounds):
        p = int(sorted_parts[chunk[0]])
        write_shard(root, part_folder(folder, p), f"{name}.parquet", table.take(pa.array(order[chunk])))


def read_partition(root: Root, folder: str, p: int, schema: pa.Schema) -> pa.Table:
    infos = root.listdir(root.join(part_folder(folder, p)))
    files = sorted(i.path for i in infos if i.path.endswith(".parquet"))
    if not files:
        return schema.empty_table()
    return pa.concat_tables([read_table(root, f) for f in files])


def node_partition(nodes: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of int64 node ids, mixed so that consecutive ids spread out."""
    with np.errstate(over="ignore"):
        h = nodes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((h >> np.uint64(33)) % np.uint64(partitions)).astype(np.int64)
