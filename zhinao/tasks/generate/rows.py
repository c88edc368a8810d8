"""Row plumbing for generation stages: choosing seed documents, reading a phase's output back,
and writing inline rows as the stage's final shards."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats


def stable_rank(value: str, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


def pick_documents(root, paths: list[str], limit: int, salt: str) -> list[list[str] | None]:
    """Per input shard, the ids to use: the `limit` documents with the smallest salted hash of their
    id over the whole input (a deterministic sample, independent of shard layout); None = all."""
    if limit <= 0:
        return [None] * len(paths)
    ids = []
    for i, path in enumerate(paths):
        with root.fs.open_input_file(path) as fh:
            ids += [(stable_rank(x, salt), i, x) for x in pq.read_table(fh, columns=["id"])["id"].to_pylist()]
    chosen = sorted(ids)[:limit]
    per: list[list[str]] = [[] for _ in paths]
    for _, i, x in chosen:
        per[i].append(x)
    return per


def read_results(root, folder: str, results, audit: bool = False) -> pa.Table | None:
    """The rows a phase wrote (its kept shards, or with audit=True its dropped ones)."""
    tables = []
    for r in results:
        for s in (r.audit_shards if audit else r.shards):
            tables.append(pq.read_table(root.join(folder, s.path), filesystem=root.fs))
    return pa.concat_tables(tables, promote_options="default") if tables else None


@dataclass(frozen=True)
class WriteRows:
    """The process for a stage's last step: rows computed by the driver, written as one shard;
    rows with a drop_reason go to the audit version."""

    def __call__(self, split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
        schema: pa.Schema = split["schema"]
        kept = [r for r in split["rows"] if not r.get("drop_reason")]
        dropped = [r for r in split["rows"] if r.get("drop_reason")]
        stats.count("rows_out", len(kept))
        for r in dropped:
            stats.drop(r["drop_reason"])
        if kept:
            sink.write(conform(pa.Table.from_pylist(kept), schema))
        if dropped:
            audit = schema.append(pa.field("drop_reason", pa.string()))
            sink.drop(conform(pa.Table.from_pylist(dropped), audit))
