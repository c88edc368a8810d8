"""Per-document stages: one Ray task per input shard, a batch function over Arrow tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from ..stats import StageStats
from .sink import ShardSink

# (table, params, stats) -> (kept rows, dropped rows with a `drop_reason` column)
BatchFn = Callable[[pa.Table, Any, StageStats], tuple[pa.Table, pa.Table]]

BATCH_ROWS = 2048


def output_schema(input_schema: pa.Schema, added: tuple[pa.Field, ...]) -> pa.Schema:
    """The input's columns, then the stage's; a stage column with an input column's name replaces
    it in place (e.g. langid's `lang`)."""
    schema = input_schema
    for f in added:
        i = schema.get_field_index(f.name)
        schema = schema.set(i, f) if i >= 0 else schema.append(f)
    return schema


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns in schema order and types; columns the batch function did not produce are null."""
    cols = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def split_by_reason(table: pa.Table, reasons: list[str | None]) -> tuple[pa.Table, pa.Table]:
    mask = pa.array([r is None for r in reasons])
    dropped = table.filter(pa.compute.invert(mask))
    dropped = dropped.append_column("drop_reason", pa.array([r for r in reasons if r is not None], pa.string()))
    return table.filter(mask), dropped


@dataclass(frozen=True)
class ShardMap:
    """Process callable for the stage contract: reads one input shard in batches, applies `fn`,
    writes one output shard (and hands dropped rows to the sink) and counts drops by reason.
    The split names its shard (`path`, `root`) and the output `schema`."""
    fn: BatchFn
    signals: tuple[str, ...] | None = None   # the columns fn computes (default: those the input lacks)

    def __call__(self, split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
        root, schema = split["root"], split["schema"]
        audit_schema = schema.append(pa.field("drop_reason", pa.string()))
        kept_parts, dropped_parts = [], []
        with root.fs.open_input_file(split["path"]) as fh:
            shard = pq.ParquetFile(fh)
            # what this stage computed or replaced: the signals a drop record keeps
            own = list(self.signals) if self.signals is not None else \
                [f.name for f in schema if f.name not in shard.schema_arrow.names]
            for batch in shard.iter_batches(batch_size=BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                stats.count("rows_in", table.num_rows)
                kept, dropped = self.fn(table, params, stats)
                stats.count("rows_out", kept.num_rows)
                for reason, n in _counts(dropped):
                    stats.drop(reason, n)
                kept_parts.append(conform(kept, schema))
                if dropped.num_rows:
                    dropped_parts.append(conform(dropped, audit_schema))
        if kept_parts:
            sink.write(pa.concat_tables(kept_parts))
        if dropped_parts:
            sink.drop(pa.concat_tables(dropped_parts), signals=own)


def _counts(dropped: pa.Table) -> list[tuple[str, int]]:
    if not dropped.num_rows:
        return []
    vc = pa.compute.value_counts(dropped["drop_reason"])
    return [(v["values"].as_py(), v["counts"].as_py()) for v in vc]
