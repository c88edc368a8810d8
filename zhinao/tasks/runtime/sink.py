"""Where a stage's split writes its output: numbered Parquet shards, the drop record, and the
dropped rows themselves for audit."""
from __future__ import annotations

import time
from typing import Sequence

import pyarrow as pa

from ..store.fs import Root
from ..store.manifest import Shard
from ..store.writer import write_shard
from . import drops


class ShardSink:
    def __init__(self, root: Root, folder: str, split_index: int, audit_folder: str | None = None):
        self.root, self.folder, self.audit_folder = root, folder, audit_folder
        self.prefix = f"part-{split_index:05d}"
        self.shards: list[Shard] = []
        self.audit_shards: list[Shard] = []
        self.drop_shards: list[Shard] = []      # the drop record, under <folder>/drops/
        self.drop_seconds = 0.0                 # what the record cost (benchmarks/provenance.py)

    def write(self, table: pa.Table, keep_empty: bool = False) -> None:
        if table.num_rows or keep_empty:
            name = f"{self.prefix}-{len(self.shards):04d}.parquet"
            self.shards.append(write_shard(self.root, self.folder, name, table))

    def write_files(self, folder) -> None:
        """A model stage's output: every file under a local folder, copied in (rows=0 shards)."""
        from ..store.models import copy_into

        self.shards.extend(copy_into(self.root, self.folder, folder))

    def drop(self, table: pa.Table, signals: Sequence[str] | None = None) -> None:
        """Dropped rows, each with a `drop_reason` column: into the drop record (with the `signals`
        columns, zhinao/tasks/runtime/drops.py), and whole into the audit version when auditing."""
        if not table.num_rows:
            return
        start = time.perf_counter()
        name = f"{self.prefix}-{len(self.drop_shards):04d}.parquet"
        shard = write_shard(self.root, f"{self.folder}/{drops.FOLDER}", name, drops.compact(table, signals))
        self.drop_shards.append(Shard(path=f"{drops.FOLDER}/{name}", rows=shard.rows, bytes=shard.bytes,
                                      sha256=shard.sha256))
        self.drop_seconds += time.perf_counter() - start
        if self.audit_folder is not None:
            name = f"{self.prefix}-{len(self.audit_shards):04d}.parquet"
            self.audit_shards.append(write_shard(self.root, self.audit_folder, name, table))


class RowBatcher:
    """Collects row dicts into shards of `shard_rows`; dropped rows (with their reason) go to the sink's drop()."""

    def __init__(self, sink: ShardSink, schema: pa.Schema, audit_schema: pa.Schema, shard_rows: int):
        self.sink, self.schema, self.audit_schema, self.shard_rows = sink, schema, audit_schema, shard_rows
        self.rows: list[dict] = []
        self.dropped: list[dict] = []

    def keep(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.shard_rows:
            self.flush()

    def drop(self, row: dict, reason: str) -> None:
        self.dropped.append(row | {"drop_reason": reason})
        if len(self.dropped) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.sink.write(_table(self.rows, self.schema))
            self.rows = []
        if self.dropped:
            self.sink.drop(_table(self.dropped, self.audit_schema))
            self.dropped = []


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    # column-wise: several times faster than from_pylist on wide rows
    return pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in schema.names}, schema=schema)
