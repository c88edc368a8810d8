"""sft-data's last pass: per labelled shard, the sampled items are written in the SFT schema, the
others dropped with why (over the stratum's cap, sampled out by the proportional fill, a repeat of
an item another source already gave); the first pass's bad rows are dropped here too, so every drop
is counted once, in the committed version's statistics."""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..chat.schema import SFT
from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats

AUDIT = SFT.append(pa.field("drop_reason", pa.string()))


def select_split(split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
    """split: {root, paths (labelled shards), bad (their dropped rows), keep (ids this split writes),
    reasons (id -> why for its other items; an id in neither repeats an item already written)}."""
    root, keep, written = split["root"], split["keep"], set()
    for path in split["paths"]:
        table = pq.read_table(path, filesystem=root.fs)
        flags, reasons = [], []
        for i in table["id"].to_pylist():
            first = i not in written
            written.add(i)
            flags.append(first and i in keep)
            if not flags[-1]:
                reasons.append(split["reasons"].get(i, "duplicate") if first else "duplicate")
        mask = pa.array(flags, pa.bool_())
        kept = table.filter(mask)
        stats.count("rows_out", kept.num_rows)
        sink.write(conform(kept, SFT))
        _drop(sink, stats, table.filter(pc.invert(mask)), reasons)
    for path in split["bad"]:
        table = pq.read_table(path, filesystem=root.fs)
        _drop(sink, stats, table.drop_columns(["drop_reason"]), table["drop_reason"].to_pylist())


def _drop(sink: ShardSink, stats: StageStats, table: pa.Table, reasons: list[str]) -> None:
    for r in reasons:
        stats.drop(r)
    if table.num_rows:
        sink.drop(conform(table.append_column("drop_reason", pa.array(reasons, pa.string())), AUDIT))
